/**
 * arch.bptt (HRM, exact backpropagation through every cycle of a segment): its forward is the 1-step
 * gradient's forward bit for bit; its backward against directional finite differences of the whole training
 * step, which see every cycle. The model keeps float32 buffers, hence directional differences (as in
 * trm-gradcheck), here with h = 1e-3: six block calls deep the loss curves enough that h = 1e-2 and 3e-3 missed by
 * more than the tolerance on a few tensors, while float32 rounding over 2h stays near 1e-4. The
 * 1-step gradient fails the same check (it drops the earlier cycles' paths), so the check can tell them apart.
 * (tests/support/step-gradcheck.ts: the Q-continue target is held fixed, as the backward treats it.)
 * And the config: TRM refuses it, all_config.yaml carries it only when set.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { HRMConfig } from "../src/model/config.js";
import { ConfigError, makeConfig } from "../src/model/config.js";
import { makeRunConfig, nestConfig } from "../src/train/config.js";
import { stepMismatches, stepSetup } from "./support/step-gradcheck.js";

const config = (bptt: boolean) =>
  makeConfig({
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

test("bptt: the forward is the 1-step gradient's forward, bit for bit", () => {
  const [a, b] = [stepSetup(config(false), 5).run(), stepSetup(config(true), 5).run()];
  assert.deepEqual(b.out.logits, a.out.logits);
  assert.deepEqual(b.carry.zH, a.carry.zH);
  assert.deepEqual(b.carry.zL, a.carry.zL);
  assert.equal(b.loss.total, a.loss.total);
});

test("bptt: the backward through every cycle equals directional finite differences; the 1-step one does not", () => {
  assert.deepEqual(stepMismatches(config(true), 5, 1e-3).bad, []);
  const truncated = stepMismatches(config(false), 5, 1e-3).bad;
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
