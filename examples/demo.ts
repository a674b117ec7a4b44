/**
 * A small runnable example until the training job lands: one HRM transformer block (post-norm attention +
 * SwiGLU, the official layer order) forward and backward on a Sudoku-shaped batch, on the kernels chosen
 * for this machine, checked against the ref kernels and timed.
 *   npm start            (or: node dist/examples/demo.js [batch])
 */
import type { FloatArray, Kernels } from "../src/index.js";
import { getKernels, refKernels } from "../src/node.js";

const B = Number(process.argv[2] ?? 4);
const [S, D, NH, F, eps] = [82, 512, 8, 1536, 1e-5];
const HD = D / NH;
const T = B * S;

function randn(n: number, std: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    const u = (s + 1) / 4294967297;
    s = (s * 1103515245 + 12345) >>> 0;
    a[i] = std * Math.sqrt(-2 * Math.log(u)) * Math.cos((2 * Math.PI * s) / 4294967296);
  }
  return a;
}

/** RoPE tables as the official RotaryEmbedding builds them: cos/sin of pos * theta^(-2i/HD), halves repeated. */
function ropeTables(): [Float32Array, Float32Array] {
  const cos = new Float32Array(S * HD);
  const sin = new Float32Array(S * HD);
  for (let p = 0; p < S; p++)
    for (let i = 0; i < HD / 2; i++) {
      const f = p / Math.pow(10000, (2 * i) / HD);
      for (const o of [i, i + HD / 2]) [cos[p * HD + o], sin[p * HD + o]] = [Math.cos(f), Math.sin(f)];
    }
  return [cos, sin];
}

const W = {
  qkv: randn(3 * D * D, 1 / Math.sqrt(D), 1),
  o: randn(D * D, 1 / Math.sqrt(D), 2),
  gateUp: randn(2 * F * D, 1 / Math.sqrt(D), 3),
  down: randn(D * F, 1 / Math.sqrt(F), 4),
};
const x = randn(T * D, 1, 5);
const dy = randn(T * D, 1 / T, 6);
const [cos, sin] = ropeTables();

/** Forward: h1 = rmsnorm(x + o(attn(rope(qkv(x))))); y = rmsnorm(h1 + down(swiglu(gate_up(h1)))). Then backward. */
function block(k: Kernels) {
  const f = (n: number) => new Float32Array(n);
  const a = {
    qkv: f(3 * T * D),
    att: f(T * D),
    probs: f(B * NH * S * S),
    r1: f(T * D),
    h1: f(T * D),
    rs1: f(T),
  };
  const m = { gu: f(2 * T * F), act: f(T * F), r2: f(T * D), y: f(T * D), rs2: f(T) };
  k.linearForward(a.qkv, x, W.qkv, T, D, 3 * D);
  k.ropeForward(a.qkv, a.qkv, cos, sin, T, 3 * D, S, 2 * NH, HD);
  k.attentionForward(a.att, a.probs, a.qkv, B, S, NH, HD);
  k.linearForward(a.r1, a.att, W.o, T, D, D);
  k.add(a.r1, x, a.r1, 1, 1, T * D);
  k.rmsnormForward(a.h1, a.rs1, a.r1, T, D, eps);
  k.linearForward(m.gu, a.h1, W.gateUp, T, D, 2 * F);
  k.swigluForward(m.act, m.gu, T, F);
  k.linearForward(m.r2, m.act, W.down, T, F, D);
  k.add(m.r2, a.h1, m.r2, 1, 1, T * D);
  k.rmsnormForward(m.y, m.rs2, m.r2, T, D, eps);
  // Backward of sum(y * dy) into dx and every weight (weight grads accumulate, per the contract).
  const g = { qkv: f(3 * D * D), o: f(D * D), gateUp: f(2 * F * D), down: f(D * F) };
  const dr2 = f(T * D),
    dact = f(T * F),
    dgu = f(2 * T * F),
    dh1 = f(T * D),
    dr1 = f(T * D);
  const datt = f(T * D),
    dqkv = f(3 * T * D),
    dx = f(T * D);
  k.rmsnormBackward(dr2, dy, m.y, m.rs2, T, D);
  k.linearBackward(dact, g.down, dr2, m.act, W.down, T, F, D);
  k.swigluBackward(dgu, dact, m.gu, T, F);
  k.linearBackward(dh1, g.gateUp, dgu, a.h1, W.gateUp, T, D, 2 * F);
  k.add(dh1, dh1, dr2, 1, 1, T * D); // the residual joins: sum both paths
  k.rmsnormBackward(dr1, dh1, a.h1, a.rs1, T, D);
  k.linearBackward(datt, g.o, dr1, a.att, W.o, T, D, D);
  k.attentionBackward(dqkv, datt, a.qkv, a.probs, B, S, NH, HD);
  k.ropeBackward(dqkv, dqkv, cos, sin, T, 3 * D, S, 2 * NH, HD);
  k.linearBackward(dx, g.qkv, dqkv, x, W.qkv, T, D, 3 * D);
  k.add(dx, dx, dr1, 1, 1, T * D);
  return { y: m.y, dx, dWqkv: g.qkv };
}

function maxRelDiff(a: FloatArray, b: FloatArray): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

const kernels = getKernels();
console.log(`hrm-ts demo: one HRM block, batch ${B} x seq ${S}, hidden ${D}, ${NH} heads, SwiGLU ${F}`);
console.log(`backend: ${kernels.backendName}`);
block(kernels); // warm-up (allocates packing buffers, wakes threads)
const reps = 5;
const t0 = performance.now();
let out = block(kernels);
for (let r = 1; r < reps; r++) out = block(kernels);
const ms = (performance.now() - t0) / reps;
// Per token: 2 flops per weight per matmul pass (forward 1 pass, backward 2), plus attention's 4 S*D per pass.
const flops = T * (6 * (3 * D * D + D * D + 2 * F * D + F * D) + 3 * 4 * S * D);
console.log(`forward+backward: ${ms.toFixed(1)} ms (${(flops / ms / 1e6).toFixed(1)} GFLOP/s)`);
if (kernels.backendName !== "ref") {
  const t1 = performance.now();
  const want = block(refKernels);
  const refMs = performance.now() - t1;
  console.log(`ref kernels: ${refMs.toFixed(0)} ms (${(refMs / ms).toFixed(0)}x slower)`);
  for (const key of ["y", "dx", "dWqkv"] as const)
    console.log(`  max |${key} - ref| / max |ref| = ${maxRelDiff(out[key], want[key]).toExponential(2)}`);
}
