/**
 * Named experiments (`hrm experiment <name>`): the spec a committed experiments/<name>.yaml holds, each run's
 * result, and the summary written to docs/results/<name>/ (markdown tables, SVG charts). Pure: text and
 * records in, text out; the runner that trains and evaluates is cli/experiment.ts.
 */
import type { YamlValue } from "../util/yaml.js";
import { parseYaml } from "../util/yaml.js";
import type { MetricRecord, Series } from "./report.js";
import { lineChartSvg } from "./report.js";

export class ExperimentError extends Error {}

export interface ExperimentSpec {
  name: string;
  description: string;
  /** hrm build-dataset's kind and key=value words (output_dir is the runner's). */
  dataset: "sudoku" | "maze";
  data: string[];
  /** hrm train words every model shares; each model's words come after (and win). */
  train: string[];
  models: Record<string, string[]>;
  seeds: number[];
  /** Training minutes at which the held-out exact accuracy is reported. */
  minutes: number[];
  /** Segment limits of the think-longer sweep of each final checkpoint. */
  segments: number[];
  /** Adaptive halting's segment limit (0: no adaptive evaluation). */
  adaptive: number;
}

const KEYS = [
  "description",
  "dataset",
  "data",
  "train",
  "models",
  "seeds",
  "minutes",
  "segments",
  "adaptive",
];

function words(v: YamlValue | undefined, where: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ExperimentError(`${where}: expected a list of key=value words`);
  return v.map((w, i) => {
    const s = typeof w === "number" || typeof w === "boolean" ? String(w) : w;
    if (typeof s !== "string" || !/^[A-Za-z_][\w.]*=\S*$/.test(s))
      throw new ExperimentError(`${where}[${i}]: ${JSON.stringify(w)} is not a key=value word`);
    return s;
  });
}

function numbers(v: YamlValue | undefined, where: string, int: boolean, min: number): number[] {
  if (!Array.isArray(v) || v.length === 0) throw new ExperimentError(`${where}: expected a non-empty list`);
  return v.map((x, i) => {
    if (typeof x !== "number" || (int && !Number.isInteger(x)) || x < min)
      throw new ExperimentError(
        `${where}[${i}]: ${JSON.stringify(x)} is not ${int ? "an integer" : "a number"} >= ${min}`,
      );
    return x;
  });
}

/** Reads and checks a spec; every error names the file and the field. */
export function parseExperimentSpec(text: string, file: string, name: string): ExperimentSpec {
  const y = parseYaml(text, file);
  if (!y || typeof y !== "object" || Array.isArray(y))
    throw new ExperimentError(`${file}: expected a mapping`);
  for (const k of Object.keys(y))
    if (!KEYS.includes(k))
      throw new ExperimentError(`${file}: unknown key ${k} (expected ${KEYS.join(", ")})`);
  const at = (k: string) => `${file}: ${k}`;
  if (y.dataset !== "sudoku" && y.dataset !== "maze")
    throw new ExperimentError(`${at("dataset")}: ${JSON.stringify(y.dataset)}, expected sudoku or maze`);
  const m = y.models;
  if (!m || typeof m !== "object" || Array.isArray(m) || Object.keys(m).length === 0)
    throw new ExperimentError(`${at("models")}: expected a mapping of model name to key=value words`);
  const models: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(m)) {
    if (!/^[a-z0-9][a-z0-9_-]*$/.test(k))
      throw new ExperimentError(`${at("models")}: name ${JSON.stringify(k)} (lower case, digits, - and _)`);
    models[k] = words(v, at(`models.${k}`));
  }
  const minutes = numbers(y.minutes, at("minutes"), false, 0);
  if (minutes.some((x, i) => x <= 0 || (i > 0 && x <= minutes[i - 1])))
    throw new ExperimentError(`${at("minutes")}: expected positive values in increasing order`);
  const adaptive = y.adaptive ?? 0;
  if (typeof adaptive !== "number" || !Number.isInteger(adaptive) || adaptive < 0)
    throw new ExperimentError(`${at("adaptive")}: ${JSON.stringify(adaptive)}, expected an integer >= 0`);
  if (y.description !== undefined && typeof y.description !== "string")
    throw new ExperimentError(`${at("description")}: expected text`);
  const seeds = numbers(y.seeds, at("seeds"), true, 0);
  if (new Set(seeds).size !== seeds.length) throw new ExperimentError(`${at("seeds")}: repeated seed`);
  return {
    name,
    description: (y.description as string | undefined) ?? "",
    dataset: y.dataset,
    data: words(y.data, at("data")),
    train: words(y.train, at("train")),
    models,
    seeds,
    minutes,
    segments: numbers(y.segments, at("segments"), true, 1),
    adaptive,
  };
}

/** What one run (a model and a seed) measured. */
export interface RunResult {
  model: string;
  seed: number;
  params: number;
  steps: number;
  /** Training seconds (evaluations excluded), and each time mark's evaluation. */
  train_s: number;
  at: { minutes: number; step: number; train_s: number; exact: number }[];
  /** Exact accuracy by segment limit, from one pass of the sweep. */
  sweep: Record<string, number>;
  /** Evaluation at the trained limit (every puzzle runs halt_max_steps segments). */
  fixed: { segments: number; exact: number; seconds: number };
  adaptive: { limit: number; exact: number; segments: number; seconds: number } | null;
}

/** Each evaluation's step, training seconds and exact accuracy: timing.jsonl's eval lines paired by step. */
export function evalTimeline(
  metrics: MetricRecord[],
  timing: MetricRecord[],
  key = "all/exact_accuracy",
): { step: number; train_s: number; exact: number }[] {
  const exactAt = new Map<number, number>();
  for (const r of metrics) if (typeof r[key] === "number") exactAt.set(r.step as number, r[key]);
  return timing
    .filter((t) => typeof t.eval_s === "number" && exactAt.has(t.step as number))
    .map((t) => ({
      step: t.step as number,
      train_s: t.train_s as number,
      exact: exactAt.get(t.step as number)!,
    }));
}

/**
 * Held-out exact accuracy at each time mark: the last evaluation whose training time is within it (a run that
 * finished earlier counts its final evaluation).
 */
export function accuracyAtMinutes(
  metrics: MetricRecord[],
  timing: MetricRecord[],
  minutes: number[],
): RunResult["at"] {
  const evals = evalTimeline(metrics, timing);
  return minutes.flatMap((m) => {
    const within = evals.filter((e) => e.train_s <= m * 60);
    const e = within[within.length - 1];
    return e ? [{ minutes: m, ...e }] : [];
  });
}

/**
 * A training log thinned for committing: every record that is not a training step (evaluations, the header)
 * and every `stride`-th training step, stride chosen so at most `maxSteps` training records remain, plus the
 * last step, always kept. A 22,500-step run's log goes from 6.5 MB to about 0.6 MB.
 */
export function thinMetrics(records: MetricRecord[], maxSteps = 2000): MetricRecord[] {
  const isStep = (r: MetricRecord): boolean => Object.keys(r).some((k) => k.startsWith("train/"));
  const steps = records.filter(isStep);
  const stride = Math.max(1, Math.ceil(steps.length / maxSteps));
  const last = steps[steps.length - 1];
  return records.filter((r) => !isStep(r) || r === last || (r.step as number) % stride === 0);
}

/** "mean ± half-range" in percent (one value: the value alone). */
export function meanSpread(xs: number[], scale = 100, digits = 1): string {
  if (xs.length === 0) return "–";
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const half = (Math.max(...xs) - Math.min(...xs)) / 2;
  return xs.length === 1
    ? (scale * mean).toFixed(digits)
    : `${(scale * mean).toFixed(digits)} ± ${(scale * half).toFixed(digits)}`;
}

/** Where and on what the runs ran. */
export interface MachineInfo {
  cpu: string;
  cores: number;
  node: string;
  commit: string;
  backend: string;
  date: string;
}

function table(head: string[], rows: string[][]): string {
  return [
    `| ${head.join(" | ")} |`,
    `| ${head.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

const byModel = (spec: ExperimentSpec, results: RunResult[]) =>
  Object.keys(spec.models).map((m) => [m, results.filter((r) => r.model === m)] as const);

/** The rerun command for some models (all seeds of the spec unless given). */
export function rerunCommand(spec: ExperimentSpec, models?: string[], seeds?: number[]): string {
  const parts = [`npm run experiments -- ${spec.name}`];
  if (models) parts.push(`models=${models.join(",")}`);
  if (seeds) parts.push(`seeds=${seeds.join(",")}`);
  return `\`${parts.join(" ")}\``;
}

/** The tables of docs/results/<name>/README.md (without the machine section). */
export function experimentTables(spec: ExperimentSpec, results: RunResult[]): string {
  const groups = byModel(spec, results).filter(([, rs]) => rs.length > 0);
  const seedsOf = (rs: readonly RunResult[]) => rs.map((r) => r.seed).join(", ");
  const time = table(
    [
      "model",
      "parameters",
      "seeds",
      ...spec.minutes.map((m) => `exact % at ${m} min`),
      "training steps",
      "training min",
      "rerun",
    ],
    groups.map(([m, rs]) => [
      m,
      rs[0].params.toLocaleString("en-US"),
      seedsOf(rs),
      ...spec.minutes.map((mm) =>
        meanSpread(rs.flatMap((r) => r.at.filter((a) => a.minutes === mm).map((a) => a.exact))),
      ),
      meanSpread(
        rs.map((r) => r.steps),
        1,
        0,
      ),
      meanSpread(
        rs.map((r) => r.train_s / 60),
        1,
        1,
      ),
      rerunCommand(spec, [m]),
    ]),
  );
  const sweep = table(
    ["model", ...spec.segments.map((s) => `${s} seg`)],
    groups.map(([m, rs]) => [m, ...spec.segments.map((s) => meanSpread(rs.map((r) => r.sweep[String(s)])))]),
  );
  const parts = [
    "### Held-out exact accuracy by training time",
    "",
    time,
    "",
    "Mean ± half the range over the seeds. A run that finished before a mark counts its final evaluation.",
    "",
    "### Thinking longer: exact accuracy (%) by segment limit, final checkpoints",
    "",
    sweep,
  ];
  const act = groups.filter(([, rs]) => rs.every((r) => r.adaptive));
  if (act.length)
    parts.push(
      "",
      "### ACT: adaptive halting against the trained fixed limit",
      "",
      table(
        [
          "model",
          "fixed: segments",
          "fixed: exact %",
          "fixed: eval s",
          "adaptive: exact %",
          "adaptive: mean segments",
          "adaptive: eval s",
        ],
        act.map(([m, rs]) => [
          m,
          String(rs[0].fixed.segments),
          meanSpread(rs.map((r) => r.fixed.exact)),
          meanSpread(
            rs.map((r) => r.fixed.seconds),
            1,
            2,
          ),
          meanSpread(rs.map((r) => r.adaptive!.exact)),
          meanSpread(
            rs.map((r) => r.adaptive!.segments),
            1,
            2,
          ),
          meanSpread(
            rs.map((r) => r.adaptive!.seconds),
            1,
            2,
          ),
        ]),
      ),
      "",
      `Adaptive: the Q-head halts each puzzle (at most ${spec.adaptive} segments).`,
    );
  return parts.join("\n");
}

/** Held-out exact accuracy against training minutes, one line per run. */
export function accuracyChart(
  spec: ExperimentSpec,
  runs: { result: RunResult; metrics: MetricRecord[]; timing: MetricRecord[] }[],
): string {
  const series: Series[] = runs.map(({ result, metrics, timing }) => ({
    name: `${result.model} seed ${result.seed}`,
    points: evalTimeline(metrics, timing).map((e) => [e.train_s / 60, 100 * e.exact] as [number, number]),
  }));
  return lineChartSvg(`${spec.name}: held-out exact accuracy (%)`, series, 640, 320, "training minutes");
}

/** Where and how each run ran: the machine, kernels, Node, commit, date and training minutes. */
export function machineTable(runs: { result: RunResult; machine: MachineInfo }[]): string {
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
