/**
 * The dataset directory code (src/data/dir.ts) on an injected file system: a dataset written to memory has the
 * same bytes, file for file, as the one Node writes to disk; both read back to the same split; a streamed set
 * in memory equals the streamed one on disk; a missing or bad file in memory fails as it does on disk; and
 * build-dataset's recipe run on memory writes exactly the files the CLI writes.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { memoryDatasetFs, readSplitFrom, StreamingSetWriter, writeSplitTo } from "../src/data/dir.js";
import type { BuildIO } from "../src/data/recipes.js";
import { buildSudokuDir, SUDOKU_OPTIONS } from "../src/data/recipes.js";
import { parseOptions } from "../src/util/options.js";
import { hrm } from "./support/run-dir.js";
import { DatasetError } from "../src/data/format.js";
import { boxShapeFor, buildBoxSudokuDataset } from "../src/data/sudoku-box.js";
import {
  readSplit,
  StreamingSetWriter as DiskStreamingSetWriter,
  writeSplit,
} from "../src/platform/files.js";
import { Rng } from "../src/util/rng.js";

const dir = mkdtempSync(join(tmpdir(), "hrm-dataset-fs-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const d = buildBoxSudokuDataset(
  boxShapeFor(4),
  { trainCount: 30, testCount: 10, clues: 6, numAug: 2 },
  new Rng(5),
);
const train = { metadata: d.trainMeta, sets: new Map([["all", d.train]]) };

test("a dataset written to a memory file system has the bytes Node writes to disk, and reads back the same", () => {
  const mem = memoryDatasetFs();
  writeSplitTo(mem, "ds", "train", train);
  writeSplit(join(dir, "ds"), "train", train);
  const onDisk = readdirSync(join(dir, "ds", "train")).sort();
  assert.deepEqual([...mem.files.keys()].map((p) => p.replace("ds/train/", "")).sort(), onDisk);
  assert.equal(onDisk.length, 6); // dataset.json and the five arrays of set "all"
  for (const f of onDisk)
    assert.deepEqual(
      mem.files.get(`ds/train/${f}`),
      new Uint8Array(readFileSync(join(dir, "ds", "train", f))),
      f,
    );
  assert.deepEqual(readSplitFrom(mem, "ds", "train"), readSplit(join(dir, "ds"), "train"));
  assert.deepEqual(readSplitFrom(mem, "ds", "train").sets.get("all"), d.train);
});

test("a set streamed into memory equals the one streamed to disk", () => {
  const mem = memoryDatasetFs();
  const writers = [
    new StreamingSetWriter(mem, "s", "train", 16),
    new DiskStreamingSetWriter(join(dir, "s"), "train", 16),
  ];
  const set = d.train;
  for (let p = 0; p < set.puzzle_identifiers.length; p++) {
    for (let e = set.puzzle_indices[p]; e < set.puzzle_indices[p + 1]; e++)
      for (const w of writers)
        w.addExample(set.inputs.subarray(e * 16, (e + 1) * 16), set.labels.subarray(e * 16, (e + 1) * 16));
    for (const w of writers) w.endPuzzle(set.puzzle_identifiers[p]);
    if (set.group_indices.includes(p + 1)) for (const w of writers) w.endGroup();
  }
  for (const w of writers) w.finish(d.trainMeta);
  for (const f of readdirSync(join(dir, "s", "train")))
    assert.deepEqual(
      mem.files.get(`s/train/${f}`),
      new Uint8Array(readFileSync(join(dir, "s", "train", f))),
      f,
    );
  assert.deepEqual(readSplitFrom(mem, "s", "train").sets.get("all"), d.train);
});

test("a missing or damaged file in memory is a DatasetError naming it, as on disk", () => {
  const mem = memoryDatasetFs();
  writeSplitTo(mem, "m", "train", train);
  assert.throws(
    () => readSplitFrom(mem, "m", "test"),
    (e: Error) => e instanceof DatasetError && /m\/test\/dataset\.json: not found/.test(e.message),
  );
  mem.files.delete("m/train/all__labels.npy");
  assert.throws(
    () => readSplitFrom(mem, "m", "train"),
    (e: Error) =>
      e instanceof DatasetError &&
      /m\/train\/all__labels\.npy: missing \(listed by m\/train\/dataset\.json\)/.test(e.message),
  );
  writeSplitTo(mem, "m", "train", train);
  mem.files.set("m/train/all__inputs.npy", mem.files.get("m/train/all__inputs.npy")!.subarray(0, 100));
  assert.throws(() => readSplitFrom(mem, "m", "train"), /m\/train\/all__inputs\.npy/);
});

test("build-dataset's recipe on a memory file system writes the files the CLI writes to disk", () => {
  const words = ["size=4", "generate_train=40", "generate_test=10", "num_aug=2", "clues=6", "seed=3"];
  const mem = memoryDatasetFs();
  const io: BuildIO = {
    fs: mem,
    readText: () => {
      throw new Error("no CSV here");
    },
    readArcTasks: () => [],
    prepareOutput: () => {},
    progress: () => () => {},
    warn: () => {},
  };
  const lines = buildSudokuDir(parseOptions([...words, "output_dir=mem"], SUDOKU_OPTIONS), io);
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^mem\/train: 120 examples \(4x4\) in 40 groups$/);
  const out = join(dir, "cli-built");
  const r = hrm("build-dataset", "sudoku", ...words, `output_dir=${out}`);
  assert.equal(r.status, 0, r.stderr);
  const files = [
    "identifiers.json",
    ...["train", "test"].flatMap((s) => readdirSync(join(out, s)).map((f) => `${s}/${f}`)),
  ];
  assert.equal(files.length, 13);
  assert.deepEqual([...mem.files.keys()].sort(), files.map((f) => `mem/${f}`).sort());
  for (const f of files)
    assert.deepEqual(mem.files.get(`mem/${f}`), new Uint8Array(readFileSync(join(out, f))), f);
});
