/** Reference optimiser kernels: the AdamATan2 element update. */
import type { FloatArray } from "../api.js";

export function adamAtan2(
  param: FloatArray,
  grad: FloatArray,
  m: FloatArray,
  v: FloatArray,
  n: number,
  lr: number,
  beta1: number,
  beta2: number,
  weightDecay: number,
  stepSize: number,
  bc2: number,
): void {
  const decay = 1 - lr * weightDecay;
  for (let j = 0; j < n; j++) {
    const g = grad[j];
    const mj = (m[j] = m[j] + (1 - beta1) * (g - m[j]));
    const vj = (v[j] = v[j] + (1 - beta2) * (g * g - v[j]));
    param[j] = param[j] * decay - stepSize * Math.atan2(mj, Math.sqrt(vj) / bc2);
  }
}
