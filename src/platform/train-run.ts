/**
 * A training run in a directory on disk, for train() (src/train/loop.ts): opening it (fresh, resumed from its
 * latest checkpoint, or initialised from other weights) under an exclusive lock, and the hooks that write its
 * checkpoints (weights + optimiser, RNG, carry and data position, atomically), metrics.jsonl and saved
 * outputs; the report (SVG curves, report.html) from its metrics.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { SelectedKernels } from "../kernels/api.js";
import type { OutputCollector } from "../eval/outputs.js";
import { encodeNpy } from "../io/npy.js";
import { readTorchCheckpoint } from "../io/torch.js";
import { decodeModelSafetensors, encodeModelSafetensors, loadStateDict } from "../model/checkpoint.js";
import type { HRMConfig } from "../model/config.js";
import { HRMParams } from "../model/params.js";
import { reportCharts, reportHtml } from "../report/report.js";
import type { RunConfig } from "../train/config.js";
import { archConfig, nestConfig } from "../train/config.js";
import type { DatasetSplit, TrainHooks } from "../train/loop.js";
import { makeTrainer } from "../train/loop.js";
import type { IteratorPosition } from "../train/state.js";
import { encodeTrainState, restoreTrainState } from "../train/state.js";
import type { Trainer } from "../train/trainer.js";
import { describe } from "../io/limits.js";
import { dumpYaml } from "../util/yaml.js";
import { readBytes, readSplit, writeFileAtomic } from "./files.js";
import {
  cleanStaleTemps,
  latestCheckpoint,
  MetricsLog,
  pruneCheckpoints,
  RunLock,
  writeCheckpoint,
} from "./run-dir.js";

/** A run directory that cannot be used as asked (the message says why and what to do). */
export class RunDirError extends Error {}

export interface RunDir {
  cfg: RunConfig;
  runDir: string;
  train: DatasetSplit;
  test: DatasetSplit | null;
  trainer: Trainer;
  position: IteratorPosition;
  lastCheckpoint: string | null;
  log: MetricsLog;
  /** timing.jsonl: the training time at each evaluation and checkpoint (see TrainClock). */
  timing: MetricsLog;
  clock: TrainClock;
  /** all_config.yaml's text. */
  yaml: string;
  /** The exclusive lock on runDir: release() it when the run ends. */
  lock: RunLock;
  /** What the user should know about how the run was opened (a stale lock taken over, a restart). */
  notes: string[];
}

/**
 * A run's training time: wall seconds since the run (re)started, less the time its evaluations took, plus
 * what the run had trained before a resume. timing.jsonl keeps it per evaluation and checkpoint
 * ({step, train_s}, and eval_s for evaluations), apart from metrics.jsonl, whose lines a resumed run
 * reproduces exactly. A resume takes the line of the checkpoint's step (or the last before it, when a kill
 * came between the checkpoint and its line).
 */
export class TrainClock {
  private start = performance.now();
  private evalS = 0;
  constructor(readonly base: number) {}
  evaluated(seconds: number): void {
    this.evalS += seconds;
  }
  seconds(): number {
    return this.base + (performance.now() - this.start) / 1000 - this.evalS;
  }
}

function resumedClock(timing: MetricsLog, step: number): TrainClock {
  const before = timing.read().filter((r) => typeof r.step === "number" && r.step <= step);
  timing.truncateAfter(step);
  const last = before[before.length - 1];
  return new TrainClock(typeof last?.train_s === "number" ? last.train_s : 0);
}

/** The current time as YYYYMMDD-HHMMSS (UTC), for run directory names. */
export function runStamp(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
}

function defaultRunDir(cfg: RunConfig): string {
  const project = cfg.project_name ?? basename(cfg.data_path ?? "data");
  return join("checkpoints", project, cfg.run_name ?? `hrm-${runStamp()}`);
}

/**
 * Opens the run: `resume` is a run directory to continue (cfg is then its saved config), else a new run in
 * cfg.checkpoint_path (default checkpoints/<project>/<run>). Holds the directory's lock until lock.release().
 */
export function openRunDir(cfg: RunConfig, resume: string | null, kernels: SelectedKernels): RunDir {
  if (cfg.data_path === null) throw new RunDirError("data_path is not set: a run needs a dataset directory");
  const runDir = resume ?? cfg.checkpoint_path ?? defaultRunDir(cfg);
  cfg.checkpoint_path = runDir;
  const lock = RunLock.acquire(runDir); // also proves the directory writable before any work
  try {
    return openLocked(cfg, runDir, resume !== null, lock, kernels);
  } catch (e) {
    lock.release();
    throw e;
  }
}

function openLocked(
  cfg: RunConfig,
  runDir: string,
  resume: boolean,
  lock: RunLock,
  kernels: SelectedKernels,
): RunDir {
  const notes: string[] = [];
  if (lock.stale)
    notes.push(
      `took over the run lock of PID ${lock.stale.pid} (${lock.stale.started}), which is no longer running`,
    );
  const data = cfg.data_path!; // checked by openRunDir
  const train = readSplit(data, "train");
  const test = existsSync(join(data, "test", "dataset.json")) ? readSplit(data, "test") : null;
  checkBatchFits(cfg, train);
  const hrm: HRMConfig = archConfig(cfg, train.metadata);
  const log = new MetricsLog(runDir);
  const timing = new MetricsLog(runDir, "timing.jsonl");
  let ckpt: string | null = null;
  if (resume) {
    cleanStaleTemps(runDir);
    ckpt = latestCheckpoint(runDir);
    if (!ckpt) {
      notes.push(`${runDir} has no checkpoint yet (stopped before the first): starting it again from step 0`);
      log.truncateAfter(-1);
      timing.truncateAfter(-1);
    }
  }
  const evaluators = cfg.evaluators;
  if (evaluators.length)
    notes.push(
      `evaluators ${describe(evaluators)}: evaluations here report the official metrics; ARC voting (pass@K) is \`hrm eval\`'s`,
    );
  const init = cfg.init_from;
  let params: HRMParams | undefined; // undefined: the config's seeded initialisation
  if (ckpt) {
    const file = join(ckpt, "model.safetensors");
    params = decodeModelSafetensors(readBytes(file), file, hrm); // refuses a config that contradicts it
  } else if (init) {
    params = initialWeights(init, hrm);
    notes.push(`initialised from ${init}: its weights, with fresh optimiser state from step 0`);
  }
  const trainer = makeTrainer(cfg, train.metadata, kernels, params);
  let position: IteratorPosition = { iter: 0, batch: 0 };
  let clock = new TrainClock(0);
  if (ckpt) {
    const file = join(ckpt, "train_state.safetensors");
    position = restoreTrainState(trainer, readBytes(file), file);
    log.truncateAfter(trainer.stepCount);
    clock = resumedClock(timing, trainer.stepCount);
  } else if (!resume && existsSync(log.path))
    throw new RunDirError(
      `${runDir} already holds a run (metrics.jsonl); use resume=${runDir} (a run with no checkpoint yet starts ` +
        "again from step 0) or another checkpoint_path",
    );
  const yaml = dumpYaml(nestConfig(cfg));
  if (!resume) writeFileAtomic(join(runDir, "all_config.yaml"), yaml);
  return {
    cfg,
    runDir,
    train,
    test,
    trainer,
    position,
    lastCheckpoint: ckpt,
    log,
    timing,
    clock,
    yaml,
    lock,
    notes,
  };
}

function checkBatchFits(cfg: RunConfig, train: DatasetSplit): void {
  const epochsPerIter = cfg.eval_interval ?? cfg.epochs;
  const B = cfg.global_batch_size;
  const groups = train.metadata.total_groups;
  if (epochsPerIter * groups < B)
    throw new RunDirError(
      `global_batch_size=${B} is larger than one iteration's ${epochsPerIter * groups} samples ` +
        `(${groups} groups x ${epochsPerIter} epochs per evaluation), so no batch fills; ` +
        "lower global_batch_size or raise eval_interval",
    );
}

/** Weights to start a run from: ours (its architecture must agree with the run's) or an official .pt state dict. */
function initialWeights(file: string, hrm: HRMConfig): HRMParams {
  if (file.endsWith(".safetensors")) return decodeModelSafetensors(readBytes(file), file, hrm);
  const params = new HRMParams(hrm);
  loadStateDict(params, readTorchCheckpoint(readBytes(file), file), file); // every name, shape and dtype checked
  return params;
}

/** Writes step_<N>/ (model, train state, config) atomically and prunes to keep_last. */
export function saveRunCheckpoint(r: RunDir, trainer: Trainer, position: IteratorPosition): string {
  const dir = writeCheckpoint(r.runDir, trainer.stepCount, {
    // With ema, the averaged weights (what evaluation used); the trained ones are in the train state.
    "model.safetensors": trainer.withEvalWeights(() =>
      encodeModelSafetensors(trainer.inner.params, { step: String(trainer.stepCount) }),
    ),
    "train_state.safetensors": encodeTrainState(trainer, position),
    "all_config.yaml": r.yaml,
  });
  const keep = r.cfg.keep_last;
  if (keep) pruneCheckpoints(r.runDir, keep);
  return dir;
}

/** The run directory's side of the hooks: checkpoints, metrics.jsonl, saved outputs. */
export function runDirHooks(
  r: RunDir,
): Required<Pick<TrainHooks, "checkpoint" | "outputs" | "step" | "evaluated">> {
  return {
    checkpoint: (trainer, position) => {
      r.lastCheckpoint = saveRunCheckpoint(r, trainer, position);
      r.timing.append({ step: trainer.stepCount, train_s: r.clock.seconds() });
      return r.lastCheckpoint;
    },
    outputs: (step, set, collected) => saveOutputs(join(r.runDir, `step_${step}_outputs`, set), collected),
    step: (step, metrics) => r.log.append({ step, ...metrics }),
    evaluated: (step, metrics, seconds) => {
      r.log.append({ step, ...metrics });
      r.clock.evaluated(seconds);
      r.timing.append({ step, train_s: r.clock.seconds(), eval_s: seconds });
    },
  };
}

/** Collected evaluation outputs as one .npy per key (NumPy reads them directly). */
export function saveOutputs(dir: string, collect: OutputCollector): string[] {
  const files: string[] = [];
  for (const [k, t] of collect.tensors()) {
    const f = join(dir, `${k}.npy`);
    writeFileAtomic(f, encodeNpy(t));
    files.push(f);
  }
  return files;
}

/** Writes <runDir>/report/*.svg and <runDir>/report.html from metrics.jsonl; returns the HTML path. */
export function writeReport(runDir: string): string {
  const log = new MetricsLog(runDir);
  if (!existsSync(log.path))
    throw new RunDirError(`${runDir}: no metrics.jsonl (not a training run directory?)`);
  const records = log.read();
  const charts = reportCharts(records);
  for (const c of charts) writeFileAtomic(join(runDir, "report", c.file), c.svg);
  const cfgPath = join(runDir, "all_config.yaml");
  const yaml = existsSync(cfgPath) ? readFileSync(cfgPath, "utf8") : "";
  const html = join(runDir, "report.html");
  writeFileAtomic(html, reportHtml(`hrm-ts run ${basename(runDir)}`, charts, records, yaml));
  return html;
}
