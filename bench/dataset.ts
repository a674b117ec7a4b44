/**
 * npm run bench:data [-- --sudoku-csv=<file>] [--arc=<dir>]: time and peak memory of dataset builds (not a test).
 *  - Sudoku 1k recipe: 1000 puzzles x 1000 augmentations = 1,001,000 examples (targets: < 60 s, < 1 GB), from
 *    --sudoku-csv (default: the repository's 1000-puzzle sample).
 *  - with --arc=<dir>: ARC-AGI-1 + ConceptARC with 1000 augmentations from the Kaggle combined files in <dir>,
 *    streamed to disk (target: < 2 GB peak; several GB of output, ~8 minutes here).
 * Output goes to a temporary directory that is removed afterwards.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ArcTask } from "../src/data/arc.js";
import { arcMetadata, parseCombined, writeArcDataset } from "../src/data/arc.js";
import { buildSudokuSet, parseSudokuCsv, selectSudokuRows } from "../src/data/sudoku.js";
import { StreamingSetWriter, writeSplit } from "../src/platform/files.js";
import { Rng } from "../src/util/rng.js";

const SUDOKU_SAMPLE = fileURLToPath(new URL("../../tests/fixtures/data/sudoku/puzzles.csv", import.meta.url));

/** The value of --name=value, or undefined; a bare --name is an error naming what to pass. */
function flag(name: string, what: string): string | undefined {
  const arg = process.argv.slice(2).find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (arg === undefined) return undefined;
  const value = arg.slice(name.length + 3);
  if (!value) {
    console.error(`bench:data: --${name} needs a value: --${name}=<${what}>`);
    process.exit(2);
  }
  return value;
}

/** Runs fn while sampling resident memory every 50 ms; returns seconds and peak MB. */
function measure(fn: () => void): { seconds: number; peakMb: number } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const t0 = performance.now();
  fn();
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  return { seconds, peakMb: peak / 2 ** 20 };
}

function sudoku(dir: string, csv: string): void {
  let n = 0;
  const r = measure(() => {
    const rows = selectSudokuRows(
      parseSudokuCsv(readFileSync(csv, "utf8"), csv).rows,
      { subsample_size: 1000, num_aug: 1000 },
      "train",
      new Rng(0),
    );
    const { set, metadata } = buildSudokuSet(rows, 1000, new Rng(1));
    writeSplit(dir, "train", { metadata, sets: new Map([["all", set]]) });
    n = set.inputs.length / 81;
  });
  console.log(
    `sudoku 1000 x 1000 augmentations: ${n} examples, ${r.seconds.toFixed(1)} s, peak RSS ${r.peakMb.toFixed(0)} MB`,
  );
}

function arc(dir: string, arcDir: string): void {
  const load = (name: string, subset: string): ArcTask[] => {
    const file = join(arcDir, `arc-agi_${name}_challenges.json`);
    return parseCombined(
      JSON.parse(readFileSync(file, "utf8")),
      JSON.parse(readFileSync(join(arcDir, `arc-agi_${name}_solutions.json`), "utf8")),
      subset,
      file,
    );
  };
  let summary = "";
  const r = measure(() => {
    const tasks = [
      ...load("training", "training"),
      ...load("evaluation", "evaluation"),
      ...load("concept", "concept"),
    ];
    const w = {
      train: new StreamingSetWriter(dir, "train", 900),
      test: new StreamingSetWriter(dir, "test", 900),
    };
    const ids = writeArcDataset(
      tasks,
      { numAug: 1000, testSubsets: ["evaluation"] },
      new Rng(42),
      w,
      (done, total) => {
        if (done % 96 === 0) process.stderr.write(`arc: ${done}/${total} tasks\n`);
      },
    );
    for (const s of ["train", "test"] as const) w[s].finish(arcMetadata(w[s], ids.length));
    summary = `${w.train.examples} train + ${w.test.examples} test examples, ${ids.length} identifiers, ${(((w.train.examples + w.test.examples) * 1800) / 2 ** 30).toFixed(1)} GB`;
  });
  console.log(
    `arc-1 + concept x 1000 augmentations: ${summary}, ${r.seconds.toFixed(0)} s, peak RSS ${r.peakMb.toFixed(0)} MB`,
  );
}

const sudokuCsv = flag("sudoku-csv", "file") ?? SUDOKU_SAMPLE;
const arcDir = flag("arc", "folder with arc-agi_{training,evaluation,concept}_{challenges,solutions}.json");
const dir = mkdtempSync(join(tmpdir(), "hrm-bench-"));
try {
  sudoku(join(dir, "sudoku"), sudokuCsv);
  if (arcDir) arc(join(dir, "arc"), arcDir);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
