/**
 * Sudoku datasets as the official build_sudoku_dataset.py makes them, but seeded: rows from a CSV in
 * Sudoku-Extreme's columns (source,question,answer,rating; '.' or '0' blank), optional min_difficulty filter
 * (both splits) and subsample (train only), then for every train puzzle the original plus num_aug shuffled
 * copies (transpose w.p. 1/2, band/stack shuffles, row/column shuffles within them, digit relabel) as one
 * group of one-example puzzles. Tokens: 0 PAD, 1 blank, 2..10 digits 1..9; labels cover all 81 cells.
 */
import type { Rng } from "../util/rng.js";
import type { DatasetMetadata, PuzzleSet } from "./format.js";
import { csvLines } from "./csv.js";
import { DatasetError, SetBuilder } from "./format.js";
import { quote } from "../io/limits.js";

export interface SudokuRow {
  question: Uint8Array; // [81] 0 = blank, 1..9
  answer: Uint8Array; // [81] 1..9
  rating: number;
  line: number;
}

export interface ParseReport {
  rows: SudokuRow[];
  skipped: { line: number; reason: string }[];
}

function digits(s: string, blanks: boolean): Uint8Array | string {
  if (s.length !== 81) return `has ${s.length} cells, expected 81`;
  const out = new Uint8Array(81);
  for (let i = 0; i < 81; i++) {
    const ch = s[i];
    if (blanks && (ch === "." || ch === "0")) continue;
    const d = ch.charCodeAt(0) - 48;
    if (!(d >= 1 && d <= 9)) return `cell ${i} is ${quote(ch)}`;
    out[i] = d;
  }
  return out;
}

export { CSV_HEADER } from "./csv.js";

/** Parses the CSV (header row checked). A bad row throws with file and line, or is skipped when `skipBad`. */
export function parseSudokuCsv(text: string, file: string, skipBad = false): ParseReport {
  const rows: SudokuRow[] = [];
  const skipped: ParseReport["skipped"] = [];
  const lines = csvLines(text, file);
  for (let i = 1; i < lines.length; i++) {
    const raw = lines[i];
    if (raw.trim() === "") continue;
    const bad = (reason: string) => {
      if (!skipBad)
        throw new DatasetError(`${file}:${i + 1}: ${reason} (pass skip_bad=true to skip such rows)`);
      skipped.push({ line: i + 1, reason });
    };
    const cols = raw.split(",");
    if (cols.length !== 4) {
      bad(`expected 4 columns (source,question,answer,rating), got ${cols.length}`);
      continue;
    }
    const q = digits(cols[1], true);
    const a = digits(cols[2], false);
    const rating = /^\d{1,15}$/.test(cols[3].trim()) ? Number(cols[3]) : NaN; // official: int(rating)
    if (typeof q === "string") bad(`question ${q}`);
    else if (typeof a === "string") bad(`answer ${a}`);
    else if (!Number.isFinite(rating)) bad(`rating ${quote(cols[3], 30)} is not a non-negative integer`);
    else if (q.some((d, j) => d !== 0 && d !== a[j])) bad("a given digit disagrees with the answer");
    else rows.push({ question: q, answer: a, rating, line: i + 1 });
  }
  return { rows, skipped };
}

function perm(n: number, rng: Rng): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(0, i + 1);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/** A 3-level permutation of 0..8: shuffled bands (stacks), shuffled rows (columns) inside each. */
function bandPerm(rng: Rng): number[] {
  return perm(3, rng).flatMap((b) => perm(3, rng).map((r) => b * 3 + r));
}

/** The official shuffle_sudoku: one random validity-preserving transform applied to board and solution. */
export function shuffleSudoku(board: Uint8Array, solution: Uint8Array, rng: Rng): [Uint8Array, Uint8Array] {
  const digitMap = [0, ...perm(9, rng).map((d) => d + 1)];
  const transpose = rng.uniform() < 0.5;
  const rows = bandPerm(rng);
  const cols = bandPerm(rng);
  const apply = (g: Uint8Array) => {
    const out = new Uint8Array(81);
    for (let i = 0; i < 9; i++)
      for (let j = 0; j < 9; j++) {
        const [r, c] = transpose ? [cols[j], rows[i]] : [rows[i], cols[j]];
        out[i * 9 + j] = digitMap[g[r * 9 + c]];
      }
    return out;
  };
  return [apply(board), apply(solution)];
}

/** Official token mapping: value + 1 (blank -> 1, digits -> 2..10). */
export function sudokuTokens(grid: Uint8Array): Uint8Array {
  return grid.map((v) => v + 1);
}

export interface SudokuBuildOptions {
  subsample_size?: number;
  min_difficulty?: number;
  num_aug: number;
}

export function sudokuMetadata(groups: number): DatasetMetadata {
  return {
    pad_id: 0,
    ignore_label_id: 0,
    blank_identifier_id: 0,
    vocab_size: 11,
    seq_len: 81,
    num_puzzle_identifiers: 1,
    total_groups: groups,
    mean_puzzle_examples: 1,
    sets: ["all"],
  };
}

/** One split: every row (train: plus num_aug shuffled copies in its group); progress(done, total) optional. */
export function buildSudokuSet(
  rows: SudokuRow[],
  numAug: number,
  rng: Rng,
  progress?: (done: number, total: number) => void,
): { set: PuzzleSet; metadata: DatasetMetadata } {
  const b = new SetBuilder(81, rows.length * (numAug + 1));
  rows.forEach((row, i) => {
    b.addExample(sudokuTokens(row.question), sudokuTokens(row.answer));
    b.endPuzzle(0);
    for (let a = 0; a < numAug; a++) {
      const [q, s] = shuffleSudoku(row.question, row.answer, rng);
      b.addExample(sudokuTokens(q), sudokuTokens(s));
      b.endPuzzle(0);
    }
    b.endGroup();
    if (progress && (i % 64 === 63 || i === rows.length - 1)) progress(i + 1, rows.length);
  });
  return { set: b.build(), metadata: sudokuMetadata(rows.length) };
}

/** Official selection: min_difficulty on both splits, subsample (without replacement) on train only. */
export function selectSudokuRows(
  rows: SudokuRow[],
  opts: SudokuBuildOptions,
  split: "train" | "test",
  rng: Rng,
): SudokuRow[] {
  let out = opts.min_difficulty === undefined ? rows : rows.filter((r) => r.rating >= opts.min_difficulty!);
  if (split === "train" && opts.subsample_size !== undefined && opts.subsample_size < out.length) {
    const idx = perm(out.length, rng).slice(0, opts.subsample_size);
    out = idx.map((i) => out[i]);
  }
  return out;
}
