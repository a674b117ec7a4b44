/**
 * The conformance table: every kernel of the contract on the official model's shapes (hidden 512, 8 heads,
 * expansion 4 -> SwiGLU inner 1536, sequence 82 and 901, batch 1..32, vocab 11/12) and on awkward shapes
 * (1, 3, 17, 63, 65: not multiples of any SIMD width or micro-tile). Each case builds fresh float32 inputs
 * and names its outputs; written outputs are poisoned with NaN before the call so an unwritten element
 * fails, accumulated outputs start from random values. Tolerances sit next to each kernel with the reason.
 */
import type { KernelName, MatmulPrecision } from "../src/kernels/api.js";
import { IGNORE_LABEL_ID } from "../src/kernels/api.js";
import { refKernels as ref } from "../src/kernels/ref/index.js";
import { randInts, randn, Rng } from "./helpers.js";

export interface Case {
  kernel: KernelName;
  label: string;
  args: unknown[];
  /** Indices of output arguments: written ones are NaN-poisoned, accumulated ones are not. */
  written: number[];
  accumulated: number[];
  atol: number;
  rtol: number;
}

type Tol = { atol: number; rtol: number };
const F32 = Float32Array;
const nan = (n: number) => new F32(n).fill(NaN);

// GEMM: float32 accumulation over K unit-variance products has rounding error growing ~ K * 2^-24 in the worst
// case (~sqrt(K) * 2^-24 * sqrt(K) typical); ref accumulates in float64. 1e-6*K is ~16x the worst case bound.
const gemmTol = (K: number): Tol => ({ atol: 1e-6 * Math.max(K, 16), rtol: 1e-5 });
// Row reductions in float32 (RMSNorm sum of squares, softmax sums): relative error ~ D * 2^-24 at most.
const ROW_TOL: Tol = { atol: 1e-5, rtol: 1e-4 };
// Single products / rotations: one float32 rounding per output vs float64 ref.
const POINTWISE_TOL: Tol = { atol: 1e-6, rtol: 1e-6 };
// Native sigmoid / exp use a ~2 ulp polynomial expf; products of two rounded terms.
const EXP_TOL: Tol = { atol: 1e-6, rtol: 2e-5 };
// Attention: float32 dot products over HD (64) and sums over S (up to 901) with the polynomial exp.
const ATTN_TOL: Tol = { atol: 2e-5, rtol: 2e-4 };
// Stablemax is float64 inside on both sides: only libm-vs-V8 last-bit differences remain.
const F64_LOSS_TOL: Tol = { atol: 1e-12, rtol: 1e-12 };

export const MODEL = { D: 512, NH: 8, HD: 64, F: 1536, seqs: [82, 901], batches: [1, 4, 8, 32] };
export const AWKWARD = [1, 3, 17, 63, 65];

// bfloat16 matmuls: both sides round the operands identically (RNE) and the products are exact, so only the
// float32 summation order differs: the float32 tolerance holds unchanged.
function gemmCase(
  rng: Rng,
  M: number,
  N: number,
  K: number,
  tA: boolean,
  tB: boolean,
  acc: boolean,
  precision: MatmulPrecision = "float32",
): Case {
  const C = acc ? randn(F32, M * N, rng) : nan(M * N);
  const bf = precision === "bfloat16";
  return {
    kernel: "matmul",
    label: `${M}x${N}x${K} ${tA ? "Aᵀ" : "A"}·${tB ? "Bᵀ" : "B"}${acc ? " +=" : ""}${bf ? " bf16" : ""}`,
    args: [
      C,
      randn(F32, M * K, rng),
      randn(F32, K * N, rng),
      M,
      N,
      K,
      tA,
      tB,
      acc,
      ...(bf ? [precision] : []),
    ],
    written: acc ? [] : [0],
    accumulated: acc ? [0] : [],
    ...gemmTol(K),
  };
}

export function gemmCases(rng: Rng, heavy: boolean): Case[] {
  const cases: Case[] = [];
  // Model GEMMs at B=32, S=82 (T = 2624 tokens): qkv / gate_up / down / o_proj forward, dinp and dweight.
  const T = 32 * 82;
  if (heavy)
    for (const [I, O] of [
      [512, 1536],
      [1536, 512],
      [512, 512],
    ]) {
      // bfloat16 on one shape set: ref's GEMM takes seconds per case at these sizes.
      for (const p of I === 512 && O === 1536 ? (["float32", "bfloat16"] as const) : (["float32"] as const)) {
        cases.push(gemmCase(rng, T, O, I, false, true, false, p)); // forward  x·Wᵀ
        cases.push(gemmCase(rng, T, I, O, false, false, false, p)); // dinp    dy·W
        cases.push(gemmCase(rng, O, I, T, true, false, true, p)); // dweight += dyᵀ·x
      }
    }
  cases.push(gemmCase(rng, 82, 11, 512, false, true, false)); // lm_head at batch 1
  cases.push(gemmCase(rng, 82, 3072, 512, false, true, false)); // gate_up at batch 1
  cases.push(gemmCase(rng, 512, 512, 82, true, true, false));
  // N = 1 and 65 leave one column for the last 32-wide panel (the AVX-512 half-width kernel), N = 17 seventeen.
  for (const M of AWKWARD)
    for (const N of [1, 17, 65])
      for (const K of [1, 3, 63, 65]) {
        const v = (M + N + K) % 4;
        cases.push(gemmCase(rng, M, N, K, (v & 1) === 1, (v & 2) === 2, (M + K) % 2 === 0));
        // bfloat16 on every transpose variant; odd K exercises the zero-padded last pair.
        cases.push(gemmCase(rng, M, N, K, (v & 1) === 0, (v & 2) === 0, (M + K) % 2 === 1, "bfloat16"));
      }
  // Aᵀ with a long K and M >= 4 * threads * 14 is transposed before the product, a strip of C's rows per task
  // (equal strips when there are no more than threads, else 84 rows): K not a multiple of the 16-row transpose
  // blocks, M not of the tiles, both op(B) layouts, float32 and bfloat16.
  // (N is chosen so that computing Cᵀ instead does not pay: see below.)
  cases.push(gemmCase(rng, 129, 17, 1031, true, false, true));
  cases.push(gemmCase(rng, 127, 32, 1100, true, true, false));
  cases.push(gemmCase(rng, 129, 17, 1031, true, false, true, "bfloat16"));
  cases.push(gemmCase(rng, 300, 64, 1030, true, false, true)); // strips of 84 rows and a last of 48
  // Past 4096 deep the strips outgrow L2 and K is split instead (mlp_t's weight gradients: K = 16384).
  cases.push(gemmCase(rng, 130, 20, 4200, true, false, true));
  // Aᵀ with a long K whose N lies just past a tile width (mlp_t's 1024 x 97) is computed as Cᵀ = op(B)ᵀ·op(A)ᵀ
  // into scratch, then transposed into C: both op(B) layouts, written and accumulated, float32 and bfloat16.
  for (const tB of [false, true]) {
    cases.push(gemmCase(rng, 200, 33, 1100, true, tB, tB));
    cases.push(gemmCase(rng, 200, 33, 1100, true, tB, !tB, "bfloat16"));
  }
  cases.push(gemmCase(rng, 82, 3072, 512, false, true, false, "bfloat16"));
  cases.push(gemmCase(rng, 512, 512, 82, true, false, true, "bfloat16"));
  cases.push(gemmCase(rng, 65, 63, 0, false, false, false)); // K = 0: C = 0
  // K deeper than one packed block (1536): C carried across depth blocks, both layouts of A.
  for (const [M, N, K, tA] of [
    [17, 33, 1700, false],
    [1800, 17, 1600, true],
  ] as const)
    for (const tB of [false, true]) {
      cases.push(gemmCase(rng, M, N, K, tA, tB, tB));
      cases.push(gemmCase(rng, M, N, K, tA, tB, !tB, "bfloat16"));
    }
  // Row-major A with rows a multiple of 4 KB apart is packed rather than read in place (gate_up's dinp, K = 3072).
  for (const [M, N, K] of [
    [45, 40, 1024],
    [100, 70, 2048],
  ])
    for (const tB of [false, true]) cases.push(gemmCase(rng, M, N, K, false, tB, tB));
  // A transposed with M >= 512 (stored rows 2 KB or more apart) and K short of the transpose-first products is
  // packed k-major rather than read in place: M not a multiple of the tiles, both op(B) layouts.
  cases.push(gemmCase(rng, 527, 45, 300, true, false, true));
  cases.push(gemmCase(rng, 1030, 33, 129, true, true, false));
  // Long K with transposed A (a weight gradient) splits K across threads: uneven chunks, partial sums.
  for (const [M, N, K] of [
    [17, 33, 1100],
    [130, 64, 2624],
  ])
    for (const tB of [false, true]) {
      cases.push(gemmCase(rng, M, N, K, true, tB, !tB));
      cases.push(gemmCase(rng, M, N, K, true, tB, tB, "bfloat16"));
    }
  return cases;
}

export function linearCases(rng: Rng, heavy: boolean): Case[] {
  const shapes = heavy
    ? [
        [32 * 82, 512, 1536],
        [82, 1536, 512],
        [17, 63, 65],
      ]
    : [
        [82, 1536, 512],
        [17, 63, 65],
        [1, 3, 1],
      ];
  const cases: Case[] = [];
  const variants = shapes.flatMap(([T, I, O]) =>
    (["float32", "bfloat16"] as const).map((p) => [T, I, O, p] as const),
  );
  for (const [T, I, O, p] of variants) {
    const inp = randn(F32, T * I, rng);
    const w = randn(F32, O * I, rng);
    const opt = p === "bfloat16" ? [p] : [];
    cases.push({
      kernel: "linearForward",
      label: `T${T} ${I}->${O}${opt.length ? " bf16" : ""}`,
      args: [nan(T * O), inp, w, T, I, O, ...opt],
      written: [0],
      accumulated: [],
      ...gemmTol(I),
    });
    cases.push({
      kernel: "linearResidualForward",
      label: `T${T} ${I}->${O}${opt.length ? " bf16" : ""}`,
      args: [nan(T * O), randn(F32, T * O, rng), inp, w, T, I, O, ...opt],
      written: [0],
      accumulated: [],
      ...gemmTol(I), // the GEMM's error, plus one rounding of the add
    });
    cases.push({
      kernel: "linearResidualRmsnormForward",
      label: `T${T} ${I}->${O}${opt.length ? " bf16" : ""}`,
      args: [nan(T * O), nan(T), randn(F32, T * O, rng), inp, w, T, I, O, 1e-5, ...opt],
      written: [0, 1],
      accumulated: [],
      ...gemmTol(I), // the normalised rows carry the GEMM's relative error
    });
    const dout = randn(F32, T * O, rng);
    cases.push({
      kernel: "linearBackward",
      label: `T${T} ${I}->${O}${opt.length ? " bf16" : ""}`,
      args: [nan(T * I), randn(F32, O * I, rng), dout, inp, w, T, I, O, ...opt],
      written: [0],
      accumulated: [1],
      ...gemmTol(Math.max(T, O)),
    });
  }
  return cases;
}

export function rowCases(rng: Rng): Case[] {
  const cases: Case[] = [];
  const tokenShapes: [number, number][] = [
    [32 * 82, MODEL.D],
    [901, MODEL.D],
    ...AWKWARD.map((n): [number, number] => [n, AWKWARD[(n * 7) % 5]]),
  ];
  for (const [T, D] of tokenShapes) {
    for (const V of [11, 1000]) {
      const table = randn(F32, V * D, rng);
      const ids = randInts(T, V, rng);
      cases.push({
        kernel: "embeddingForward",
        label: `T${T} D${D} V${V}`,
        args: [nan(T * D), ids, table, T, D, V],
        written: [0],
        accumulated: [],
        ...POINTWISE_TOL,
      });
      cases.push({
        kernel: "embeddingBackward",
        label: `T${T} D${D} V${V}`,
        args: [randn(F32, V * D, rng), randn(F32, T * D, rng), ids, T, D, V],
        written: [],
        accumulated: [0],
        ...POINTWISE_TOL, // same summation order in both: float32 adds in token order
      });
    }
    const x = randn(F32, T * D, rng, 3);
    cases.push({
      kernel: "rmsnormForward",
      label: `T${T} D${D}`,
      args: [nan(T * D), nan(T), x, T, D, 1e-5],
      written: [0, 1],
      accumulated: [],
      ...ROW_TOL,
    });
    const y = new F32(T * D);
    const rstd = new F32(T);
    ref.rmsnormForward(y, rstd, x, T, D, 1e-5);
    cases.push({
      kernel: "rmsnormBackward",
      label: `T${T} D${D}`,
      args: [nan(T * D), randn(F32, T * D, rng), y, rstd, T, D],
      written: [0],
      accumulated: [],
      ...ROW_TOL,
    });
    const n = T * D;
    cases.push({
      kernel: "add",
      label: `n${n}`,
      args: [nan(n), randn(F32, n, rng), randn(F32, n, rng), 0.7071, 1, n],
      written: [0],
      accumulated: [],
      ...POINTWISE_TOL,
    });
    cases.push({
      kernel: "addBackward",
      label: `n${n}`,
      args: [nan(n), nan(n), randn(F32, n, rng), 1, 22.627, n],
      written: [0, 1],
      accumulated: [],
      ...POINTWISE_TOL,
    });
    const F = D === MODEL.D ? MODEL.F : D;
    const gu = randn(F32, T * 2 * F, rng, 3);
    cases.push({
      kernel: "swigluForward",
      label: `T${T} F${F}`,
      args: [nan(T * F), gu, T, F],
      written: [0],
      accumulated: [],
      ...EXP_TOL,
    });
    cases.push({
      kernel: "swigluBackward",
      label: `T${T} F${F}`,
      args: [nan(T * 2 * F), randn(F32, T * F, rng), gu, T, F],
      written: [0],
      accumulated: [],
      ...EXP_TOL,
    });
    cases.push({
      kernel: "swigluActBackward",
      label: `T${T} F${F}`,
      args: [nan(T * 2 * F), nan(T * F), randn(F32, T * F, rng), gu, T, F],
      written: [0, 1],
      accumulated: [],
      ...EXP_TOL,
    });
  }
  return cases;
}

/**
 * The batched transpose of TRM's mlp_t ([B, S, D] <-> [B, D, S]): the model's shapes (S = 81 + 16 puzzle
 * positions, D = 512, batch 1 and 32) and awkward ones (tile edges: 1, 15, 17, 33). A copy: exact.
 */
export function transposeCases(rng: Rng): Case[] {
  const shapes = [
    [32, 97, 512],
    [1, 512, 97],
    [1, 1, 1],
    [3, 17, 15],
    [2, 33, 1],
    [5, 1, 33],
  ];
  return shapes.map(([B, R, C]) => ({
    kernel: "transpose" as const,
    label: `B${B} ${R}x${C}`,
    args: [nan(B * R * C), randn(F32, B * R * C, rng), B, R, C],
    written: [0],
    accumulated: [],
    atol: 0,
    rtol: 0,
  }));
}

export function ropeCases(rng: Rng): Case[] {
  const cases: Case[] = [];
  const shapes = [
    { B: 32, S: 82, NH: 8, HD: 64 },
    { B: 1, S: 901, NH: 8, HD: 64 },
    { B: 3, S: 17, NH: 3, HD: 2 },
    { B: 1, S: 1, NH: 1, HD: 62 },
  ];
  for (const { B, S, NH, HD } of shapes) {
    const T = B * S;
    const W = 3 * NH * HD;
    const cos = randn(F32, S * HD, rng);
    const sin = randn(F32, S * HD, rng);
    const label = `B${B} S${S} NH${NH} HD${HD}`;
    for (const kernel of ["ropeForward", "ropeBackward"] as const)
      cases.push({
        kernel,
        label,
        args: [nan(T * W), randn(F32, T * W, rng), cos, sin, T, W, S, 2 * NH, HD],
        written: [0],
        accumulated: [],
        ...POINTWISE_TOL,
      });
  }
  return cases;
}

export function attentionCases(rng: Rng, heavy: boolean): Case[] {
  const cases: Case[] = [];
  const shapes = [
    { B: 1, S: 82, NH: 8, HD: 64 },
    { B: 4, S: 82, NH: 8, HD: 64 },
    { B: 3, S: 17, NH: 3, HD: 5 },
    { B: 1, S: 1, NH: 1, HD: 63 },
    { B: 2, S: 65, NH: 2, HD: 17 },
    { B: 3, S: 19, NH: 2, HD: 6 },
    // Softmax rows of exactly 8 vectors (the longest held in registers), and one longer (the 3-pass path).
    { B: 1, S: 128, NH: 2, HD: 8 },
    { B: 2, S: 130, NH: 1, HD: 4 },
    // Rows of 3, 4 and 7 vectors (softmax rows go four at a time, then one by one: S not a multiple of 4).
    { B: 1, S: 45, NH: 2, HD: 8 },
    { B: 1, S: 62, NH: 1, HD: 8 },
    { B: 1, S: 103, NH: 1, HD: 4 },
  ];
  if (heavy) shapes.push({ B: 32, S: 82, NH: 8, HD: 64 }, { B: 1, S: 901, NH: 8, HD: 64 });
  for (const { B, S, NH, HD } of shapes) {
    const n = B * S * NH * HD;
    const qkv = randn(F32, 3 * n, rng);
    const label = `B${B} S${S} NH${NH} HD${HD}`;
    cases.push({
      kernel: "attentionForward",
      label,
      args: [nan(n), nan(B * NH * S * S), qkv, B, S, NH, HD],
      written: [0, 1],
      accumulated: [],
      ...ATTN_TOL,
    });
    cases.push({
      kernel: "attentionForward",
      label: `${label} no probs (no-grad)`,
      args: [nan(n), new F32(0), qkv, B, S, NH, HD],
      written: [0],
      accumulated: [],
      ...ATTN_TOL,
    });
    if (HD % 2 === 0)
      cases.push({
        kernel: "attentionRopeForward",
        label,
        args: [nan(n), qkv, randn(F32, S * HD, rng), randn(F32, S * HD, rng), B, S, NH, HD],
        written: [0],
        accumulated: [],
        ...ATTN_TOL,
      });
    const probs = new F32(B * NH * S * S);
    ref.attentionForward(new F32(n), probs, qkv, B, S, NH, HD);
    cases.push({
      kernel: "attentionBackward",
      label,
      args: [nan(3 * n), randn(F32, n, rng), qkv, probs, B, S, NH, HD],
      written: [0],
      accumulated: [],
      ...ATTN_TOL,
    });
  }
  return cases;
}

export function lossCases(rng: Rng): Case[] {
  const cases: Case[] = [];
  for (const [T, V] of [
    [32 * 82, 11],
    [4 * 901, 12],
    [17, 3],
    [1, 1],
    [65, 63],
  ]) {
    const logits = randn(F32, T * V, rng, 4);
    const labels = randInts(T, V, rng);
    for (let t = 0; t < T; t += 3) labels[t] = IGNORE_LABEL_ID;
    for (const [kind, tol] of [
      ["softmax", ROW_TOL],
      ["stablemax", ROW_TOL],
    ] as const) {
      for (const L of [Float32Array, Float64Array]) {
        const t64 = L === Float64Array && kind === "stablemax" ? F64_LOSS_TOL : tol;
        const label = `T${T} V${V} losses ${L.name}`;
        cases.push({
          kernel: `${kind}CrossEntropyForward`,
          label,
          args: [new L(T).fill(NaN), logits, labels, T, V, IGNORE_LABEL_ID],
          written: [0],
          accumulated: [],
          ...t64,
        });
        const dl = L === Float64Array ? randn(Float64Array, T, rng) : randn(F32, T, rng);
        cases.push({
          kernel: `${kind}CrossEntropyBackward`,
          label,
          args: [nan(T * V), dl, logits, labels, T, V, IGNORE_LABEL_ID],
          written: [0],
          accumulated: [],
          ...ROW_TOL,
        });
      }
    }
  }
  for (const n of [1, 17, 32]) {
    const x = randn(F32, n, rng, 6);
    const y = F32.from({ length: n }, () => rng.uniform());
    cases.push({
      kernel: "bceWithLogitsForward",
      label: `n${n}`,
      args: [nan(n), x, y, n],
      written: [0],
      accumulated: [],
      ...EXP_TOL,
    });
    cases.push({
      kernel: "bceWithLogitsBackward",
      label: `n${n}`,
      args: [nan(n), randn(F32, n, rng), x, y, n],
      written: [0],
      accumulated: [],
      ...EXP_TOL,
    });
  }
  return cases;
}

export function optimCases(rng: Rng): Case[] {
  // The update is float64 per element on both sides; results round once to float32 (atan2/sqrt from libm vs
  // V8 may differ in the last double bit, invisible after rounding but for rare ties).
  const tol = { atol: 1e-7, rtol: 1e-6 };
  return [1, 17, 65, 300000].flatMap((n) => {
    const v = randn(F32, n, rng).map((x) => x * x);
    const args = [
      randn(F32, n, rng),
      randn(F32, n, rng, 0.01),
      randn(F32, n, rng, 0.01),
      v,
      n,
      1e-3,
      0.9,
      0.95,
      0.1,
      1e-3 / (1 - 0.9 ** 3),
      Math.sqrt(1 - 0.95 ** 3),
    ];
    return [
      {
        kernel: "adamAtan2" as const,
        label: `n${n} step 3`,
        args,
        written: [],
        accumulated: [0, 2, 3],
        ...tol,
      },
    ];
  });
}

// gate_up + SwiGLU: weights scaled by 1/sqrt(I) keep gate and up near unit size; an error e in gate or up moves
// the output by about |up| e or |silu(gate)| e (a few e), hence 4x the GEMM tolerance.
const swigluLinearTol = (I: number): Tol => ({ atol: 4e-6 * Math.max(I, 16), rtol: 2e-5 });

/** [T, I, F] of the fused gate_up + SwiGLU: row and column splits, edge tiles, and the shapes it does unfused
 * (F not a multiple of the micro-tile width, or I deeper than one packed block). */
export const SWIGLU_LINEAR_SHAPES = {
  heavy: [
    [32 * 82, 512, 1536],
    [82, 512, 1536],
    [65, 17, 32],
    [17, 63, 65],
    [3, 1600, 64],
    [1, 3, 1],
  ],
  light: [
    [82, 512, 1536],
    [65, 17, 32],
    [17, 63, 65],
    [1, 3, 1],
  ],
};

export function swigluLinearCases(rng: Rng, heavy: boolean): Case[] {
  const cases: Case[] = [];
  for (const [T, I, F] of heavy ? SWIGLU_LINEAR_SHAPES.heavy : SWIGLU_LINEAR_SHAPES.light)
    for (const p of ["float32", "bfloat16"] as const) {
      const opt = p === "bfloat16" ? [p] : [];
      cases.push({
        kernel: "linearSwigluForward",
        label: `T${T} ${I}->2x${F}${opt.length ? " bf16" : ""}`,
        args: [
          nan(T * F),
          randn(F32, T * I, rng),
          randn(F32, 2 * F * I, rng, 1 / Math.sqrt(I)),
          T,
          I,
          F,
          ...opt,
        ],
        written: [0],
        accumulated: [],
        ...swigluLinearTol(I),
      });
      cases.push({
        kernel: "linearGateUpSwigluForward",
        label: `T${T} ${I}->2x${F}${opt.length ? " bf16" : ""}`,
        args: [
          nan(T * F),
          nan(2 * T * F),
          randn(F32, T * I, rng),
          randn(F32, 2 * F * I, rng, 1 / Math.sqrt(I)),
          T,
          I,
          F,
          ...opt,
        ],
        written: [0, 1],
        accumulated: [],
        ...swigluLinearTol(I),
      });
    }
  return cases;
}

export function allCases(seed: number, heavy: boolean): Case[] {
  const rng = new Rng(seed);
  return [
    ...gemmCases(rng, heavy),
    ...linearCases(rng, heavy),
    ...swigluLinearCases(rng, heavy),
    ...rowCases(rng),
    ...ropeCases(rng),
    ...transposeCases(rng),
    ...attentionCases(rng, heavy),
    ...lossCases(rng),
    ...optimCases(rng),
  ];
}

/** Deep copy of a case's arguments (typed arrays cloned), so ref and native see identical inputs. */
export function cloneArgs(args: unknown[]): unknown[] {
  return args.map((a) => (ArrayBuffer.isView(a) ? (a as Float32Array).slice() : a));
}

/**
 * SwiGLU forward and backward of `k` at gates from -1e4 to 1e4 (up = 1 / gate, so SiLU(g) up is the sigmoid
 * itself): what is wrong, as messages (none: finite, within tolerance of ref, and no denormal sigmoid). The
 * backward's tolerance is relative to the size of its terms: dgate = dy u s (1 + g (1 - s)) cancels near
 * g = -1.28, where a last-bit difference in s is a large part of the result.
 */
export function extremeSwigluFailures(k: Pick<typeof ref, "swigluForward" | "swigluBackward">): string[] {
  const ends = [
    -1e4, -200, -100, -88.8, -88.5, -88, -87.5, -87, -20, -1.28, 0, 1, 20, 87, 88.5, 88.8, 100, 200, 1e4,
  ];
  const [T, F] = [3, ends.length];
  const gu = new F32(T * 2 * F);
  for (let t = 0; t < T; t++)
    for (let f = 0; f < F; f++)
      [gu[t * 2 * F + f], gu[t * 2 * F + F + f]] = [ends[f], ends[f] ? 1 / ends[f] : 1];
  const dout = F32.from({ length: T * F }, (_, i) => 1 - (i % 3));
  const failures: string[] = [];
  for (const kernel of ["swigluForward", "swigluBackward"] as const) {
    const [got, want] = [k, ref].map((kk) => {
      const out = new F32(kernel === "swigluForward" ? T * F : T * 2 * F);
      if (kernel === "swigluForward") kk.swigluForward(out, gu, T, F);
      else kk.swigluBackward(out, dout, gu, T, F);
      return out;
    });
    if (!got.every(Number.isFinite)) failures.push(`${kernel}: not finite: ${got.join(" ")}`);
    for (let i = 0; i < got.length; i++) {
      const scale = kernel === "swigluForward" ? Math.abs(want[i]) : swigluBackwardScale(gu, dout, F, i);
      if (!(Math.abs(got[i] - want[i]) <= 1e-30 + 1e-5 * scale))
        failures.push(`${kernel}[${i}]: ${got[i]} vs ref ${want[i]}`);
    }
    if (kernel === "swigluForward")
      for (const v of got)
        if (v !== 0 && Math.abs(v) < 1.1754944e-38) failures.push(`swigluForward: sigmoid ${v} is denormal`);
  }
  return failures;
}

/** The size of the terms of swigluBackward's output i ([T, 2F]: dgate then dup per row), in float64. */
function swigluBackwardScale(gu: Float32Array, dout: Float32Array, F: number, i: number): number {
  const [t, f] = [Math.floor(i / (2 * F)), i % (2 * F)];
  const j = f % F;
  const [g, u, dy] = [gu[t * 2 * F + j], gu[t * 2 * F + F + j], dout[t * F + j]];
  const s = 1 / (1 + Math.exp(-g));
  return f < F ? Math.abs(dy * u * s) * (1 + Math.abs(g * (1 - s))) : Math.abs(dy * g * s);
}
