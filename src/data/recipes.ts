/**
 * The dataset recipes of `hrm build-dataset`, as library functions with their official options: Sudoku (CSV
 * rows in the official columns, or generated 9x9, 6x6 and 4x4 puzzles), mazes (CSV or generated) and ARC (the
 * official augmentation), each written as an official dataset directory. Platform-neutral: files, progress
 * and messages go through a BuildIO (Node's: src/platform/datasets.ts). Each returns one line per split.
 */
import type { ArcTask } from "./arc.js";
import { arcMetadata, writeArcDataset } from "./arc.js";
import type { DatasetFs } from "./dir.js";
import { joinPath, StreamingSetWriter, writeIdentifiersTo, writeSplitTo } from "./dir.js";
import { DatasetError } from "./format.js";
import type { Maze } from "./maze.js";
import { buildMazeSet, generateMaze, isSolvedMaze, parseMazeCsv } from "./maze.js";
import type { SudokuRow } from "./sudoku.js";
import { buildSudokuSet, parseSudokuCsv, selectSudokuRows } from "./sudoku.js";
import { boxShapeFor, buildBoxSudokuDataset } from "./sudoku-box.js";
import { generateSudoku, solveSudoku } from "./sudoku-solver.js";
import type { OptionsOf, Schema } from "../util/options.js";
import { Rng } from "../util/rng.js";

/** What a recipe needs from its platform. */
export interface BuildIO {
  fs: DatasetFs;
  readText(path: string): string;
  /** ARC tasks from a combined *_challenges.json file or a folder of subset folders. */
  readArcTasks(path: string): ArcTask[];
  /** Called before any work: creates the output directory and proves it writable. */
  prepareOutput(dir: string): void;
  /** A progress callback for one long step (done, total). */
  progress(label: string): (done: number, total: number) => void;
  warn(message: string): void;
}

/** Far above the official recipes (1000 augmentations, 1000 puzzles); past this a typo would fill the disk. */
const MAX_AUG = 100_000;
const MAX_GENERATE = 10_000_000;

export const SUDOKU_OPTIONS = {
  output_dir: { kind: "string", default: "data/sudoku", doc: "where to write the dataset" },
  train_csv: { kind: "string", doc: "train CSV (source,question,answer,rating); omit to generate puzzles" },
  test_csv: { kind: "string", doc: "test CSV; omit to generate puzzles" },
  subsample_size: { kind: "int", min: 1, doc: "keep this many train puzzles (official option)" },
  min_difficulty: { kind: "int", doc: "keep rows with rating >= this, both splits (official option)" },
  num_aug: {
    kind: "int",
    default: 0,
    min: 0,
    max: MAX_AUG,
    doc: "shuffled copies per train puzzle (official option)",
  },
  generate_train: {
    kind: "int",
    default: 1000,
    min: 1,
    max: MAX_GENERATE,
    doc: "puzzles to generate for train when no train_csv",
  },
  generate_test: {
    kind: "int",
    default: 200,
    min: 1,
    max: MAX_GENERATE,
    doc: "puzzles to generate for test when no test_csv",
  },
  size: {
    kind: "int",
    default: 9,
    doc: "grid side: 9, or 6 / 4 for small generated puzzles (2x3 / 2x2 boxes)",
  },
  clues: {
    kind: "int",
    min: 0,
    doc: "givens per generated puzzle (default 30 for 9x9, 12 for 6x6, 5 for 4x4)",
  },
  min_rating: {
    kind: "int",
    default: 0,
    min: 0,
    doc: "generated puzzles: minimum solver rating (dead ends)",
  },
  max_rating: { kind: "int", min: 0, doc: "generated puzzles: maximum solver rating" },
  skip_bad: {
    kind: "bool",
    default: false,
    doc: "skip malformed CSV rows (and non-unique ones with require_unique) instead of stopping",
  },
  require_unique: {
    kind: "bool",
    default: false,
    doc: "check with the solver that every CSV puzzle has exactly one solution",
  },
  seed: { kind: "int", default: 0, doc: "random seed (everything is deterministic for it)" },
} satisfies Schema;

export type SudokuOptions = OptionsOf<typeof SUDOKU_OPTIONS>;

function csvRows(o: SudokuOptions, csv: string, io: BuildIO): SudokuRow[] {
  const { rows: parsed, skipped } = parseSudokuCsv(io.readText(csv), csv, o.skip_bad);
  let rows = parsed;
  if (o.require_unique) {
    const tick = io.progress(`${csv}: checking uniqueness`);
    rows = parsed.filter((r, i) => {
      const count = solveSudoku(r.question, 2).count;
      tick(i + 1, parsed.length);
      if (count === 1) return true;
      const reason = count === 0 ? "has no solution" : "has several solutions";
      if (!o.skip_bad)
        throw new DatasetError(
          `${csv}:${r.line}: puzzle ${reason} (require_unique=true; skip_bad=true skips such rows)`,
        );
      skipped.push({ line: r.line, reason });
      return false;
    });
  }
  if (skipped.length)
    io.warn(`${csv}: skipped ${skipped.length} rows (first: line ${skipped[0].line}: ${skipped[0].reason})`);
  return rows;
}

function sudokuRows(o: SudokuOptions, split: "train" | "test", rng: Rng, io: BuildIO): SudokuRow[] {
  const csv = split === "train" ? o.train_csv : o.test_csv;
  if (csv) return csvRows(o, csv, io);
  const n = split === "train" ? o.generate_train : o.generate_test;
  const clues = o.clues ?? 30;
  if (clues < 17 || clues > 80)
    throw new DatasetError(`clues=${clues}: a unique 9x9 Sudoku needs 17..80 givens`);
  const tick = io.progress(`generating ${split} puzzles (${clues} clues)`);
  const rows: SudokuRow[] = [];
  for (let i = 0; i < n; i++) {
    const p = generateSudoku(rng, { clues, minRating: o.min_rating, maxRating: o.max_rating });
    rows.push({ ...p, line: i + 1 });
    tick(i + 1, n);
  }
  return rows;
}

/** Small (4x4, 6x6) generated Sudoku: test puzzles guaranteed absent from train. */
function buildSmallSudoku(o: SudokuOptions, io: BuildIO): string[] {
  const n = o.size;
  if (o.train_csv || o.test_csv)
    throw new DatasetError(`size=${n}: CSV input is 9x9 only; small puzzles are generated`);
  const counts = {
    trainCount: o.generate_train,
    testCount: o.generate_test,
    clues: o.clues ?? (n === 6 ? 12 : 5),
    numAug: o.num_aug,
  };
  const d = buildBoxSudokuDataset(boxShapeFor(n), counts, new Rng(o.seed));
  const out = o.output_dir;
  writeSplitTo(io.fs, out, "train", { metadata: d.trainMeta, sets: new Map([["all", d.train]]) });
  writeSplitTo(io.fs, out, "test", { metadata: d.testMeta, sets: new Map([["all", d.test]]) });
  writeIdentifiersTo(io.fs, out, ["<blank>"]);
  return (
    [
      ["train", d.train],
      ["test", d.test],
    ] as const
  ).map(
    ([split, s]) =>
      `${joinPath(out, split)}: ${s.inputs.length / (n * n)} examples (${n}x${n}) in ${s.group_indices.length - 1} groups`,
  );
}

/** Sudoku: 9x9 from CSV or generated (the official recipe: subsample, min_difficulty, num_aug), or small. */
export function buildSudokuDir(o: SudokuOptions, io: BuildIO): string[] {
  io.prepareOutput(o.output_dir);
  if (o.size !== 9) {
    boxShapeFor(o.size); // names the supported sizes
    return buildSmallSudoku(o, io);
  }
  const rng = new Rng(o.seed);
  const select = { subsample_size: o.subsample_size, min_difficulty: o.min_difficulty, num_aug: o.num_aug };
  const lines: string[] = [];
  for (const split of ["train", "test"] as const) {
    const rows = selectSudokuRows(sudokuRows(o, split, rng, io), select, split, rng);
    const aug = split === "train" ? select.num_aug : 0;
    const label = `building ${split} (${rows.length} puzzles x ${aug + 1})`;
    const { set, metadata } = buildSudokuSet(rows, aug, rng, io.progress(label));
    writeSplitTo(io.fs, o.output_dir, split, { metadata, sets: new Map([["all", set]]) });
    lines.push(
      `${joinPath(o.output_dir, split)}: ${set.inputs.length / 81} examples in ${rows.length} groups`,
    );
  }
  writeIdentifiersTo(io.fs, o.output_dir, ["<blank>"]);
  return lines;
}

export const MAZE_OPTIONS = {
  output_dir: { kind: "string", default: "data/maze", doc: "where to write the dataset" },
  train_csv: {
    kind: "string",
    doc: "train CSV (source,question,answer,rating; '# SGo' grids); omit to generate",
  },
  test_csv: { kind: "string", doc: "test CSV; omit to generate" },
  aug: {
    kind: "bool",
    default: false,
    doc: "8 dihedral transforms per train maze, as one group (official option)",
  },
  generate_train: {
    kind: "int",
    default: 1000,
    min: 1,
    max: MAX_GENERATE,
    doc: "mazes to generate for train when no train_csv",
  },
  generate_test: {
    kind: "int",
    default: 200,
    min: 1,
    max: MAX_GENERATE,
    doc: "mazes to generate for test when no test_csv",
  },
  size: { kind: "int", default: 30, min: 5, max: 64, doc: "side of generated mazes (the official set: 30)" },
  min_path_length: {
    kind: "int",
    default: 110,
    doc: "generated mazes: shortest path at least this long (official hard: > 110)",
  },
  loop_fraction: {
    kind: "float",
    default: 0.08,
    doc: "generated mazes: share of inner walls opened to make loops",
  },
  seed: { kind: "int", default: 0, doc: "random seed" },
} satisfies Schema;

export type MazeOptions = OptionsOf<typeof MAZE_OPTIONS>;

function mazeRows(o: MazeOptions, split: "train" | "test", rng: Rng, io: BuildIO): Maze[] {
  const csv = split === "train" ? o.train_csv : o.test_csv;
  if (csv) return parseMazeCsv(io.readText(csv), csv);
  const n = split === "train" ? o.generate_train : o.generate_test;
  const tick = io.progress(`generating ${split} mazes`);
  const opts = { size: o.size, minPathLength: o.min_path_length, loopFraction: o.loop_fraction };
  if (opts.size < 5) throw new DatasetError(`size=${opts.size}: mazes need a side of at least 5`);
  return Array.from({ length: n }, (_, i) => {
    const m = generateMaze(rng, opts);
    if (!isSolvedMaze(m.question, m.answer, m.size))
      throw new Error("internal: generated maze failed its own check");
    tick(i + 1, n);
    return m;
  });
}

/** Mazes from CSV ('# SGo' grids) or generated, with the official dihedral augmentation (aug). */
export function buildMazeDir(o: MazeOptions, io: BuildIO): string[] {
  io.prepareOutput(o.output_dir);
  const rng = new Rng(o.seed);
  const lines: string[] = [];
  for (const split of ["train", "test"] as const) {
    const mazes = mazeRows(o, split, rng, io);
    const { set, metadata } = buildMazeSet(mazes, split === "train" && o.aug);
    writeSplitTo(io.fs, o.output_dir, split, { metadata, sets: new Map([["all", set]]) });
    lines.push(
      `${joinPath(o.output_dir, split)}: ${set.inputs.length / metadata.seq_len} examples in ${mazes.length} groups`,
    );
  }
  writeIdentifiersTo(io.fs, o.output_dir, ["<blank>"]);
  return lines;
}

export const ARC_OPTIONS = {
  output_dir: { kind: "string", default: "data/arc-aug-1000", doc: "where to write the dataset" },
  input: {
    kind: "string",
    doc: "comma-separated *_challenges.json files (with their *_solutions.json) and/or folders of subset folders of task .json files (required)",
  },
  num_aug: {
    kind: "int",
    default: 1000,
    min: 0,
    max: MAX_AUG,
    doc: "augmented variants per task (official option)",
  },
  test_subsets: {
    kind: "string",
    default: "evaluation",
    doc: "subsets whose test pairs form the test split",
  },
  seed: { kind: "int", default: 42, doc: "random seed (official default 42)" },
} satisfies Schema;

export type ArcOptions = OptionsOf<typeof ARC_OPTIONS>;

/** Where the ARC data comes from: the project ships only a test sample (tests/fixtures/data/arc). */
const ARC_INPUT_HELP =
  "hrm build-dataset arc needs input=<files or folders>, e.g. " +
  "input=arc/arc-agi_training_challenges.json,arc/arc-agi_evaluation_challenges.json,arc/arc-agi_concept_challenges.json " +
  "(Kaggle combined files, from github.com/SamsungSAILMontreal/TinyRecursiveModels kaggle/combined/) " +
  "or a folder of subset folders of task .json files (github.com/fchollet/ARC-AGI data/, arcprize/ARC-AGI-2 data/)";

/** ARC with the official augmentation, streamed to disk (the 1000-augmentation set is larger than memory). */
export function buildArcDir(o: ArcOptions, io: BuildIO): string[] {
  if (!o.input) throw new DatasetError(ARC_INPUT_HELP);
  io.prepareOutput(o.output_dir);
  const out = o.output_dir;
  const tasks = o.input.split(",").flatMap((p) => io.readArcTasks(p.trim()));
  const writers = {
    train: new StreamingSetWriter(io.fs, out, "train", 900),
    test: new StreamingSetWriter(io.fs, out, "test", 900),
  };
  const opts = { numAug: o.num_aug, testSubsets: o.test_subsets.split(",") };
  const label = `augmenting ${tasks.length} tasks x ${opts.numAug + 1}`;
  const identifiers = writeArcDataset(tasks, opts, new Rng(o.seed), writers, io.progress(label));
  const lines = (["train", "test"] as const).map((split) => {
    const w = writers[split];
    w.finish(arcMetadata(w, identifiers.length));
    return `${joinPath(out, split)}: ${w.examples} examples, ${w.puzzles} puzzles, ${w.groups} groups`;
  });
  writeIdentifiersTo(io.fs, out, identifiers);
  return lines;
}
