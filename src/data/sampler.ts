/**
 * Batches from a puzzle set, as the official PuzzleDataset yields them, seeded and deterministic.
 * Training (one call = epochsPerIter epochs): epochsPerIter shuffled orders of the groups, concatenated;
 * walking that order, one random puzzle per group contributes its examples (random order, truncated to
 * the room left) until the batch is full; a short final batch is dropped. Test: every example in file
 * order, the last batch padded (inputs pad_id, labels -100, identifiers blank_identifier_id).
 * Collation: int32 arrays; labels equal to ignore_label_id become -100.
 */
import { IGNORE_LABEL_ID } from "../kernels/api.js";
import { Rng } from "../util/rng.js";
import type { DatasetMetadata, PuzzleSet } from "./format.js";

export interface SampledBatch {
  inputs: Int32Array; // [B, seq_len]
  labels: Int32Array; // [B, seq_len]
  puzzle_identifiers: Int32Array; // [B]
  /** Real (non-padding) rows. */
  effectiveSize: number;
}

function shuffle(a: Int32Array, rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(0, i + 1);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

function emptyBatch(meta: DatasetMetadata, B: number): SampledBatch {
  const L = meta.seq_len;
  return {
    inputs: new Int32Array(B * L).fill(meta.pad_id),
    labels: new Int32Array(B * L).fill(IGNORE_LABEL_ID),
    puzzle_identifiers: new Int32Array(B).fill(meta.blank_identifier_id),
    effectiveSize: 0,
  };
}

/** Copies example e into row r, mapping the ignore label to -100. */
function putExample(batch: SampledBatch, r: number, set: PuzzleSet, meta: DatasetMetadata, e: number): void {
  const L = meta.seq_len;
  for (let i = 0; i < L; i++) {
    batch.inputs[r * L + i] = set.inputs[e * L + i];
    const y = set.labels[e * L + i];
    batch.labels[r * L + i] = y === meta.ignore_label_id ? IGNORE_LABEL_ID : y;
  }
}

/** Training batches for iteration `iter` (the official seed is seed + iter: a fresh order per call). */
export function* trainBatches(
  set: PuzzleSet,
  meta: DatasetMetadata,
  B: number,
  seed: number,
  iter: number,
  epochsPerIter: number,
): Generator<SampledBatch> {
  const rng = new Rng(seed + iter);
  const groups = set.group_indices.length - 1;
  const order = new Int32Array(groups * epochsPerIter);
  for (let e = 0; e < epochsPerIter; e++) {
    const part = order.subarray(e * groups, (e + 1) * groups);
    for (let g = 0; g < groups; g++) part[g] = g;
    shuffle(part, rng);
  }
  let pos = 0;
  while (pos < order.length) {
    const batch = emptyBatch(meta, B);
    let n = 0;
    while (pos < order.length && n < B) {
      const g = order[pos++];
      const p = rng.int(set.group_indices[g], set.group_indices[g + 1]);
      const start = set.puzzle_indices[p];
      const size = set.puzzle_indices[p + 1] - start;
      const take = Math.min(size, B - n);
      const pick = new Int32Array(size).map((_, i) => i);
      shuffle(pick, rng);
      for (let i = 0; i < take; i++) {
        putExample(batch, n, set, meta, start + pick[i]);
        batch.puzzle_identifiers[n++] = set.puzzle_identifiers[p];
      }
    }
    if (n < B) return; // drop last: training batches are always full
    batch.effectiveSize = B;
    yield batch;
  }
}

/** Test batches: all examples in file order, the last one padded. */
export function* testBatches(set: PuzzleSet, meta: DatasetMetadata, B: number): Generator<SampledBatch> {
  const examples = set.inputs.length / meta.seq_len;
  let p = 0; // puzzle of the current example (examples are in puzzle order)
  for (let start = 0; start < examples; start += B) {
    const batch = emptyBatch(meta, B);
    const end = Math.min(start + B, examples);
    for (let e = start; e < end; e++) {
      while (set.puzzle_indices[p + 1] <= e) p++;
      putExample(batch, e - start, set, meta, e);
      batch.puzzle_identifiers[e - start] = set.puzzle_identifiers[p];
    }
    batch.effectiveSize = end - start;
    yield batch;
  }
}
