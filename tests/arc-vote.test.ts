/** ARC voting on hand-made predictions with known answers: crop, de-augmentation, ranking, ties, pass@K, submission. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Grid } from "../src/data/arc.js";
import { toCanvas, transformGrid, variantName } from "../src/data/arc.js";
import { ArcVotes, cropCanvas, gridKey, scoreArc, submission, truthFromRows } from "../src/eval/arc-vote.js";

const g = (rows: number[][]): Grid => ({
  h: rows.length,
  w: rows[0].length,
  data: Uint8Array.from(rows.flat()),
});
const ID = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const PERM = [0, 3, 5, 1, 2, 4, 9, 8, 7, 6];
const INPUT = g([
  [1, 2, 3],
  [4, 5, 6],
]);
const A = g([
  [7, 7],
  [0, 1],
  [2, 3],
]);
const B = g([[9]]);

/** A prediction row for variant (tid, colours) of task `task`, predicting `answer` in original space. */
function row(task: string, tid: number, colours: number[], input: Grid, answer: Grid) {
  const name = tid === 0 && colours === ID ? task : variantName(task, tid, colours);
  return {
    name,
    input: toCanvas(transformGrid(input, tid, colours), 0, 0),
    pred: toCanvas(transformGrid(answer, tid, colours), 0, 0),
  };
}

test("official crop: largest top-left rectangle of colour tokens", () => {
  assert.deepEqual(cropCanvas(toCanvas(A, 0, 0)), A);
  // A ragged prediction: row 0 has 4 colours, rows 1-2 have 2 -> 3x2 (area 6) beats 1x4 (area 4).
  const c = new Uint8Array(900);
  [2, 3, 4, 5].forEach((t, i) => (c[i] = t));
  c[30] = c[31] = c[60] = c[61] = 6;
  assert.deepEqual(
    cropCanvas(c),
    g([
      [0, 1],
      [4, 4],
      [4, 4],
    ]),
  );
  assert.deepEqual(cropCanvas(new Uint8Array(900)), { h: 0, w: 0, data: new Uint8Array(0) });
});

test("votes are counted in the original frame; ranking by count, then mean q, then first seen", () => {
  const v = new ArcVotes();
  const add = (r: ReturnType<typeof row>, q: number) => v.add(r.name, r.input, r.pred, q);
  add(row("t1", 0, ID, INPUT, A), 0);
  add(row("t1", 1, PERM, INPUT, A), 0);
  add(row("t1", 5, PERM, INPUT, A), -3);
  add(row("t1", 2, ID, INPUT, B), 5);
  add(row("t1", 7, PERM, INPUT, B), 5);
  assert.deepEqual(v.inputs("t1"), [gridKey(INPUT)]); // every variant maps back to the same test input
  const ranked = v.ranked("t1", gridKey(INPUT));
  assert.deepEqual(
    ranked.map((c) => [c.key, c.count]),
    [
      [gridKey(A), 3],
      [gridKey(B), 2],
    ],
  );
  assert.ok(Math.abs(ranked[0].meanQ - (0.5 + 0.5 + 1 / (1 + Math.exp(3))) / 3) < 1e-12);
  // Equal counts: the higher mean sigmoid(q_halt) wins.
  const w = new ArcVotes();
  for (const [r, q] of [
    [row("t2", 0, ID, INPUT, A), -1],
    [row("t2", 3, PERM, INPUT, A), -1],
    [row("t2", 4, ID, INPUT, B), 2],
    [row("t2", 6, PERM, INPUT, B), 0],
  ] as const)
    w.add(r.name, r.input, r.pred, q);
  assert.equal(w.ranked("t2", gridKey(INPUT))[0].key, gridKey(B));
  // A full tie (count and mean q): the first seen candidate stays first.
  const x = new ArcVotes();
  x.add(...(Object.values(row("t3", 0, ID, INPUT, B)) as [string, Uint8Array, Uint8Array]), 1);
  x.add(...(Object.values(row("t3", 1, ID, INPUT, A)) as [string, Uint8Array, Uint8Array]), 1);
  assert.deepEqual(
    x.ranked("t3", gridKey(INPUT)).map((c) => c.key),
    [gridKey(B), gridKey(A)],
  );
});

test("pass@K is all-or-nothing over a task's test inputs; submission keeps the top two", () => {
  const IN2 = g([[3]]);
  const v = new ArcVotes();
  const add = (r: ReturnType<typeof row>, q = 0) => v.add(r.name, r.input, r.pred, q);
  // Task "solo": right at 1.  Task "pair": input 1 right at 1, input 2 right only at 2.
  add(row("solo", 0, ID, INPUT, A));
  add(row("pair", 0, ID, INPUT, A));
  add(row("pair", 0, ID, IN2, B));
  add(row("pair", 1, PERM, IN2, B));
  add(row("pair", 2, PERM, IN2, A), 3);
  const truth = truthFromRows([
    { name: "solo", input: toCanvas(INPUT, 0, 0), label: toCanvas(A, 0, 0) },
    { name: "pair", input: toCanvas(INPUT, 0, 0), label: toCanvas(A, 0, 0) },
    { name: "pair", input: toCanvas(IN2, 0, 0), label: toCanvas(A, 0, 0) },
    { name: variantName("pair", 1, PERM), input: new Uint8Array(900), label: new Uint8Array(900) }, // ignored
  ]);
  const s = scoreArc(v, truth, [1, 2]);
  assert.equal(s.tasks, 2);
  assert.deepEqual(s.perTask, { solo: { 1: true, 2: true }, pair: { 1: false, 2: true } });
  assert.deepEqual(s.passAt, { 1: 0.5, 2: 1 });
  const sub = submission(v);
  assert.deepEqual(sub.solo, [
    {
      attempt_1: [
        [7, 7],
        [0, 1],
        [2, 3],
      ],
      attempt_2: [
        [7, 7],
        [0, 1],
        [2, 3],
      ],
    },
  ]);
  assert.deepEqual(sub.pair[1], {
    attempt_1: [[9]],
    attempt_2: [
      [7, 7],
      [0, 1],
      [2, 3],
    ],
  });
});
