/**
 * Inference beyond the official evaluation: adaptive halting (each example stops at the first segment its
 * Q-head says halt, and its answer equals a fixed run of that many segments), the solve loop with traces, and
 * the `hrm solve` / ARC `hrm eval` commands end to end on small checkpoints.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { buildArcDataset, parseTask } from "../src/data/arc.js";
import { buildBoxSudokuDataset } from "../src/data/sudoku-box.js";
import { selectKernels } from "../src/kernels/select.js";
import { encodeModelSafetensors } from "../src/model/checkpoint.js";
import type { HRMConfig } from "../src/model/config.js";
import { makeConfig } from "../src/model/config.js";
import { HRMInner } from "../src/model/inner.js";
import { HRMParams } from "../src/model/params.js";
import { writeFileAtomic } from "../src/platform/files.js";
import { writeIdentifiers, writeSplit } from "../src/platform/files.js";
import { evaluateAdaptive, predictionMetrics } from "../src/eval/adaptive.js";
import { solveRows } from "../src/eval/solve.js";
import { Rng } from "../src/util/rng.js";

const HRM = fileURLToPath(new URL("../cli/hrm.js", import.meta.url));
const hrm = (...args: string[]) => spawnSync(process.execPath, [HRM, ...args], { encoding: "utf8" });

const tiny = (over: Partial<HRMConfig>) =>
  makeConfig({
    hidden_size: 16,
    num_heads: 2,
    H_layers: 1,
    L_layers: 1,
    H_cycles: 1,
    L_cycles: 1,
    halt_max_steps: 6,
    puzzle_emb_ndim: 0,
    forward_dtype: "float32",
    batch_size: 8,
    ...over,
  });

/** Random init plus a random Q-head, so that halting decisions differ between examples and segments. */
function model(config: HRMConfig, seed: number): HRMParams {
  const p = HRMParams.init(config, seed);
  const rng = new Rng(seed + 100);
  const w = p.get("q_head.weight");
  for (let i = 0; i < w.length; i++) w[i] = rng.normal() * 0.5;
  p.get("q_head.bias").set([0.3, 0]);
  return p;
}

let dir = "";
before(() => (dir = mkdtempSync(join(tmpdir(), "hrm-infer-"))));
after(() => rmSync(dir, { recursive: true, force: true }));

test("adaptive halting: each example stops at its Q-head's first halt, with a fixed run's answer", () => {
  const d = buildBoxSudokuDataset(
    { rows: 2, cols: 2 },
    { trainCount: 4, testCount: 20, clues: 6, numAug: 0 },
    new Rng(1),
  );
  const inner = new HRMInner(model(tiny({ seq_len: 16, vocab_size: 6 }), 2), selectKernels(null));
  const max = 6;
  const r = evaluateAdaptive(inner, d.test, d.testMeta, 8, max);
  const L = 16;
  const steps = Array.from(r.predictions.steps);
  assert.ok(
    new Set(steps).size > 1,
    `the random Q-head should stop examples at different segments: ${steps}`,
  );
  assert.ok(steps.every((s) => s >= 1 && s <= max));
  for (let e = 0; e < 20; e++) {
    const one = d.test.inputs.subarray(e * L, (e + 1) * L);
    const seen: boolean[] = [];
    const fixed = solveRows(inner, Int32Array.from(one), new Int32Array(1), {
      maxSteps: steps[e],
      adaptive: false,
      onSegment: (v) => seen.push(v.qHalt[0] > v.qContinue[0]),
    });
    assert.deepEqual(fixed.preds, r.predictions.preds.subarray(e * L, (e + 1) * L), `example ${e}`);
    assert.equal(seen.length, steps[e]);
    // Halted at the first segment where q_halt > q_continue, or at the limit.
    assert.deepEqual(seen.slice(0, -1), new Array(steps[e] - 1).fill(false), `example ${e} halted late`);
    assert.ok(seen[seen.length - 1] || steps[e] === max, `example ${e} halted early`);
  }
  assert.deepEqual(r.metrics, predictionMetrics(r.predictions, L, "all"));
  assert.ok(r.segmentsRun < 20 * max + 8 * max && r.segmentsRun >= steps.reduce((a, b) => a + b, 0));
});

test("hrm solve sudoku and maze: answer grid, exact validity line, segments; clear input errors", () => {
  const ck4 = join(dir, "sudoku4.safetensors");
  writeFileAtomic(ck4, encodeModelSafetensors(model(tiny({ seq_len: 16, vocab_size: 6 }), 3)));
  let r = hrm("solve", "sudoku", ".3....1.2..1..2.", `checkpoint=${ck4}`, "--trace");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /puzzle \(4x4\):\n\. 3 \| \. \.\n/);
  assert.match(r.stdout, /segment 1: q_halt -?\d+\.\d\d q_continue -?\d+\.\d\d/);
  const m = /answer after (\d+) segments?:\n((?:.*\n){5})\nvalid: (yes|NO)/.exec(r.stdout);
  assert.ok(m, r.stdout);
  assert.equal((r.stdout.match(/^segment \d+:/gm) ?? []).length, Number(m[1]));
  r = hrm("solve", "sudoku", ".3....1.2..1..2.", `checkpoint=${ck4}`, "halting=fixed", "max_steps=3");
  assert.match(r.stdout, /answer after 3 segments/);
  assert.match(hrm("solve", "sudoku", "123", `checkpoint=${ck4}`).stderr, /expected 16, 36 or 81 characters/);
  assert.match(
    hrm("solve", "sudoku", "5".repeat(16), `checkpoint=${ck4}`).stderr,
    /digit 5 at position 0 is larger than 4/,
  );
  assert.match(
    hrm("solve", "sudoku", ".".repeat(36), `checkpoint=${ck4}`).stderr,
    /trained on sequences of 16, this puzzle has 36/,
  );
  // A 5x5 maze with one shortest path; the untrained model's answer is checked exactly (and is wrong).
  const mazeFile = join(dir, "maze.txt");
  writeFileSync(mazeFile, "S   #\n### #\n#   #\n# ###\n#   G\n");
  const ckm = join(dir, "maze.safetensors");
  writeFileAtomic(ckm, encodeModelSafetensors(model(tiny({ seq_len: 25, vocab_size: 6 }), 4)));
  r = hrm("solve", "maze", mazeFile, `checkpoint=${ckm}`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /answer after \d+ segments?:\n([# SGo?]{5}\n){5}\nvalid: NO/);
  writeFileSync(mazeFile, "S  \n## \n  G\n#\n");
  assert.match(hrm("solve", "maze", mazeFile, `checkpoint=${ckm}`).stderr, /a maze must be square/);
});

test("ARC: hrm eval votes over augmented predictions and writes pass@K and submission.json; hrm solve arc", () => {
  const task = parseTask(
    {
      train: [
        {
          input: [
            [1, 2],
            [3, 4],
          ],
          output: [
            [2, 1],
            [4, 3],
          ],
        },
        { input: [[5, 0]], output: [[0, 5]] },
      ],
      test: [{ input: [[6, 7]], output: [[7, 6]] }],
    },
    "mirror1",
    "evaluation",
    "inline",
  );
  const ds = buildArcDataset([task], { numAug: 3, testSubsets: ["evaluation"] }, new Rng(5));
  const data = join(dir, "arc");
  writeSplit(data, "train", {
    metadata: ds.splits.train.metadata,
    sets: new Map([["all", ds.splits.train.set]]),
  });
  writeSplit(data, "test", {
    metadata: ds.splits.test.metadata,
    sets: new Map([["all", ds.splits.test.set]]),
  });
  writeIdentifiers(data, ds.identifiers);
  const config = tiny({
    seq_len: 900,
    vocab_size: 12,
    num_puzzle_identifiers: ds.identifiers.length,
    puzzle_emb_ndim: 16,
    halt_max_steps: 2,
  });
  const ck = join(dir, "arc.safetensors");
  writeFileAtomic(ck, encodeModelSafetensors(HRMParams.init(config, 6)));
  const out = join(dir, "arc-eval");
  let r = hrm("eval", `checkpoint=${ck}`, `data_path=${data}`, "global_batch_size=4", `output_dir=${out}`);
  assert.equal(r.status, 0, r.stderr);
  const metrics = JSON.parse(readFileSync(join(out, "metrics.json"), "utf8")) as Record<string, number>;
  for (const k of [1, 2, 10]) assert.ok([0, 1].includes(metrics[`all/arc/pass@${k}`]), `pass@${k}`);
  const sub = JSON.parse(readFileSync(join(out, "submission.json"), "utf8")) as Record<
    string,
    { attempt_1: number[][] }[]
  >;
  assert.deepEqual(Object.keys(sub), ["mirror1"]);
  assert.equal(sub.mirror1.length, 1);
  assert.ok(Array.isArray(sub.mirror1[0].attempt_1));
  const taskFile = join(dir, "mirror1.json");
  writeFileSync(taskFile, JSON.stringify({ train: [], test: [{ input: [[6, 7]], output: [[7, 6]] }] }));
  r = hrm("solve", "arc", taskFile, `checkpoint=${ck}`, `data_path=${data}`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(
    r.stdout,
    /test 0: \d+ candidate answers from 4 variants\nattempt 1 \(\d+ votes, mean q \d\.\d{3}\) (correct|wrong):/,
  );
  writeFileSync(join(dir, "other.json"), JSON.stringify({ test: [{ input: [[1]] }] }));
  assert.match(
    hrm("solve", "arc", join(dir, "other.json"), `checkpoint=${ck}`, `data_path=${data}`).stderr,
    /task "other" is not in .*identifiers.json/,
  );
});
