/**
 * train(options, hooks): the official training loop (pretrain.py) as a library function. Iterations of
 * eval_interval epochs: train batches (one TrainStep each, the ACT carry kept across batches), then the
 * official evaluation of every test set. Where the run lives is the caller's: checkpoints, progress, logs,
 * stopping and saved outputs come in as hooks (the CLI's run directory: src/platform/train-run.ts).
 * A non-finite metric stops the run with a NonFiniteError naming the step and the last checkpoint.
 */
import { defaultKernels } from "../app/model.js";
import type { SelectedKernels } from "../kernels/api.js";
import type { DatasetMetadata, PuzzleSet } from "../data/format.js";
import type { SampledBatch } from "../data/sampler.js";
import { evaluate } from "../eval/evaluate.js";
import type { OutputKey } from "../eval/outputs.js";
import { OutputCollector } from "../eval/outputs.js";
import { HRMInner } from "../model/inner.js";
import { HRMParams } from "../model/params.js";
import type { RunConfig } from "./config.js";
import { archConfig, trainConfig } from "./config.js";
import type { Reduced } from "./metrics.js";
import type { IteratorPosition } from "./state.js";
import { Trainer } from "./trainer.js";

/** A dataset split in memory (what readSplit returns, or a builder made). */
export interface DatasetSplit {
  metadata: DatasetMetadata;
  sets: Map<string, PuzzleSet>;
}

export interface TrainHooks {
  /** After every step, with its metrics (official names). Awaited, so the event loop runs here. */
  step?(step: number, metrics: Reduced): void | Promise<void>;
  /** Progress of one test set's evaluation, in batches. */
  evalProgress?(set: string, done: number, total: number): void;
  /** After each evaluation: every set's metrics and the seconds it took. */
  evaluated?(step: number, metrics: Reduced, seconds: number): void | Promise<void>;
  /** One set's saved outputs (when eval_save_outputs asks for some). */
  outputs?(step: number, set: string, collected: OutputCollector): void;
  /** Stores a checkpoint (weights, optimiser, RNG, carry and the data position); returns where. */
  checkpoint?(trainer: Trainer, position: IteratorPosition): string;
  /** Polled after every step: true stops the run, with a checkpoint. */
  shouldStop?(): boolean;
}

export interface TrainOptions {
  /** The run config with the official names (makeRunConfig / resolveRunConfig). */
  config: RunConfig;
  train: DatasetSplit;
  test?: DatasetSplit | null;
  /** Kernels for a new model (default: the platform's fastest). */
  kernels?: SelectedKernels;
  /** Start from these weights (init_from) instead of the config's seeded initialisation. */
  params?: HRMParams;
  /** Continue this trainer (a resumed run) from `position`. */
  trainer?: Trainer;
  position?: IteratorPosition;
  /** Where the last checkpoint is, for a resumed run's NonFiniteError. */
  lastCheckpoint?: string | null;
}

export interface TrainOutcome {
  trainer: Trainer;
  steps: number;
  seconds: number;
  lastEval: Reduced | null;
  /** The last checkpoint hooks.checkpoint wrote (null without the hook). */
  checkpoint: string | null;
  stopped: "done" | "interrupted";
}

/** A loss or metric went NaN or infinite: the run stops at `step`; `lastCheckpoint` is where to resume. */
export class NonFiniteError extends Error {
  constructor(
    readonly metric: string,
    readonly value: number,
    readonly step: number,
    readonly lastCheckpoint: string | null,
  ) {
    super(
      `non-finite ${metric} (${value}) at step ${step}; stopping. Last checkpoint: ${lastCheckpoint ?? "none"}`,
    );
    this.name = "NonFiniteError";
  }
}

/** A trainer for the config at the dataset's sizes, on `params` (default: the config's seeded initialisation). */
export function makeTrainer(
  config: RunConfig,
  trainMeta: DatasetMetadata,
  kernels: SelectedKernels,
  params?: HRMParams,
): Trainer {
  const weights = params ?? HRMParams.init(archConfig(config, trainMeta), config.seed);
  return new Trainer(new HRMInner(weights, kernels), trainConfig(config), trainMeta);
}

/** The trainer a fresh run starts with (makeTrainer on the platform's fastest kernels unless given). */
export async function newTrainer(opts: TrainOptions): Promise<Trainer> {
  const kernels = opts.kernels ?? (await defaultKernels());
  return makeTrainer(opts.config, opts.train.metadata, kernels, opts.params);
}

/** Runs the loop to total_steps, or until hooks.shouldStop(). */
export async function train(opts: TrainOptions, hooks: TrainHooks = {}): Promise<TrainOutcome> {
  const cfg = opts.config;
  const trainer = opts.trainer ?? (await newTrainer(opts));
  const epochsPerIter = cfg.eval_interval ?? cfg.epochs;
  const totalIters = cfg.epochs / epochsPerIter;
  const t0 = performance.now();
  let pos: IteratorPosition = opts.position ?? { iter: 0, batch: 0 };
  let lastCheckpoint = opts.lastCheckpoint ?? null;
  let savedAt = lastCheckpoint ? trainer.stepCount : -1; // the step of the last checkpoint
  let lastEval: Reduced | null = null;
  let stopped = false;
  const save = () => {
    if (!hooks.checkpoint) return;
    lastCheckpoint = hooks.checkpoint(trainer, pos);
    savedAt = trainer.stepCount;
  };
  for (let iter = pos.iter; iter < totalIters && trainer.stepCount < trainer.totalSteps; iter++) {
    const skip = iter === pos.iter ? pos.batch : 0;
    pos = { iter, batch: skip };
    for (const batch of iterationBatches(trainer, opts.train, iter, skip)) {
      const m = trainer.trainBatch(batch);
      if (!m) break;
      pos.batch++;
      const bad = Object.entries(m).find(([, v]) => !Number.isFinite(v));
      if (bad) throw new NonFiniteError(bad[0], bad[1], trainer.stepCount, lastCheckpoint);
      await hooks.step?.(trainer.stepCount, m);
      const every = cfg.checkpoint_every_steps;
      if (every && trainer.stepCount % every === 0) save();
      if ((stopped = hooks.shouldStop?.() ?? false)) break;
    }
    if (stopped) break;
    pos = { iter: iter + 1, batch: 0 };
    if (opts.test && iter >= cfg.min_eval_interval) {
      const te = performance.now();
      lastEval = trainer.withEvalWeights(() => evaluateAll(trainer, opts.test!, cfg, hooks));
      await hooks.evaluated?.(trainer.stepCount, lastEval, (performance.now() - te) / 1000);
    }
    if (cfg.checkpoint_every_eval) save();
  }
  // A run ends on a checkpoint of its last step (interrupted or not).
  if (stopped || savedAt !== trainer.stepCount) save();
  return {
    trainer,
    steps: trainer.stepCount,
    seconds: (performance.now() - t0) / 1000,
    lastEval,
    checkpoint: lastCheckpoint,
    stopped: stopped ? "interrupted" : "done",
  };
}

/** The batches of one iteration over every train set, skipping the first `skip` (resume). */
function* iterationBatches(
  trainer: Trainer,
  data: DatasetSplit,
  iter: number,
  skip: number,
): Generator<SampledBatch> {
  let n = 0;
  for (const set of data.sets.values())
    for (const b of trainer.iterationBatches(set, iter)) if (n++ >= skip) yield b;
}

/** The official evaluation of every test set; outputs collected where eval_save_outputs asks. */
function evaluateAll(trainer: Trainer, test: DatasetSplit, cfg: RunConfig, hooks: TrainHooks): Reduced {
  const out: Reduced = {};
  const keys = cfg.eval_save_outputs as OutputKey[];
  const c = trainer.inner.config;
  for (const [name, set] of test.sets) {
    const collect = keys.length ? new OutputCollector(keys, c.seq_len, c.vocab_size) : undefined;
    const B = cfg.global_batch_size;
    const progress = hooks.evalProgress
      ? (d: number, t: number) => hooks.evalProgress!(name, d, t)
      : undefined;
    Object.assign(out, evaluate(trainer.inner, set, test.metadata, B, name, collect, progress));
    if (collect) hooks.outputs?.(trainer.stepCount, name, collect);
  }
  return out;
}
