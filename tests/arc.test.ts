/**
 * ARC: every task in the repository's sample (tests/fixtures/data/arc) parses; every augmented variant inverts back to its original (name ->
 * transform); canvases round-trip; the official split and identifier rules; bad grids are clear errors.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { ArcTask, Grid } from "../src/data/arc.js";
import {
  augmentTask,
  buildArcDataset,
  fromCanvas,
  invertGrid,
  parseCombined,
  parseVariantName,
  toCanvas,
  toGrid,
} from "../src/data/arc.js";
import { validateSet } from "../src/data/format.js";
import { Rng } from "../src/util/rng.js";
import { ARC_SAMPLE } from "./support/fixtures.js";

const ARC = ARC_SAMPLE;
const SETS: [string, string][] = [
  ["training", "training"],
  ["evaluation", "evaluation"],
  ["concept", "concept"],
  ["training2", "training"],
  ["evaluation2", "evaluation"],
];
const load = (name: string, subset: string): ArcTask[] => {
  const file = join(ARC, `arc-agi_${name}_challenges.json`);
  return parseCombined(
    JSON.parse(readFileSync(file, "utf8")),
    JSON.parse(readFileSync(join(ARC, `arc-agi_${name}_solutions.json`), "utf8")),
    subset,
    file,
  );
};
const all = SETS.flatMap(([n, s]) => load(n, s));
const same = (a: Grid, b: Grid) => a.h === b.h && a.w === b.w && a.data.every((x, i) => x === b.data[i]);

test("every ARC task parses (ARC-AGI-1, ARC-AGI-2, ConceptARC)", () => {
  assert.equal(all.length, 26, "the sample's task count (tests/fixtures/data/arc/README.md)");
  assert.ok(all.every((t) => t.train.length > 0 && t.test.length > 0));
  assert.ok(
    all.some((t) => t.test.length > 1),
    "the sample has a task with several test inputs",
  );
  assert.ok(
    all.some((t) => [...t.train, ...t.test].some((p) => p.input.h === 30 && p.input.w === 30)),
    "the sample has a 30x30 grid",
  );
});

test("every augmented variant of every task inverts back to the original", () => {
  const rng = new Rng(1);
  for (const task of all) {
    const variants = augmentTask(task, 3, rng);
    assert.equal(variants[0].name, task.name);
    assert.ok(variants.length >= 2, `${task.name}: no variant`);
    for (const v of variants) {
      const { task: orig, tid, colours } = parseVariantName(v.name);
      assert.equal(orig, task.name);
      assert.equal(colours[0], 0, "colour 0 is fixed");
      const pairs = [...v.train, ...v.test];
      const origPairs = [...task.train, ...task.test];
      pairs.forEach((p, i) => {
        assert.ok(same(invertGrid(p.input, tid, colours), origPairs[i].input), `${v.name} pair ${i} input`);
        assert.ok(
          same(invertGrid(p.output, tid, colours), origPairs[i].output),
          `${v.name} pair ${i} output`,
        );
      });
    }
  }
});

test("canvas: EOS frame below and right, corner PAD, round trip at every offset", () => {
  const g = toGrid(
    [
      [0, 1, 2],
      [3, 4, 5],
    ],
    "t",
  );
  const c = toCanvas(g, 0, 0);
  assert.deepEqual([...c.subarray(0, 4)], [2, 3, 4, 1]);
  assert.deepEqual([...c.subarray(60, 64)], [1, 1, 1, 0], "EOS row below, corner PAD");
  for (const [r, col] of [
    [0, 0],
    [5, 7],
    [28, 27],
  ])
    assert.ok(same(fromCanvas(toCanvas(g, r, col))!, g));
  const full = toGrid(
    Array.from({ length: 30 }, () => new Array(30).fill(7)),
    "t",
  );
  assert.ok(same(fromCanvas(toCanvas(full, 0, 0))!, full), "30x30 has no room for EOS");
});

test("bad grids name the task and the problem", () => {
  assert.throws(
    () => toGrid([[1, 2], [3]], "f.json task abc train[0].input"),
    /f.json task abc train\[0\].input: ragged grid \(row 1 has 1 cells, row 0 has 2\)/,
  );
  assert.throws(() => toGrid([[1, 10]], "x"), /colour 10 at \(0, 1\) is not an integer 0..9/);
  assert.throws(
    () =>
      toGrid(
        Array.from({ length: 31 }, () => [1]),
        "x",
      ),
    /grid is 31x1, the maximum is 30x30/,
  );
  assert.throws(
    () => parseCombined({ t1: { train: [], test: [{ input: [[1]] }] } }, {}, "evaluation", "c.json"),
    /c.json: task t1 has no entry in the solutions file/,
  );
});

test("builder: official split rules, shared identifiers, translation only in train", () => {
  const tasks = [
    ...load("training", "training").slice(0, 3),
    ...load("evaluation", "evaluation").slice(0, 2),
  ];
  const ds = buildArcDataset(tasks, { numAug: 4, testSubsets: ["evaluation"] }, new Rng(3));
  const { train, test } = ds.splits;
  validateSet(train.metadata, train.set, "arc/train");
  validateSet(test.metadata, test.set, "arc/test");
  assert.equal(train.metadata.total_groups, 5);
  assert.equal(test.metadata.total_groups, 2, "only evaluation tasks have test pairs in the test split");
  assert.equal(ds.identifiers[0], "<blank>");
  assert.equal(train.metadata.num_puzzle_identifiers, ds.identifiers.length);
  // Evaluation tasks: demonstration pairs in train and test pairs in test under the same identifier.
  const evalName = tasks[3].name;
  const id = ds.identifiers.indexOf(evalName);
  assert.ok(train.set.puzzle_identifiers.includes(id) && test.set.puzzle_identifiers.includes(id));
  const trainPuzzle = [...train.set.puzzle_identifiers].indexOf(id);
  assert.equal(
    train.set.puzzle_indices[trainPuzzle + 1] - train.set.puzzle_indices[trainPuzzle],
    tasks[3].train.length,
  );
  // Training tasks: train and test pairs merged into the train split.
  const p0 = [...train.set.puzzle_identifiers].indexOf(ds.identifiers.indexOf(tasks[0].name));
  assert.equal(
    train.set.puzzle_indices[p0 + 1] - train.set.puzzle_indices[p0],
    tasks[0].train.length + tasks[0].test.length,
  );
  // Test split: never translated (every grid starts at the top-left).
  for (let e = 0; e < test.set.inputs.length / 900; e++)
    assert.ok(test.set.inputs[e * 900] >= 2, `test example ${e} translated`);
  // Train split: decoding every example gives back a grid of its variant (the translation is undone).
  let translated = 0;
  for (let e = 0; e < train.set.inputs.length / 900; e++) {
    if (train.set.inputs[e * 900] < 2) translated++;
    assert.ok(fromCanvas(train.set.inputs.subarray(e * 900, (e + 1) * 900)), `train example ${e} decodes`);
  }
  assert.ok(translated > 0, "some train examples are translated");
});

test("the ARC builder is deterministic for a seed", () => {
  const tasks = load("concept", "concept").slice(0, 4);
  const a = buildArcDataset(tasks, { numAug: 5, testSubsets: ["evaluation"] }, new Rng(42));
  const b = buildArcDataset(tasks, { numAug: 5, testSubsets: ["evaluation"] }, new Rng(42));
  const c = buildArcDataset(tasks, { numAug: 5, testSubsets: ["evaluation"] }, new Rng(43));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.identifiers, c.identifiers);
});
