/**
 * Inference on a handful of puzzles: run ACT segments on the rows until each halts (its Q-head says halt,
 * when adaptive) or `maxSteps` is reached, keeping each row's prediction from the segment it stopped at.
 * `onSegment` sees every segment's predictions (hrm solve --trace).
 */
import { IGNORE_LABEL_ID } from "../kernels/api.js";
import { actForward, initialCarry, qHalts } from "../model/act.js";
import type { HRMInner } from "../model/inner.js";
import { argmaxRows } from "./outputs.js";

export interface SegmentView {
  segment: number;
  /** [R, seq_len] argmax tokens of this segment. */
  preds: Int32Array;
  qHalt: Float32Array;
  qContinue: Float32Array;
  /** Rows that stop at this segment. */
  halting: Uint8Array;
  /** [R, seq_len, vocab] logits of this segment. */
  logits: Float32Array;
}

export interface SolveResult {
  preds: Int32Array;
  qHalt: Float32Array;
  steps: Int32Array;
}

export interface SolveOptions {
  maxSteps: number;
  adaptive: boolean;
  onSegment?: (v: SegmentView) => void;
}

export function solveRows(
  inner: HRMInner,
  inputs: Int32Array,
  puzzleIds: Int32Array,
  opts: SolveOptions,
): SolveResult {
  return inner.frozen(() => {
    // weights fixed: pack them once
    const steps = solveSegments(inner, inputs, puzzleIds, opts);
    for (;;) {
      const n = steps.next();
      if (n.done) return n.value;
      opts.onSegment?.(n.value);
    }
  });
}

/**
 * solveRows one segment at a time: yields each segment's view, returns the result. Between two segments the
 * caller may do anything (an async solve yields to the event loop there); the weights must not change.
 */
export function* solveSegments(
  inner: HRMInner,
  inputs: Int32Array,
  puzzleIds: Int32Array,
  opts: { maxSteps: number; adaptive: boolean },
): Generator<SegmentView, SolveResult, void> {
  const L = inner.config.seq_len;
  const V = inner.config.vocab_size;
  const R = puzzleIds.length;
  if (inputs.length !== R * L)
    throw new RangeError(`solveRows: ${inputs.length} input tokens for ${R} rows of seq_len ${L}`);
  const carry = initialCarry(inner, R);
  const batch = {
    inputs,
    labels: new Int32Array(R * L).fill(IGNORE_LABEL_ID),
    puzzle_identifiers: puzzleIds,
  };
  const res: SolveResult = {
    preds: new Int32Array(R * L),
    qHalt: new Float32Array(R),
    steps: new Int32Array(R),
  };
  const done = new Uint8Array(R);
  for (let s = 1; s <= opts.maxSteps && done.some((d) => !d); s++) {
    // This loop decides when rows stop (it may go past halt_max_steps); no row restarts meanwhile.
    const out = actForward(inner, carry, batch, { training: false, evalSteps: Infinity });
    const preds = argmaxRows(out.logits, R * L, V);
    const halting = new Uint8Array(R);
    for (let r = 0; r < R; r++) {
      if (done[r]) continue;
      if (s === opts.maxSteps || (opts.adaptive && qHalts(inner.config, out.qHalt[r], out.qContinue[r])))
        halting[r] = 1;
      res.preds.set(preds.subarray(r * L, (r + 1) * L), r * L);
      res.qHalt[r] = out.qHalt[r];
      res.steps[r] = s;
      done[r] = halting[r];
    }
    yield { segment: s, preds, qHalt: out.qHalt, qContinue: out.qContinue, halting, logits: out.logits };
  }
  return res;
}
