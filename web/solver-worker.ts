/**
 * The web app's model thread: loads a checkpoint and solves puzzles off the page's main thread, posting every
 * segment as it is computed. Kernels: WASM (a worker pool of its own when the page is cross-origin isolated).
 */
import {
  createKernels,
  DEFAULT_CONFIG,
  loadModel,
  PuzzleError,
  solveArcTask,
  solveStream,
} from "../src/browser.js";
import type { HRMConfig, HRMModel, PuzzleInput, SelectedKernels } from "../src/browser.js";

export type ToWorker =
  | { type: "load"; files: { name: string; bytes: Uint8Array }[] }
  | { type: "solve"; id: number; puzzle: PuzzleInput; maxThinkSteps: number; halting: "adaptive" | "fixed" }
  | {
      type: "arc";
      id: number;
      task: string;
      input: unknown;
      identifiers: unknown;
      maxThinkSteps: number;
      halting: "adaptive" | "fixed";
    };

let kernels: Promise<SelectedKernels> | null = null;
let model: HRMModel | null = null;
let running: AbortController | null = null;
const post = (m: unknown) => (self as unknown as Worker).postMessage(m);

async function load(files: { name: string; bytes: Uint8Array }[]) {
  const ck = files.find((f) => /\.(safetensors|pt)$/i.test(f.name));
  if (!ck) throw new Error(`no .safetensors or .pt among ${files.map((f) => f.name).join(", ")}`);
  const yaml = files.find((f) => /\.ya?ml$/i.test(f.name));
  const json = files.find((f) => /\.json$/i.test(f.name));
  let config: Partial<HRMConfig> | undefined;
  if (json) {
    const all = JSON.parse(new TextDecoder().decode(json.bytes)) as Record<string, unknown>;
    const keys = Object.keys(DEFAULT_CONFIG); // its notes (seed, derived, ...) are not config
    config = Object.fromEntries(Object.entries(all).filter(([k]) => keys.includes(k))) as Partial<HRMConfig>;
  }
  kernels ??= createKernels({ wasmBase: new URL("./wasm/", self.location.href) });
  model = await loadModel(ck.bytes, {
    kernels: await kernels,
    name: ck.name,
    config,
    allConfigYaml: yaml ? new TextDecoder().decode(yaml.bytes) : undefined,
  });
  const c = model.config;
  post({
    type: "loaded",
    info: {
      name: ck.name,
      format: model.format,
      architecture: c.architecture,
      parameters: model.parameters,
      kinds: model.kinds,
      seq_len: c.seq_len,
      vocab_size: c.vocab_size,
      halt_max_steps: c.halt_max_steps,
      num_puzzle_identifiers: c.num_puzzle_identifiers,
      backend: model.backendName,
    },
  });
}

async function solve(m: Extract<ToWorker, { type: "solve" }>) {
  if (!model) throw new Error("no model loaded");
  running?.abort();
  const ac = (running = new AbortController());
  const it = solveStream(model, m.puzzle, {
    maxThinkSteps: m.maxThinkSteps,
    halting: m.halting,
    signal: ac.signal,
  });
  for (;;) {
    const n = await it.next();
    if (ac.signal.aborted) return;
    if (n.done) {
      post({ type: "done", id: m.id, result: { ...n.value, tokens: Array.from(n.value.tokens) } });
      return;
    }
    post({ type: "segment", id: m.id, event: { ...n.value, logits: Array.from(n.value.logits) } });
  }
}

async function arc(m: Extract<ToWorker, { type: "arc" }>) {
  if (!model) throw new Error("no model loaded");
  const t0 = performance.now();
  const r = solveArcTask(model, m.task, m.input, m.identifiers, {
    maxThinkSteps: m.maxThinkSteps,
    halting: m.halting,
  });
  post({ type: "arc-done", id: m.id, result: { ...r, elapsedMs: performance.now() - t0 } });
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  const id = m.type === "load" ? -1 : m.id;
  (m.type === "load" ? load(m.files) : m.type === "arc" ? arc(m) : solve(m)).catch((err: unknown) =>
    post({
      type: "error",
      id,
      message: (err as Error).message,
      field: err instanceof PuzzleError ? err.field : null,
    }),
  );
};
