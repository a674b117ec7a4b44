/**
 * RowBatcher (continuous batching, shared by adaptive evaluation and hrm serve): jobs that join and leave a
 * running batch at different segments, each with its own limit and halting rule, get exactly the answer, q_halt
 * and segment count of solving that puzzle alone, on ref and on the fastest backend here, whatever row and
 * batch size they ran in; cancelled rows leave the others untouched.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { selectKernels } from "../src/kernels/select.js";
import { makeConfig } from "../src/model/config.js";
import { HRMInner } from "../src/model/inner.js";
import { HRMParams } from "../src/model/params.js";
import { getKernels } from "../src/node.js";
import type { RowJob } from "../src/eval/rows.js";
import { RowBatcher } from "../src/eval/rows.js";
import { solveRows } from "../src/eval/solve.js";
import { Rng } from "../src/util/rng.js";

const config = makeConfig({
  seq_len: 16,
  vocab_size: 6,
  hidden_size: 32,
  num_heads: 2,
  H_layers: 1,
  L_layers: 1,
  H_cycles: 2,
  L_cycles: 2,
  halt_max_steps: 8,
  puzzle_emb_ndim: 0,
  batch_size: 8,
});

/** Random weights with a random Q-head, so that rows halt at different segments. */
function params(): HRMParams {
  const p = HRMParams.init(config, 5);
  const rng = new Rng(9);
  const w = p.get("q_head.weight");
  for (let i = 0; i < w.length; i++) w[i] = rng.normal() * 0.5;
  p.get("q_head.bias").set([0.2, 0]);
  return p;
}

type Job = RowJob & { id: number };

function jobs(n: number): Job[] {
  const rng = new Rng(3);
  return Array.from({ length: n }, (_, id) => ({
    id,
    tokens: Int32Array.from({ length: 16 }, () => rng.int(1, 6)),
    puzzleId: 0,
    maxSteps: 1 + (id % 7),
    adaptive: id % 3 !== 0,
  }));
}

for (const [name, kernels] of [
  ["ref", () => selectKernels(null)],
  ["the fastest backend", () => getKernels()],
] as const) {
  test(`RowBatcher on ${name}: staggered jobs equal solving each alone, in any row and batch size`, () => {
    const inner = new HRMInner(params(), kernels());
    const all = jobs(40);
    const alone = all.map((j) =>
      solveRows(inner, j.tokens, Int32Array.of(0), { maxSteps: j.maxSteps, adaptive: j.adaptive }),
    );
    const rows = new RowBatcher<Job>(inner, 8);
    const got = new Map<number, { preds: Int32Array; qHalt: number; steps: number }>();
    const decoded = new Map<number, number>(); // segments each job's predictions were decoded at
    const seen = new Map<number, number>(); // segments each job was reported at
    let next = 0;
    let round = 0;
    let cancelled: Job | null = null;
    while (next < all.length || rows.active > 0) {
      // 1, 2 or 3 new jobs per segment: the batch size keeps changing.
      for (let k = 0; k < 1 + (round % 3) && rows.free > 0 && next < all.length; k++) rows.add(all[next++]);
      if (round === 4) {
        cancelled = all[next - 1];
        assert.ok(rows.remove(cancelled));
        assert.equal(rows.remove(cancelled), false);
      }
      const done = rows.step(
        (s) => {
          seen.set(s.job.id, (seen.get(s.job.id) ?? 0) + 1);
          if (s.preds) decoded.set(s.job.id, (decoded.get(s.job.id) ?? 0) + 1);
        },
        (j) => j.id % 5 === 0,
      );
      for (const d of done) got.set(d.job.id, d);
      round++;
    }
    assert.ok(cancelled && !got.has(cancelled.id));
    assert.equal(got.size, all.length - 1);
    const steps = new Set<number>();
    for (const j of all) {
      if (j === cancelled) continue;
      const g: { preds: Int32Array; qHalt: number; steps: number } = got.get(j.id)!;
      const a: { preds: Int32Array; qHalt: Float32Array; steps: Int32Array } = alone[j.id];
      assert.deepEqual(g.preds, a.preds, `job ${j.id}: answer`);
      assert.equal(g.steps, a.steps[0], `job ${j.id}: segments`);
      assert.equal(g.qHalt, a.qHalt[0], `job ${j.id}: q_halt`);
      assert.equal(seen.get(j.id), g.steps, `job ${j.id}: reported at every segment`);
      assert.equal(decoded.get(j.id), j.id % 5 === 0 ? g.steps : 1, `job ${j.id}: decoded when wanted`);
      steps.add(g.steps);
    }
    assert.ok(steps.size >= 4, `rows should stop at several different segments: ${[...steps]}`);
    assert.ok(rows.rowsRun < 40 * 8, "buckets run fewer rows than full batches");
  });
}

test("RowBatcher refuses what does not fit: a full batch, a wrong length, a bad limit", () => {
  const inner = new HRMInner(params(), selectKernels(null));
  const rows = new RowBatcher<Job>(inner, 1);
  const [a, b] = jobs(2);
  assert.throws(() => rows.add({ ...a, tokens: new Int32Array(15) }), /15 tokens, the model takes 16/);
  assert.throws(() => rows.add({ ...a, maxSteps: 0 }), /maxSteps must be a positive integer/);
  rows.add(a);
  assert.throws(() => rows.add(b), /all 1 rows are busy/);
  assert.throws(() => new RowBatcher(inner, 0), /capacity must be a positive integer/);
});
