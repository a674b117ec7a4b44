/**
 * One model benchmark case in its own process (so that peak resident memory and the thread count belong to
 * that case alone): `node dist/bench/model-worker.js '<case json>'`. Times official training steps or
 * evaluation runs on random puzzle-shaped data, profiles time per kernel, and prints one JSON line.
 */
import { readFileSync } from "node:fs";
import type { Kernels, KernelName, SelectedKernels } from "../src/node.js";
import {
  getKernels,
  loadNativeAddon,
  HRMInner,
  HRMParams,
  initialCarry,
  actForward,
  KERNEL_NAMES,
  makeConfig,
  Rng,
  TrainStep,
} from "../src/node.js";
import { evalFlops, modelFlops } from "../src/model/flops.js";

/**
 * This process's peak resident memory. On Linux, from VmHWM: getrusage's maxRSS survives fork + exec, so a
 * worker spawned by a bench that has already allocated hundreds of MB (the GEMM part) would report the
 * parent's peak instead of its own.
 */
function peakRssMb(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux: fall through
  }
  return process.resourceUsage().maxRSS / 1024;
}
import type { HRMConfig } from "../src/model/config.js";

export interface ModelCase {
  config: "full" | "small" | "arc" | "trm-sudoku" | "trm-sudoku-mlp" | "trm-maze";
  mode: "train" | "eval";
  batch: number;
  /** Extra arch overrides (memory-scaling cases). */
  arch?: Partial<HRMConfig>;
  label?: string;
  /** Timed runs: at least this many, and more (up to MAX_REPS) until they add up to minSeconds. */
  reps: number;
  /** Short cases (a 0.2 s small step, a 0.7 s puzzle) run for this long, so that their median is taken over
   * enough runs to ride out this host's bursts of contention; 0 or absent: exactly `reps`. */
  minSeconds?: number;
  /** forward_dtype; float32 when absent. */
  dtype?: "float32" | "bfloat16";
}

const MAX_REPS = 40;

const TRM: Partial<HRMConfig> = {
  architecture: "trm",
  hidden_size: 512,
  num_heads: 8,
  L_layers: 2,
  H_layers: 0,
  H_cycles: 3,
  L_cycles: 6,
  puzzle_emb_len: 16,
};

export const CONFIGS: Record<ModelCase["config"], Partial<HRMConfig>> = {
  full: { hidden_size: 512, num_heads: 8, H_layers: 4, L_layers: 4, seq_len: 81, vocab_size: 11 },
  small: { hidden_size: 128, num_heads: 4, H_layers: 2, L_layers: 2, seq_len: 81, vocab_size: 11 },
  arc: { hidden_size: 512, num_heads: 8, H_layers: 4, L_layers: 4, seq_len: 900, vocab_size: 12 },
  // TRM's official Sudoku-Extreme (attention and mlp_t) and Maze-Hard configurations: trm.yaml's sizes.
  "trm-sudoku": { ...TRM, seq_len: 81, vocab_size: 11 },
  "trm-sudoku-mlp": { ...TRM, seq_len: 81, vocab_size: 11, mlp_t: true, pos_encodings: "none" },
  "trm-maze": { ...TRM, seq_len: 900, vocab_size: 6 },
};

/**
 * Flops (a multiply-add counts two) of one call of the kernels that do matrix products, from their dimension
 * arguments (see src/kernels/api.ts for the argument order); 0 for the rest. linearBackward: dX and dW.
 */
function kernelFlops(name: string, a: unknown[]): number {
  const n = (i: number) => a[i] as number;
  const attention = (b: number) => 4 * n(b) * n(b + 2) * n(b + 1) ** 2 * n(b + 3); // B, S, NH, HD at b..b+3
  switch (name) {
    case "matmul": // C, A, B, M, N, K: the same places as T, I, O below
    case "linearForward":
    case "linearForwardPacked":
      return 2 * n(3) * n(4) * n(5);
    case "linearResidualForward":
    case "linearResidualForwardPacked":
      return 2 * n(4) * n(5) * n(6);
    case "linearResidualRmsnormForward":
    case "linearResidualRmsnormForwardPacked":
      return 2 * n(5) * n(6) * n(7);
    case "linearSwigluForward":
    case "linearSwigluForwardPacked":
      return 4 * n(3) * n(4) * n(5); // T x I x 2F
    case "linearBackward":
      return 4 * n(5) * n(6) * n(7);
    case "attentionForward":
      return attention(3);
    case "attentionRopeForward":
      return attention(4);
    case "attentionBackward":
      return 2 * attention(4);
    default:
      return 0;
  }
}

/** Wraps every kernel to add its wall time to `ms` and its flops to `flops` (per-kernel profile; ~0.1 us per
 * call overhead). */
function profiled(k: SelectedKernels, ms: Map<string, number>, flops: Map<string, number>): Kernels {
  const out: Record<string, unknown> = { ...k };
  for (const name of KERNEL_NAMES as readonly KernelName[]) {
    const fn = k[name] as (...a: unknown[]) => unknown;
    out[name] = (...a: unknown[]) => {
      const t0 = performance.now();
      const r = fn(...a);
      ms.set(name, (ms.get(name) ?? 0) + performance.now() - t0);
      flops.set(name, (flops.get(name) ?? 0) + kernelFlops(name, a));
      return r;
    };
  }
  return out as unknown as Kernels;
}

function batchFor(c: HRMConfig, B: number, rng: Rng) {
  const L = c.seq_len;
  return {
    inputs: Int32Array.from({ length: B * L }, () => 1 + rng.int(0, c.vocab_size - 1)),
    labels: Int32Array.from({ length: B * L }, () => 1 + rng.int(0, c.vocab_size - 1)),
    puzzle_identifiers: new Int32Array(B),
  };
}

function run(cs: ModelCase) {
  const config = makeConfig({
    H_cycles: 2,
    L_cycles: 2,
    ...CONFIGS[cs.config],
    halt_max_steps: 16,
    puzzle_emb_ndim: CONFIGS[cs.config].hidden_size,
    num_puzzle_identifiers: 1,
    batch_size: cs.batch,
    forward_dtype: cs.dtype ?? "float32",
    ...cs.arch,
  });
  const base = getKernels();
  const prof = new Map<string, number>();
  const profFlops = new Map<string, number>();
  const k = profiled(base, prof, profFlops);
  const inner = new HRMInner(HRMParams.init(config, 0), k);
  const rng = new Rng(1);
  const batch = batchFor(config, cs.batch, rng);
  let work: () => void;
  let flops: number;
  if (cs.mode === "train") {
    const step = new TrainStep(inner, {
      adam: { lr: 1e-4, beta1: 0.9, beta2: 0.95, weightDecay: 0.1 },
      puzzleEmbLr: 1e-2,
      puzzleEmbWeightDecay: 0.1,
      lossScale: 1 / cs.batch,
    });
    const carry = initialCarry(inner, cs.batch);
    work = () => void step.run(carry, batch, rng);
    flops = modelFlops(config, cs.batch).trainStep;
  } else {
    const segments = 16;
    work = () => {
      const carry = initialCarry(inner, cs.batch);
      inner.frozen(() => {
        for (let s = 0; s < segments; s++) actForward(inner, carry, batch, { training: false });
      });
    };
    flops = evalFlops(config, cs.batch, segments);
  }
  work(); // warm-up: allocations, packing buffers, page faults
  prof.clear();
  profFlops.clear();
  const times: number[] = [];
  let total = 0;
  while (times.length < cs.reps || (total < (cs.minSeconds ?? 0) && times.length < MAX_REPS)) {
    const t0 = performance.now();
    work();
    times.push((performance.now() - t0) / 1000);
    total += times[times.length - 1];
  }
  const runs = times.length;
  times.sort((a, b) => a - b);
  const seconds = times[runs >> 1];
  const profile = Object.fromEntries(
    [...prof.entries()].sort((a, b) => b[1] - a[1]).map(([n, v]) => [n, v / runs]),
  );
  const profileGflops = Object.fromEntries(
    [...profFlops.entries()].filter(([, f]) => f > 0).map(([n, f]) => [n, f / runs / 1e9]),
  );
  return {
    config: cs.config,
    mode: cs.mode,
    batch: cs.batch,
    label: cs.label ?? null,
    dtype: config.forward_dtype,
    threads: base.backendName.startsWith("native") ? (loadNativeAddon()?.info().threads ?? 1) : 1,
    backend: base.backendName,
    seconds,
    runs,
    examples_per_s: cs.batch / seconds,
    flops,
    gflops: flops / seconds / 1e9,
    peak_rss_mb: peakRssMb(),
    profile_ms: profile,
    profile_gflop: profileGflops,
  };
}

const arg = process.argv[2];
if (!arg) {
  console.error("usage: node dist/bench/model-worker.js '<case json>'");
  process.exit(2);
}
console.log(JSON.stringify(run(JSON.parse(arg) as ModelCase)));
