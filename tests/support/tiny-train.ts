/**
 * A short, fixed training run on generated 4x4 Sudoku (the quick start's task, scaled down), for tests that
 * compare how well two settings learn: same data, same init and same batches; only the arch overrides differ.
 */
import type { SelectedKernels } from "../../src/kernels/api.js";
import type { HRMConfig } from "../../src/model/config.js";
import { makeConfig } from "../../src/model/config.js";
import { HRMInner } from "../../src/model/inner.js";
import { HRMParams } from "../../src/model/params.js";
import { boxShapeFor, buildBoxSudokuDataset } from "../../src/data/sudoku-box.js";
import { evaluate } from "../../src/eval/evaluate.js";
import { Trainer } from "../../src/train/trainer.js";
import { Rng } from "../../src/util/rng.js";

export interface TinyRunResult {
  steps: number;
  accuracy: number;
  exact: number;
  lastLoss: number;
}

export function tinySudokuRun(
  k: SelectedKernels,
  arch: Partial<HRMConfig>,
  o: { seed: number; epochs: number; trainCount: number; clues?: number; lr?: number },
): TinyRunResult {
  const data = buildBoxSudokuDataset(
    boxShapeFor(4),
    { trainCount: o.trainCount, testCount: 200, clues: o.clues ?? 5, numAug: 3 },
    new Rng(1234),
  );
  const config = makeConfig({
    hidden_size: 64,
    num_heads: 2,
    expansion: 4,
    H_layers: 1,
    L_layers: 1,
    H_cycles: 2,
    L_cycles: 2,
    halt_max_steps: 2,
    seq_len: 16,
    vocab_size: data.trainMeta.vocab_size,
    puzzle_emb_ndim: 0,
    num_puzzle_identifiers: 1,
    batch_size: 32,
    forward_dtype: "float32",
    loss_type: "softmax_cross_entropy",
    ...arch,
  });
  const inner = new HRMInner(HRMParams.init(config, o.seed), k);
  const trainer = new Trainer(
    inner,
    {
      global_batch_size: 32,
      epochs: o.epochs,
      lr: o.lr ?? 3e-3,
      lr_min_ratio: 0.1,
      lr_warmup_steps: 20,
      weight_decay: 0.1,
      beta1: 0.9,
      beta2: 0.95,
      puzzle_emb_lr: 0,
      puzzle_emb_weight_decay: 0,
      seed: o.seed,
    },
    data.trainMeta,
  );
  let lastLoss = NaN;
  for (const batch of trainer.iterationBatches(data.train, 0)) {
    const m = trainer.trainBatch(batch);
    if (!m) break;
    lastLoss = m["train/lm_loss"];
  }
  const ev = evaluate(inner, data.test, data.testMeta, 100);
  return {
    steps: trainer.stepCount,
    accuracy: ev["all/accuracy"],
    exact: ev["all/exact_accuracy"],
    lastLoss,
  };
}
