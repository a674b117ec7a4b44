/**
 * The official evaluation (pretrain.py's evaluate): every test batch runs from a fresh carry for halt_max_steps
 * segments and the last segment's metrics are summed per set; and the sweep over segment limits in one pass.
 */
import type { DatasetMetadata, PuzzleSet } from "../data/format.js";
import { testBatches } from "../data/sampler.js";
import { actForward, initialCarry } from "../model/act.js";
import type { HRMInner } from "../model/inner.js";
import { actLoss } from "../model/loss.js";
import type { Reduced } from "../train/metrics.js";
import { EvalAccumulator } from "../train/metrics.js";
import type { OutputCollector } from "./outputs.js";

/**
 * Official evaluation: every test batch runs from a fresh carry until all rows halt (halt_max_steps
 * segments in eval mode); the last segment's metrics are summed per set and divided by the count.
 */
export function evaluate(
  inner: HRMInner,
  set: PuzzleSet,
  meta: DatasetMetadata,
  batchSize: number,
  setName = "all",
  collect?: OutputCollector,
  progress?: (done: number, total: number) => void,
): Reduced {
  const acc = new EvalAccumulator();
  const total = Math.ceil(set.inputs.length / meta.seq_len / batchSize);
  let done = 0;
  inner.frozen(() => {
    for (const batch of testBatches(set, meta, batchSize)) {
      const carry = initialCarry(inner, batchSize);
      for (let s = 0; s < inner.config.halt_max_steps; s++) {
        const out = actForward(inner, carry, batch, { training: false });
        if (s === inner.config.halt_max_steps - 1) {
          acc.add(setName, actLoss(inner.k, inner.config, carry, out).metrics);
          collect?.add(batch, out, batch.effectiveSize);
        }
      }
      progress?.(++done, total);
    }
  });
  return acc.result();
}

/**
 * Inference-time scaling in one pass: runs max(limits) segments and reports, for each limit s, the metrics
 * as if every sequence had stopped after s segments ("<set>/<metric>@<s>"). Segment outputs are nested, so
 * this equals separate evaluations with halt_max_steps = s.
 */
export function evaluateSweep(
  inner: HRMInner,
  set: PuzzleSet,
  meta: DatasetMetadata,
  batchSize: number,
  limits: number[],
  setName = "all",
): Reduced {
  const max = Math.max(...limits);
  const accs = new Map(limits.map((s) => [s, new EvalAccumulator()]));
  const allHalted = new Uint8Array(batchSize).fill(1);
  inner.frozen(() => {
    for (const batch of testBatches(set, meta, batchSize)) {
      const carry = initialCarry(inner, batchSize);
      for (let s = 1; s <= max; s++) {
        const out = actForward(inner, carry, batch, { training: false, evalSteps: max });
        const acc = accs.get(s);
        // Count every row as halted at this limit, as if the run stopped here.
        if (acc)
          acc.add(setName, actLoss(inner.k, inner.config, { ...carry, halted: allHalted }, out).metrics);
      }
    }
  });
  const out: Reduced = {};
  for (const [s, acc] of accs) for (const [k, v] of Object.entries(acc.result())) out[`${k}@${s}`] = v;
  return out;
}
