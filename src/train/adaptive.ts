/**
 * Adaptive halting at inference (beyond the official evaluation, which always runs halt_max_steps segments):
 * each sequence stops as soon as its Q-head says halt (q_halt > q_continue, the training rule without
 * exploration) or at `maxSteps`. Batches are streamed the way the ACT carry works in training: a row that
 * halts is refilled with the next test example at the next segment, so compute follows the segments
 * actually used and the wall-clock speed-up is real, not just counted.
 */
import { IGNORE_LABEL_ID } from "../kernels/api.js";
import type { DatasetMetadata, PuzzleSet } from "../data/format.js";
import { testBatches } from "../data/sampler.js";
import { actForward, initialCarry } from "../model/act.js";
import type { HRMInner } from "../model/inner.js";
import { argmaxRows } from "./outputs.js";
import type { Reduced } from "./metrics.js";

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
  const V = inner.config.vocab_size;
  const data = flattenTestSet(set, meta);
  const N = data.puzzle_identifiers.length;
  const pred: Predictions = {
    ...data,
    preds: new Int32Array(N * L),
    qHalt: new Float32Array(N),
    steps: new Int32Array(N),
  };
  const carry = initialCarry(inner, B);
  const rowExample = new Int32Array(B).fill(-1); // which example each row holds (-1: idle)
  const batch = {
    inputs: new Int32Array(B * L).fill(meta.pad_id),
    labels: new Int32Array(B * L).fill(IGNORE_LABEL_ID),
    puzzle_identifiers: new Int32Array(B).fill(meta.blank_identifier_id),
  };
  let next = 0;
  let done = 0;
  let rounds = 0;
  while (done < N) {
    for (let r = 0; r < B; r++) {
      if (!carry.halted[r]) continue;
      rowExample[r] = next < N ? next++ : -1;
      const e = rowExample[r];
      if (e >= 0) {
        batch.inputs.set(data.inputs.subarray(e * L, (e + 1) * L), r * L);
        batch.puzzle_identifiers[r] = data.puzzle_identifiers[e];
      } else {
        batch.inputs.fill(meta.pad_id, r * L, (r + 1) * L);
        batch.puzzle_identifiers[r] = meta.blank_identifier_id;
      }
    }
    const out = actForward(inner, carry, batch, { training: false, evalSteps: maxSteps });
    rounds++;
    for (let r = 0; r < B; r++) {
      const e = rowExample[r];
      // actForward halted the rows at maxSteps; the Q-head may stop them earlier.
      const halt = carry.halted[r] === 1 || out.qHalt[r] > out.qContinue[r];
      carry.halted[r] = halt ? 1 : 0;
      if (!halt || e < 0) continue;
      argmaxRows(
        out.logits.subarray(r * L * V, (r + 1) * L * V),
        L,
        V,
        pred.preds.subarray(e * L, (e + 1) * L),
      );
      pred.qHalt[e] = out.qHalt[r];
      pred.steps[e] = carry.steps[r];
      rowExample[r] = -1;
      done++;
    }
  }
  return { metrics: predictionMetrics(pred, L, setName), predictions: pred, segmentsRun: rounds * B };
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
