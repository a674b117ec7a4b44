/**
 * `hrm build-dataset sudoku key=value...`: an official-format Sudoku dataset, either from CSV files in
 * Sudoku-Extreme's columns or from freshly generated puzzles (no download needed).
 */
import { join } from "node:path";
import { readFileSync } from "node:fs";
import type { SudokuRow } from "../src/data/sudoku.js";
import { buildSudokuSet, parseSudokuCsv, selectSudokuRows } from "../src/data/sudoku.js";
import { generateSudoku } from "../src/data/sudoku-solver.js";
import { writeIdentifiers, writeSplit } from "../src/platform/files.js";
import { Rng } from "../src/util/rng.js";
import type { Options, Schema } from "./parse.js";
import { CliError } from "./parse.js";

export const SUDOKU_SCHEMA: Schema = {
  output_dir: { type: "string", default: "data/sudoku", doc: "where to write the dataset" },
  train_csv: { type: "string", doc: "train CSV (source,question,answer,rating); omit to generate puzzles" },
  test_csv: { type: "string", doc: "test CSV; omit to generate puzzles" },
  subsample_size: { type: "int", doc: "keep this many train puzzles (official option)" },
  min_difficulty: { type: "int", doc: "keep rows with rating >= this, both splits (official option)" },
  num_aug: { type: "int", default: 0, doc: "shuffled copies per train puzzle (official option)" },
  generate_train: { type: "int", default: 1000, doc: "puzzles to generate for train when no train_csv" },
  generate_test: { type: "int", default: 200, doc: "puzzles to generate for test when no test_csv" },
  clues: { type: "int", default: 30, doc: "givens per generated puzzle (17..80)" },
  min_rating: { type: "int", default: 0, doc: "generated puzzles: minimum solver rating (dead ends)" },
  max_rating: { type: "int", doc: "generated puzzles: maximum solver rating" },
  skip_bad: { type: "bool", default: false, doc: "skip malformed CSV rows instead of stopping" },
  seed: { type: "int", default: 0, doc: "random seed (everything is deterministic for it)" },
};

function progress(label: string): (done: number, total: number) => void {
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    if (done === total || now - last > 500) {
      last = now;
      process.stderr.write(`\r${label}: ${done}/${total}${done === total ? "\n" : ""}`);
    }
  };
}

function rowsFor(o: Options, split: "train" | "test", rng: Rng): SudokuRow[] {
  const csv = o[`${split}_csv`] as string | undefined;
  if (csv) {
    const { rows, skipped } = parseSudokuCsv(readFileSync(csv, "utf8"), csv, o.skip_bad as boolean);
    if (skipped.length)
      console.warn(
        `${csv}: skipped ${skipped.length} malformed rows (first: line ${skipped[0].line}: ${skipped[0].reason})`,
      );
    return rows;
  }
  const n = o[`generate_${split}`] as number;
  const clues = o.clues as number;
  if (clues < 17 || clues > 80) throw new CliError(`clues=${clues}: a unique 9x9 Sudoku needs 17..80 givens`);
  const tick = progress(`generating ${split} puzzles (${clues} clues)`);
  const rows: SudokuRow[] = [];
  for (let i = 0; i < n; i++) {
    const p = generateSudoku(rng, {
      clues,
      minRating: o.min_rating as number,
      maxRating: o.max_rating as number | undefined,
    });
    rows.push({ ...p, line: i + 1 });
    tick(i + 1, n);
  }
  return rows;
}

export function buildSudoku(o: Options): void {
  const out = o.output_dir as string;
  const rng = new Rng(o.seed as number);
  const select = {
    subsample_size: o.subsample_size as number | undefined,
    min_difficulty: o.min_difficulty as number | undefined,
    num_aug: o.num_aug as number,
  };
  for (const split of ["train", "test"] as const) {
    const rows = selectSudokuRows(rowsFor(o, split, rng), select, split, rng);
    const aug = split === "train" ? select.num_aug : 0;
    const { set, metadata } = buildSudokuSet(
      rows,
      aug,
      rng,
      progress(`building ${split} (${rows.length} puzzles x ${aug + 1})`),
    );
    writeSplit(out, split, { metadata, sets: new Map([["all", set]]) });
    console.log(`${join(out, split)}: ${set.inputs.length / 81} examples in ${rows.length} groups`);
  }
  writeIdentifiers(out, ["<blank>"]);
}
