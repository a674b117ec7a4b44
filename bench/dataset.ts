/**
 * npm run bench:data: time and peak memory of building the official Sudoku 1k recipe (1000 puzzles x 1000
 * augmentations = 1,001,000 examples) from shared/data/sudoku and writing it to a temporary directory.
 * Targets (issue): under 60 s and 1 GB on this machine.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildSudokuSet, parseSudokuCsv, selectSudokuRows } from "../src/data/sudoku.js";
import { writeSplit } from "../src/platform/files.js";
import { Rng } from "../src/util/rng.js";

const csv = new URL("../../../shared/data/sudoku/puzzles.csv", import.meta.url).pathname;
const numAug = Number(process.argv[2] ?? 1000);
let peak = 0;
const sample = () => (peak = Math.max(peak, process.memoryUsage().rss));
const timer = setInterval(sample, 50);
const t0 = performance.now();
const rows = selectSudokuRows(
  parseSudokuCsv(readFileSync(csv, "utf8"), csv).rows,
  { subsample_size: 1000, num_aug: numAug },
  "train",
  new Rng(0),
);
const { set, metadata } = buildSudokuSet(rows, numAug, new Rng(1));
const built = performance.now();
const dir = mkdtempSync(join(tmpdir(), "hrm-bench-"));
writeSplit(dir, "train", { metadata, sets: new Map([["all", set]]) });
const written = performance.now();
sample();
clearInterval(timer);
rmSync(dir, { recursive: true, force: true });
const n = set.inputs.length / 81;
console.log(`sudoku 1000 x ${numAug} augmentations: ${n} examples`);
console.log(
  `  build ${((built - t0) / 1000).toFixed(1)} s, write ${((written - built) / 1000).toFixed(1)} s, total ${((written - t0) / 1000).toFixed(1)} s`,
);
console.log(`  peak resident memory ${(peak / 2 ** 20).toFixed(0)} MB`);
