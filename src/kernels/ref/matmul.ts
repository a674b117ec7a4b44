/**
 * Reference GEMM and the bias-free linear layer built on it. Accumulates in float64 (JS numbers) whatever
 * the buffer type, so it is the precise end of every conformance comparison.
 */
import type { FloatArray } from "../api.js";

/** C[M,N] (+)= op(A)[M,K]·op(B)[K,N]; see api.ts for the transpose conventions. */
export function matmul(
  C: FloatArray,
  A: FloatArray,
  B: FloatArray,
  M: number,
  N: number,
  K: number,
  transA: boolean,
  transB: boolean,
  accumulate: boolean,
): void {
  // op(A)(i,p) = A[i*aRow + p*aCol]; op(B)(p,j) = B[p*bRow + j*bCol].
  const aRow = transA ? 1 : K;
  const aCol = transA ? M : 1;
  const bRow = transB ? 1 : N;
  const bCol = transB ? K : 1;
  if (!transA && transB) {
    // x·Wᵀ (the linear layer): both operands are contiguous along K, so use dot products.
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let p = 0; p < K; p++) s += A[i * K + p] * B[j * K + p];
        C[i * N + j] = accumulate ? C[i * N + j] + s : s;
      }
    return;
  }
  const acc = new Float64Array(N); // one row of C, i-p-j order so the inner loop walks B's rows
  for (let i = 0; i < M; i++) {
    acc.fill(0);
    for (let p = 0; p < K; p++) {
      const a = A[i * aRow + p * aCol];
      if (a === 0) continue;
      const b0 = p * bRow;
      for (let j = 0; j < N; j++) acc[j] += a * B[b0 + j * bCol];
    }
    const c0 = i * N;
    if (accumulate) for (let j = 0; j < N; j++) C[c0 + j] += acc[j];
    else for (let j = 0; j < N; j++) C[c0 + j] = acc[j];
  }
}

/** out[T,O] = inp[T,I]·weight[O,I]ᵀ. */
export function linearForward(
  out: FloatArray,
  inp: FloatArray,
  weight: FloatArray,
  T: number,
  I: number,
  O: number,
): void {
  matmul(out, inp, weight, T, O, I, false, true, false);
}

/** dinp[T,I] = dout[T,O]·weight[O,I]; dweight[O,I] += doutᵀ·inp. */
export function linearBackward(
  dinp: FloatArray,
  dweight: FloatArray,
  dout: FloatArray,
  inp: FloatArray,
  weight: FloatArray,
  T: number,
  I: number,
  O: number,
): void {
  matmul(dinp, dout, weight, T, I, O, false, false, false);
  matmul(dweight, dout, inp, O, I, T, true, false, true);
}
