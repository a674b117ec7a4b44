/**
 * `hrm train [config=<file.yaml>] [key=value ...]` and `hrm train resume=<run dir>`: the library's training
 * session (src/platform/train-session.ts) with a progress bar and an evaluation table per iteration.
 */
import { getKernels } from "../src/node.js";
import { evalTableLines } from "../src/report/eval-table.js";
import type { StepProgress, TrainReporter, TrainResult } from "../src/platform/train-session.js";
import { trainConfigOf, trainFromWords } from "../src/platform/train-session.js";
import { nestConfig, RUN_SPEC } from "../src/train/config.js";
import { dumpYaml } from "../src/util/yaml.js";
import type { ProgressState } from "./progress.js";
import { progress, ProgressBar } from "./progress.js";

export type { TrainResult } from "../src/platform/train-session.js";
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

/** The resolved config as the YAML a run saves (all_config.yaml), for --dry-run. */
export const trainConfigYaml = (words: string[]): string => dumpYaml(nestConfig(trainConfigOf(words)));

const live = (p: StepProgress): ProgressState => {
  const m = p.metrics;
  const pairs: [string, number][] = [
    ["loss", m["train/lm_loss"] ?? NaN],
    ["acc", m["train/accuracy"] ?? NaN],
    ["exact", m["train/exact_accuracy"] ?? NaN],
    ["steps", m["train/steps"] ?? NaN],
  ];
  return { ...p, live: pairs };
};

/** Prints the run as it goes: the bar on stderr, evaluation tables (not when quiet) and notes on stdout. */
export function consoleReporter(quiet: boolean, bar: ProgressBar): TrainReporter {
  const say = (s: string) => void (quiet || console.log(s));
  let last: ProgressState | null = null;
  let evalSet = "";
  let shown: ((d: number, t: number) => void) | null = null;
  const endBar = () => {
    if (last) bar.update(last, true); // the iteration's last step, even between redraws
    last = null;
    bar.break();
  };
  return {
    info: say,
    note: (s) => console.log(`note: ${s}`),
    step: (p) => bar.update((last = live(p))),
    evalProgress: (set, d, t) => {
      if (set !== evalSet) {
        endBar();
        [evalSet, shown] = [set, progress(`evaluating ${set} (batches)`)];
      }
      shown?.(d, t);
    },
    evaluated: (step, m, seconds) => {
      evalSet = "";
      if (!quiet) evalTableLines(step, m).forEach((l) => console.log(l));
      say(`  (${seconds.toFixed(1)} s)`);
    },
    ended: endBar,
  };
}

export async function runTrain(words: string[], opts: { quiet?: boolean } = {}): Promise<TrainResult> {
  const bar = new ProgressBar();
  try {
    return await trainFromWords(words, getKernels(), consoleReporter(opts.quiet ?? false, bar));
  } finally {
    bar.break();
  }
}
