/** CLI parsing, one line per case, and `hrm build-dataset sudoku` end to end into a temp directory. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { SUDOKU_SCHEMA } from "../cli/build-dataset.js";
import { parseOptions } from "../cli/parse.js";
import { readSplit } from "../src/platform/files.js";
import { ARC_SAMPLE } from "./support/fixtures.js";

const HRM = fileURLToPath(new URL("../cli/hrm.js", import.meta.url));
const p = (...words: string[]) => parseOptions(words, SUDOKU_SCHEMA);

test("key=value parsing", () => {
  assert.equal(p().num_aug, 0);
  assert.equal(p("num_aug=1000").num_aug, 1000);
  assert.equal(p("skip_bad=true").skip_bad, true);
  assert.equal(p("output_dir=a=b").output_dir, "a=b");
  assert.equal(p("min_difficulty=5").min_difficulty, 5);
  assert.throws(() => p("num_aug=1.5"), /num_aug=1.5: expected an integer/);
  assert.throws(() => p("num_aug="), /num_aug=: expected an integer/);
  assert.throws(() => p("skip_bad=maybe"), /skip_bad=maybe: expected true or false/);
  assert.throws(() => p("numaug=3"), /unknown option "numaug" \(known: output_dir/);
  assert.throws(() => p("num_aug"), /"num_aug": options are written key=value/);
  assert.throws(() => p("seed=1", "seed=2"), /option "seed" given twice/);
});

function hrm(...args: string[]) {
  return spawnSync(process.execPath, [HRM, ...args], { encoding: "utf8" });
}

test("hrm build-dataset sudoku writes a valid official-format dataset, deterministically", () => {
  const dir = mkdtempSync(join(tmpdir(), "hrm-sudoku-"));
  try {
    const args = ["build-dataset", "sudoku", "generate_train=20", "generate_test=5", "num_aug=3", "seed=4"];
    let r = hrm(...args, `output_dir=${join(dir, "a")}`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /train: 80 examples in 20 groups/);
    r = hrm(...args, `output_dir=${join(dir, "b")}`);
    const a = readSplit(join(dir, "a"), "train");
    const b = readSplit(join(dir, "b"), "train");
    assert.equal(a.metadata.total_groups, 20);
    assert.deepEqual(a.sets.get("all"), b.sets.get("all"), "same seed, same dataset");
    assert.equal(readSplit(join(dir, "a"), "test").sets.get("all")!.inputs.length, 5 * 81);
    r = hrm("build-dataset", "sudoku", "clues=12", `output_dir=${join(dir, "c")}`);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /hrm: clues=12: a unique 9x9 Sudoku needs 17..80 givens/);
    assert.throws(() => readSplit(join(dir, "nope"), "train"), /nope\/train\/dataset.json: not found/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("hrm build-dataset maze writes generated mazes with augmentation", () => {
  const dir = mkdtempSync(join(tmpdir(), "hrm-maze-"));
  try {
    const r = hrm(
      "build-dataset",
      "maze",
      "generate_train=3",
      "generate_test=2",
      "aug=true",
      "size=15",
      "min_path_length=20",
      `output_dir=${dir}`,
    );
    assert.equal(r.status, 0, r.stderr);
    const train = readSplit(dir, "train");
    assert.equal(train.metadata.seq_len, 225);
    assert.equal(train.sets.get("all")!.inputs.length, 3 * 8 * 225);
    assert.equal(readSplit(dir, "test").sets.get("all")!.inputs.length, 2 * 225);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("hrm build-dataset arc streams a valid dataset matching the official sizes", () => {
  const dir = mkdtempSync(join(tmpdir(), "hrm-arc-"));
  try {
    const input = join(ARC_SAMPLE, "arc-agi_evaluation_challenges.json");
    const tasks = Object.values(JSON.parse(readFileSync(input, "utf8"))) as { train: []; test: [] }[];
    const demos = tasks.reduce((n, t) => n + t.train.length, 0);
    const tests = tasks.reduce((n, t) => n + t.test.length, 0);
    const r = hrm("build-dataset", "arc", `input=${input}`, "num_aug=2", `output_dir=${dir}`);
    assert.equal(r.status, 0, r.stderr);
    const train = readSplit(dir, "train"); // validates every array against the metadata
    const test = readSplit(dir, "test");
    assert.equal(train.metadata.total_groups, tasks.length);
    assert.equal(test.metadata.total_groups, tasks.length);
    assert.ok(tests > tasks.length, "the sample has a task with several test inputs");
    assert.equal(train.sets.get("all")!.inputs.length / 900, 3 * demos, "demonstration pairs x 3 variants");
    assert.equal(test.sets.get("all")!.inputs.length / 900, 3 * tests, "test inputs x 3 variants");
    const ids = JSON.parse(readFileSync(join(dir, "identifiers.json"), "utf8")) as string[];
    assert.equal(ids.length, train.metadata.num_puzzle_identifiers);
    assert.equal(ids[0], "<blank>");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("require_unique rejects (or with skip_bad counts) CSV puzzles without exactly one solution", () => {
  const dir = mkdtempSync(join(tmpdir(), "hrm-uniq-"));
  try {
    const answer = "483921657967345821251876493548132976729564138136798245372689514814253769695417382";
    const csv = join(dir, "t.csv");
    writeFileSync(
      csv,
      [
        "source,question,answer,rating",
        `s,${answer.slice(0, 80)}.,${answer},0`,
        `s,${".".repeat(81)},${answer},0`,
      ].join("\n"),
    );
    let r = hrm(
      "build-dataset",
      "sudoku",
      `train_csv=${csv}`,
      `test_csv=${csv}`,
      "require_unique=true",
      `output_dir=${join(dir, "o")}`,
    );
    assert.equal(r.status, 1);
    assert.match(r.stderr, /t.csv:3: puzzle has several solutions \(require_unique=true/);
    r = hrm(
      "build-dataset",
      "sudoku",
      `train_csv=${csv}`,
      `test_csv=${csv}`,
      "require_unique=true",
      "skip_bad=true",
      `output_dir=${join(dir, "o")}`,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /skipped 1 rows \(first: line 3: has several solutions\)/);
    assert.equal(readSplit(join(dir, "o"), "train").metadata.total_groups, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("hrm reports unknown commands and kinds", () => {
  assert.match(hrm("fly").stderr, /hrm: unknown command "fly"/);
  assert.match(hrm("build-dataset", "chess").stderr, /unknown kind "chess"/);
  assert.match(hrm("build-dataset", "sudoku", "--help").stdout, /num_aug .*official option/);
});

test("CLI conventions: --version, -h anywhere, --key=value, --dry-run prints the resolved config", () => {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL("../../package.json", import.meta.url)), "utf8"));
  assert.equal(hrm("--version").stdout.trim(), `hrm-ts ${pkg.version}`);
  for (const args of [
    ["-h"],
    ["build-dataset", "-h"],
    ["build-dataset", "maze", "-h"],
    ["solve", "-h"],
    ["eval", "-h"],
  ]) {
    const r = hrm(...args);
    assert.equal(r.status, 0, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stdout, /^usage: hrm/, args.join(" "));
  }
  const b = hrm("build-dataset", "sudoku", "--size=4", "num_aug=3", "--dry-run");
  assert.equal(b.status, 0, b.stderr);
  assert.match(b.stdout, /^size=4$/m);
  assert.match(b.stdout, /^num_aug=3$/m);
  const t = hrm("train", "--data_path=somewhere", "--arch.L_cycles=4", "--dry-run");
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stdout, /^data_path: somewhere$/m);
  assert.match(t.stdout, /^ {2}L_cycles: 4$/m);
  assert.match(
    hrm("train", "--arch.L_cycles=0", "data_path=x", "--dry-run").stderr,
    /L_cycles = 0: must be at least 1/,
  );
  assert.match(hrm("solve", "sudoku", "x", "--dry-run").stderr, /--dry-run: "solve" has no config/);
});
