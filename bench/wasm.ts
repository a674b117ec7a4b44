/**
 * npm run bench -- --only=wasm: the WASM backend against native in the same run (not a test).
 *   1. GEMM GFLOP/s per thread: native, WASM SIMD128 and relaxed SIMD, at 1 and 2 threads, on model shapes. This
 *      part runs in a child process started with --experimental-wasm-relaxed-simd (Node 20 has relaxed SIMD
 *      behind that flag).
 *   2. One puzzle solved in Node on WASM and native: the shipped 4x4 checkpoint (web/models) and the paper-size
 *      model (random weights) at 16 segments.
 *   3. The same in headless Chromium through the built web app, at 1 thread (a page that is not cross-origin
 *      isolated) and 2 threads (isolated); skipped without Chromium.
 *   4. The sizes of the browser bundle and of the .wasm files.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Kernels, SelectedKernels } from "../src/node.js";
import {
  encodeModelSafetensors,
  HRMParams,
  loadModel,
  loadNativeAddon,
  makeConfig,
  makeNativeBackend,
  selectKernels,
  solve,
} from "../src/node.js";
import { loadWasmBackendSync } from "../src/platform/wasm-node.js";
import { table, timeIt } from "./timing.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SHAPES: [number, number, number, boolean][] = [
  [82, 1536, 512, true], // one puzzle: qkv projection (x·Wᵀ)
  [82, 512, 1536, true], // one puzzle: down projection
  [2624, 1536, 512, true], // batch 32
];

function gflops(k: Kernels, [M, N, K, tB]: [number, number, number, boolean], budget: number): number {
  const A = Float32Array.from({ length: M * K }, (_, i) => Math.sin(i));
  const B = Float32Array.from({ length: K * N }, (_, i) => Math.cos(i));
  const C = new Float32Array(M * N);
  const t = timeIt(() => k.matmul(C, A, B, M, N, K, false, tB, false), budget);
  return (2 * M * N * K) / (t.medianMs * 1e6);
}

/** The child: GEMM rates, one JSON line per (backend, threads, shape). */
function gemmChild(budget: number): void {
  const addon = loadNativeAddon();
  const out: Record<string, unknown>[] = [];
  for (const threads of [1, 2]) {
    const subjects: [string, Kernels][] = [];
    if (addon) {
      addon.setNumThreads(threads);
      subjects.push(["native", makeNativeBackend(addon) as unknown as Kernels]);
    }
    subjects.push(["wasm simd128", loadWasmBackendSync({ threads, relaxed: false }) as unknown as Kernels]);
    subjects.push(["wasm relaxed", loadWasmBackendSync({ threads, relaxed: true }) as unknown as Kernels]);
    for (const [name, k] of subjects)
      for (const s of SHAPES)
        out.push({ backend: name, threads, shape: s.slice(0, 3).join("x"), gflops: gflops(k, s, budget) });
  }
  console.log(JSON.stringify(out));
}

export function paperModel(): Uint8Array {
  const config = makeConfig({
    seq_len: 81,
    vocab_size: 11,
    num_puzzle_identifiers: 2,
    halt_max_steps: 16,
    forward_dtype: "float32",
  });
  return encodeModelSafetensors(HRMParams.init(config, 0));
}

async function solveMs(
  bytes: Uint8Array,
  kernels: SelectedKernels,
  steps: number,
  puzzle: string,
): Promise<number> {
  const model = await loadModel(bytes, { kernels });
  const run = () => solve(model, { kind: "sudoku", puzzle }, { maxThinkSteps: steps, halting: "fixed" });
  await run();
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  return Math.min(...times);
}

const PUZZLE_9 = "4.....8.5.3..........7......2.....6.....8.4......1.......6.3.7.5..2.....1.4......";

async function chromiumSolves(paper: Uint8Array, records: Record<string, unknown>[]): Promise<string[][]> {
  let browserTools: typeof import("../tests/support/browser.js");
  try {
    browserTools = await import("../tests/support/browser.js");
  } catch {
    return [];
  }
  if (!browserTools.CHROMIUM) return [["chromium", "not installed (apt-get install chromium)", "", ""]];
  const { buildWeb } = (await import(join(ROOT, "scripts", "build-web.mjs"))) as {
    buildWeb(o: string): Promise<string>;
  };
  const dir = await buildWeb(join(ROOT, "dist", "bench-web"));
  writeFileSync(join(dir, "paper.safetensors"), paper);
  const rows: string[][] = [];
  const browser = await browserTools.launchChromium();
  try {
    for (const isolated of [false, true]) {
      const server = await browserTools.serveDir(dir, isolated);
      const page = await browser.newPage();
      await page.goto(server.url);
      const r = await page.evaluate(
        async ([p9]) => {
          type App = {
            ready: Promise<unknown>;
            loadFiles(f: unknown): Promise<{ backend: string }>;
            solve(p: unknown, s: number, h: string): Promise<{ done: { elapsedMs: number } }>;
          };
          const app = (window as unknown as { hrmApp: App }).hrmApp;
          await app.ready;
          const best = async (p: unknown, s: number) => {
            let m = Infinity;
            for (let i = 0; i < 4; i++) m = Math.min(m, (await app.solve(p, s, "fixed")).done.elapsedMs);
            return m;
          };
          const small = await best({ kind: "sudoku", puzzle: "...2.3.1.....1.3" }, 2);
          const bytes = new Uint8Array(await (await fetch("paper.safetensors")).arrayBuffer());
          const info = await app.loadFiles([{ name: "paper.safetensors", bytes }]);
          const big = await best({ kind: "sudoku", puzzle: p9 }, 16);
          return { small, big, backend: info.backend };
        },
        [PUZZLE_9] as const,
      );
      records.push({ bench: "wasm-chromium", isolated, ...r });
      rows.push([
        `Chromium, ${r.backend}`,
        r.small.toFixed(1),
        r.big.toFixed(0),
        isolated ? "isolated" : "not isolated",
      ]);
      await page.close();
      await server.close();
    }
  } finally {
    await browser.close();
  }
  return rows;
}

export async function benchWasm(quick: boolean, records: Record<string, unknown>[]): Promise<void> {
  const budget = quick ? 150 : 600;
  const child = spawnSync(
    process.execPath,
    ["--experimental-wasm-relaxed-simd", fileURLToPath(import.meta.url), "--gemm-child", String(budget)],
    { encoding: "utf8" },
  );
  if (child.status !== 0) throw new Error(`wasm GEMM child failed: ${child.stderr.slice(-2000)}`);
  const gemm = JSON.parse(child.stdout.trim().split("\n").pop()!) as {
    backend: string;
    threads: number;
    shape: string;
    gflops: number;
  }[];
  records.push(...gemm.map((g) => ({ bench: "wasm-gemm", ...g })));
  const native1 = (shape: string) =>
    gemm.find((g) => g.backend === "native" && g.threads === 1 && g.shape === shape)?.gflops;
  console.log(
    table(
      ["GEMM (x·Wᵀ)", "backend", "threads", "GFLOP/s", "per thread", "vs native/thread"],
      gemm.map((g) => {
        const n = native1(g.shape);
        const per = g.gflops / g.threads;
        return [
          g.shape,
          g.backend,
          g.threads,
          g.gflops.toFixed(1),
          per.toFixed(1),
          n ? `${((100 * per) / n).toFixed(0)}%` : "-",
        ];
      }),
    ) + "\n",
  );

  const small = readFileSync(join(ROOT, "web", "models", "sudoku-4x4.safetensors"));
  const paper = paperModel();
  const rows: string[][] = [];
  const addon = loadNativeAddon();
  const subjects: [string, SelectedKernels][] = [
    ["Node, wasm 1 thread", selectKernels(loadWasmBackendSync({ threads: 1 }))],
  ];
  subjects.push(["Node, wasm 2 threads", selectKernels(loadWasmBackendSync({ threads: 2 }))]);
  if (addon) {
    addon.setNumThreads(2);
    subjects.push(["Node, native 2 threads", selectKernels(makeNativeBackend(addon))]);
  }
  for (const [name, k] of subjects) {
    const s = await solveMs(small, k, 2, "...2.3.1.....1.3");
    const p = await solveMs(paper, k, 16, PUZZLE_9);
    records.push({ bench: "wasm-solve", subject: name, small_ms: s, paper16_ms: p });
    rows.push([name, s.toFixed(1), p.toFixed(0), ""]);
  }
  rows.push(...(await chromiumSolves(paper, records)));
  console.log(
    table(
      ["one puzzle solved", "4x4 model, 2 segments (ms)", "paper-size model, 16 segments (ms)", ""],
      rows,
    ) + "\n",
  );

  const sizes = readdirSync(join(ROOT, "wasm")).map((f) => [f, statSync(join(ROOT, "wasm", f)).size]);
  const webDir = join(ROOT, "dist", "bench-web");
  for (const f of ["app.js", "solver-worker.js"])
    try {
      sizes.push([`web bundle ${f}`, statSync(join(webDir, f)).size]);
    } catch {
      /* no Chromium run: no bundle built */
    }
  records.push({ bench: "wasm-sizes", sizes: Object.fromEntries(sizes) });
  console.log(
    table(
      ["file", "bytes"],
      sizes.map(([f, b]) => [String(f), String(b)]),
    ) + "\n",
  );
}

if (process.argv.includes("--gemm-child"))
  gemmChild(Number(process.argv[process.argv.indexOf("--gemm-child") + 1]));
