/**
 * Reference rotary position embedding with the official half-split layout (`rotate_half`:
 * concat(-x2, x1)), applied to the first NR heads of every row of a packed [T,W] buffer.
 */
import type { FloatArray } from "../api.js";

/**
 * Shared body: sign = +1 applies the rotation (forward), -1 its transpose (backward), since
 * y1 = x1 c1 - x2 s1, y2 = x2 c2 + x1 s2 has transpose dx1 = dy1 c1 + dy2 s2, dx2 = dy2 c2 - dy1 s1.
 */
function rotate(
  out: FloatArray,
  inp: FloatArray,
  cos: FloatArray,
  sin: FloatArray,
  T: number,
  W: number,
  S: number,
  NR: number,
  HD: number,
  sign: number,
): void {
  const half = HD >> 1;
  for (let t = 0; t < T; t++) {
    const pos = (t % S) * HD;
    const row = t * W;
    for (let h = 0; h < NR; h++) {
      const o = row + h * HD;
      for (let i = 0; i < half; i++) {
        const x1 = inp[o + i];
        const x2 = inp[o + half + i];
        const c1 = cos[pos + i];
        const s1 = sin[pos + i];
        const c2 = cos[pos + half + i];
        const s2 = sin[pos + half + i];
        if (sign > 0) {
          out[o + i] = x1 * c1 - x2 * s1;
          out[o + half + i] = x2 * c2 + x1 * s2;
        } else {
          out[o + i] = x1 * c1 + x2 * s2;
          out[o + half + i] = x2 * c2 - x1 * s1;
        }
      }
    }
    if (out !== inp) for (let c = NR * HD; c < W; c++) out[row + c] = inp[row + c];
  }
}

export function ropeForward(
  out: FloatArray,
  inp: FloatArray,
  cos: FloatArray,
  sin: FloatArray,
  T: number,
  W: number,
  S: number,
  NR: number,
  HD: number,
): void {
  rotate(out, inp, cos, sin, T, W, S, NR, HD, 1);
}

export function ropeBackward(
  dinp: FloatArray,
  dout: FloatArray,
  cos: FloatArray,
  sin: FloatArray,
  T: number,
  W: number,
  S: number,
  NR: number,
  HD: number,
): void {
  rotate(dinp, dout, cos, sin, T, W, S, NR, HD, -1);
}
