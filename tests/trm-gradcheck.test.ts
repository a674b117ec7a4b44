/**
 * TRM's new backward against finite differences. In float64: the mlp_t sub-layer (transpose, sequence-axis
 * SwiGLU, residual, RMS norm over positions, transpose back) on the ref kernels, central differences with
 * h = 1e-6 as in ref-gradcheck. Through the whole last cycle (L_cycles z_L updates and the z_H update, the
 * input embeddings' gradient summed over them, every weight used L_cycles + 1 times): the model keeps float32
 * buffers end to end, so there the check is directional (tests/support/step-gradcheck.ts), L(θ ± h v) for a
 * random unit direction v per tensor, with h = 1e-2: float32 rounding of the loss (~1e-6) over 2h and the O(h²) truncation both stay
 * near 1e-4, against directional derivatives of order 0.01-1 (a missing path is an O(1) relative error).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { refKernels } from "../src/kernels/ref/index.js";
import type { BlockWeights, Dims } from "../src/model/layers/linear.js";
import type { BlockActs } from "../src/model/workspace.js";
import { makeConfig } from "../src/model/config.js";
import { mlpTBackward, mlpTForward } from "../src/model/layers/mlp-t.js";
import { compare, randn, Rng } from "./helpers.js";
import { stepMismatches } from "./support/step-gradcheck.js";

const F64 = Float64Array;
/** Float64 arrays where the model's types say Float32Array: the ref kernels compute in the array's type. */
const f = (a: Float64Array) => a as unknown as Float32Array;

test("mlp_t sub-layer backward equals central differences in float64 (ref kernels)", () => {
  const rng = new Rng(7);
  const [B, S, D, FT] = [2, 5, 3, 4];
  const d: Dims = { B, S, D, NH: 1, HD: D, F: 4, eps: 1e-5, precision: "float32", FT };
  const x = randn(F64, B * S * D, rng);
  const w = { gateUp: randn(F64, 2 * FT * S, rng, 0.5), down: randn(F64, S * FT, rng, 0.5) };
  const weights = { qkv: f(new F64(0)), o: f(new F64(0)), gateUp: f(new F64(0)), down: f(new F64(0)) };
  const bw: BlockWeights = { ...weights, tGateUp: f(w.gateUp), tDown: f(w.down) };
  const TT = B * D;
  const acts = () =>
    ({
      xt: f(new F64(TT * S)),
      guT: f(new F64(2 * TT * FT)),
      actT: f(new F64(TT * FT)),
      h1t: f(new F64(TT * S)),
      rstdT: f(new F64(TT)),
      h1: f(new F64(B * S * D)),
      saved: { gu: true, attention: true, act: true },
    }) as unknown as BlockActs;
  const wOut = randn(F64, B * S * D, rng);
  const loss = () => {
    const a = acts();
    mlpTForward(refKernels, bw, f(x), a, d);
    let s = 0;
    for (let i = 0; i < wOut.length; i++) s += wOut[i] * a.h1[i];
    return s;
  };
  const a = acts();
  mlpTForward(refKernels, bw, f(x), a, d);
  const dx = new F64(B * S * D);
  const grads = {
    "mlp_t.gate_up_proj.weight": new F64(w.gateUp.length),
    "mlp_t.down_proj.weight": new F64(w.down.length),
  };
  const scratch = { dh1t: f(new F64(TT * S)), dactT: f(new F64(TT * FT)), dxt: f(new F64(TT * S)) };
  mlpTBackward(refKernels, bw, a, f(x), f(wOut.slice()), f(dx), d, scratch, {
    add: (name, fn) => fn(f(grads[name as keyof typeof grads])),
  });
  const numeric = (v: Float64Array) =>
    v.map((v0, i) => {
      const h = 1e-6;
      v[i] = v0 + h;
      const lp = loss();
      v[i] = v0 - h;
      const lm = loss();
      v[i] = v0;
      return (lp - lm) / (2 * h);
    });
  for (const [label, analytic, wrt] of [
    ["dx", dx, x],
    ["d gate_up", grads["mlp_t.gate_up_proj.weight"], w.gateUp],
    ["d down", grads["mlp_t.down_proj.weight"], w.down],
  ] as const) {
    const r = compare(analytic, numeric(wrt), 1e-7, 1e-6);
    assert.ok(r.ok, `${label}: ${r.report}`);
  }
});

for (const mlpT of [false, true])
  test(`TRM last-cycle backward (${mlpT ? "mlp_t" : "attention"}): directional finite differences of the whole step`, () => {
    const c = makeConfig({
      architecture: "trm",
      batch_size: 2,
      seq_len: 6,
      vocab_size: 5,
      hidden_size: 8,
      num_heads: 2,
      expansion: 2,
      L_layers: 2,
      // One cycle: the earlier cycles run without gradient by definition (the official truncation), so only
      // with H_cycles = 1 is the differentiated cycle the whole function of the weights the differences see.
      H_cycles: 1,
      L_cycles: 3,
      puzzle_emb_ndim: 8,
      puzzle_emb_len: 2,
      num_puzzle_identifiers: 3,
      halt_max_steps: 4,
      halt_exploration_prob: 0,
      forward_dtype: "float32",
      mlp_t: mlpT,
      pos_encodings: mlpT ? "none" : "rope",
    });
    const { checked, bad } = stepMismatches(c, 11, 1e-2);
    assert.deepEqual(bad, []);
    assert.ok(
      checked.some((n) => n.includes(mlpT ? "mlp_t" : "self_attn")),
      "the mixer's weights were checked",
    );
  });
