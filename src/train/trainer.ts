/**
 * The official training loop over a dataset (pretrain.py's launch/train_batch/evaluate) for one process:
 * batches from the sampler, one TrainStep per batch with the scheduled learning rates, the ACT carry kept
 * across batches, at most total_steps steps (evaluation: src/eval/evaluate.ts).
 */
import type { DatasetMetadata, PuzzleSet } from "../data/format.js";
import type { SampledBatch } from "../data/sampler.js";
import { trainBatches } from "../data/sampler.js";
import type { Carry } from "../model/act.js";
import { initialCarry } from "../model/act.js";
import type { HRMInner } from "../model/inner.js";
import { Rng } from "../util/rng.js";
import type { Reduced } from "./metrics.js";
import { Ema } from "./ema.js";
import { reduceTrainMetrics } from "./metrics.js";
import { cosineScheduleWithWarmup, estimateTotalSteps } from "./schedule.js";
import { TrainStep } from "./step.js";

/** The official cfg_pretrain hyper-parameters (names as in the official config). */
export interface TrainConfig {
  global_batch_size: number;
  epochs: number;
  eval_interval?: number;
  lr: number;
  lr_min_ratio: number;
  lr_warmup_steps: number;
  weight_decay: number;
  beta1: number;
  beta2: number;
  puzzle_emb_lr: number;
  puzzle_emb_weight_decay: number;
  seed: number;
  /** Keep an EMA of the weights for evaluation and checkpoints (official ema / ema_rate). */
  ema?: boolean;
  ema_rate?: number;
}

export class Trainer {
  readonly totalSteps: number;
  readonly step: TrainStep;
  readonly rng: Rng;
  /** The weights' moving average (cfg.ema), updated after every step. */
  readonly ema: Ema | null;
  stepCount = 0;
  carry: Carry | null = null;

  constructor(
    readonly inner: HRMInner,
    readonly cfg: TrainConfig,
    readonly trainMeta: DatasetMetadata,
  ) {
    this.totalSteps = estimateTotalSteps(
      cfg.epochs,
      trainMeta.total_groups,
      trainMeta.mean_puzzle_examples,
      cfg.global_batch_size,
    );
    this.rng = new Rng(cfg.seed ^ 0x5eed);
    this.step = new TrainStep(inner, {
      adam: { lr: cfg.lr, beta1: cfg.beta1, beta2: cfg.beta2, weightDecay: cfg.weight_decay },
      puzzleEmbLr: cfg.puzzle_emb_lr,
      puzzleEmbWeightDecay: cfg.puzzle_emb_weight_decay,
      lossScale: 1 / cfg.global_batch_size,
    });
    this.ema = cfg.ema ? new Ema(inner.params, cfg.ema_rate ?? 0.999) : null;
  }

  /** Runs fn on the weights evaluation and checkpoints use: the EMA shadow with ema, else the weights. */
  withEvalWeights<T>(fn: () => T): T {
    return this.ema ? this.ema.withShadow(fn) : fn();
  }

  lr(base: number): number {
    return cosineScheduleWithWarmup(
      this.stepCount,
      base,
      Math.round(this.cfg.lr_warmup_steps),
      this.totalSteps,
      this.cfg.lr_min_ratio,
    );
  }

  /** One official train_batch; null once total_steps is reached. */
  trainBatch(batch: SampledBatch): Reduced | null {
    this.stepCount++;
    if (this.stepCount > this.totalSteps) return null;
    const carry = this.carry ?? this.initCarry();
    const lr = this.lr(this.cfg.lr);
    const { loss } = this.step.run(carry, batch, this.rng, lr, this.lr(this.cfg.puzzle_emb_lr));
    this.ema?.update(); // after both optimisers, as pretrain.py
    return reduceTrainMetrics(loss.metrics, this.cfg.global_batch_size, lr);
  }

  /** A fresh official carry (every row halted) for the training batch size. */
  initCarry(): Carry {
    return (this.carry = initialCarry(this.inner, this.cfg.global_batch_size));
  }

  /** The batches of training iteration `iter` (eval_interval epochs each; official seed + iter). */
  iterationBatches(set: PuzzleSet, iter: number): Generator<SampledBatch> {
    const epochsPerIter = this.cfg.eval_interval ?? this.cfg.epochs;
    return trainBatches(set, this.trainMeta, this.cfg.global_batch_size, this.cfg.seed, iter, epochsPerIter);
  }
}
