/**
 * npm run bench:data [-- --arc]: time and peak memory of dataset builds (not a test).
 *  - Sudoku 1k recipe: 1000 puzzles x 1000 augmentations = 1,001,000 examples (targets: < 60 s, < 1 GB).
 *  - with --arc: ARC-AGI-1 + ConceptARC with 1000 augmentations, streamed to disk (target: < 2 GB peak;
 *    several GB of output, ~8 minutes here).
 * Output goes to a temporary directory that is removed afterwards.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ArcTask } from "../src/data/arc.js";
import { arcMetadata, parseCombined, writeArcDataset } from "../src/data/arc.js";
import { buildSudokuSet, parseSudokuCsv, selectSudokuRows } from "../src/data/sudoku.js";
import { StreamingSetWriter, writeSplit } from "../src/platform/files.js";
import { Rng } from "../src/util/rng.js";

const SHARED = new URL("../../../shared/data/", import.meta.url).pathname;

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

function sudoku(dir: string): void {
  const csv = join(SHARED, "sudoku/puzzles.csv");
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

function arc(dir: string): void {
  const load = (name: string, subset: string): ArcTask[] =>
    parseCombined(
      JSON.parse(readFileSync(join(SHARED, `arc/arc-agi_${name}_challenges.json`), "utf8")),
      JSON.parse(readFileSync(join(SHARED, `arc/arc-agi_${name}_solutions.json`), "utf8")),
      subset,
      name,
    );
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

const dir = mkdtempSync(join(tmpdir(), "hrm-bench-"));
try {
  sudoku(join(dir, "sudoku"));
  if (process.argv.includes("--arc")) arc(join(dir, "arc"));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
