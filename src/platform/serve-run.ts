/**
 * `hrm serve` on Node: the models of `checkpoint=<file>` / `model.<name>=<file>` words loaded (a .pt with the
 * all_config.yaml beside it), the inference API (src/serve) started on node:http with the options below, and
 * a drain on SIGTERM or SIGINT. Messages go to `say`.
 */
import { existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { HRMModel } from "../app/model.js";
import { loadModel } from "../app/model.js";
import type { SelectedKernels } from "../kernels/api.js";
import { DEFAULT_SERVE_CONFIG as D } from "../serve/api.js";
import type { OptionsOf, Schema } from "../util/options.js";
import { parseOptions } from "../util/options.js";
import { readBytes } from "./files.js";
import { readText } from "./fs.js";
import { startServer } from "./http-server.js";

export class ServeError extends Error {}

export const SERVE_OPTIONS = {
  checkpoint: {
    kind: "string",
    doc: "the model to serve (.safetensors, or .pt with all_config.yaml beside it)",
  },
  host: { kind: "string", default: "127.0.0.1", doc: "address to bind (0.0.0.0: every interface)" },
  port: { kind: "int", default: 8080, min: 0, max: 65535, doc: "port (0: any free one)" },
  token: { kind: "string", doc: "require Authorization: Bearer <token> (default: $HRM_TOKEN, else none)" },
  max_batch: { kind: "int", default: D.maxBatch, min: 1, max: 4096, doc: "most puzzles per forward batch" },
  max_wait_ms: {
    kind: "int",
    default: D.maxWaitMs,
    min: 0,
    max: 10_000,
    doc: "most wait for puzzles to fill free rows",
  },
  max_queue: { kind: "int", default: D.maxQueue, min: 1, doc: "most waiting puzzles per model (then 503)" },
  max_body_bytes: { kind: "int", default: D.maxBodyBytes, min: 64, doc: "largest request body (then 413)" },
  timeout_ms: { kind: "int", default: D.timeoutMs, min: 1, doc: "per request, queueing included (then 504)" },
  max_think_steps: {
    kind: "int",
    default: D.maxThinkSteps,
    min: 1,
    max: 1024,
    doc: "largest max_think_steps",
  },
} satisfies Schema;

export type ServeOptions = OptionsOf<typeof SERVE_OPTIONS>;

export const SERVE_HELP = `usage: hrm serve checkpoint=<file> [key=value ...]
       hrm serve model.<name>=<file> [model.<name>=<file> ...] [key=value ...]
endpoints: POST /v1/solve, POST /v1/solve/batch, GET /v1/models, GET /healthz, GET /metrics (README: "hrm serve")`;

/** model.<name>=<file> words apart from the schema's options. */
export function parseServeWords(words: string[]): { models: Map<string, string>; o: ServeOptions } {
  const models = new Map<string, string>();
  const rest: string[] = [];
  for (const w of words) {
    const m = /^model\.([A-Za-z0-9_.-]+)=(.+)$/.exec(w);
    if (!m) rest.push(w);
    else if (models.has(m[1])) throw new ServeError(`model.${m[1]} given twice`);
    else models.set(m[1], m[2]);
  }
  const o = parseOptions(rest, SERVE_OPTIONS);
  if (o.checkpoint) models.set(basename(o.checkpoint).replace(/\.(safetensors|pt)$/, ""), o.checkpoint);
  if (models.size === 0) throw new ServeError("hrm serve needs checkpoint=<file> or model.<name>=<file>");
  return { models, o };
}

/**
 * Serves the words' models on `kernels` until SIGTERM or SIGINT, then drains: no new requests, the ones in
 * flight answered, then it returns (a second signal exits at once).
 */
export async function serveFromWords(
  words: string[],
  kernels: SelectedKernels,
  say: (line: string) => void,
): Promise<void> {
  const { models: files, o } = parseServeWords(words);
  const models = new Map<string, HRMModel>();
  for (const [name, file] of files) {
    const yaml = join(dirname(file), "all_config.yaml");
    const allConfigYaml = file.endsWith(".pt") && existsSync(yaml) ? readText(yaml) : undefined;
    const m = await loadModel(readBytes(file), { kernels, name: file, allConfigYaml });
    models.set(name, m);
    const c = m.config;
    say(
      `model ${name}: ${file} (${(m.parameters / 1e6).toFixed(2)}M parameters, seq_len ${c.seq_len}, ` +
        `${m.kinds.join("/") || "tokens"}, ${c.halt_max_steps} segments by default) on ${kernels.backendName}`,
    );
  }
  const token = o.token ?? process.env.HRM_TOKEN;
  const server = await startServer(models, {
    host: o.host,
    port: o.port,
    token: token || undefined,
    maxBatch: o.max_batch,
    maxWaitMs: o.max_wait_ms,
    maxQueue: o.max_queue,
    maxBodyBytes: o.max_body_bytes,
    timeoutMs: o.timeout_ms,
    maxThinkSteps: o.max_think_steps,
  });
  say(
    `listening on ${server.url}${token ? " (bearer token required)" : ""}; SIGTERM or Ctrl-C drains and stops`,
  );
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      process.once(sig, () => process.exit(1)); // a second signal: stop now
      say(`${sig}: refusing new requests, answering the ones in flight`);
      server.close().then(resolve, resolve);
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  say("stopped");
}
