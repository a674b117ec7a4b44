/**
 * Metric reduction with the official names and divisors (pretrain.py): training metrics are the loss head's
 * raw sums, losses divided by the global batch size and the rest by max(count, 1), prefixed "train/", plus
 * "train/lr". Evaluation sums each set's raw metrics over batches and divides everything by the count.
 */
import type { Metrics } from "../model/loss.js";

export type Reduced = Record<string, number>;

export function reduceTrainMetrics(m: Metrics, globalBatchSize: number, lr: number): Reduced {
  const count = Math.max(m.count, 1);
  const out: Reduced = {};
  for (const [k, v] of Object.entries(m).sort(([a], [b]) => a.localeCompare(b)))
    if (v !== undefined) out[`train/${k}`] = v / (k.endsWith("loss") ? globalBatchSize : count);
  out["train/lr"] = lr;
  return out;
}

/** Accumulates raw sums over batches; `result(set)` gives "<set>/<metric>" divided by the count. */
export class EvalAccumulator {
  private sums = new Map<string, Reduced>();
  add(set: string, m: Metrics): void {
    const s = this.sums.get(set) ?? {};
    for (const [k, v] of Object.entries(m)) if (v !== undefined) s[k] = (s[k] ?? 0) + v;
    this.sums.set(set, s);
  }
  result(): Reduced {
    const out: Reduced = {};
    for (const [set, s] of this.sums) {
      const count = s.count ?? 0;
      for (const [k, v] of Object.entries(s)) if (k !== "count") out[`${set}/${k}`] = v / count;
    }
    return out;
  }
}
