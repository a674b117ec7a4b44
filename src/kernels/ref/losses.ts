/**
 * Reference losses, per token / per element (reduction "none" as the official code calls them):
 * softmax and stablemax cross-entropy with an ignore label, and binary cross-entropy with logits.
 * All arithmetic is float64 (JS numbers); for stablemax that IS the official precision.
 */
import type { FloatArray, IndexArray } from "../api.js";

function checkLabel(y: number, t: number, V: number): void {
  if (!(y >= 0 && y < V)) throw new RangeError(`cross-entropy: labels[${t}] = ${y} is outside [0, ${V})`);
}

export function softmaxCrossEntropyForward(
  losses: FloatArray,
  logits: FloatArray,
  labels: IndexArray,
  T: number,
  V: number,
  ignoreLabel: number,
): void {
  for (let t = 0; t < T; t++) {
    const y = labels[t];
    if (y === ignoreLabel) {
      losses[t] = 0;
      continue;
    }
    checkLabel(y, t, V);
    const o = t * V;
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (logits[o + v] > max) max = logits[o + v];
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(logits[o + v] - max);
    losses[t] = Math.log(sum) + max - logits[o + y];
  }
}

export function softmaxCrossEntropyBackward(
  dlogits: FloatArray,
  dlosses: FloatArray,
  logits: FloatArray,
  labels: IndexArray,
  T: number,
  V: number,
  ignoreLabel: number,
): void {
  for (let t = 0; t < T; t++) {
    const o = t * V;
    const y = labels[t];
    if (y === ignoreLabel) {
      for (let v = 0; v < V; v++) dlogits[o + v] = 0;
      continue;
    }
    checkLabel(y, t, V);
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (logits[o + v] > max) max = logits[o + v];
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(logits[o + v] - max);
    const g = dlosses[t];
    for (let v = 0; v < V; v++) {
      const p = Math.exp(logits[o + v] - max) / sum;
      dlogits[o + v] = g * (p - (v === y ? 1 : 0));
    }
  }
}

/** The official stablemax transform s(x) and its derivative; 1e-30 is the official epsilon. */
function stableS(x: number): number {
  return x < 0 ? 1 / (1 - x + 1e-30) : x + 1;
}
function stableDs(x: number): number {
  if (x >= 0) return 1;
  const d = 1 - x + 1e-30;
  return 1 / (d * d);
}

export function stablemaxCrossEntropyForward(
  losses: FloatArray,
  logits: FloatArray,
  labels: IndexArray,
  T: number,
  V: number,
  ignoreLabel: number,
): void {
  for (let t = 0; t < T; t++) {
    const y = labels[t];
    if (y === ignoreLabel) {
      losses[t] = 0;
      continue;
    }
    checkLabel(y, t, V);
    const o = t * V;
    let sum = 0;
    for (let v = 0; v < V; v++) sum += stableS(logits[o + v]);
    losses[t] = -Math.log(stableS(logits[o + y]) / sum);
  }
}

export function stablemaxCrossEntropyBackward(
  dlogits: FloatArray,
  dlosses: FloatArray,
  logits: FloatArray,
  labels: IndexArray,
  T: number,
  V: number,
  ignoreLabel: number,
): void {
  for (let t = 0; t < T; t++) {
    const o = t * V;
    const y = labels[t];
    if (y === ignoreLabel) {
      for (let v = 0; v < V; v++) dlogits[o + v] = 0;
      continue;
    }
    checkLabel(y, t, V);
    let sum = 0;
    for (let v = 0; v < V; v++) sum += stableS(logits[o + v]);
    const g = dlosses[t];
    const xy = logits[o + y];
    for (let v = 0; v < V; v++) {
      const x = logits[o + v];
      let d = stableDs(x) / sum;
      if (v === y) d -= stableDs(xy) / stableS(xy);
      dlogits[o + v] = g * d;
    }
  }
}

/** Numerically stable form used by PyTorch: max(x,0) - x*y + log1p(exp(-|x|)). */
export function bceWithLogitsForward(
  losses: FloatArray,
  logits: FloatArray,
  targets: FloatArray,
  n: number,
): void {
  for (let i = 0; i < n; i++) {
    const x = logits[i];
    losses[i] = Math.max(x, 0) - x * targets[i] + Math.log1p(Math.exp(-Math.abs(x)));
  }
}

export function bceWithLogitsBackward(
  dlogits: FloatArray,
  dlosses: FloatArray,
  logits: FloatArray,
  targets: FloatArray,
  n: number,
): void {
  for (let i = 0; i < n; i++) dlogits[i] = dlosses[i] * (1 / (1 + Math.exp(-logits[i])) - targets[i]);
}
