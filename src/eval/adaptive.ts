/**
 * Adaptive halting at inference (beyond the official evaluation, which always runs halt_max_steps segments):
 * each sequence stops as soon as its Q-head says halt (q_halt > q_continue, the training rule without
 * exploration) or at `maxSteps`. Batches are streamed the way the ACT carry works in training: a row that
 * halts is refilled with the next test example at the next segment, so compute follows the segments
 * actually used and the wall-clock speed-up is real, not just counted (the batching is rows.ts's, shared with
 * hrm serve).
 */
import { IGNORE_LABEL_ID } from "../kernels/api.js";
import type { DatasetMetadata, PuzzleSet } from "../data/format.js";
import { testBatches } from "../data/sampler.js";
import type { HRMInner } from "../model/inner.js";
import type { Reduced } from "../train/metrics.js";
import type { RowJob } from "./rows.js";
import { RowBatcher } from "./rows.js";

export interface Predictions {
  /** [N, seq_len] argmax tokens at the segment each example stopped. */
  preds: Int32Array;
  /** [N] q_halt logit at that segment. */
  qHalt: Float32Array;
  /** [N] segments used. */
  steps: Int32Array;
  inputs: Int32Array;
  labels: Int32Array;
  puzzle_identifiers: Int32Array;
}

/** Every example of a set in file order, as the test sampler collates them (labels mapped to -100). */
export function flattenTestSet(
  set: PuzzleSet,
  meta: DatasetMetadata,
): Omit<Predictions, "preds" | "qHalt" | "steps"> {
  const L = meta.seq_len;
  const N = set.inputs.length / L;
  const inputs = new Int32Array(N * L);
  const labels = new Int32Array(N * L);
  const ids = new Int32Array(N);
  let n = 0;
  for (const b of testBatches(set, meta, 256)) {
    inputs.set(b.inputs.subarray(0, b.effectiveSize * L), n * L);
    labels.set(b.labels.subarray(0, b.effectiveSize * L), n * L);
    ids.set(b.puzzle_identifiers.subarray(0, b.effectiveSize), n);
    n += b.effectiveSize;
  }
  return { inputs, labels, puzzle_identifiers: ids };
}

export interface AdaptiveResult {
  metrics: Reduced;
  predictions: Predictions;
  /** Segment forwards actually run, padding rows at the tail included. */
  segmentsRun: number;
}

export function evaluateAdaptive(
  inner: HRMInner,
  set: PuzzleSet,
  meta: DatasetMetadata,
  B: number,
  maxSteps: number,
  setName = "all",
): AdaptiveResult {
  return inner.frozen(() => adaptiveLoop(inner, set, meta, B, maxSteps, setName)); // weights fixed: pack once
}

function adaptiveLoop(
  inner: HRMInner,
  set: PuzzleSet,
  meta: DatasetMetadata,
  B: number,
  maxSteps: number,
  setName: string,
): AdaptiveResult {
  const L = meta.seq_len;
  const data = flattenTestSet(set, meta);
  const N = data.puzzle_identifiers.length;
  const pred: Predictions = {
    ...data,
    preds: new Int32Array(N * L),
    qHalt: new Float32Array(N),
    steps: new Int32Array(N),
  };
  const rows = new RowBatcher<RowJob & { e: number }>(inner, B, {
    sizes: "fixed",
    padId: meta.pad_id,
    blankId: meta.blank_identifier_id,
  });
  let next = 0;
  while (next < N || rows.active > 0) {
    while (rows.free > 0 && next < N) {
      const e = next++;
      const tokens = data.inputs.subarray(e * L, (e + 1) * L);
      rows.add({ e, tokens, puzzleId: data.puzzle_identifiers[e], maxSteps, adaptive: true });
    }
    for (const d of rows.step()) {
      pred.preds.set(d.preds, d.job.e * L);
      pred.qHalt[d.job.e] = d.qHalt;
      pred.steps[d.job.e] = d.steps;
    }
  }
  return { metrics: predictionMetrics(pred, L, setName), predictions: pred, segmentsRun: rows.rowsRun };
}

/** accuracy, exact_accuracy, q_halt_accuracy and steps over examples with labels (official definitions). */
export function predictionMetrics(p: Predictions, L: number, setName: string): Reduced {
  let count = 0;
  let acc = 0;
  let exact = 0;
  let qAcc = 0;
  let steps = 0;
  for (let e = 0; e < p.puzzle_identifiers.length; e++) {
    let n = 0;
    let right = 0;
    for (let t = e * L; t < (e + 1) * L; t++) {
      if (p.labels[t] === IGNORE_LABEL_ID) continue;
      n++;
      if (p.preds[t] === p.labels[t]) right++;
    }
    if (n === 0) continue;
    const ok = right === n ? 1 : 0;
    count++;
    acc += Math.fround(right / n);
    exact += ok;
    qAcc += (p.qHalt[e] >= 0 ? 1 : 0) === ok ? 1 : 0;
    steps += p.steps[e];
  }
  const d = Math.max(count, 1);
  return {
    [`${setName}/accuracy`]: acc / d,
    [`${setName}/exact_accuracy`]: exact / d,
    [`${setName}/q_halt_accuracy`]: qAcc / d,
    [`${setName}/steps`]: steps / d,
  };
}
