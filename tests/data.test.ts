/**
 * Datasets: the official format round trip and validation errors, the Sudoku CSV reader, the official
 * augmentation (a validity-preserving bijection, checked on every puzzle of the repository's Sudoku sample), the
 * solver against every answer in the sample, the generator's uniqueness, the builder and the sampler.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import type { PuzzleSet } from "../src/data/format.js";
import { decodeSet, encodeSet, validateSet } from "../src/data/format.js";
import { testBatches, trainBatches } from "../src/data/sampler.js";
import {
  buildSudokuSet,
  parseSudokuCsv,
  selectSudokuRows,
  shuffleSudoku,
  sudokuMetadata,
} from "../src/data/sudoku.js";
import { generateSudoku, isValidSolution, solveSudoku } from "../src/data/sudoku-solver.js";
import { Rng } from "../src/util/rng.js";
import { DIHEDRAL_INVERSE, dihedral } from "../src/data/dihedral.js";
import { buildMazeSet, generateMaze, isSolvedMaze, mazeTokens, PATH } from "../src/data/maze.js";
import { SUDOKU_SAMPLE } from "./support/fixtures.js";

const CSV = SUDOKU_SAMPLE;
const rows = parseSudokuCsv(readFileSync(CSV, "utf8"), CSV).rows;

test("puzzles.csv parses completely", () => {
  assert.equal(rows.length, 1000);
});

test("the solver solves every puzzle in puzzles.csv uniquely and matches its answer", () => {
  for (const r of rows) {
    const res = solveSudoku(r.question, 2);
    assert.equal(res.count, 1, `line ${r.line}: ${res.count} solutions`);
    assert.deepEqual(res.solution, r.answer, `line ${r.line}`);
  }
});

test("the official shuffle keeps every puzzle a valid Sudoku with the same unique solution", () => {
  const rng = new Rng(5);
  for (const r of rows) {
    const [q, a] = shuffleSudoku(r.question, r.answer, rng);
    assert.ok(isValidSolution(a), `line ${r.line}: shuffled answer invalid`);
    assert.equal(q.filter((d) => d).length, r.question.filter((d) => d).length, "same number of givens");
    for (let i = 0; i < 81; i++) if (q[i]) assert.equal(q[i], a[i], `line ${r.line}: given disagrees`);
    const res = solveSudoku(q, 2);
    assert.equal(res.count, 1);
    assert.deepEqual(
      res.solution,
      a,
      `line ${r.line}: the shuffled board's unique solution is the shuffled answer`,
    );
  }
});

test("generated puzzles have unique solutions at the asked clue count and rating", () => {
  const rng = new Rng(9);
  for (let i = 0; i < 20; i++) {
    const clues = 22 + (i % 10);
    const p = generateSudoku(rng, { clues, minRating: 0, maxRating: 1000 });
    assert.equal(p.question.filter((d) => d).length, clues);
    assert.ok(isValidSolution(p.answer));
    const res = solveSudoku(p.question, 2);
    assert.equal(res.count, 1);
    assert.deepEqual(res.solution, p.answer);
    assert.equal(res.backtracks, p.rating);
  }
  assert.throws(
    () => generateSudoku(new Rng(1), { clues: 17, minRating: 1e9, maxAttempts: 2 }),
    /no puzzle with 17 clues/,
  );
});

test("bad CSV rows: error with file and line, or counted skips", () => {
  const good =
    "s,..3.2.6..9..3.5..1..18.64....81.29..7.......8..67.82....26.95..8..2.3..9..5.1.3..,483921657967345821251876493548132976729564138136798245372689514814253769695417382,3";
  const text = [
    "source,question,answer,rating",
    good,
    "s,123,456,1",
    good.replace(",3", ",x"),
    good.replace("..3", "9.3"),
  ].join("\n");
  assert.throws(() => parseSudokuCsv(text, "f.csv"), /f.csv:3: question has 3 cells, expected 81/);
  const rep = parseSudokuCsv(text, "f.csv", true);
  assert.equal(rep.rows.length, 1);
  assert.deepEqual(
    rep.skipped.map((s) => s.line),
    [3, 4, 5],
  );
  assert.match(rep.skipped[2].reason, /given digit disagrees/);
});

test("Sudoku builder: groups of the original plus num_aug copies, official tokens and metadata, seeded", () => {
  const picked = selectSudokuRows(rows, { subsample_size: 5, num_aug: 3 }, "train", new Rng(1));
  const { set, metadata } = buildSudokuSet(picked, 3, new Rng(2));
  assert.equal(set.inputs.length, 20 * 81);
  assert.deepEqual([...set.group_indices], [0, 4, 8, 12, 16, 20]);
  assert.deepEqual(
    [...set.puzzle_indices],
    Array.from({ length: 21 }, (_, i) => i),
  );
  assert.deepEqual(metadata, sudokuMetadata(5));
  assert.deepEqual(
    [...set.inputs.subarray(0, 81)],
    [...picked[0].question].map((d) => d + 1),
    "the original comes first",
  );
  assert.ok(
    set.labels.every((t) => t >= 2 && t <= 10),
    "labels 2..10 on every cell",
  );
  validateSet(metadata, set, "train");
  const again = buildSudokuSet(
    selectSudokuRows(rows, { subsample_size: 5, num_aug: 3 }, "train", new Rng(1)),
    3,
    new Rng(2),
  ).set;
  assert.deepEqual(again, set, "deterministic for a seed");
  assert.equal(
    selectSudokuRows(rows, { min_difficulty: 50, num_aug: 0 }, "test", new Rng(1)).every(
      (r) => r.rating >= 50,
    ),
    true,
  );
});

test("format: every array round-trips through .npy and a written dataset validates", () => {
  const { set, metadata } = buildSudokuSet(rows.slice(0, 7), 2, new Rng(3));
  const files = encodeSet("all", set, 81);
  assert.deepEqual([...files.keys()].sort(), [
    "all__group_indices.npy",
    "all__inputs.npy",
    "all__labels.npy",
    "all__puzzle_identifiers.npy",
    "all__puzzle_indices.npy",
  ]);
  const back = decodeSet("all", metadata, (n) => files.get(n)!, "data/train");
  assert.deepEqual(back, set);
});

test("format validation names the file, field and first bad value", () => {
  const { set, metadata } = buildSudokuSet(rows.slice(0, 3), 1, new Rng(3));
  const broken = (patch: Partial<PuzzleSet>) => ({ ...set, ...patch });
  assert.throws(
    () => validateSet(metadata, broken({ group_indices: Int32Array.of(0, 4, 2, 6) }), "d/train"),
    /d\/train\/group_indices: not monotonic at index 2 \(4 then 2\)/,
  );
  assert.throws(
    () => validateSet(metadata, broken({ puzzle_indices: Int32Array.of(0, 1, 2, 3, 4, 5, 7) }), "d/train"),
    /puzzle_indices: ends at 7, expected 6/,
  );
  const inputs = set.inputs.slice();
  inputs[81 + 5] = 11;
  assert.throws(
    () => validateSet(metadata, broken({ inputs }), "d/train"),
    /inputs: token 11 at example 1, position 5 is not below vocab_size 11/,
  );
  assert.throws(
    () => validateSet(metadata, broken({ puzzle_identifiers: Int32Array.of(0, 0, 0, 0, 1, 0) }), "d/train"),
    /identifier 1 at puzzle 4 is outside \[0, 1\)/,
  );
  const files = encodeSet("all", set, 81);
  assert.throws(
    () => decodeSet("all", { ...metadata, seq_len: 80 }, (n) => files.get(n)!, "d/train"),
    /all__inputs.npy: shape \[6,81\] does not match seq_len 80/,
  );
});

test("sampler: full training batches, one puzzle per group per epoch, deterministic; test batches cover all", () => {
  const { set, metadata } = buildSudokuSet(rows.slice(0, 10), 4, new Rng(4));
  const B = 4;
  const batches = [...trainBatches(set, metadata, B, 7, 0, 3)];
  assert.equal(batches.length, Math.floor((10 * 3) / B), "30 groups drawn, last partial batch dropped");
  for (const b of batches) {
    assert.equal(b.effectiveSize, B);
    assert.ok(b.labels.every((y) => y >= 2 && y <= 10));
  }
  // Each drawn example is one of its group's 5 variants: group = example index / 5.
  const seen = batches.flatMap((b) =>
    Array.from({ length: B }, (_, r) => {
      const row = b.inputs.subarray(r * 81, (r + 1) * 81);
      for (let e = 0; e < 50; e++)
        if (row.every((t, i) => t === set.inputs[e * 81 + i])) return Math.floor(e / 5);
      return -1;
    }),
  );
  assert.ok(seen.every((g) => g >= 0));
  for (let epoch = 0; epoch < 2; epoch++)
    assert.equal(new Set(seen.slice(epoch * 10, epoch * 10 + 10)).size, 10, "every group once per epoch");
  assert.deepEqual(
    [...trainBatches(set, metadata, B, 7, 0, 3)],
    batches,
    "same seed and iteration, same batches",
  );
  assert.notDeepEqual([...trainBatches(set, metadata, B, 7, 1, 3)], batches, "the next iteration reshuffles");
  const test = [...testBatches(set, metadata, 16)];
  assert.deepEqual(
    test.map((b) => b.effectiveSize),
    [16, 16, 16, 2],
  );
  const last = test[3];
  assert.ok(
    last.inputs.subarray(2 * 81).every((t) => t === 0) &&
      last.labels.subarray(2 * 81).every((y) => y === -100),
  );
  assert.deepEqual([...test[0].inputs.subarray(0, 81)], [...set.inputs.subarray(0, 81)]);
});

test("dihedral transforms: the inverse table undoes each, on non-square grids", () => {
  const g = Int32Array.from({ length: 6 }, (_, i) => i); // 2 x 3
  for (let t = 0; t < 8; t++) {
    const a = dihedral(g, 2, 3, t);
    const back = dihedral(a.grid, a.H, a.W, DIHEDRAL_INVERSE[t]);
    assert.deepEqual([back.H, back.W], [2, 3]);
    assert.deepEqual([...back.grid], [...g], `transform ${t}`);
  }
  assert.deepEqual([...dihedral(g, 2, 3, 1).grid], [2, 5, 1, 4, 0, 3], "rot90 is counter-clockwise (numpy)");
  assert.deepEqual([...dihedral(g, 2, 3, 6).grid], [0, 3, 1, 4, 2, 5], "transpose");
});

test("maze generator: unique shortest paths of the asked length, official tokens, dihedral augmentation stays solved", () => {
  const rng = new Rng(2);
  const mazes = Array.from({ length: 6 }, () =>
    generateMaze(rng, { size: 30, minPathLength: 110, loopFraction: 0.08 }),
  );
  for (const m of mazes) {
    assert.ok(isSolvedMaze(m.question, m.answer, 30));
    assert.ok(m.answer.filter((t) => t === PATH).length + 1 >= 110);
    assert.ok(m.question.every((t) => t >= 1 && t <= 4) && m.answer.every((t) => t >= 1 && t <= 5));
  }
  const { set, metadata } = buildMazeSet(mazes, true);
  validateSet(metadata, set, "maze/train");
  assert.deepEqual([...set.group_indices], [0, 8, 16, 24, 32, 40, 48]);
  for (let e = 0; e < 48; e++)
    assert.ok(
      isSolvedMaze(
        set.inputs.subarray(e * 900, (e + 1) * 900),
        set.labels.subarray(e * 900, (e + 1) * 900),
        30,
      ),
      `example ${e}`,
    );
  const broken = mazes[0].answer.slice();
  broken[broken.indexOf(PATH)] = 2;
  assert.equal(isSolvedMaze(mazes[0].question, broken, 30), false);
  assert.throws(() => mazeTokens("#x", "m.csv:2"), /m.csv:2: character "x" at 1 is not one of "# SGo"/);
});
