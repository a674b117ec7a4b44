/**
 * `hrm build-dataset sudoku|maze|arc key=value...`: official-format datasets, either from CSV files in the
 * official columns (source,question,answer,rating) or from freshly generated puzzles (no download needed).
 */
import { join } from "node:path";
import { readdirSync, statSync } from "node:fs";
import type { SudokuRow } from "../src/data/sudoku.js";
import { buildSudokuSet, parseSudokuCsv, selectSudokuRows } from "../src/data/sudoku.js";
import { generateSudoku, solveSudoku } from "../src/data/sudoku-solver.js";
import { boxShapeFor, buildBoxSudokuDataset } from "../src/data/sudoku-box.js";
import type { Maze } from "../src/data/maze.js";
import { buildMazeSet, generateMaze, isSolvedMaze, parseMazeCsv } from "../src/data/maze.js";
import { StreamingSetWriter, writeIdentifiers, writeSplit } from "../src/platform/files.js";
import { ensureWritableDir, readJson, readText } from "../src/platform/fs.js";
import type { ArcTask } from "../src/data/arc.js";
import { arcMetadata, parseCombined, parseTask, writeArcDataset } from "../src/data/arc.js";
import { Rng } from "../src/util/rng.js";
import type { Options, Schema } from "./parse.js";
import { progress } from "./progress.js";
import { CliError } from "./parse.js";

/** Far above the official recipes (1000 augmentations, 1000 puzzles); past this a typo would fill the disk. */
const MAX_AUG = 100_000;
const MAX_GENERATE = 10_000_000;

export const SUDOKU_SCHEMA = {
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

function rowsFor(o: Options, split: "train" | "test", rng: Rng): SudokuRow[] {
  const csv = o[`${split}_csv`] as string | undefined;
  if (csv) {
    const { rows: parsed, skipped } = parseSudokuCsv(readText(csv), csv, o.skip_bad as boolean);
    let rows = parsed;
    if (o.require_unique) {
      const tick = progress(`${csv}: checking uniqueness`);
      rows = parsed.filter((r, i) => {
        const count = solveSudoku(r.question, 2).count;
        tick(i + 1, parsed.length);
        if (count === 1) return true;
        const reason = count === 0 ? "has no solution" : "has several solutions";
        if (!o.skip_bad)
          throw new CliError(
            `${csv}:${r.line}: puzzle ${reason} (require_unique=true; skip_bad=true skips such rows)`,
          );
        skipped.push({ line: r.line, reason });
        return false;
      });
    }
    if (skipped.length)
      console.warn(
        `${csv}: skipped ${skipped.length} rows (first: line ${skipped[0].line}: ${skipped[0].reason})`,
      );
    return rows;
  }
  const n = o[`generate_${split}`] as number;
  const clues = (o.clues as number | undefined) ?? 30;
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

/** Small (4x4, 6x6) generated Sudoku: test puzzles guaranteed absent from train. */
function buildSmallSudoku(o: Options): void {
  const n = o.size as number;
  if (o.train_csv || o.test_csv)
    throw new CliError(`size=${n}: CSV input is 9x9 only; small puzzles are generated`);
  const box = boxShapeFor(n);
  const d = buildBoxSudokuDataset(
    box,
    {
      trainCount: o.generate_train as number,
      testCount: o.generate_test as number,
      clues: (o.clues as number | undefined) ?? (n === 6 ? 12 : 5),
      numAug: o.num_aug as number,
    },
    new Rng(o.seed as number),
  );
  const out = o.output_dir as string;
  writeSplit(out, "train", { metadata: d.trainMeta, sets: new Map([["all", d.train]]) });
  writeSplit(out, "test", { metadata: d.testMeta, sets: new Map([["all", d.test]]) });
  writeIdentifiers(out, ["<blank>"]);
  for (const [split, s] of [
    ["train", d.train],
    ["test", d.test],
  ] as const)
    console.log(
      `${join(out, split)}: ${s.inputs.length / (n * n)} examples (${n}x${n}) in ${s.group_indices.length - 1} groups`,
    );
}

export function buildSudoku(o: Options): void {
  ensureWritableDir(o.output_dir as string);
  if (o.size !== 9) {
    boxShapeFor(o.size as number); // names the supported sizes
    return buildSmallSudoku(o);
  }
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

export const MAZE_SCHEMA = {
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

function mazeRows(o: Options, split: "train" | "test", rng: Rng): Maze[] {
  const csv = o[`${split}_csv`] as string | undefined;
  if (csv) return parseMazeCsv(readText(csv), csv);
  const n = o[`generate_${split}`] as number;
  const tick = progress(`generating ${split} mazes`);
  const opts = {
    size: o.size as number,
    minPathLength: o.min_path_length as number,
    loopFraction: o.loop_fraction as number,
  };
  if (opts.size < 5) throw new CliError(`size=${opts.size}: mazes need a side of at least 5`);
  return Array.from({ length: n }, (_, i) => {
    const m = generateMaze(rng, opts);
    if (!isSolvedMaze(m.question, m.answer, m.size))
      throw new Error("internal: generated maze failed its own check");
    tick(i + 1, n);
    return m;
  });
}

export function buildMaze(o: Options): void {
  ensureWritableDir(o.output_dir as string);
  const out = o.output_dir as string;
  const rng = new Rng(o.seed as number);
  for (const split of ["train", "test"] as const) {
    const mazes = mazeRows(o, split, rng);
    const { set, metadata } = buildMazeSet(mazes, split === "train" && (o.aug as boolean));
    writeSplit(out, split, { metadata, sets: new Map([["all", set]]) });
    console.log(
      `${join(out, split)}: ${set.inputs.length / metadata.seq_len} examples in ${mazes.length} groups`,
    );
  }
  writeIdentifiers(out, ["<blank>"]);
}

export const ARC_SCHEMA = {
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

/** Tasks from a combined challenges file (subset from its name) or a folder of subset folders. */
function arcTasks(path: string): ArcTask[] {
  if (statSync(path).isDirectory()) {
    const tasks: ArcTask[] = [];
    for (const subset of readdirSync(path).sort()) {
      const dir = join(path, subset);
      if (!statSync(dir).isDirectory()) continue;
      for (const f of readdirSync(dir)
        .sort()
        .filter((n) => n.endsWith(".json")))
        tasks.push(parseTask(readJson(join(dir, f)), f.slice(0, -5), subset, join(dir, f)));
    }
    return tasks;
  }
  const m = /([^/]*?)_challenges\.json$/.exec(path);
  if (!m) throw new CliError(`input ${path}: expected a folder or a *_challenges.json file`);
  const subset = m[1].replace(/^arc-agi_/, "").replace(/\d+$/, ""); // evaluation2 -> evaluation
  const solutions = path.replace(/_challenges\.json$/, "_solutions.json");
  return parseCombined(readJson(path), readJson(solutions), subset, path);
}

/** Where the ARC data comes from: the project ships only a test sample (tests/fixtures/data/arc). */
const ARC_INPUT_HELP =
  "hrm build-dataset arc needs input=<files or folders>, e.g. " +
  "input=arc/arc-agi_training_challenges.json,arc/arc-agi_evaluation_challenges.json,arc/arc-agi_concept_challenges.json " +
  "(Kaggle combined files, from github.com/SamsungSAILMontreal/TinyRecursiveModels kaggle/combined/) " +
  "or a folder of subset folders of task .json files (github.com/fchollet/ARC-AGI data/, arcprize/ARC-AGI-2 data/)";

export function buildArc(o: Options): void {
  if (!o.input) throw new CliError(ARC_INPUT_HELP);
  ensureWritableDir(o.output_dir as string);
  const out = o.output_dir as string;
  const tasks = (o.input as string).split(",").flatMap((p) => arcTasks(p.trim()));
  const writers = {
    train: new StreamingSetWriter(out, "train", 900),
    test: new StreamingSetWriter(out, "test", 900),
  };
  const opts = { numAug: o.num_aug as number, testSubsets: (o.test_subsets as string).split(",") };
  const identifiers = writeArcDataset(
    tasks,
    opts,
    new Rng(o.seed as number),
    writers,
    progress(`augmenting ${tasks.length} tasks x ${opts.numAug + 1}`),
  );
  for (const split of ["train", "test"] as const) {
    writers[split].finish(arcMetadata(writers[split], identifiers.length));
    console.log(
      `${join(out, split)}: ${writers[split].examples} examples, ${writers[split].puzzles} puzzles, ${writers[split].groups} groups`,
    );
  }
  writeIdentifiers(out, identifiers);
}
