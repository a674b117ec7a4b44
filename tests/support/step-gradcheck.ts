/**
 * Directional finite differences of a whole training step (forward, ACT loss, backward) on a tiny model: for
 * each trained tensor θ and a random unit direction v, the backward's ⟨∇θ, v⟩ against (L(θ + h v) − L(θ − h v))
 * / 2h. The model keeps float32 buffers, so the check is directional rather than element-wise. The bootstrapped
 * Q-continue target is held at its unperturbed value, as the backward treats it (detached). Used by the TRM and
 * bptt gradient checks.
 */
import { selectKernels } from "../../src/kernels/select.js";
import type { Batch, Carry } from "../../src/model/act.js";
import { actForward, initialCarry } from "../../src/model/act.js";
import { HRMBackward } from "../../src/model/backward.js";
import type { HRMConfig } from "../../src/model/config.js";
import { HRMInner } from "../../src/model/inner.js";
import { actLoss } from "../../src/model/loss.js";
import { HRMParams } from "../../src/model/params.js";
import { randInts, randn, Rng } from "../helpers.js";

const k = selectKernels(null);

/** A tiny model (random q_head and puzzle embedding, so every path is open), a batch and a fixed start carry. */
export function stepSetup(c: HRMConfig, seed: number) {
  const rng = new Rng(seed);
  const params = HRMParams.init(c, 3);
  // The official init zeroes these; random values open every path to the test.
  params.get("q_head.weight").set(randn(Float32Array, 2 * c.hidden_size, rng, 0.3));
  if (c.puzzle_emb_ndim > 0)
    params.get("puzzle_emb.weights").set(randn(Float32Array, 3 * c.puzzle_emb_ndim, rng, 0.3));
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
  /** One training forward and its loss; `target` replaces the bootstrapped Q-continue target. */
  const run = (target?: Float32Array) => {
    const carry = fresh();
    const out = actForward(inner, carry, batch, { training: true, grad: true });
    if (target) out.targetQContinue = target;
    return { carry, out, loss: actLoss(k, c, carry, out) };
  };
  return { params, inner, batch, run, rng };
}

/** The checked tensors, and those whose directional derivative disagrees with the backward's (|Δ| > rel·|a| + abs). */
export function stepMismatches(
  c: HRMConfig,
  seed: number,
  h: number,
  tol = { rel: 2e-2, abs: 5e-4 },
): { checked: string[]; bad: string[] } {
  const { params, inner, batch, run, rng } = stepSetup(c, seed);
  const scale = 0.5;
  const { carry, out, loss } = run();
  const bwd = new HRMBackward(inner);
  bwd.zeroGrad();
  bwd.backward(carry, out, loss, scale);
  const checked: string[] = [];
  const bad: string[] = [];
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
      return scale * run(out.targetQContinue).loss.total;
    };
    const numeric = (at(1) - at(-1)) / (2 * h);
    theta.set(base);
    checked.push(s.name);
    if (!(Math.abs(numeric - analytic) <= tol.rel * Math.abs(analytic) + tol.abs))
      bad.push(`${s.name}: analytic ${analytic}, numeric ${numeric}`);
  }
  return { checked, bad };
}
