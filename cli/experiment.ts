/**
 * `hrm experiment <name> [models=a,b] [seeds=0,1] [out=docs/results] [work=runs/experiments]` (npm run
 * experiments -- <name>): runs the named experiment of experiments/<name>.yaml (or a .yaml path) and writes
 * docs/results/<name>/: README.md (tables, the machine, rerun commands), accuracy.svg, and each run's
 * result.json, metrics.jsonl and timing.jsonl. Datasets and run directories (checkpoints) live under `work`:
 * a run that was stopped resumes from its latest checkpoint, a finished one (its result.json exists) is kept.
 * docs/RESULTS.md is rebuilt from every experiment's tables.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { basename, join } from "node:path";
import { decodeModelSafetensors } from "../src/model/checkpoint.js";
import { HRMInner } from "../src/model/inner.js";
import { getKernels } from "../src/node.js";
import { evaluateAdaptive } from "../src/eval/adaptive.js";
import { evaluateSweep } from "../src/eval/evaluate.js";
import { readBytes, readSplit } from "../src/platform/files.js";
import { readText } from "../src/platform/fs.js";
import { latestCheckpoint, MetricsLog } from "../src/platform/run-dir.js";
import { writeResultsIndex } from "../src/platform/results.js";
import type { ExperimentSpec, MachineInfo, RunResult } from "../src/report/experiment.js";
import {
  accuracyAtMinutes,
  accuracyChart,
  experimentTables,
  parseExperimentSpec,
  thinMetrics,
} from "../src/report/experiment.js";
import { buildMaze, buildSudoku, MAZE_SCHEMA, SUDOKU_SCHEMA } from "./build-dataset.js";
import type { Schema } from "./parse.js";
import { CliError, mergeWords, parseOptions } from "./parse.js";
import { runTrain } from "./train.js";

const EVAL_BATCH = 100;

interface Args {
  spec: ExperimentSpec;
  models: string[];
  seeds: number[];
  out: string;
  work: string;
}

function list(w: string | undefined, what: string): string[] | null {
  if (w === undefined) return null;
  const xs = w.split(",").filter((x) => x !== "");
  if (!xs.length) throw new CliError(`${what}=: expected a comma-separated list`);
  return xs;
}

/** hrm experiment's options after the name (also its --help). */
export const EXPERIMENT_SCHEMA = {
  models: { kind: "string", doc: "comma-separated models of the spec to run (default: all)" },
  seeds: { kind: "string", doc: "comma-separated seeds to run (default: the spec's)" },
  out: {
    kind: "string",
    default: "docs/results",
    doc: "where the results go (<out>/<name>/, <out>/../RESULTS.md)",
  },
  work: {
    kind: "string",
    default: join("runs", "experiments"),
    doc: "datasets and run directories (checkpoints)",
  },
} satisfies Schema;

function parseArgs(words: string[]): Args {
  const [target, ...rest] = words;
  if (!target || target.includes("="))
    throw new CliError(
      "usage: hrm experiment <name | file.yaml> [models=a,b] [seeds=0,1] [out=...] [work=...]",
    );
  const opt = parseOptions(rest, EXPERIMENT_SCHEMA) as Record<string, string | undefined>;
  const file = target.endsWith(".yaml") ? target : join("experiments", `${target}.yaml`);
  if (!existsSync(file)) throw new CliError(`${file}: no such experiment file`);
  const spec = parseExperimentSpec(readText(file), file, basename(file, ".yaml"));
  const models = list(opt.models, "models") ?? Object.keys(spec.models);
  for (const m of models)
    if (!(m in spec.models))
      throw new CliError(
        `models=${opt.models}: ${m} is not in ${file} (${Object.keys(spec.models).join(", ")})`,
      );
  const seeds = (list(opt.seeds, "seeds") ?? spec.seeds.map(String)).map((s) => {
    if (!/^\d+$/.test(s)) throw new CliError(`seeds=${opt.seeds}: ${s} is not a non-negative integer`);
    return Number(s);
  });
  return { spec, models, seeds, out: opt.out!, work: opt.work! };
}

function machine(): MachineInfo {
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
    backend: getKernels().backendName,
    date: new Date().toISOString().slice(0, 10),
  };
}

function buildData(spec: ExperimentSpec, dir: string): void {
  if (existsSync(join(dir, "test", "dataset.json"))) return;
  console.log(`building the dataset -> ${dir}`);
  const words = [...spec.data, `output_dir=${dir}`];
  if (spec.dataset === "sudoku") buildSudoku(parseOptions(words, SUDOKU_SCHEMA));
  else buildMaze(parseOptions(words, MAZE_SCHEMA));
}

function timed<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const r = f();
  return [r, (performance.now() - t0) / 1000];
}

/** Trains (or resumes) one run, then evaluates its last checkpoint. */
async function runOne(a: Args, data: string, model: string, seed: number): Promise<RunResult> {
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
      throw new CliError(
        `${runDir} was started with other settings (${changed.join(" ")}): delete it to start the run again`,
      );
  } else {
    mkdirSync(runDir, { recursive: true });
    writeFileSync(started, `${JSON.stringify({ words: want })}\n`);
  }
  const trained = await runTrain(resume ? [`resume=${runDir}`] : want, { quiet: true });
  if (trained.stopped === "interrupted")
    throw new CliError(
      `stopped at step ${trained.steps} (checkpoint ${trained.checkpoint}); run the same command again to resume`,
    );
  const ckpt = latestCheckpoint(runDir);
  if (!ckpt) throw new CliError(`${runDir}: training left no checkpoint`);
  const file = join(ckpt, "model.safetensors");
  const inner = new HRMInner(decodeModelSafetensors(readBytes(file), file), getKernels());
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

function machineTable(runs: Stored[]): string {
  const rows = runs.map(
    ({ result: r, machine: m }) =>
      `| ${r.model} | ${r.seed} | ${m.cpu}, ${m.cores} cores | ${m.backend} | ${m.node} | ${m.commit} | ${m.date} | ${(r.train_s / 60).toFixed(1)} |`,
  );
  return [
    "| model | seed | CPU | kernels | Node | commit | date | training min |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
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

export async function runExperiment(words: string[]): Promise<void> {
  const a = parseArgs(words);
  const data = join(a.work, a.spec.name, "data");
  const dir = join(a.out, a.spec.name);
  buildData(a.spec, data);
  for (const seed of a.seeds)
    // one seed of every model first: a first table as early as possible
    for (const model of a.models) {
      const to = join(dir, "runs", `${model}-s${seed}`);
      if (existsSync(join(to, "result.json"))) {
        console.log(`${model} seed ${seed}: done (${join(to, "result.json")})`);
        continue;
      }
      console.log(`${model} seed ${seed}: training`);
      const t0 = performance.now();
      const result = await runOne(a, data, model, seed);
      const seconds = (performance.now() - t0) / 1000;
      mkdirSync(to, { recursive: true });
      copyLogs(join(a.work, a.spec.name, `${model}-s${seed}`), to);
      writeFileSync(join(to, "result.json"), `${JSON.stringify({ result, machine: machine() }, null, 2)}\n`);
      const last = result.at[result.at.length - 1];
      console.log(
        `${model} seed ${seed}: ${(100 * (last?.exact ?? NaN)).toFixed(1)}% exact after ${(result.train_s / 60).toFixed(1)} min of training (${seconds.toFixed(0)} s here)`,
      );
      writeSummary(a.spec, dir); // after every run: an experiment stopped later still has its tables
      writeResultsIndex(a.out);
    }
  console.log(`summary: ${writeSummary(a.spec, dir)}`); // also when every run was done before
  writeResultsIndex(a.out);
}
