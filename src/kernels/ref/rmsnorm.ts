/** Reference weightless RMSNorm (the official `rms_norm`: no gain, eps inside the square root). */
import type { FloatArray } from "../api.js";

/** out[T,D] = inp * rsqrt(mean(inp²) + eps); rstd[T] saved. out may alias inp. */
export function rmsnormForward(
  out: FloatArray,
  rstd: FloatArray,
  inp: FloatArray,
  T: number,
  D: number,
  eps: number,
): void {
  for (let t = 0; t < T; t++) {
    const o = t * D;
    let ss = 0;
    for (let d = 0; d < D; d++) ss += inp[o + d] * inp[o + d];
    const r = 1 / Math.sqrt(ss / D + eps);
    rstd[t] = r;
    for (let d = 0; d < D; d++) out[o + d] = inp[o + d] * r;
  }
}

/**
 * With y = x*r, r = (mean(x²)+eps)^-1/2: dx = r*(dy - y*mean(dy*y)).
 * Uses the saved (out, rstd) pair so the input need not be kept. dinp may alias dout.
 */
export function rmsnormBackward(
  dinp: FloatArray,
  dout: FloatArray,
  out: FloatArray,
  rstd: FloatArray,
  T: number,
  D: number,
): void {
  for (let t = 0; t < T; t++) {
    const o = t * D;
    let dot = 0;
    for (let d = 0; d < D; d++) dot += dout[o + d] * out[o + d];
    const m = dot / D;
    const r = rstd[t];
    for (let d = 0; d < D; d++) dinp[o + d] = r * (dout[o + d] - out[o + d] * m);
  }
}
