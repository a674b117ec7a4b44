/**
 * arch.bptt (HRM, exact backpropagation through every cycle of a segment): its forward is the 1-step
 * gradient's forward bit for bit; its backward against directional finite differences of the whole training
 * step, which see every cycle. The model keeps float32 buffers, hence directional differences (as in
 * trm-gradcheck), here with h = 1e-3: six block calls deep the loss curves enough that h = 1e-2 and 3e-3 missed by
 * more than the tolerance on a few tensors, while float32 rounding over 2h stays near 1e-4. The
 * 1-step gradient fails the same check (it drops the earlier cycles' paths), so the check can tell them apart.
 * The Q-continue target is held at its value (the backward treats it as a constant, as the official detach).
 * And the config: TRM refuses it, all_config.yaml carries it only when set.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { selectKernels } from "../src/kernels/select.js";
import type { Batch, Carry } from "../src/model/act.js";
import { actForward, initialCarry } from "../src/model/act.js";
import { HRMBackward } from "../src/model/backward.js";
import type { HRMConfig } from "../src/model/config.js";
import { ConfigError, makeConfig } from "../src/model/config.js";
import { HRMInner } from "../src/model/inner.js";
import { actLoss } from "../src/model/loss.js";
import { HRMParams } from "../src/model/params.js";
import { makeRunConfig, nestConfig } from "../src/train/config.js";
import { randInts, randn, Rng } from "./helpers.js";

const k = selectKernels(null);

function setup(bptt: boolean) {
  const c = makeConfig({
    batch_size: 2,
    seq_len: 6,
    vocab_size: 5,
    hidden_size: 8,
    num_heads: 2,
    expansion: 2,
    H_layers: 1,
    L_layers: 2,
    H_cycles: 2,
    L_cycles: 3,
    puzzle_emb_ndim: 8,
    num_puzzle_identifiers: 3,
    halt_max_steps: 4,
    halt_exploration_prob: 0,
    forward_dtype: "float32",
    bptt,
  });
  const rng = new Rng(5);
  const params = HRMParams.init(c, 3);
  // The official init zeroes these; random values open every path to the test.
  params.get("q_head.weight").set(randn(Float32Array, 2 * c.hidden_size, rng, 0.3));
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
  // `target`: the bootstrapped Q-continue target to use, held fixed as the backward treats it (detached); the
  // differences would otherwise also see it move with the weights.
  const run = (target?: Float32Array) => {
    const carry = fresh();
    const out = actForward(inner, carry, batch, { training: true, grad: true });
    if (target) out.targetQContinue = target;
    return { carry, out, loss: actLoss(k, c, carry, out) };
  };
  return { c, params, inner, batch, run, rng };
}

/** Every trained tensor whose directional derivative disagrees with the backward's. */
function mismatches(bptt: boolean): string[] {
  const h = 1e-3;
  const { c, params, inner, batch, run, rng } = setup(bptt);
  const scale = 0.5;
  const { carry, out, loss } = run();
  const bwd = new HRMBackward(inner);
  bwd.zeroGrad();
  bwd.backward(carry, out, loss, scale);

  const bad: string[] = [];
  for (const s of params.specs) {
    if (s.kind === "buffer") continue;
    const theta = params.get(s.name);
    const v = randn(Float32Array, theta.length, rng);
    const norm = Math.hypot(...v);
    for (let i = 0; i < v.length; i++) v[i] /= norm;
    let analytic = 0;
    if (s.kind === "sparse") {
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
    if (!(Math.abs(numeric - analytic) <= 2e-2 * Math.abs(analytic) + 5e-4))
      bad.push(`${s.name}: analytic ${analytic}, numeric ${numeric}`);
  }
  return bad;
}

test("bptt: the forward is the 1-step gradient's forward, bit for bit", () => {
  const [a, b] = [setup(false).run(), setup(true).run()];
  assert.deepEqual(b.out.logits, a.out.logits);
  assert.deepEqual(b.carry.zH, a.carry.zH);
  assert.deepEqual(b.carry.zL, a.carry.zL);
  assert.equal(b.loss.total, a.loss.total);
});

test("bptt: the backward through every cycle equals directional finite differences; the 1-step one does not", () => {
  assert.deepEqual(mismatches(true), []);
  const truncated = mismatches(false);
  assert.ok(truncated.length > 0, "the 1-step gradient should miss the earlier cycles' paths");
});

test("arch.bptt: HRM only; all_config.yaml writes it only when set", () => {
  assert.throws(
    () => makeConfig({ architecture: "trm", bptt: true } as Partial<HRMConfig>),
    (e: Error) => e instanceof ConfigError && /bptt = true: is an HRM option/.test(e.message),
  );
  const plain = nestConfig(makeRunConfig({ data_path: "x" }));
  assert.equal((plain.arch as Record<string, unknown>).bptt, undefined);
  const set = nestConfig(makeRunConfig({ data_path: "x", "arch.bptt": true }));
  assert.equal((set.arch as Record<string, unknown>).bptt, true);
});
