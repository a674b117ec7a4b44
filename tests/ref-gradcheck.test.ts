/**
 * Every ref backward against central finite differences in float64, on small random shapes.
 * Each case defines a scalar loss L = Σ w ⊙ forward(inputs) with random weights w, so the analytic gradient
 * is backward(dout = w). Tolerance: central differences with h = 1e-6 in float64 have truncation error
 * ~h² |f'''| and rounding ~1e-16/h, i.e. about 1e-9 absolute here; 1e-6 relative leaves margin.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { IGNORE_LABEL_ID } from "../src/kernels/api.js";
import { refKernels as k } from "../src/kernels/ref/index.js";
import { compare, randInts, randn, Rng } from "./helpers.js";

const H = 1e-6;
const ATOL = 1e-7;
const RTOL = 1e-6;

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Numeric gradient of loss() with respect to x, perturbing x in place. */
function numericGrad(x: Float64Array, loss: () => number): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const x0 = x[i];
    x[i] = x0 + H;
    const lp = loss();
    x[i] = x0 - H;
    const lm = loss();
    x[i] = x0;
    g[i] = (lp - lm) / (2 * H);
  }
  return g;
}

function check(label: string, analytic: Float64Array, x: Float64Array, loss: () => number): void {
  const r = compare(analytic, numericGrad(x, loss), ATOL, RTOL);
  assert.ok(r.ok, `${label}: ${r.report}`);
}

const rng = new Rng(1234);
const F64 = Float64Array;

test("matmul backward, all transpose variants, accumulate", () => {
  const [M, N, K] = [3, 5, 4];
  for (const transA of [false, true])
    for (const transB of [false, true]) {
      const A = randn(F64, M * K, rng);
      const B = randn(F64, K * N, rng);
      const w = randn(F64, M * N, rng);
      const C0 = randn(F64, M * N, rng);
      const loss = () => {
        const C = C0.slice();
        k.matmul(C, A, B, M, N, K, transA, transB, true);
        return dot(C, w);
      };
      // dA = w·op(B)ᵀ in op(A)'s storage; computed by the ref GEMM itself with the transposes swapped.
      const dA = new F64(M * K);
      const dB = new F64(K * N);
      if (!transA) k.matmul(dA, w, B, M, K, N, false, !transB, false);
      else k.matmul(dA, B, w, K, M, N, transB, true, false);
      if (!transB) k.matmul(dB, A, w, K, N, M, !transA, false, false);
      else k.matmul(dB, w, A, N, K, M, true, transA, false);
      check(`dA tA=${transA} tB=${transB}`, dA, A, loss);
      check(`dB tA=${transA} tB=${transB}`, dB, B, loss);
    }
});

test("linear backward (dinp written, dweight accumulated)", () => {
  const [T, I, O] = [5, 4, 3];
  const inp = randn(F64, T * I, rng);
  const W = randn(F64, O * I, rng);
  const w = randn(F64, T * O, rng);
  const loss = () => {
    const out = new F64(T * O);
    k.linearForward(out, inp, W, T, I, O);
    return dot(out, w);
  };
  const dinp = new F64(T * I).fill(NaN); // written, so garbage must be overwritten
  const dW0 = randn(F64, O * I, rng);
  const dW = dW0.slice();
  k.linearBackward(dinp, dW, w, inp, W, T, I, O);
  for (let i = 0; i < dW.length; i++) dW[i] -= dW0[i];
  check("dinp", dinp, inp, loss);
  check("dweight", dW, W, loss);
});

test("embedding backward (scatter-add with repeated ids)", () => {
  const [T, D, V] = [6, 3, 4];
  const ids = Int32Array.from([0, 2, 2, 3, 0, 2]);
  const table = randn(F64, V * D, rng);
  const w = randn(F64, T * D, rng);
  const loss = () => {
    const out = new F64(T * D);
    k.embeddingForward(out, ids, table, T, D, V);
    return dot(out, w);
  };
  const dtable = new F64(V * D);
  k.embeddingBackward(dtable, w, ids, T, D, V);
  check("dtable", dtable, table, loss);
  assert.throws(() => k.embeddingForward(new F64(D), Int32Array.of(V), table, 1, D, V), /ids\[0\] = 4/);
});

test("rmsnorm backward", () => {
  const [T, D, eps] = [3, 7, 1e-5];
  const inp = randn(F64, T * D, rng);
  const w = randn(F64, T * D, rng);
  const out = new F64(T * D);
  const rstd = new F64(T);
  const loss = () => {
    const o = new F64(T * D);
    k.rmsnormForward(o, new F64(T), inp, T, D, eps);
    return dot(o, w);
  };
  k.rmsnormForward(out, rstd, inp, T, D, eps);
  const dinp = new F64(T * D);
  k.rmsnormBackward(dinp, w, out, rstd, T, D);
  check("dinp", dinp, inp, loss);
});

test("rope backward (rotated heads and copied tail)", () => {
  const [T, S, NR, HD] = [6, 3, 2, 4];
  const W = 3 * HD; // two rotated heads + one copied head, like q,k | v
  const inp = randn(F64, T * W, rng);
  const cos = randn(F64, S * HD, rng);
  const sin = randn(F64, S * HD, rng);
  const w = randn(F64, T * W, rng);
  const loss = () => {
    const out = new F64(T * W);
    k.ropeForward(out, inp, cos, sin, T, W, S, NR, HD);
    return dot(out, w);
  };
  const dinp = new F64(T * W);
  k.ropeBackward(dinp, w, cos, sin, T, W, S, NR, HD);
  check("dinp", dinp, inp, loss);
});

test("attention backward", () => {
  const [B, S, NH, HD] = [2, 3, 2, 4];
  const qkv = randn(F64, B * S * 3 * NH * HD, rng);
  const w = randn(F64, B * S * NH * HD, rng);
  const probs = new F64(B * NH * S * S);
  const loss = () => {
    const out = new F64(B * S * NH * HD);
    k.attentionForward(out, new F64(B * NH * S * S), qkv, B, S, NH, HD);
    return dot(out, w);
  };
  k.attentionForward(new F64(B * S * NH * HD), probs, qkv, B, S, NH, HD);
  const dqkv = new F64(qkv.length).fill(NaN);
  k.attentionBackward(dqkv, w, qkv, probs, B, S, NH, HD);
  check("dqkv", dqkv, qkv, loss);
});

test("swiglu backward", () => {
  const [T, F] = [3, 5];
  const gu = randn(F64, T * 2 * F, rng, 2);
  const w = randn(F64, T * F, rng);
  const loss = () => {
    const out = new F64(T * F);
    k.swigluForward(out, gu, T, F);
    return dot(out, w);
  };
  const dgu = new F64(gu.length);
  k.swigluBackward(dgu, w, gu, T, F);
  check("dgateUp", dgu, gu, loss);
});

test("add backward", () => {
  const n = 7;
  const [alpha, beta] = [0.7, -1.3];
  const a = randn(F64, n, rng);
  const b = randn(F64, n, rng);
  const w = randn(F64, n, rng);
  const loss = () => {
    const out = new F64(n);
    k.add(out, a, b, alpha, beta, n);
    return dot(out, w);
  };
  const da = new F64(n);
  const db = new F64(n);
  k.addBackward(da, db, w, alpha, beta, n);
  check("da", da, a, loss);
  check("db", db, b, loss);
});

for (const kind of ["softmax", "stablemax"] as const) {
  test(`${kind} cross-entropy backward with ignored tokens`, () => {
    const [T, V] = [5, 6];
    // Keep logits away from 0, where stablemax's second derivative jumps (the FD stencil must not straddle it).
    const logits = randn(F64, T * V, rng, 2).map((x) => (Math.abs(x) < 0.01 ? x + 0.05 : x));
    const labels = randInts(T, V, rng);
    labels[1] = IGNORE_LABEL_ID;
    const w = randn(F64, T, rng);
    const fwd = kind === "softmax" ? k.softmaxCrossEntropyForward : k.stablemaxCrossEntropyForward;
    const bwd = kind === "softmax" ? k.softmaxCrossEntropyBackward : k.stablemaxCrossEntropyBackward;
    const loss = () => {
      const l = new F64(T);
      fwd(l, logits, labels, T, V, IGNORE_LABEL_ID);
      return dot(l, w);
    };
    const losses = new F64(T);
    fwd(losses, logits, labels, T, V, IGNORE_LABEL_ID);
    assert.equal(losses[1], 0, "ignored token has zero loss");
    const dl = new F64(T * V);
    bwd(dl, w, logits, labels, T, V, IGNORE_LABEL_ID);
    check("dlogits", dl, logits, loss);
  });
}

test("stablemax matches its definition on a hand example", () => {
  // logits (-1, 0, 2), label 2: s = (1/2, 1, 3), loss = -log(3 / 4.5).
  const l = new F64(1);
  k.stablemaxCrossEntropyForward(l, F64.of(-1, 0, 2), Int32Array.of(2), 1, 3, IGNORE_LABEL_ID);
  assert.ok(Math.abs(l[0] - -Math.log(3 / 4.5)) < 1e-15);
});

test("bce with logits backward", () => {
  const n = 6;
  const x = randn(F64, n, rng, 3);
  const y = F64.from({ length: n }, () => rng.uniform());
  const w = randn(F64, n, rng);
  const loss = () => {
    const l = new F64(n);
    k.bceWithLogitsForward(l, x, y, n);
    return dot(l, w);
  };
  const dx = new F64(n);
  k.bceWithLogitsBackward(dx, w, x, y, n);
  check("dlogits", dx, x, loss);
  const big = new F64(2);
  k.bceWithLogitsForward(big, F64.of(1000, -1000), F64.of(0, 1), 2);
  assert.deepEqual([...big], [1000, 1000]);
});
