/**
 * Named experiments on Node (`hrm experiment`): each run of experiments/<name>.yaml trained (or resumed) in
 * its run directory under `work`, then evaluated (the think-longer sweep, the trained limit, adaptive
 * halting), and docs/results/<name>/ written after every finished run: README.md (tables, the machine, rerun
 * commands), tables.md, accuracy.svg, and each run's result.json, metrics.jsonl (thinned) and timing.jsonl.
 * A run is resumed only with the words it started with; a finished one (its result.json) is kept.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { basename, join } from "node:path";
import type { SelectedKernels } from "../kernels/api.js";
import { buildMazeDir, buildSudokuDir, MAZE_OPTIONS, SUDOKU_OPTIONS } from "../data/recipes.js";
import { evaluateAdaptive } from "../eval/adaptive.js";
import { evaluateSweep } from "../eval/evaluate.js";
import { decodeModelSafetensors } from "../model/checkpoint.js";
import { HRMInner } from "../model/inner.js";
import type { ExperimentSpec, MachineInfo, RunResult } from "../report/experiment.js";
import {
  accuracyAtMinutes,
  accuracyChart,
  ExperimentError,
  experimentTables,
  machineTable,
  parseExperimentSpec,
  thinMetrics,
} from "../report/experiment.js";
import { mergeWords, parseOptions } from "../util/options.js";
import { nodeBuildIO } from "./datasets.js";
import { readBytes, readSplit } from "./files.js";
import { readText } from "./fs.js";
import { writeResultsIndex } from "./results.js";
import { latestCheckpoint, MetricsLog } from "./run-dir.js";
import type { TrainReporter } from "./train-session.js";
import { trainFromWords } from "./train-session.js";

const EVAL_BATCH = 100;

export interface ExperimentArgs {
  spec: ExperimentSpec;
  models: string[];
  seeds: number[];
  /** Where results go: <out>/<name>/ and <out>/../RESULTS.md. */
  out: string;
  /** Datasets and run directories (checkpoints). */
  work: string;
}

export interface ExperimentReporter {
  kernels: SelectedKernels;
  say(line: string): void;
  /** How each training run reports (a progress bar, notes). */
  training?: TrainReporter;
  progress?(label: string): (done: number, total: number) => void;
}

/** The words of a `hrm experiment` command line, checked against the spec file. */
export function experimentArgs(
  target: string,
  opt: { models?: string; seeds?: string; out: string; work: string },
): ExperimentArgs {
  const file = target.endsWith(".yaml") ? target : join("experiments", `${target}.yaml`);
  if (!existsSync(file)) throw new ExperimentError(`${file}: no such experiment file`);
  const spec = parseExperimentSpec(readText(file), file, basename(file, ".yaml"));
  const list = (w: string | undefined, what: string): string[] | null => {
    if (w === undefined) return null;
    const xs = w.split(",").filter((x) => x !== "");
    if (!xs.length) throw new ExperimentError(`${what}=: expected a comma-separated list`);
    return xs;
  };
  const models = list(opt.models, "models") ?? Object.keys(spec.models);
  for (const m of models)
    if (!(m in spec.models))
      throw new ExperimentError(
        `models=${opt.models}: ${m} is not in ${file} (${Object.keys(spec.models).join(", ")})`,
      );
  const seeds = (list(opt.seeds, "seeds") ?? spec.seeds.map(String)).map((s) => {
    if (!/^\d+$/.test(s)) throw new ExperimentError(`seeds=${opt.seeds}: ${s} is not a non-negative integer`);
    return Number(s);
  });
  return { spec, models, seeds, out: opt.out, work: opt.work };
}

function machine(kernels: SelectedKernels): MachineInfo {
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      encoding: "utf8",
      stdio: "pipe",
    }).trim();
  } catch {
    // not a git checkout: the commit stays unknown
  }
  return {
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    cores: cpus().length,
    node: process.version,
    commit,
    backend: kernels.backendName,
    date: new Date().toISOString().slice(0, 10),
  };
}

function buildData(spec: ExperimentSpec, dir: string, report: ExperimentReporter): void {
  if (existsSync(join(dir, "test", "dataset.json"))) return;
  report.say(`building the dataset -> ${dir}`);
  const words = [...spec.data, `output_dir=${dir}`];
  const io = nodeBuildIO(report);
  const lines =
    spec.dataset === "sudoku"
      ? buildSudokuDir(parseOptions(words, SUDOKU_OPTIONS), io)
      : buildMazeDir(parseOptions(words, MAZE_OPTIONS), io);
  lines.forEach((l) => report.say(l));
}

function timed<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const r = f();
  return [r, (performance.now() - t0) / 1000];
}

/** Trains (or resumes) one run, then evaluates its last checkpoint. */
async function runOne(
  a: ExperimentArgs,
  data: string,
  model: string,
  seed: number,
  report: ExperimentReporter,
): Promise<RunResult> {
  const runDir = join(a.work, a.spec.name, `${model}-s${seed}`);
  const want = mergeWords(
    [`data_path=${data}`, `checkpoint_path=${runDir}`, `seed=${seed}`, "checkpoint_every_eval=true"],
    a.spec.train,
    a.spec.models[model],
  );
  const started = join(runDir, "experiment.json"); // the words the run started with
  const resume = existsSync(join(runDir, "all_config.yaml")) && existsSync(started);
  if (resume) {
    const had = (JSON.parse(readText(started)) as { words: string[] }).words;
    const changed = [...want.filter((w) => !had.includes(w)), ...had.filter((w) => !want.includes(w))];
    if (changed.length)
      throw new ExperimentError(
        `${runDir} was started with other settings (${changed.join(" ")}): delete it to start the run again`,
      );
  } else {
    mkdirSync(runDir, { recursive: true });
    writeFileSync(started, `${JSON.stringify({ words: want })}\n`);
  }
  const trained = await trainFromWords(resume ? [`resume=${runDir}`] : want, report.kernels, report.training);
  if (trained.stopped === "interrupted")
    throw new ExperimentError(
      `stopped at step ${trained.steps} (checkpoint ${trained.checkpoint}); run the same command again to resume`,
    );
  const ckpt = latestCheckpoint(runDir);
  if (!ckpt) throw new ExperimentError(`${runDir}: training left no checkpoint`);
  const file = join(ckpt, "model.safetensors");
  const inner = new HRMInner(decodeModelSafetensors(readBytes(file), file), report.kernels);
  const test = readSplit(data, "test");
  const set = test.sets.get("all")!;
  const H = inner.config.halt_max_steps;
  const sweep = evaluateSweep(inner, set, test.metadata, EVAL_BATCH, a.spec.segments);
  const [fixed, fixedS] = timed(() => evaluateSweep(inner, set, test.metadata, EVAL_BATCH, [H]));
  const adaptive = a.spec.adaptive
    ? timed(() => evaluateAdaptive(inner, set, test.metadata, EVAL_BATCH, a.spec.adaptive))
    : null;
  const metrics = new MetricsLog(runDir).read();
  const timing = new MetricsLog(runDir, "timing.jsonl").read();
  const last = timing[timing.length - 1];
  return {
    model,
    seed,
    params: inner.params.data.length,
    steps: Number(basename(ckpt).replace("step_", "")),
    train_s: typeof last?.train_s === "number" ? last.train_s : NaN,
    at: accuracyAtMinutes(metrics, timing, a.spec.minutes),
    sweep: Object.fromEntries(a.spec.segments.map((s) => [String(s), sweep[`all/exact_accuracy@${s}`]])),
    fixed: { segments: H, exact: fixed[`all/exact_accuracy@${H}`], seconds: fixedS },
    adaptive: adaptive && {
      limit: a.spec.adaptive,
      exact: adaptive[0].metrics["all/exact_accuracy"],
      segments: adaptive[0].metrics["all/steps"],
      seconds: adaptive[1],
    },
  };
}

/** The run's timing.jsonl as it is and its metrics.jsonl thinned (evaluations kept, every Nth step). */
function copyLogs(runDir: string, to: string): void {
  writeFileSync(join(to, "timing.jsonl"), readText(join(runDir, "timing.jsonl")));
  const metrics = thinMetrics(new MetricsLog(runDir).read());
  writeFileSync(join(to, "metrics.jsonl"), metrics.map((r) => `${JSON.stringify(r)}\n`).join(""));
}

interface Stored {
  result: RunResult;
  machine: MachineInfo;
  metrics: ReturnType<MetricsLog["read"]>;
  timing: ReturnType<MetricsLog["read"]>;
}

function storedRuns(spec: ExperimentSpec, dir: string): Stored[] {
  const runs = join(dir, "runs");
  const out: Stored[] = [];
  for (const m of Object.keys(spec.models))
    for (const s of spec.seeds) {
      const d = join(runs, `${m}-s${s}`);
      if (!existsSync(join(d, "result.json"))) continue;
      const { result, machine } = JSON.parse(readText(join(d, "result.json"))) as Omit<
        Stored,
        "metrics" | "timing"
      >;
      out.push({
        result,
        machine,
        metrics: new MetricsLog(d).read(),
        timing: new MetricsLog(d, "timing.jsonl").read(),
      });
    }
  return out;
}

function writeSummary(spec: ExperimentSpec, dir: string): string {
  const runs = storedRuns(spec, dir);
  const tables = experimentTables(
    spec,
    runs.map((r) => r.result),
  );
  writeFileSync(join(dir, "tables.md"), `${tables}\n`);
  writeFileSync(join(dir, "accuracy.svg"), accuracyChart(spec, runs));
  const text = [
    `# Experiment ${spec.name}`,
    "",
    spec.description,
    "",
    `Rerun all of it: \`npm run experiments -- ${spec.name}\` (runs resume from their checkpoints; finished ones are kept).`,
    "",
    `- dataset (\`hrm build-dataset ${spec.dataset}\`): ${spec.data.map((w) => `\`${w}\``).join(" ")}`,
    `- training, every model: ${spec.train.map((w) => `\`${w}\``).join(" ")}`,
    ...Object.entries(spec.models).map(([m, ws]) => `- ${m}: ${ws.map((w) => `\`${w}\``).join(" ")}`),
    "",
    tables,
    "",
    "![held-out exact accuracy by training minutes](accuracy.svg)",
    "",
    "## Runs",
    "",
    machineTable(runs),
    "",
    "Each run's metrics.jsonl (the training log: every evaluation, and every Nth training step so that at most 2,000 remain; the full log stays in the run directory) and timing.jsonl (training seconds at each evaluation) are in runs/.",
    "",
  ].join("\n");
  writeFileSync(join(dir, "README.md"), text);
  return join(dir, "README.md");
}

export async function runExperiment(a: ExperimentArgs, report: ExperimentReporter): Promise<string> {
  const data = join(a.work, a.spec.name, "data");
  const dir = join(a.out, a.spec.name);
  buildData(a.spec, data, report);
  for (const seed of a.seeds)
    // one seed of every model first: a first table as early as possible
    for (const model of a.models) {
      const to = join(dir, "runs", `${model}-s${seed}`);
      if (existsSync(join(to, "result.json"))) {
        report.say(`${model} seed ${seed}: done (${join(to, "result.json")})`);
        continue;
      }
      report.say(`${model} seed ${seed}: training`);
      const t0 = performance.now();
      const result = await runOne(a, data, model, seed, report);
      const seconds = (performance.now() - t0) / 1000;
      mkdirSync(to, { recursive: true });
      copyLogs(join(a.work, a.spec.name, `${model}-s${seed}`), to);
      writeFileSync(
        join(to, "result.json"),
        `${JSON.stringify({ result, machine: machine(report.kernels) }, null, 2)}\n`,
      );
      const last = result.at[result.at.length - 1];
      report.say(
        `${model} seed ${seed}: ${(100 * (last?.exact ?? NaN)).toFixed(1)}% exact after ${(result.train_s / 60).toFixed(1)} min of training (${seconds.toFixed(0)} s here)`,
      );
      writeSummary(a.spec, dir); // after every run: an experiment stopped later still has its tables
      writeResultsIndex(a.out);
    }
  const summary = writeSummary(a.spec, dir); // also when every run was done before
  writeResultsIndex(a.out);
  return summary;
}
