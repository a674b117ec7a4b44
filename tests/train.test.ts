/** The official training loop pieces: LR schedule, step estimate, metric reduction, a tiny run that learns, evaluation. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildSudokuSet } from "../src/data/sudoku.js";
import { generateSudoku } from "../src/data/sudoku-solver.js";
import { selectKernels } from "../src/kernels/select.js";
import { makeNativeBackend } from "../src/kernels/native/index.js";
import { makeConfig } from "../src/model/config.js";
import { HRMInner } from "../src/model/inner.js";
import { HRMParams } from "../src/model/params.js";
import { loadNativeAddon } from "../src/platform/node.js";
import { modelFlops } from "../src/model/flops.js";
import { reduceTrainMetrics } from "../src/train/metrics.js";
import { cosineScheduleWithWarmup, estimateTotalSteps } from "../src/train/schedule.js";
import { evaluate } from "../src/eval/evaluate.js";
import { Trainer } from "../src/train/trainer.js";
import { Rng } from "../src/util/rng.js";

test("official LR schedule and total-step estimate", () => {
  assert.equal(cosineScheduleWithWarmup(0, 1e-4, 10, 100, 0.1), 0);
  assert.equal(cosineScheduleWithWarmup(5, 1e-4, 10, 100, 0.1), 5e-5);
  assert.equal(cosineScheduleWithWarmup(10, 1e-4, 10, 100, 0.1), 1e-4);
  assert.ok(Math.abs(cosineScheduleWithWarmup(55, 1e-4, 10, 100, 0.1) - 1e-4 * (0.1 + 0.9 * 0.5)) < 1e-12);
  assert.ok(Math.abs(cosineScheduleWithWarmup(100, 1e-4, 10, 100, 0.1) - 1e-5) < 1e-12);
  assert.equal(estimateTotalSteps(20000, 1000, 1, 768), 26041); // the paper's Sudoku recipe
});

test("train metrics: losses / global batch, others / count, official names", () => {
  const r = reduceTrainMetrics(
    {
      count: 4,
      accuracy: 2,
      exact_accuracy: 1,
      q_halt_accuracy: 3,
      steps: 8,
      lm_loss: 16,
      q_halt_loss: 8,
      q_continue_loss: 4,
    },
    8,
    1e-4,
  );
  assert.deepEqual(r, {
    "train/accuracy": 0.5,
    "train/count": 1,
    "train/exact_accuracy": 0.25,
    "train/lm_loss": 2,
    "train/q_continue_loss": 0.5,
    "train/q_halt_accuracy": 0.75,
    "train/q_halt_loss": 1,
    "train/steps": 2,
    "train/lr": 1e-4,
  });
});

test("a tiny HRM learns on generated Sudoku through the official loop, and evaluates", () => {
  const addon = loadNativeAddon();
  const k = selectKernels(addon ? makeNativeBackend(addon) : null);
  const rng = new Rng(1);
  const rows = Array.from({ length: 32 }, (_, i) => ({ ...generateSudoku(rng, { clues: 40 }), line: i }));
  const { set, metadata } = buildSudokuSet(rows.slice(0, 24), 3, rng);
  const test = buildSudokuSet(rows.slice(24), 0, rng);
  const config = makeConfig({
    hidden_size: 64,
    num_heads: 2,
    H_layers: 1,
    L_layers: 1,
    H_cycles: 1,
    L_cycles: 1,
    halt_max_steps: 2,
    seq_len: 81,
    vocab_size: 11,
    puzzle_emb_ndim: 0,
    num_puzzle_identifiers: 1,
    batch_size: 8,
    forward_dtype: "float32",
  });
  const inner = new HRMInner(HRMParams.init(config, 0), k);
  const trainer = new Trainer(
    inner,
    {
      global_batch_size: 8,
      epochs: 30,
      lr: 3e-3,
      lr_min_ratio: 0.1,
      lr_warmup_steps: 5,
      weight_decay: 0.1,
      beta1: 0.9,
      beta2: 0.95,
      puzzle_emb_lr: 0,
      puzzle_emb_weight_decay: 0,
      seed: 0,
    },
    metadata,
  );
  assert.equal(trainer.totalSteps, 90);
  const losses: number[] = [];
  for (const batch of trainer.iterationBatches(set, 0)) {
    const m = trainer.trainBatch(batch);
    if (!m) break;
    assert.ok(Number.isFinite(m["train/lm_loss"]));
    losses.push(m["train/lm_loss"]);
  }
  assert.equal(losses.length, 90);
  const first = losses.slice(0, 10).reduce((a, b) => a + b) / 10;
  const last = losses.slice(-10).reduce((a, b) => a + b) / 10;
  assert.ok(last < 0.75 * first, `lm_loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
  const ev = evaluate(inner, test.set, test.metadata, 8);
  assert.ok(ev["all/accuracy"] > 0.4, `token accuracy ${ev["all/accuracy"]} (givens alone are ~0.5)`);
  assert.ok(ev["all/steps"] === 2, "eval runs halt_max_steps segments");
  assert.ok(!("all/count" in ev));
});

test("analytic FLOPs: per-block formula, 24 blocks per forward, the 1-step backward, the target forward", () => {
  const c = makeConfig({ seq_len: 81, vocab_size: 11, batch_size: 32, forward_dtype: "float32" });
  const f = modelFlops(c, 32);
  const T = 32 * 82;
  // hidden 512, SwiGLU width 1536: qkv + o + gate_up + down, and the two attention products.
  assert.equal(f.block, 2 * T * 512 * (1536 + 512 + 3072 + 1536) + 4 * 32 * 82 * 82 * 512);
  assert.equal(f.forward, 24 * f.block + f.heads); // H_cycles x (L_cycles x 4 + 4)
  // The target forward: no lm_head; its last block's o_proj and MLP on the 32 first rows, not all 2624.
  const target = f.forward - 2 * T * 512 * 11 - 2 * (T - 32) * 512 * (512 + 3072 + 1536);
  assert.equal(f.trainStep, f.forward + target + 2 * (8 * f.block + f.heads));
  const noAct = modelFlops(makeConfig({ ...c, halt_max_steps: 1 }), 32);
  assert.equal(noAct.trainStep, f.trainStep - target); // no target-Q forward without ACT
  assert.equal(modelFlops(c, 8).forward * 4, f.forward);
});

test("analytic FLOPs of TRM: (L_cycles+1) x L_layers blocks per cycle, the last cycle's backward, mlp_t's mixer", () => {
  const base = {
    architecture: "trm",
    seq_len: 81,
    vocab_size: 11,
    batch_size: 8,
    forward_dtype: "float32",
  } as const;
  const c = makeConfig(base); // trm.yaml: hidden 512, L_layers 2, H_cycles 3, L_cycles 6, puzzle_emb_len 16
  const f = modelFlops(c, 8);
  const S = 81 + 16;
  const T = 8 * S;
  assert.equal(f.block, 2 * T * 512 * (1536 + 512 + 3072 + 1536) + 4 * 8 * S * S * 512);
  assert.equal(f.forward, 3 * 7 * 2 * f.block + f.heads);
  // no_ACT_continue (the default): no target forward; the backward covers the last cycle's 7 x 2 blocks.
  assert.equal(f.trainStep, f.forward + 2 * (7 * 2 * f.block + f.heads));
  const m = modelFlops(makeConfig({ ...base, mlp_t: true, pos_encodings: "none" }), 8);
  // mlp_t: width 97, inner 512 (ceil_256(round(4 * 97 * 2/3) = 259)), on 8 x 512 rows.
  const mixer = 2 * 8 * 512 * 97 * 1024 + 2 * 8 * 512 * 512 * 97;
  assert.equal(m.block, mixer + 2 * T * 512 * (3072 + 1536));
  const act = modelFlops(makeConfig({ ...base, no_ACT_continue: false }), 8);
  assert.ok(act.trainStep > f.trainStep + f.forward / 2, "the HRM halting rule adds the target forward");
});
