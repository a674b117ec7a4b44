/**
 * TRM's new backward against finite differences. In float64: the mlp_t sub-layer (transpose, sequence-axis
 * SwiGLU, residual, RMS norm over positions, transpose back) on the ref kernels, central differences with
 * h = 1e-6 as in ref-gradcheck. Through the whole last cycle (L_cycles z_L updates and the z_H update, the
 * input embeddings' gradient summed over them, every weight used L_cycles + 1 times): the model keeps float32
 * buffers end to end, so there the check is directional, L(θ ± h v) for a random unit direction v per
 * tensor, with h = 1e-2: float32 rounding of the loss (~1e-6) over 2h and the O(h²) truncation both stay
 * near 1e-4, against directional derivatives of order 0.01-1 (a missing path is an O(1) relative error).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { refKernels } from "../src/kernels/ref/index.js";
import { selectKernels } from "../src/kernels/select.js";
import type { Batch, Carry } from "../src/model/act.js";
import { actForward, initialCarry } from "../src/model/act.js";
import { HRMBackward } from "../src/model/backward.js";
import type { BlockActs, BlockWeights, Dims } from "../src/model/block.js";
import { makeConfig } from "../src/model/config.js";
import { HRMInner } from "../src/model/inner.js";
import { actLoss } from "../src/model/loss.js";
import { mlpTBackward, mlpTForward } from "../src/model/mlp-t.js";
import { HRMParams } from "../src/model/params.js";
import { compare, randInts, randn, Rng } from "./helpers.js";

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
  mlpTBackward(refKernels, bw, a, f(x), f(wOut.slice()), f(dx), d, scratch, (name, fn) => fn(f(grads[name])));
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
    const rng = new Rng(11);
    const params = HRMParams.init(c, 3);
    // The official init zeroes these; random values open every path to the test.
    params.get("q_head.weight").set(randn(Float32Array, 2 * c.hidden_size, rng, 0.3));
    params.get("puzzle_emb.weights").set(randn(Float32Array, 3 * c.puzzle_emb_ndim, rng, 0.3));
    const k = selectKernels(null);
    const inner = new HRMInner(params, k);
    const B = 2;
    const labels = randInts(B * c.seq_len, c.vocab_size, rng);
    labels[3] = -100;
    const batch: Batch = {
      inputs: randInts(B * c.seq_len, c.vocab_size, rng),
      labels,
      puzzle_identifiers: Int32Array.of(0, 2),
    };
    const start = initialCarry(inner, B);
    start.zH.set(randn(Float32Array, start.zH.length, rng));
    start.zL.set(randn(Float32Array, start.zL.length, rng));
    start.halted.fill(0);
    start.steps.fill(1);
    start.current = { ...batch };
    const fresh = (): Carry => ({
      ...start,
      zH: start.zH.slice(),
      zL: start.zL.slice(),
      steps: start.steps.slice(),
      halted: start.halted.slice(),
    });
    const scale = 0.5;
    const lossAt = () => {
      const carry = fresh();
      const out = actForward(inner, carry, batch, { training: true, grad: true });
      return { carry, out, loss: actLoss(k, c, carry, out) };
    };
    const { carry, out, loss } = lossAt();
    const bwd = new HRMBackward(inner);
    bwd.zeroGrad();
    bwd.backward(carry, out, loss, scale);
    const h = 1e-2;
    const checked: string[] = [];
    for (const s of params.specs) {
      if (s.kind === "buffer") continue;
      const theta = params.get(s.name);
      const v = randn(Float32Array, theta.length, rng);
      const norm = Math.hypot(...v);
      for (let i = 0; i < v.length; i++) v[i] /= norm;
      let analytic = 0;
      if (s.kind === "sparse") {
        // Per-row gradients of the rows' ids (distinct here), as the official sparse embedding keeps them.
        const nd = c.puzzle_emb_ndim;
        batch.puzzle_identifiers.forEach((id, b) => {
          for (let j = 0; j < nd; j++) analytic += bwd.puzzleGrad[b * nd + j] * v[id * nd + j];
        });
      } else {
        const g = bwd.grads.get(s.name);
        for (let i = 0; i < g.length; i++) analytic += g[i] * v[i];
      }
      const base = theta.slice();
      const at = (sign: number) => {
        for (let i = 0; i < theta.length; i++) theta[i] = base[i] + sign * h * v[i];
        return scale * lossAt().loss.total;
      };
      const numeric = (at(1) - at(-1)) / (2 * h);
      theta.set(base);
      assert.ok(
        Math.abs(numeric - analytic) <= 2e-2 * Math.abs(analytic) + 5e-4,
        `${s.name}: analytic ${analytic}, numeric ${numeric}`,
      );
      checked.push(s.name);
    }
    assert.ok(
      checked.some((n) => n.includes(mlpT ? "mlp_t" : "self_attn")),
      "the mixer's weights were checked",
    );
  });
