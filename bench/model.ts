/**
 * The model part of `npm run bench`: official training steps and evaluation runs on the issue's
 * configurations (full, small, arc; eval at batch 32 and 1), each case in its own process
 * (bench/model-worker.js) for a clean peak-RSS reading and thread count. Prints examples/s, analytic
 * GFLOP/s (src/model/flops.ts), MFU against the float32 FMA peak read around each case (bfloat16 rows too,
 * so theirs can exceed 1), peak memory, the bfloat16 speed-up, the 1-thread vs all-threads ratio, memory
 * when cycles/halt steps double, and the time per kernel per step.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { table } from "./timing.js";
import type { ModelCase } from "./model-worker.js";

const WORKER = fileURLToPath(new URL("./model-worker.js", import.meta.url));

export interface ModelResult {
  config: string;
  mode: string;
  batch: number;
  label: string | null;
  dtype: string;
  threads: number;
  backend: string;
  seconds: number;
  /** Timed runs the median `seconds` is taken over. */
  runs: number;
  examples_per_s: number;
  flops: number;
  gflops: number;
  peak_rss_mb: number;
  profile_ms: Record<string, number>;
  /** GFLOP per step (or run) of the kernels that do matrix products, for their GFLOP/s in the profile. */
  profile_gflop: Record<string, number>;
  /** FMA peak (GFLOP/s, the case's threads) read around the case; mfu = gflops / it. */
  fma_peak_gflops?: number;
  mfu?: number;
}

/**
 * A ratio on a shared host: cases measured one after the other see different machines (another tenant's load
 * comes and goes within seconds). So the two cases alternate, `rounds` times each, and the best of each is
 * compared. `threadsA` sets case a's thread count (1 for the scaling ratio).
 */
function paired(a: ModelCase, b: ModelCase, rounds: number, threadsA?: number): { a: number; b: number } {
  let ta = Infinity,
    tb = Infinity;
  for (let r = 0; r < rounds; r++) {
    ta = Math.min(ta, runCase(a, threadsA).seconds);
    tb = Math.min(tb, runCase(b).seconds);
  }
  return { a: ta, b: tb };
}

function ratioLine(p: { a: number; b: number }, records: Record<string, unknown>[], name: string): string {
  records.push({ bench: "model_ratio", name, seconds_a: p.a, seconds_b: p.b, ratio: p.a / p.b });
  return `${(p.a / p.b).toFixed(2)}x (${p.a.toFixed(3)} s vs ${p.b.toFixed(3)} s, best of alternating runs)`;
}

/** One case in its own worker process (threads: HRM_NUM_THREADS for it; absent, the default). */
export function runCase(cs: ModelCase, threads?: number): ModelResult {
  const env = { ...process.env, ...(threads ? { HRM_NUM_THREADS: String(threads) } : {}) };
  const r = spawnSync(process.execPath, [WORKER, JSON.stringify(cs)], { encoding: "utf8", env });
  if (r.status !== 0) throw new Error(`bench case ${JSON.stringify(cs)} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as ModelResult;
}

/**
 * `measurePeak(threads)` reads the FMA peak (GFLOP/s) on that many threads (undefined: all, as a case without
 * a thread count runs); each case's MFU is against the highest of the readings just before and just after it
 * (null: no addon, no MFU). `startPeak(threads)` is the run's first reading on that many threads: a case whose
 * own reading fell well below it is named under the table, as its MFU may read high.
 */
export function benchModels(
  measurePeak: ((threads: number | undefined) => number) | null,
  quick: boolean,
  records: Record<string, unknown>[],
  startPeak: (threads: number) => number = () => NaN,
  which: "all" | "trm" = "all",
): void {
  const reps = quick ? 1 : 3;
  const minSeconds = quick ? 0 : 6;
  const rounds = quick ? 1 : 3;
  const trainB32: ModelCase = { config: "full", mode: "train", batch: 32, reps: 1 };
  const cases: [ModelCase, number | undefined][] = [
    [{ config: "full", mode: "train", batch: 32, reps }, undefined],
    [{ config: "full", mode: "train", batch: 32, reps: 1 }, 1],
    [{ config: "full", mode: "train", batch: 8, reps, minSeconds }, undefined],
    [{ config: "small", mode: "train", batch: 32, reps, minSeconds }, undefined],
    [{ config: "arc", mode: "train", batch: 4, reps }, undefined],
    [{ config: "full", mode: "eval", batch: 32, reps: 1 }, undefined],
    [{ config: "full", mode: "eval", batch: 1, reps, minSeconds }, undefined],
    [{ config: "full", mode: "train", batch: 32, reps, dtype: "bfloat16" }, undefined],
    [{ config: "small", mode: "train", batch: 32, reps, minSeconds, dtype: "bfloat16" }, undefined],
    [{ config: "full", mode: "eval", batch: 32, reps: 1, dtype: "bfloat16" }, undefined],
    [{ config: "full", mode: "eval", batch: 1, reps, minSeconds, dtype: "bfloat16" }, undefined],
  ];
  if (!quick)
    for (const [label, arch] of [
      ["H_cycles x2", { H_cycles: 4 }],
      ["L_cycles x2", { L_cycles: 4 }],
      ["halt_max_steps x2", { halt_max_steps: 32 }],
    ] as const)
      cases.push([{ config: "full", mode: "train", batch: 32, reps: 1, arch, label }, undefined]);
  // TRM at its official Sudoku (attention, mlp_t) and Maze-Hard sizes: hidden 512, 2 layers, 3 x 6 cycles.
  const trm: [ModelCase, number | undefined][] = [
    [{ config: "trm-sudoku", mode: "train", batch: 32, reps }, undefined],
    [{ config: "trm-sudoku-mlp", mode: "train", batch: 32, reps }, undefined],
    [{ config: "trm-maze", mode: "train", batch: 4, reps: 1 }, undefined],
    [{ config: "trm-sudoku", mode: "eval", batch: 32, reps: 1 }, undefined],
    [{ config: "trm-sudoku-mlp", mode: "eval", batch: 32, reps: 1 }, undefined],
    [{ config: "trm-maze", mode: "eval", batch: 4, reps: 1 }, undefined],
  ];
  // Peak memory against L_cycles: the last cycle's L_cycles + 1 calls keep their activations.
  for (const L of [2, 4, 6, 8])
    trm.push([
      {
        config: "trm-sudoku",
        mode: "train",
        batch: 32,
        reps: 1,
        arch: { L_cycles: L },
        label: `L_cycles ${L}`,
      },
      undefined,
    ]);
  cases.splice(which === "trm" ? 0 : cases.length, which === "trm" ? cases.length : 0, ...trm);
  const results: ModelResult[] = [];
  for (const [cs, threads] of cases) {
    const what = `${cs.config} ${cs.mode} batch ${cs.batch} ${cs.dtype ?? "float32"}${cs.label ? ` (${cs.label})` : ""}${threads ? `, ${threads} thread` : ""}`;
    if (process.stdout.isTTY) process.stdout.write(`  running ${what} ...\x1b[K\r`);
    else console.log(`  running ${what}`);
    // The peak right before and right after the case, the highest of three short readings each side: this
    // host's clock and its share of the cores change over minutes (single readings from 420 to 470 GFLOP/s
    // on 2 threads), so a peak read at another moment would skew the ratio either way (as the GEMM cells,
    // read in alternation); several readings keep one transient dip from inflating the MFU.
    const readPeak = () => Math.max(...[0, 1, 2].map(() => measurePeak?.(threads) ?? NaN));
    const before = readPeak();
    const r = runCase(cs, threads);
    r.fma_peak_gflops = Math.max(before, readPeak());
    r.mfu = r.gflops / r.fma_peak_gflops;
    results.push(r);
    const { profile_ms: _p, profile_gflop: _g, ...flat } = r;
    records.push({ bench: "model", ...flat, profile_ms: r.profile_ms, profile_gflop: r.profile_gflop });
  }
  console.log(
    table(
      [
        "config",
        "mode",
        "batch",
        "dtype",
        "threads",
        "note",
        "s/step",
        "runs",
        "examples/s",
        "GFLOP/s",
        "peak GF/s",
        "MFU",
        "peak RSS MB",
      ],
      results.map((r) => [
        r.config,
        r.mode === "eval" ? "eval 16 seg" : r.mode,
        r.batch,
        r.dtype,
        r.threads,
        r.label ?? "",
        r.seconds.toFixed(3),
        r.runs,
        r.examples_per_s.toFixed(r.examples_per_s < 10 ? 2 : 1),
        r.gflops.toFixed(1),
        Number.isFinite(r.fma_peak_gflops!) ? r.fma_peak_gflops!.toFixed(1) : "-",
        Number.isFinite(r.mfu!) ? r.mfu!.toFixed(3) : "-",
        r.peak_rss_mb.toFixed(0),
      ]),
    ),
  );
  const full = results.find(
    (r) =>
      r.config === "full" &&
      r.mode === "train" &&
      r.batch === 32 &&
      !r.label &&
      r.threads > 1 &&
      r.dtype === "float32",
  );
  const fullBf16 = results.find(
    (r) => r.config === "full" && r.mode === "train" && r.batch === 32 && r.dtype === "bfloat16",
  );
  const one = results.find(
    (r) => r.config === "full" && r.mode === "train" && r.batch === 32 && r.threads === 1,
  );
  for (const r of results) {
    const start = startPeak(r.threads);
    if (r.fma_peak_gflops! < 0.9 * start)
      console.log(
        `note: the FMA peak read around ${r.config} ${r.mode} batch ${r.batch} ${r.dtype}${r.label ? ` (${r.label})` : ""}` +
          ` was ${r.fma_peak_gflops!.toFixed(1)} GFLOP/s against ${start.toFixed(1)} at the start of this run; its MFU ` +
          `against the start reading is ${(r.gflops / start).toFixed(3)}`,
      );
  }
  if (full && one)
    console.log(
      `\nscaling, full training batch 32: ${full.threads} threads vs 1 = ${(one.seconds / full.seconds).toFixed(2)}x` +
        ` (table rows); paired: ${ratioLine(paired(trainB32, trainB32, rounds, 1), records, "scaling")}`,
    );
  if (full && fullBf16)
    console.log(
      `bfloat16 vs float32, full training batch 32: ${(full.seconds / fullBf16.seconds).toFixed(2)}x (table rows); ` +
        `paired: ${ratioLine(paired(trainB32, { ...trainB32, dtype: "bfloat16" }, rounds), records, "bf16_speedup")}`,
    );
  const single = results.find((r) => r.mode === "eval" && r.batch === 1 && r.dtype === "float32");
  if (single) console.log(`single puzzle, 16 segments: ${single.seconds.toFixed(3)} s per puzzle`);
  if (full) {
    const total = Object.values(full.profile_ms).reduce((a, b) => a + b, 0);
    console.log(
      `\ntime per kernel per step, full training batch 32 (means over its runs: ${total.toFixed(0)} ms in kernels; ` +
        `the median step took ${(full.seconds * 1000).toFixed(0)} ms; share = of the kernel time):`,
    );
    const rate = (k: string, ms: number) => {
      const g = full.profile_gflop[k];
      return g ? (g / (ms / 1000)).toFixed(0) : "";
    };
    console.log(
      table(
        ["kernel", "ms/step", "share", "GFLOP/s"],
        Object.entries(full.profile_ms)
          .slice(0, 12)
          .map(([k, v]) => [k, v.toFixed(1), `${((100 * v) / total).toFixed(1)}%`, rate(k, v)]),
      ),
    );
  }
}
