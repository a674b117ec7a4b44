/** Reference element-wise kernels: SwiGLU gate, the residual add/scale, and the batched transpose. */
import type { FloatArray } from "../api.js";

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** out[T,F] = silu(gate) * up, gateUp[T,2F] = (gate | up). */
export function swigluForward(out: FloatArray, gateUp: FloatArray, T: number, F: number): void {
  for (let t = 0; t < T; t++) {
    const g0 = t * 2 * F;
    for (let f = 0; f < F; f++) {
      const g = gateUp[g0 + f];
      out[t * F + f] = g * sigmoid(g) * gateUp[g0 + F + f];
    }
  }
}

/** silu'(g) = s (1 + g (1 - s)), s = sigmoid(g). */
export function swigluBackward(
  dgateUp: FloatArray,
  dout: FloatArray,
  gateUp: FloatArray,
  T: number,
  F: number,
): void {
  for (let t = 0; t < T; t++) {
    const g0 = t * 2 * F;
    for (let f = 0; f < F; f++) {
      const g = gateUp[g0 + f];
      const u = gateUp[g0 + F + f];
      const s = sigmoid(g);
      const dy = dout[t * F + f];
      dgateUp[g0 + f] = dy * u * s * (1 + g * (1 - s));
      dgateUp[g0 + F + f] = dy * g * s;
    }
  }
}

/** swigluBackward, and act[T,F] = swigluForward(gateUp) (read before dgateUp, which may alias gateUp, is written). */
export function swigluActBackward(
  dgateUp: FloatArray,
  act: FloatArray,
  dout: FloatArray,
  gateUp: FloatArray,
  T: number,
  F: number,
): void {
  swigluForward(act, gateUp, T, F);
  swigluBackward(dgateUp, dout, gateUp, T, F);
}

/** out[n] = alpha*a + beta*b. */
export function add(
  out: FloatArray,
  a: FloatArray,
  b: FloatArray,
  alpha: number,
  beta: number,
  n: number,
): void {
  for (let i = 0; i < n; i++) out[i] = alpha * a[i] + beta * b[i];
}

export function addBackward(
  da: FloatArray,
  db: FloatArray,
  dout: FloatArray,
  alpha: number,
  beta: number,
  n: number,
): void {
  for (let i = 0; i < n; i++) {
    const g = dout[i];
    da[i] = alpha * g;
    db[i] = beta * g;
  }
}

/** out[b] = inp[b]ᵀ for B matrices inp[b] [R, C]. */
export function transpose(out: FloatArray, inp: FloatArray, B: number, R: number, C: number): void {
  const n = R * C;
  for (let b = 0; b < B; b++) {
    const o = b * n;
    for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) out[o + c * R + r] = inp[o + r * C + c];
  }
}
