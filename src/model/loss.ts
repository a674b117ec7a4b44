/**
 * The official ACT loss head (ACTLossHead): per-sequence normalised LM loss, Q-halt BCE against sequence
 * correctness, Q-continue BCE against the bootstrapped target, total = lm + 0.5 (q_halt + q_continue), and
 * the metrics as raw sums over rows that halted this segment and have at least one label.
 */
import type { Kernels } from "../kernels/api.js";
import { IGNORE_LABEL_ID } from "../kernels/api.js";
import type { ActOutputs, Carry } from "./act.js";
import type { HRMConfig } from "./config.js";

export interface Metrics {
  count: number;
  accuracy: number;
  exact_accuracy: number;
  q_halt_accuracy: number;
  steps: number;
  lm_loss: number;
  q_halt_loss: number;
  q_continue_loss?: number;
}

export interface LossResult {
  /** lm + 0.5 (q_halt + q_continue); q_continue only when a target was computed (training). */
  total: number;
  metrics: Metrics;
  /** Per row: 1 when every labelled position is predicted right (no labels counts as right). */
  seqCorrect: Uint8Array;
  /** Per row: max(1, number of labels), the LM-loss divisor. */
  divisor: Float64Array;
  /** Per token CE, float64 (zero where ignored). */
  tokenLoss: Float64Array;
}

export function actLoss(k: Kernels, c: HRMConfig, carry: Carry, out: ActOutputs): LossResult {
  const { B } = carry;
  const L = c.seq_len;
  const V = c.vocab_size;
  const labels = carry.current.labels;
  const tokenLoss = new Float64Array(B * L);
  const ce =
    c.loss_type === "stablemax_cross_entropy" ? k.stablemaxCrossEntropyForward : k.softmaxCrossEntropyForward;
  ce(tokenLoss, out.logits, labels, B * L, V, IGNORE_LABEL_ID);
  const seqCorrect = new Uint8Array(B);
  const divisor = new Float64Array(B);
  const m: Metrics = {
    count: 0,
    accuracy: 0,
    exact_accuracy: 0,
    q_halt_accuracy: 0,
    steps: 0,
    lm_loss: 0,
    q_halt_loss: 0,
  };
  for (let b = 0; b < B; b++) {
    let count = 0;
    let correct = 0;
    let lm = 0;
    for (let t = b * L; t < (b + 1) * L; t++) {
      if (labels[t] === IGNORE_LABEL_ID) continue;
      count++;
      lm += tokenLoss[t];
      let best = 0; // argmax, first index on ties (as torch.argmax)
      for (let v = 1; v < V; v++) if (out.logits[t * V + v] > out.logits[t * V + best]) best = v;
      if (best === labels[t]) correct++;
    }
    divisor[b] = Math.max(count, 1);
    m.lm_loss += lm / divisor[b];
    seqCorrect[b] = correct === count ? 1 : 0;
    if (carry.halted[b] && count > 0) {
      m.count++;
      m.accuracy += Math.fround(correct / divisor[b]);
      m.exact_accuracy += seqCorrect[b];
      m.q_halt_accuracy += (out.qHalt[b] >= 0 ? 1 : 0) === seqCorrect[b] ? 1 : 0;
      m.steps += carry.steps[b];
    }
  }
  const bce = new Float32Array(B);
  k.bceWithLogitsForward(bce, out.qHalt, Float32Array.from(seqCorrect), B);
  m.q_halt_loss = bce.reduce((s, x) => s + x, 0);
  let total = m.lm_loss + 0.5 * m.q_halt_loss;
  if (out.targetQContinue) {
    k.bceWithLogitsForward(bce, out.qContinue, out.targetQContinue, B);
    m.q_continue_loss = bce.reduce((s, x) => s + x, 0);
    total = m.lm_loss + 0.5 * (m.q_halt_loss + m.q_continue_loss);
  }
  return { total, metrics: m, seqCorrect, divisor, tokenLoss };
}
