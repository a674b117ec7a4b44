/**
 * npm run bench [-- --json] [-- --quick] [-- --only=kernels|model|trm|pytorch|wasm|serve] [-- --pytorch]: kernel and model
 * benchmarks (not a test); --pytorch adds hrm-ts vs the official step in PyTorch (bench/pytorch.ts).
 * Prints the measured FP32 FMA peak, GEMM GFLOP/s for native (1 and all threads) and ref, each fused
 * kernel's time, and the per-call overhead. Every GEMM is spot-checked against float64 before it is timed.
 * Then the model benchmark (bench/model.ts): training and evaluation throughput, MFU, memory, kernel profile.
 * --only=trm: only the TRM rows of the model benchmark.
 * --only=memory: peak memory against H_cycles x L_cycles, 1-step gradient vs bptt vs TRM (bench/memory.ts).
 * --only=wasm: the WASM backend against native, in Node and in Chromium (bench/wasm.ts).
 * --only=serve: hrm serve under autocannon load, and a 100,000-request soak (bench/serve.ts).
 * --json also writes one JSON object per line to bench/results/bench-<time>.jsonl.
 * Buffers come from allocFloat32, as the model's do (2 MB pages where the addon can advise them).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import type { Kernels, NativeAddon } from "../src/node.js";
import { IGNORE_LABEL_ID, loadNativeAddon, refKernels } from "../src/node.js";
import { allocFloat32 } from "../src/util/memory.js";
import { benchModels } from "./model.js";
import { benchPytorch } from "./pytorch.js";
import { benchServe } from "./serve.js";
import { benchMemory } from "./memory.js";
import { benchWasm } from "./wasm.js";
import { table, timeIt, timeTiny } from "./timing.js";

const args = new Set(process.argv.slice(2));
const quick = args.has("--quick");
const budget = quick ? 60 : 400;
const records: Record<string, unknown>[] = [];
const addon = loadNativeAddon();

function rand(n: number, seed = 1): Float32Array {
  const a = allocFloat32(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    a[i] = s / 2147483648 - 1;
  }
  return a;
}

/** Max relative error of 32 sampled entries of C against a float64 dot product. */
function spotCheck(
  C: Float32Array,
  A: Float32Array,
  B: Float32Array,
  M: number,
  N: number,
  K: number,
  tA: boolean,
  tB: boolean,
): number {
  let worst = 0;
  for (let s = 0; s < 32; s++) {
    const i = (s * 7919) % M;
    const j = (s * 104729) % N;
    let acc = 0;
    let mag = 0;
    for (let p = 0; p < K; p++) {
      const v = (tA ? A[p * M + i] : A[i * K + p]) * (tB ? B[j * K + p] : B[p * N + j]);
      acc += v;
      mag += Math.abs(v);
    }
    worst = Math.max(worst, Math.abs(C[i * N + j] - acc) / mag);
  }
  return worst;
}

function benchPeak(): { p1: number; pAll: number; threads: number } | null {
  if (!addon) return null;
  const threads = addon.info().threads;
  const p1 = addon.fmaPeakGflops(1, quick ? 0.2 : 0.6);
  const pAll = addon.fmaPeakGflops(threads, quick ? 0.2 : 0.6);
  console.log(
    `machine: ${addon.info().isa}, ${threads} threads; GEMM micro-kernel ${addon.info().gemmKernel}`,
  );
  console.log(
    `FP32 FMA peak (measured): ${p1.toFixed(1)} GFLOP/s on 1 thread, ${pAll.toFixed(1)} GFLOP/s on ${threads}\n`,
  );
  records.push({ bench: "fma_peak", threads: 1, gflops: p1 }, { bench: "fma_peak", threads, gflops: pAll });
  return { p1, pAll, threads };
}

/**
 * GEMM time and FMA peak measured in alternation over the same window, best of each: on a shared host the
 * speed of a core changes from second to second, so a peak measured at another moment would skew the ratio.
 */
function interleaved(native: NativeAddon, threads: number, fn: () => void) {
  const rounds = quick ? 2 : 6;
  let peakGflops = 0;
  const samples: number[] = [];
  fn();
  for (let r = 0; r < rounds; r++) {
    peakGflops = Math.max(peakGflops, native.fmaPeakGflops(threads, 0.03));
    const t = timeIt(fn, budget / rounds, 2);
    samples.push(t.minMs, t.medianMs);
  }
  const mins = samples.filter((_, i) => i % 2 === 0);
  const medians = samples.filter((_, i) => i % 2 === 1).sort((a, b) => a - b);
  return { gemmMs: Math.min(...mins), medianMs: medians[medians.length >> 1], peakGflops };
}

const GEMM_SHAPES: [number, number, number][] = [
  [2624, 512, 1536],
  [2624, 1536, 512],
  [2624, 512, 512],
];
const VARIANTS: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];

function benchGemm(peak: { p1: number; pAll: number; threads: number } | null): void {
  const rows: (string | number)[][] = [];
  for (const [M, N, K] of GEMM_SHAPES)
    for (const [tA, tB] of VARIANTS) {
      const A = rand(M * K, 1);
      const B = rand(K * N, 2);
      const C = allocFloat32(M * N);
      const label = `${M}x${N}x${K} ${tA ? "Aᵀ" : "A"}·${tB ? "Bᵀ" : "B"}`;
      const flops = 2 * M * N * K;
      const row: (string | number)[] = [label];
      if (addon && peak) {
        addon.matmul(C, A, B, M, N, K, tA, tB, false);
        const err = spotCheck(C, A, B, M, N, K, tA, tB);
        if (!(err < 1e-5)) throw new Error(`GEMM ${label} failed its spot check (rel err ${err})`);
        let f32All = 0;
        for (const threads of [1, peak.threads]) {
          addon.setNumThreads(threads);
          const { gemmMs, medianMs, peakGflops } = interleaved(addon, threads, () =>
            addon.matmul(C, A, B, M, N, K, tA, tB, false),
          );
          const gflops = flops / gemmMs / 1e6;
          const frac = gflops / peakGflops;
          f32All = gflops;
          row.push(gflops.toFixed(1), `${(100 * frac).toFixed(0)}%`);
          records.push({
            bench: "gemm",
            backend: "native",
            shape: [M, N, K],
            transA: tA,
            transB: tB,
            threads,
            gflops,
            gflops_median: flops / medianMs / 1e6,
            fma_peak_gflops: peakGflops,
            peak_fraction: frac,
          });
        }
        // bfloat16 inputs, float32 accumulation (the AVX512_BF16 dot product where cpu.c uses it), all threads.
        const bfMs = interleaved(addon, peak.threads, () =>
          addon.matmul(C, A, B, M, N, K, tA, tB, false, "bfloat16"),
        ).gemmMs;
        const bfG = flops / bfMs / 1e6;
        row.push(bfG.toFixed(1), `${(bfG / f32All).toFixed(2)}x`);
        records.push({
          bench: "gemm",
          backend: "native",
          dtype: "bfloat16",
          shape: [M, N, K],
          transA: tA,
          transB: tB,
          threads: peak.threads,
          gflops: bfG,
        });
      }
      // ref is single-threaded JavaScript: time it on a 96-row slice of the same problem (the rate is what counts).
      const m = 96;
      const Cs = allocFloat32(m * N);
      const As = tA ? rand(K * m, 3) : A.subarray(0, m * K);
      const t = timeIt(() => refKernels.matmul(Cs, As, B, m, N, K, tA, tB, false), quick ? 1 : 300, 1);
      const refG = (2 * m * N * K) / t.medianMs / 1e6;
      row.push(refG.toFixed(2));
      if (peak) row.push(`${((100 * refG) / peak.p1).toFixed(1)}%`);
      records.push({
        bench: "gemm",
        backend: "ref",
        shape: [M, N, K],
        transA: tA,
        transB: tB,
        threads: 1,
        gflops: refG,
      });
      rows.push(row);
    }
  if (addon && peak) addon.setNumThreads(peak.threads);
  console.log(
    "GEMM GFLOP/s, best of runs; 'of peak' = that / the FMA peak measured in alternation with it (same threads)",
  );
  const head = ["GEMM (MxNxK)"];
  if (addon && peak)
    head.push(
      "native 1T",
      "of peak",
      `native ${peak.threads}T`,
      "of peak",
      `bf16 ${peak.threads}T`,
      "vs f32",
    );
  head.push("ref GF/s", ...(peak ? ["of 1T peak"] : []));
  console.log(table(head, rows) + "\n");
}

type Op = [name: string, shape: string, run: (k: Kernels) => void];

function fusedOps(): Op[] {
  const [T, D, F, V] = [2624, 512, 1536, 11];
  const x = rand(T * D, 4);
  const y = allocFloat32(T * D);
  const rstd = allocFloat32(T);
  const gu = rand(T * 2 * F, 5);
  const act = allocFloat32(T * F);
  const dgu = allocFloat32(T * 2 * F);
  const qkv = rand(T * 3 * D, 6);
  const cos = rand(82 * 64, 7);
  const sin = rand(82 * 64, 8);
  const probs = allocFloat32(32 * 8 * 82 * 82);
  const dqkv = allocFloat32(T * 3 * D);
  const qkvArc = rand(4 * 901 * 3 * D, 9);
  const probsArc = allocFloat32(4 * 8 * 901 * 901);
  const outArc = allocFloat32(4 * 901 * D);
  const dqkvArc = allocFloat32(4 * 901 * 3 * D);
  const ids = Int32Array.from({ length: T }, (_, i) => i % V);
  const table = rand(V * D, 10);
  const dtable = allocFloat32(V * D);
  const logits = rand(T * V, 11);
  const labels = Int32Array.from({ length: T }, (_, i) => (i % 5 === 0 ? IGNORE_LABEL_ID : i % V));
  const losses = new Float64Array(T);
  const dlogits = allocFloat32(T * V);
  const tok = `T=${T} D=${D}`;
  return [
    ["embeddingForward", `${tok} V=${V}`, (k) => k.embeddingForward(y, ids, table, T, D, V)],
    ["embeddingBackward", `${tok} V=${V}`, (k) => k.embeddingBackward(dtable, x, ids, T, D, V)],
    ["rmsnormForward", tok, (k) => k.rmsnormForward(y, rstd, x, T, D, 1e-5)],
    ["rmsnormBackward", tok, (k) => k.rmsnormBackward(y, x, x, rstd, T, D)],
    ["ropeForward", `${tok} q,k`, (k) => k.ropeForward(dqkv, qkv, cos, sin, T, 3 * D, 82, 16, 64)],
    ["ropeBackward", `${tok} q,k`, (k) => k.ropeBackward(dqkv, qkv, cos, sin, T, 3 * D, 82, 16, 64)],
    ["attentionForward", "B=32 S=82 NH=8", (k) => k.attentionForward(y, probs, qkv, 32, 82, 8, 64)],
    [
      "attentionRopeForward",
      "B=32 S=82 NH=8 no-grad",
      (k) => k.attentionRopeForward(y, qkv, cos, sin, 32, 82, 8, 64),
    ],
    ["attentionBackward", "B=32 S=82 NH=8", (k) => k.attentionBackward(dqkv, x, qkv, probs, 32, 82, 8, 64)],
    [
      "attentionForward",
      "B=4 S=901 NH=8",
      (k) => k.attentionForward(outArc, probsArc, qkvArc, 4, 901, 8, 64),
    ],
    [
      "attentionBackward",
      "B=4 S=901 NH=8",
      (k) => k.attentionBackward(dqkvArc, outArc, qkvArc, probsArc, 4, 901, 8, 64),
    ],
    ["swigluForward", `T=${T} F=${F}`, (k) => k.swigluForward(act, gu, T, F)],
    ["swigluBackward", `T=${T} F=${F}`, (k) => k.swigluBackward(dgu, act, gu, T, F)],
    ["add", `n=${T * D}`, (k) => k.add(y, x, x, 1, 1, T * D)],
    ["addBackward", `n=${T * D}`, (k) => k.addBackward(y, act, x, 1, 1, T * D)],
    [
      "stablemaxCrossEntropyForward",
      `T=${T} V=${V}`,
      (k) => k.stablemaxCrossEntropyForward(losses, logits, labels, T, V, IGNORE_LABEL_ID),
    ],
    [
      "stablemaxCrossEntropyBackward",
      `T=${T} V=${V}`,
      (k) => k.stablemaxCrossEntropyBackward(dlogits, losses, logits, labels, T, V, IGNORE_LABEL_ID),
    ],
    [
      "softmaxCrossEntropyForward",
      `T=${T} V=${V}`,
      (k) => k.softmaxCrossEntropyForward(losses, logits, labels, T, V, IGNORE_LABEL_ID),
    ],
    [
      "softmaxCrossEntropyBackward",
      `T=${T} V=${V}`,
      (k) => k.softmaxCrossEntropyBackward(dlogits, losses, logits, labels, T, V, IGNORE_LABEL_ID),
    ],
    ["bceWithLogitsForward", "n=32", (k) => k.bceWithLogitsForward(rand(32), logits, logits, 32)],
    ["bceWithLogitsBackward", "n=32", (k) => k.bceWithLogitsBackward(rand(32), logits, logits, logits, 32)],
  ];
}

function benchFused(native: NativeAddon | null): void {
  const rows: (string | number)[][] = [];
  for (const [name, shape, run] of fusedOps()) {
    const row: (string | number)[] = [name, shape];
    let nativeMs = NaN;
    if (native) {
      nativeMs = timeIt(() => run(native), budget).medianMs;
      row.push((nativeMs * 1000).toFixed(0));
    }
    // ref on the big attention shapes takes seconds per call: time it once (and skip it with --quick).
    const heavy = shape.includes("S=901");
    const refMs =
      quick && heavy ? NaN : timeIt(() => run(refKernels), quick ? 1 : heavy ? 1 : 200, 1).medianMs;
    row.push(Number.isNaN(refMs) ? "-" : (refMs * 1000).toFixed(0));
    if (native) row.push(Number.isNaN(refMs) ? "-" : `${(refMs / nativeMs).toFixed(0)}x`);
    rows.push(row);
    records.push({ bench: "fused", kernel: name, shape, native_us: nativeMs * 1000, ref_us: refMs * 1000 });
  }
  const head = [
    "fused kernel",
    "shape",
    ...(native ? ["native µs"] : []),
    "ref µs",
    ...(native ? ["speed-up"] : []),
  ];
  console.log(table(head, rows) + "\n");
  if (native) benchEpilogues(native);
  if (native) {
    const x = allocFloat32(16);
    const ns = timeTiny(() => native.add(x, x, x, 1, 1, 16));
    console.log(
      `per-call overhead: native add on 16 elements = ${ns.toFixed(0)} ns per call (from JavaScript)`,
    );
    records.push({ bench: "call_overhead", kernel: "add", n: 16, ns });
  }
}

/**
 * The GEMMs with a fused epilogue against the two kernels they replace (native, float32, T = batch 32),
 * timed in alternation, best of each: what not writing and re-reading the product saves.
 */
function benchEpilogues(native: NativeAddon): void {
  const [T, D, F] = [2624, 512, 1536];
  const x = rand(T * D, 12);
  const res = rand(T * D, 13);
  const out = allocFloat32(T * D);
  const act = allocFloat32(T * F);
  const wGu = rand(2 * F * D, 14);
  const wO = rand(D * D, 15);
  const gu = allocFloat32(T * 2 * F);
  const y = allocFloat32(T * D);
  const rstd = allocFloat32(T);
  const pairs: [string, string, () => void, () => void][] = [
    [
      "linearSwigluForward",
      `T=${T} ${D}->2x${F}`,
      () => native.linearSwigluForward(act, x, wGu, T, D, F),
      () => (native.linearForward(gu, x, wGu, T, D, 2 * F), native.swigluForward(act, gu, T, F)),
    ],
    [
      "linearResidualForward",
      `T=${T} ${D}->${D}`,
      () => native.linearResidualForward(out, res, x, wO, T, D, D),
      () => (native.linearForward(y, x, wO, T, D, D), native.add(out, res, y, 1, 1, T * D)),
    ],
    [
      "linearResidualRmsnormForward",
      `T=${T} ${D}->${D}`,
      () => native.linearResidualRmsnormForward(out, rstd, res, x, wO, T, D, D, 1e-5),
      () => (
        native.linearResidualForward(out, res, x, wO, T, D, D),
        native.rmsnormForward(out, rstd, out, T, D, 1e-5)
      ),
    ],
  ];
  const rows = pairs.map(([name, shape, fused, unfused]) => {
    const best = [Infinity, Infinity];
    for (let r = 0; r < (quick ? 3 : 12); r++)
      [fused, unfused].forEach((fn, i) => (best[i] = Math.min(best[i], timeIt(fn, 0, 1).minMs)));
    records.push({ bench: "epilogue", kernel: name, shape, fused_ms: best[0], unfused_ms: best[1] });
    return [name, shape, best[0].toFixed(2), best[1].toFixed(2), `${(best[1] / best[0]).toFixed(2)}x`];
  });
  console.log(table(["fused GEMM epilogue", "shape", "fused ms", "two kernels ms", "speed-up"], rows) + "\n");
}

const only = process.argv.find((a) => a.startsWith("--only="))?.slice(7);
if (only !== undefined && !["kernels", "model", "trm", "memory", "pytorch", "wasm", "serve"].includes(only)) {
  console.error(`bench: --only=${only}: expected kernels, model, trm, memory, pytorch, wasm or serve`);
  process.exit(2);
}
if (only === "memory") {
  console.log("peak memory of a training step against H_cycles x L_cycles, one process per case");
  benchMemory(records);
  finish();
  process.exit(process.exitCode ?? 0);
}
if (only === "serve") {
  await benchServe(quick, records);
  finish();
  process.exit(process.exitCode ?? 0);
}
if (only === "wasm") {
  await benchWasm(quick, records);
  finish();
  process.exit(process.exitCode ?? 0);
}
const peak = benchPeak();
if (!peak) console.log("native addon not available: ref numbers only\n");
if (only !== "model" && only !== "trm" && only !== "pytorch") {
  benchGemm(peak);
  benchFused(addon);
}
if (only !== "kernels" && only !== "pytorch") {
  console.log(
    "\nmodel: official training steps and evaluation (float32, and bfloat16 where marked), one process per case",
  );
  const native = addon;
  const measurePeak = native
    ? (threads: number | undefined) => native.fmaPeakGflops(threads ?? native.info().threads, 0.1)
    : null;
  const startPeak = (threads: number) =>
    !peak ? NaN : threads === 1 ? peak.p1 : threads === peak.threads ? peak.pAll : NaN;
  benchModels(measurePeak, quick, records, startPeak, only === "trm" ? "trm" : "all");
}
if (only === "pytorch" || args.has("--pytorch")) {
  console.log(
    "\nhrm-ts vs the official HRM in PyTorch on this CPU, same configurations, one process per run",
  );
  try {
    benchPytorch(quick, records);
  } catch (e) {
    console.error(`bench: ${(e as Error).message}`);
    process.exitCode = 1;
  }
}
finish();

function finish(): void {
  if (!args.has("--json")) return;
  mkdirSync("bench/results", { recursive: true });
  const file = `bench/results/bench-${new Date().toISOString().replace(/[:.]/g, "-")}.jsonl`;
  writeFileSync(file, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
  console.log(`\nJSON lines written to ${file}`);
}
