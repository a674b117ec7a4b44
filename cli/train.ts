/**
 * `hrm train [config=<file.yaml>] [key=value ...]` and `hrm train resume=<run dir>`: the library's train() on a
 * run directory (src/platform/train-run.ts) with a progress bar, an evaluation table per iteration, Ctrl-C
 * (a checkpoint, then exit) and the report at the end.
 */
import { join } from "node:path";
import { existsSync } from "node:fs";
import { bfloat16Note, getKernels, kernelThreadsNote } from "../src/node.js";
import { readText } from "../src/platform/fs.js";
import { openRunDir, runDirHooks, writeReport } from "../src/platform/train-run.js";
import type { RunDir } from "../src/platform/train-run.js";
import type { RunConfig } from "../src/train/config.js";
import { nestConfig, resolveRunConfig, RUN_SPEC } from "../src/train/config.js";
import { NonFiniteError, train } from "../src/train/loop.js";
import type { Reduced } from "../src/train/metrics.js";
import { dumpYaml } from "../src/util/yaml.js";
import { progress, ProgressBar } from "./progress.js";
import { CliError } from "./parse.js";

export { runStamp } from "../src/platform/train-run.js";

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

/** The words' run: resumed (resume=<dir>) or new. */
function openRun(words: string[]): RunDir {
  const resume = words.find((w) => w.startsWith("resume="))?.slice(7) ?? null;
  return openRunDir(trainConfigOf(words), resume, getKernels());
}

export async function runTrain(words: string[], opts: { quiet?: boolean } = {}): Promise<TrainResult> {
  const r = openRun(words);
  try {
    return await trainRun(r, opts);
  } finally {
    r.lock.release();
  }
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

async function trainRun(r: RunDir, opts: { quiet?: boolean }): Promise<TrainResult> {
  const { cfg, trainer } = r;
  const say = (s: string) => {
    if (!opts.quiet) console.log(s);
  };
  say(
    `hrm train: ${r.runDir} (${trainer.inner.config.architecture.toUpperCase()}, ${trainer.inner.params.data.length.toLocaleString()} parameters, ${getKernels().backendName} kernels)`,
  );
  if (kernelThreadsNote()) say(`kernel threads: ${kernelThreadsNote()}`);
  for (const note of r.notes) console.log(`note: ${note}`); // even when quiet: it changes what the run does
  if (!opts.quiet) process.stdout.write(r.yaml.replace(/^/gm, "  "));
  if (cfg["arch.forward_dtype"] === "bfloat16")
    say(`forward_dtype bfloat16: ${bfloat16Note()}; weights, norms, attention and losses in float32`);
  if (trainer.stepCount > 0)
    say(`resuming at step ${trainer.stepCount} (iteration ${r.position.iter}, batch ${r.position.batch})`);
  if (!trainer.stepCount) r.log.append({ step: 0, num_params: trainer.inner.params.data.length });
  const B = cfg.global_batch_size;
  const bar = new ProgressBar();
  const t0 = performance.now();
  const startStep = trainer.stepCount;
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130); // second Ctrl-C: leave now
    interrupted = true;
  };
  const disk = runDirHooks(r);
  let evalSet = "";
  let lastDrawn: Parameters<ProgressBar["update"]>[0] | null = null;
  const endBar = () => {
    if (lastDrawn) bar.update(lastDrawn, true); // the iteration's last step, even between redraws
    lastDrawn = null;
    bar.break();
  };
  let shown: ((d: number, t: number) => void) | null = null;
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
        step: async (step, m) => {
          disk.step(step, m);
          lastDrawn = {
            step,
            total: trainer.totalSteps,
            elapsedS: (performance.now() - t0) / 1000,
            examplesPerS: ((step - startStep) * B) / ((performance.now() - t0) / 1000 || 1),
            live: liveMetrics(m),
          };
          bar.update(lastDrawn);
          await tick(); // lets Ctrl-C through
        },
        evalProgress: (set, d, t) => {
          if (set !== evalSet) {
            endBar();
            [evalSet, shown] = [set, progress(`evaluating ${set} (batches)`)];
          }
          shown?.(d, t);
        },
        evaluated: (step, m, seconds) => {
          disk.evaluated(step, m, seconds);
          evalSet = "";
          if (!opts.quiet) printEvalTable(step, m);
          say(`  (${seconds.toFixed(1)} s)`);
        },
        shouldStop: () => interrupted,
      },
    );
    endBar();
    if (out.stopped === "interrupted")
      say(
        `interrupted at step ${out.steps}: checkpoint ${out.checkpoint}; continue with hrm train resume=${r.runDir}`,
      );
    const report = writeReport(r.runDir);
    say(`checkpoint: ${out.checkpoint}\nreport:     ${report}\nmetrics:    ${r.log.path}`);
    return {
      runDir: r.runDir,
      checkpoint: out.checkpoint,
      steps: out.steps,
      seconds: out.seconds,
      lastEval: out.lastEval,
      stopped: out.stopped,
    };
  } catch (e) {
    if (!(e instanceof NonFiniteError)) throw e;
    const again = e.lastCheckpoint
      ? ` (to continue: lower lr in ${join(r.runDir, "all_config.yaml")}, then hrm train resume=${r.runDir})`
      : "";
    throw new CliError(e.message + again);
  } finally {
    process.off("SIGINT", onSigint);
    bar.break();
  }
}

const liveMetrics = (m: Reduced): [string, number][] => [
  ["loss", m["train/lm_loss"] ?? NaN],
  ["acc", m["train/accuracy"] ?? NaN],
  ["exact", m["train/exact_accuracy"] ?? NaN],
  ["steps", m["train/steps"] ?? NaN],
];

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
