/**
 * `hrm train [config=<file.yaml>] [key=value ...]` and `hrm train resume=<run dir>`: the official training
 * loop (pretrain.py) with a progress bar, metrics as JSON lines, an evaluation table per iteration,
 * atomic checkpoints (weights + optimiser, RNG, carry and data position) and a report at the end. Ctrl-C
 * saves a checkpoint and exits; a non-finite loss stops the run naming the step and the last checkpoint.
 */
import { basename, join } from "node:path";
import { existsSync } from "node:fs";
import type { PuzzleSet } from "../src/data/format.js";
import type { SampledBatch } from "../src/data/sampler.js";
import { decodeModelSafetensors, encodeModelSafetensors, loadStateDict } from "../src/model/checkpoint.js";
import { readTorchCheckpoint } from "../src/io/torch.js";
import type { HRMConfig } from "../src/model/config.js";
import { HRMInner } from "../src/model/inner.js";
import { HRMParams } from "../src/model/params.js";
import { bfloat16Note, getKernels, kernelThreadsNote } from "../src/node.js";
import { readBytes, readSplit, writeFileAtomic } from "../src/platform/files.js";
import { readText } from "../src/platform/fs.js";
import type { SplitData } from "../src/platform/files.js";
import {
  cleanStaleTemps,
  latestCheckpoint,
  MetricsLog,
  pruneCheckpoints,
  RunLock,
  writeCheckpoint,
} from "../src/platform/run-dir.js";
import type { RunConfig } from "../src/train/config.js";
import { archConfig, nestConfig, resolveRunConfig, RUN_SPEC, trainConfig } from "../src/train/config.js";
import type { Reduced } from "../src/train/metrics.js";
import type { IteratorPosition } from "../src/train/state.js";
import { encodeTrainState, restoreTrainState } from "../src/train/state.js";
import { evaluate } from "../src/eval/evaluate.js";
import { Trainer } from "../src/train/trainer.js";
import { dumpYaml } from "../src/util/yaml.js";
import { progress, ProgressBar } from "./progress.js";
import { CliError } from "./parse.js";
import { writeReport } from "./report.js";
import { saveOutputs } from "./outputs.js";
import type { OutputKey } from "../src/eval/outputs.js";
import { OutputCollector } from "../src/eval/outputs.js";

export function trainUsage(): string {
  const width = Math.max(...Object.keys(RUN_SPEC).map((k) => k.length));
  return [
    "usage: hrm train [config=<file.yaml>] [key=value ...]      (official cfg_pretrain names; arch.* for the model)",
    "       hrm train resume=<run dir>                          (continue from the run's latest checkpoint)",
    ...Object.entries(RUN_SPEC).map(
      ([k, s]) => `  ${k.padEnd(width)}  ${s.doc} (default ${JSON.stringify(s.default)})`,
    ),
  ].join("\n");
}

/** What a finished (or stopped) run leaves behind, for callers such as the quick-start. */
export interface TrainResult {
  runDir: string;
  checkpoint: string | null;
  steps: number;
  seconds: number;
  lastEval: Reduced | null;
  stopped: "done" | "interrupted";
}

/** The current time as YYYYMMDD-HHMMSS (UTC), for run directory names. */
export function runStamp(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
}

function defaultRunDir(cfg: RunConfig): string {
  const project = (cfg.project_name as string | null) ?? basename(cfg.data_path as string);
  return join("checkpoints", project, (cfg.run_name as string | null) ?? `hrm-${runStamp()}`);
}

interface Run {
  cfg: RunConfig;
  runDir: string;
  train: SplitData;
  test: SplitData | null;
  trainer: Trainer;
  params: HRMParams;
  pos: IteratorPosition;
  log: MetricsLog;
  yaml: string;
  /** Epochs per train/eval iteration (eval_interval, or all epochs). */
  epochsPerIter: number;
  /** The exclusive lock on runDir, held until the run ends. */
  lock: RunLock;
  /** What the user should know about how the run was opened (a stale lock taken over, a restart). */
  notes: string[];
}

function splitIfPresent(root: string, split: string): SplitData | null {
  return existsSync(join(root, split, "dataset.json")) ? readSplit(root, split) : null;
}

/** Builds the run from a fresh config, or from a run directory's saved config and latest checkpoint. */
/** The run config a command line resolves to: defaults, the YAML file, overrides (or a run's saved config). */
export function trainConfigOf(words: string[]): RunConfig {
  const resume = words.find((w) => w.startsWith("resume="))?.slice(7);
  const configFile = words.find((w) => w.startsWith("config="))?.slice(7);
  const overrides = words.filter((w) => !w.startsWith("resume=") && !w.startsWith("config="));
  if (resume && (configFile || overrides.length))
    throw new CliError(
      "resume=<run dir> continues the saved config (all_config.yaml); give no other options",
    );
  const read = (p: string) => {
    if (!existsSync(p)) throw new CliError(`${p}: config file not found`);
    return readText(p);
  };
  const cfg = resume
    ? resolveRunConfig([], join(resume, "all_config.yaml"), read)
    : resolveRunConfig(overrides, configFile, read);
  if (!cfg.data_path) throw new CliError("hrm train needs data_path=<dataset dir>");
  return cfg;
}

/** The resolved config as the YAML a run saves (all_config.yaml), for --dry-run. */
export function trainConfigYaml(words: string[]): string {
  return dumpYaml(nestConfig(trainConfigOf(words)));
}

function openRun(words: string[]): Run {
  const resume = words.find((w) => w.startsWith("resume="))?.slice(7);
  const cfg = trainConfigOf(words);
  const runDir = resume ?? (cfg.checkpoint_path as string | null) ?? defaultRunDir(cfg);
  cfg.checkpoint_path = runDir;
  const lock = RunLock.acquire(runDir); // also proves the directory writable before any work
  try {
    return openLocked(cfg, runDir, !!resume, lock);
  } catch (e) {
    lock.release();
    throw e;
  }
}

function openLocked(cfg: RunConfig, runDir: string, resume: boolean, lock: RunLock): Run {
  const notes: string[] = [];
  if (lock.stale)
    notes.push(
      `took over the run lock of PID ${lock.stale.pid} (${lock.stale.started}), which is no longer running`,
    );
  const train = readSplit(cfg.data_path as string, "train");
  const test = splitIfPresent(cfg.data_path as string, "test");
  const epochsPerIter = (cfg.eval_interval as number | null) ?? (cfg.epochs as number);
  const B = cfg.global_batch_size as number;
  const groups = train.metadata.total_groups;
  if (epochsPerIter * groups < B)
    throw new CliError(
      `global_batch_size=${B} is larger than one iteration's ${epochsPerIter * groups} samples ` +
        `(${groups} groups x ${epochsPerIter} epochs per evaluation), so no batch fills; ` +
        "lower global_batch_size or raise eval_interval",
    );
  const hrm: HRMConfig = archConfig(cfg, train.metadata);
  const log = new MetricsLog(runDir);
  let ckpt: string | null = null;
  let params: HRMParams;
  if (resume) {
    cleanStaleTemps(runDir);
    ckpt = latestCheckpoint(runDir);
    if (!ckpt) {
      notes.push(`${runDir} has no checkpoint yet (stopped before the first): starting it again from step 0`);
      log.truncateAfter(-1);
    }
  }
  const init = cfg.init_from as string | null;
  if (ckpt) {
    const file = join(ckpt, "model.safetensors");
    params = decodeModelSafetensors(readBytes(file), file, hrm); // refuses a config that contradicts it
  } else if (init) {
    params = initialWeights(init, hrm);
    notes.push(`initialised from ${init}: its weights, with fresh optimiser state from step 0`);
  } else params = HRMParams.init(hrm, cfg.seed as number);
  const trainer = new Trainer(new HRMInner(params, getKernels()), trainConfig(cfg), train.metadata);
  let pos: IteratorPosition = { iter: 0, batch: 0 };
  if (ckpt) {
    const file = join(ckpt, "train_state.safetensors");
    pos = restoreTrainState(trainer, readBytes(file), file);
    log.truncateAfter(trainer.stepCount);
  } else if (!resume && existsSync(log.path))
    throw new CliError(
      `${runDir} already holds a run (metrics.jsonl); use resume=${runDir} (a run with no checkpoint yet starts ` +
        "again from step 0) or another checkpoint_path",
    );
  const yaml = dumpYaml(nestConfig(cfg));
  if (!resume) writeFileAtomic(join(runDir, "all_config.yaml"), yaml);
  return { cfg, runDir, train, test, trainer, params, pos, log, yaml, epochsPerIter, lock, notes };
}

/** Weights to start a run from: ours (its architecture must agree with the run's) or an official .pt state dict. */
function initialWeights(file: string, hrm: HRMConfig): HRMParams {
  if (file.endsWith(".safetensors")) return decodeModelSafetensors(readBytes(file), file, hrm);
  const params = new HRMParams(hrm);
  loadStateDict(params, readTorchCheckpoint(readBytes(file), file), file); // every name, shape and dtype checked
  return params;
}

function saveCheckpoint(r: Run): string {
  const dir = writeCheckpoint(r.runDir, r.trainer.stepCount, {
    "model.safetensors": encodeModelSafetensors(r.params, { step: String(r.trainer.stepCount) }),
    "train_state.safetensors": encodeTrainState(r.trainer, r.pos),
    "all_config.yaml": r.yaml,
  });
  const keep = r.cfg.keep_last as number | null;
  if (keep) pruneCheckpoints(r.runDir, keep);
  return dir;
}

/** Evaluates every test set; also saves the outputs eval_save_outputs asks for. */
function runEvaluation(r: Run): Reduced {
  const out: Reduced = {};
  if (!r.test) return out;
  const keys = r.cfg.eval_save_outputs as string[];
  for (const [name, set] of r.test.sets) {
    const c = r.trainer.inner.config;
    const collect = keys.length
      ? new OutputCollector(keys as OutputKey[], c.seq_len, c.vocab_size)
      : undefined;
    const B = r.cfg.global_batch_size as number;
    const shown = progress(`evaluating ${name} (batches)`);
    Object.assign(out, evaluate(r.trainer.inner, set, r.test.metadata, B, name, collect, shown));
    if (collect) saveOutputs(join(r.runDir, `step_${r.trainer.stepCount}_outputs`, name), collect);
  }
  return out;
}

export function printEvalTable(step: number, m: Reduced, write = (s: string) => console.log(s)): void {
  const sets = [...new Set(Object.keys(m).map((k) => k.slice(0, k.lastIndexOf("/"))))];
  const metrics = [...new Set(Object.keys(m).map((k) => k.slice(k.lastIndexOf("/") + 1)))];
  const w = Math.max(10, ...sets.map((s) => s.length));
  write(`evaluation at step ${step}`);
  write(`  ${"set".padEnd(w)} ${metrics.map((x) => x.padStart(Math.max(9, x.length))).join(" ")}`);
  for (const s of sets)
    write(
      `  ${s.padEnd(w)} ${metrics.map((x) => (m[`${s}/${x}`] ?? NaN).toFixed(4).padStart(Math.max(9, x.length))).join(" ")}`,
    );
}

/** The batches of one iteration over every train set, skipping the first `skip` (resume). */
function* iterationBatches(r: Run, iter: number, skip: number): Generator<SampledBatch> {
  let n = 0;
  for (const set of r.train.sets.values() as Iterable<PuzzleSet>)
    for (const b of r.trainer.iterationBatches(set, iter)) if (n++ >= skip) yield b;
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function runTrain(words: string[], opts: { quiet?: boolean } = {}): Promise<TrainResult> {
  const r = openRun(words);
  try {
    return await trainRun(r, opts);
  } finally {
    r.lock.release();
  }
}

async function trainRun(r: Run, opts: { quiet?: boolean }): Promise<TrainResult> {
  const { cfg, trainer } = r;
  const say = (s: string) => {
    if (!opts.quiet) console.log(s);
  };
  const k = getKernels();
  say(
    `hrm train: ${r.runDir} (${k.backendName} kernels, ${trainer.inner.params.data.length.toLocaleString()} parameters)`,
  );
  if (kernelThreadsNote()) say(`kernel threads: ${kernelThreadsNote()}`);
  for (const note of r.notes) console.log(`note: ${note}`); // even when quiet: it changes what the run does
  if (!opts.quiet) process.stdout.write(r.yaml.replace(/^/gm, "  "));
  if (cfg["arch.forward_dtype"] === "bfloat16")
    say(`forward_dtype bfloat16: ${bfloat16Note()}; weights, norms, attention and losses in float32`);
  if (trainer.stepCount > 0)
    say(`resuming at step ${trainer.stepCount} (iteration ${r.pos.iter}, batch ${r.pos.batch})`);
  if (!trainer.stepCount) r.log.append({ step: 0, num_params: trainer.inner.params.data.length });

  const totalIters = (cfg.epochs as number) / r.epochsPerIter;
  const B = cfg.global_batch_size as number;
  const bar = new ProgressBar();
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130); // second Ctrl-C: leave now
    interrupted = true;
  };
  process.on("SIGINT", onSigint);
  const t0 = performance.now();
  const startStep = trainer.stepCount;
  let lastCkpt: string | null = trainer.stepCount ? latestCheckpoint(r.runDir) : null;
  let lastEval: Reduced | null = null;
  let live: Reduced = {};
  const showProgress = (force = false) =>
    bar.update(
      {
        step: trainer.stepCount,
        total: trainer.totalSteps,
        elapsedS: (performance.now() - t0) / 1000,
        examplesPerS: ((trainer.stepCount - startStep) * B) / ((performance.now() - t0) / 1000 || 1),
        live: [
          ["loss", live["train/lm_loss"] ?? NaN],
          ["acc", live["train/accuracy"] ?? NaN],
          ["exact", live["train/exact_accuracy"] ?? NaN],
          ["steps", live["train/steps"] ?? NaN],
        ],
      },
      force,
    );
  try {
    for (let iter = r.pos.iter; iter < totalIters && trainer.stepCount < trainer.totalSteps; iter++) {
      const skip = iter === r.pos.iter ? r.pos.batch : 0;
      r.pos = { iter, batch: skip };
      for (const batch of iterationBatches(r, iter, skip)) {
        const m = trainer.trainBatch(batch);
        if (!m) break;
        r.pos.batch++;
        const bad = Object.entries(m).find(([, v]) => !Number.isFinite(v));
        if (bad) {
          bar.break();
          throw new CliError(
            `non-finite ${bad[0]} (${bad[1]}) at step ${trainer.stepCount}; stopping. Last checkpoint: ${lastCkpt ?? "none"}` +
              (lastCkpt
                ? ` (to continue: lower lr in ${join(r.runDir, "all_config.yaml")}, then hrm train resume=${r.runDir})`
                : ""),
          );
        }
        live = m;
        r.log.append({ step: trainer.stepCount, ...m });
        showProgress();
        const every = cfg.checkpoint_every_steps as number | null;
        if (every && trainer.stepCount % every === 0) lastCkpt = saveCheckpoint(r);
        await tick(); // lets Ctrl-C through
        if (interrupted) break;
      }
      if (interrupted) break;
      r.pos = { iter: iter + 1, batch: 0 };
      showProgress(true);
      bar.break();
      if (r.test) {
        const te = performance.now();
        lastEval = runEvaluation(r);
        r.log.append({ step: trainer.stepCount, ...lastEval });
        if (!opts.quiet) printEvalTable(trainer.stepCount, lastEval);
        say(`  (${((performance.now() - te) / 1000).toFixed(1)} s)`);
      }
      if (cfg.checkpoint_every_eval) lastCkpt = saveCheckpoint(r);
    }
  } finally {
    process.off("SIGINT", onSigint);
    bar.break();
  }
  if (interrupted) {
    lastCkpt = saveCheckpoint(r);
    say(
      `interrupted at step ${trainer.stepCount}: checkpoint ${lastCkpt}; continue with hrm train resume=${r.runDir}`,
    );
  } else if (!lastCkpt || !lastCkpt.endsWith(`step_${trainer.stepCount}`)) lastCkpt = saveCheckpoint(r);
  const report = writeReport(r.runDir);
  say(`checkpoint: ${lastCkpt}\nreport:     ${report}\nmetrics:    ${r.log.path}`);
  return {
    runDir: r.runDir,
    checkpoint: lastCkpt,
    steps: trainer.stepCount,
    seconds: (performance.now() - t0) / 1000,
    lastEval,
    stopped: interrupted ? "interrupted" : "done",
  };
}
