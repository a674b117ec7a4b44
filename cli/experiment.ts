/**
 * `hrm experiment <name | file.yaml> [models=a,b] [seeds=0,1] [out=docs/results] [work=runs/experiments]`
 * (npm run experiments -- <name>): the library's experiment runner (src/platform/experiment-run.ts) with a
 * progress bar per training run; a stopped run resumes when the same command runs again.
 */
import { join } from "node:path";
import { getKernels } from "../src/node.js";
import { experimentArgs, runExperiment as run } from "../src/platform/experiment-run.js";
import type { Schema } from "./parse.js";
import { CliError, parseOptions } from "./parse.js";
import { progress, ProgressBar } from "./progress.js";
import { consoleReporter } from "./train.js";

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

export async function runExperiment(words: string[]): Promise<void> {
  const [target, ...rest] = words;
  if (!target || target.includes("="))
    throw new CliError(
      "usage: hrm experiment <name | file.yaml> [models=a,b] [seeds=0,1] [out=...] [work=...]",
    );
  const args = experimentArgs(target, parseOptions(rest, EXPERIMENT_SCHEMA));
  const bar = new ProgressBar();
  try {
    const reporter = {
      kernels: getKernels(),
      say: (l: string) => console.log(l),
      training: consoleReporter(true, bar),
      progress,
    };
    console.log(`summary: ${await run(args, reporter)}`);
  } finally {
    bar.break();
  }
}
