/**
 * A training run on Node from start to end: the run config from `key=value` words (or a run's saved config,
 * with resume=<dir>), the run directory opened and locked, the library's train() with the directory's hooks
 * and Ctrl-C (a checkpoint, then stop), and the report. What it has to tell goes to a TrainReporter (the CLI
 * prints it: progress bar, evaluation tables); a non-finite stop is an error saying how to continue.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { SelectedKernels } from "../kernels/api.js";
import type { RunConfig } from "../train/config.js";
import { resolveRunConfig, RunConfigError } from "../train/config.js";
import { NonFiniteError, train } from "../train/loop.js";
import type { Reduced } from "../train/metrics.js";
import { readText } from "./fs.js";
import { bfloat16Note, kernelThreadsNote } from "./node.js";
import type { RunDir } from "./train-run.js";
import { openRunDir, RunDirError, runDirHooks, writeReport } from "./train-run.js";

export interface StepProgress {
  step: number;
  /** The step this process started from (0, or where a resumed run went on). */
  startStep: number;
  total: number;
  elapsedS: number;
  examplesPerS: number;
  metrics: Reduced;
}

/** Where a run's messages go; every member is optional. */
export interface TrainReporter {
  /** Information: the run, its config, where the results went. */
  info?(line: string): void;
  /** What changes what the run does (a taken-over lock, fresh optimiser state...): show it even when quiet. */
  note?(line: string): void;
  step?(p: StepProgress): void;
  evalProgress?(set: string, done: number, total: number): void;
  evaluated?(step: number, metrics: Reduced, seconds: number): void;
  /** Training stopped (done, interrupted or failed): a progress display can close. */
  ended?(): void;
}

/** What a finished (or stopped) run leaves behind. */
export interface TrainResult {
  runDir: string;
  checkpoint: string | null;
  steps: number;
  seconds: number;
  lastEval: Reduced | null;
  stopped: "done" | "interrupted";
}

/** The run config words resolve to: defaults, config=<file.yaml>, key=value overrides (or resume=<dir>'s). */
export function trainConfigOf(words: string[]): RunConfig {
  const resume = words.find((w) => w.startsWith("resume="))?.slice(7);
  const configFile = words.find((w) => w.startsWith("config="))?.slice(7);
  const overrides = words.filter((w) => !w.startsWith("resume=") && !w.startsWith("config="));
  if (resume && (configFile || overrides.length))
    throw new RunConfigError(
      "resume=<run dir> continues the saved config (all_config.yaml); give no other options",
    );
  const read = (p: string) => {
    if (!existsSync(p)) throw new RunConfigError(`${p}: config file not found`);
    return readText(p);
  };
  const cfg = resume
    ? resolveRunConfig([], join(resume, "all_config.yaml"), read)
    : resolveRunConfig(overrides, configFile, read);
  if (!cfg.data_path) throw new RunConfigError("hrm train needs data_path=<dataset dir>");
  return cfg;
}

/** Trains the run the words name (new, or resume=<dir>) on `kernels`; the directory's lock is held meanwhile. */
export async function trainFromWords(
  words: string[],
  kernels: SelectedKernels,
  report: TrainReporter = {},
): Promise<TrainResult> {
  const resume = words.find((w) => w.startsWith("resume="))?.slice(7) ?? null;
  const r = openRunDir(trainConfigOf(words), resume, kernels);
  try {
    return await trainRun(r, kernels, report);
  } finally {
    r.lock.release();
  }
}

function introduce(r: RunDir, kernels: SelectedKernels, report: TrainReporter): void {
  const { cfg, trainer } = r;
  const info = (s: string) => report.info?.(s);
  const params = trainer.inner.params.data.length.toLocaleString();
  const arch = trainer.inner.config.architecture.toUpperCase();
  info(`hrm train: ${r.runDir} (${arch}, ${params} parameters, ${kernels.backendName} kernels)`);
  if (kernelThreadsNote()) info(`kernel threads: ${kernelThreadsNote()}`);
  for (const note of r.notes) report.note?.(note);
  info(r.yaml.replace(/\n$/, "").replace(/^/gm, "  "));
  if (cfg["arch.forward_dtype"] === "bfloat16")
    info(`forward_dtype bfloat16: ${bfloat16Note()}; weights, norms, attention and losses in float32`);
  if (trainer.stepCount > 0)
    info(`resuming at step ${trainer.stepCount} (iteration ${r.position.iter}, batch ${r.position.batch})`);
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

async function trainRun(r: RunDir, kernels: SelectedKernels, report: TrainReporter): Promise<TrainResult> {
  const { cfg, trainer } = r;
  introduce(r, kernels, report);
  if (!trainer.stepCount) r.log.append({ step: 0, num_params: trainer.inner.params.data.length });
  const t0 = performance.now();
  const startStep = trainer.stepCount;
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130); // second Ctrl-C: leave now
    interrupted = true;
  };
  const disk = runDirHooks(r);
  process.on("SIGINT", onSigint);
  try {
    const out = await train(
      {
        config: cfg,
        train: r.train,
        test: r.test,
        trainer,
        position: r.position,
        lastCheckpoint: r.lastCheckpoint,
      },
      {
        ...disk,
        step: async (step, metrics) => {
          disk.step(step, metrics);
          const elapsedS = (performance.now() - t0) / 1000;
          const examplesPerS = ((step - startStep) * cfg.global_batch_size) / (elapsedS || 1);
          report.step?.({ step, startStep, total: trainer.totalSteps, elapsedS, examplesPerS, metrics });
          await tick(); // lets Ctrl-C through
        },
        evalProgress: (set, done, total) => report.evalProgress?.(set, done, total),
        evaluated: (step, metrics, seconds) => {
          disk.evaluated(step, metrics, seconds);
          report.evaluated?.(step, metrics, seconds);
        },
        shouldStop: () => interrupted,
      },
    );
    report.ended?.();
    if (out.stopped === "interrupted")
      report.info?.(
        `interrupted at step ${out.steps}: checkpoint ${out.checkpoint}; continue with hrm train resume=${r.runDir}`,
      );
    const html = writeReport(r.runDir);
    report.info?.(`checkpoint: ${out.checkpoint}\nreport:     ${html}\nmetrics:    ${r.log.path}`);
    const { checkpoint, steps, seconds, lastEval, stopped } = out;
    return { runDir: r.runDir, checkpoint, steps, seconds, lastEval, stopped };
  } catch (e) {
    report.ended?.();
    if (!(e instanceof NonFiniteError)) throw e;
    const again = e.lastCheckpoint
      ? ` (to continue: lower lr in ${join(r.runDir, "all_config.yaml")}, then hrm train resume=${r.runDir})`
      : "";
    throw new RunDirError(e.message + again);
  } finally {
    process.off("SIGINT", onSigint);
  }
}
