/**
 * Collects evaluation outputs per example (the official eval_save_outputs): batch fields (inputs, labels,
 * puzzle_identifiers) and model outputs (logits, preds = argmax of logits, q_halt_logits,
 * q_continue_logits), padding rows dropped, as host tensors ready for .npy.
 */
import type { Batch } from "../model/act.js";
import type { InnerOutputs } from "../model/inner.js";
import type { HostTensor } from "../tensor.js";

export const OUTPUT_KEYS = [
  "inputs",
  "labels",
  "puzzle_identifiers",
  "logits",
  "preds",
  "q_halt_logits",
  "q_continue_logits",
] as const;
export type OutputKey = (typeof OUTPUT_KEYS)[number];

/** Per-row argmax over the vocabulary (first index on ties, as torch.argmax): [rows, V] -> [rows], into `out`. */
export function argmaxRows(
  logits: Float32Array,
  rows: number,
  V: number,
  out: Int32Array = new Int32Array(rows),
): Int32Array {
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[r * V + v] > logits[r * V + best]) best = v;
    out[r] = best;
  }
  return out;
}

export class OutputCollector {
  private chunks = new Map<
    OutputKey,
    { dtype: "float32" | "int32"; row: number[]; parts: (Float32Array | Int32Array)[] }
  >();
  rows = 0;

  constructor(
    readonly keys: readonly OutputKey[],
    readonly seqLen: number,
    readonly vocab: number,
  ) {}

  /** Adds the first `n` rows of a batch and its outputs. */
  add(batch: Batch, out: InnerOutputs, n: number): void {
    for (const k of this.keys) {
      const [dtype, row, data] = this.rowsOf(k, batch, out, n);
      const c = this.chunks.get(k) ?? { dtype, row, parts: [] };
      c.parts.push(data);
      this.chunks.set(k, c);
    }
    this.rows += n;
  }

  /** The first n rows of one output: its dtype, per-row shape and a copy of the data. */
  private rowsOf(
    k: OutputKey,
    batch: Batch,
    out: InnerOutputs,
    n: number,
  ): ["float32" | "int32", number[], Float32Array | Int32Array] {
    const L = this.seqLen;
    const V = this.vocab;
    switch (k) {
      case "inputs":
      case "labels":
        return ["int32", [L], batch[k].slice(0, n * L)];
      case "puzzle_identifiers":
        return ["int32", [], batch.puzzle_identifiers.slice(0, n)];
      case "logits":
        return ["float32", [L, V], out.logits.slice(0, n * L * V)];
      case "preds":
        return ["int32", [L], argmaxRows(out.logits, n * L, V)];
      case "q_halt_logits":
        return ["float32", [], out.qHalt.slice(0, n)];
      case "q_continue_logits":
        return ["float32", [], out.qContinue.slice(0, n)];
    }
  }

  tensors(): Map<string, HostTensor> {
    const out = new Map<string, HostTensor>();
    for (const [k, c] of this.chunks) {
      const total = c.parts.reduce((s, p) => s + p.length, 0);
      const data = c.dtype === "float32" ? new Float32Array(total) : new Int32Array(total);
      let o = 0;
      for (const p of c.parts) {
        data.set(p, o);
        o += p.length;
      }
      out.set(k, { dtype: c.dtype, shape: [this.rows, ...c.row], data });
    }
    return out;
  }
}
