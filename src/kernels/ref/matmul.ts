/**
 * Reference GEMM and the bias-free linear layers built on it (plain, pre-packed, and fused with the residual add or
 * SwiGLU). Accumulates in float64 (JS numbers) whatever
 * the buffer type, so it is the precise end of every conformance comparison. With bfloat16 precision the
 * operands are rounded first (copies; the caller's buffers are untouched), which is the definition the fast
 * kernels match up to float32 summation order.
 */
import type { FloatArray, MatmulPrecision } from "../api.js";
import { add, swigluForward } from "./elementwise.js";
import { rmsnormForward } from "./rmsnorm.js";

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** x rounded to the nearest bfloat16 (ties to even), as a number; NaN stays NaN. */
export function bf16Round(x: number): number {
  f32[0] = x;
  const u = u32[0];
  if ((u & 0x7fffffff) > 0x7f800000) return NaN;
  u32[0] = ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) << 16;
  return f32[0];
}

/** A copy of x with every element rounded to bfloat16 (same array type). */
export function bf16RoundArray<T extends FloatArray>(x: T, n = x.length): T {
  const out = new (x.constructor as new (n: number) => T)(n);
  for (let i = 0; i < n; i++) out[i] = bf16Round(x[i]);
  return out;
}

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
  precision: MatmulPrecision = "float32",
): void {
  if (precision === "bfloat16") {
    A = bf16RoundArray(A, M * K);
    B = bf16RoundArray(B, K * N);
  }
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
  precision: MatmulPrecision = "float32",
): void {
  matmul(out, inp, weight, T, O, I, false, true, false, precision);
}

// ref's packed weight: a 16-byte header (tag, I, O, precision) then the weight as float64 (exact for float32
// and float64 weights), read and written in place through typed views.
const REF_TAG = 0x2d6d7268; // "hrm-" little endian
const REF_HEADER = 16;

export function linearPackedBytes(I: number, O: number): number {
  return REF_HEADER + 8 * I * O;
}

/** The header (tag, I, O, precision) and weight views of a packed buffer; the weight view needs the full size. */
function header(packed: Uint8Array, kernel: string): Int32Array {
  if (packed.byteOffset % 8 !== 0)
    throw new RangeError(`ref ${kernel}: packed must start at a multiple of 8 bytes in its buffer`);
  return new Int32Array(packed.buffer, packed.byteOffset, Math.min(4, packed.byteLength >> 2));
}
function weightView(packed: Uint8Array, I: number, O: number, kernel: string): Float64Array {
  if (packed.byteLength < linearPackedBytes(I, O))
    throw new RangeError(
      `ref ${kernel}: packed has ${packed.byteLength} bytes, needs ${linearPackedBytes(I, O)}`,
    );
  return new Float64Array(packed.buffer, packed.byteOffset + REF_HEADER, I * O);
}

const precisionFlag = (p: MatmulPrecision) => (p === "bfloat16" ? 1 : 0);

export function packLinear(
  packed: Uint8Array,
  weight: FloatArray,
  I: number,
  O: number,
  precision: MatmulPrecision = "float32",
): void {
  weightView(packed, I, O, "packLinear").set(weight.subarray(0, I * O));
  header(packed, "packLinear").set([REF_TAG, I, O, precisionFlag(precision)]);
}

export function linearForwardPacked(
  out: FloatArray,
  inp: FloatArray,
  packed: Uint8Array,
  T: number,
  I: number,
  O: number,
  precision: MatmulPrecision = "float32",
): void {
  const head = header(packed, "linearForwardPacked");
  if (head[0] !== REF_TAG || head[1] !== I || head[2] !== O || head[3] !== precisionFlag(precision))
    throw new TypeError(
      "ref linearForwardPacked: packed was not made by ref packLinear with these I, O, precision",
    );
  linearForward(out, inp, weightView(packed, I, O, "linearForwardPacked"), T, I, O, precision);
}

// The fused kernels' intermediate product (ref computes it, then the second step): one buffer per element type,
// grown on demand and reused, so the model on ref does not allocate [T, 2F] per block call. ref is synchronous,
// and the product is consumed before the kernel returns.
const products = { f32: new Float32Array(0), f64: new Float64Array(0) };
function product(like: FloatArray, n: number): FloatArray {
  if (like instanceof Float64Array) {
    if (products.f64.length < n) products.f64 = new Float64Array(n);
    return products.f64.subarray(0, n);
  }
  if (products.f32.length < n) products.f32 = new Float32Array(n);
  return products.f32.subarray(0, n);
}

/** out[T,O] = res + inp·weight[O,I]ᵀ: the product in a buffer of out's type, then add (out may alias res). */
export function linearResidualForward(
  out: FloatArray,
  res: FloatArray,
  inp: FloatArray,
  weight: FloatArray,
  T: number,
  I: number,
  O: number,
  precision: MatmulPrecision = "float32",
): void {
  const y = product(out, T * O);
  linearForward(y, inp, weight, T, I, O, precision);
  add(out, res, y, 1, 1, T * O);
}

/** linearResidualForward from ref packLinear's bytes. */
export function linearResidualForwardPacked(
  out: FloatArray,
  res: FloatArray,
  inp: FloatArray,
  packed: Uint8Array,
  T: number,
  I: number,
  O: number,
  precision: MatmulPrecision = "float32",
): void {
  const y = product(out, T * O);
  linearForwardPacked(y, inp, packed, T, I, O, precision);
  add(out, res, y, 1, 1, T * O);
}

/** linearResidualForward, then rmsnormForward of out in place. */
export function linearResidualRmsnormForward(
  out: FloatArray,
  rstd: FloatArray,
  res: FloatArray,
  inp: FloatArray,
  weight: FloatArray,
  T: number,
  I: number,
  O: number,
  eps: number,
  precision: MatmulPrecision = "float32",
): void {
  linearResidualForward(out, res, inp, weight, T, I, O, precision);
  rmsnormForward(out, rstd, out, T, O, eps);
}

/** linearResidualRmsnormForward from ref packLinear's bytes. */
export function linearResidualRmsnormForwardPacked(
  out: FloatArray,
  rstd: FloatArray,
  res: FloatArray,
  inp: FloatArray,
  packed: Uint8Array,
  T: number,
  I: number,
  O: number,
  eps: number,
  precision: MatmulPrecision = "float32",
): void {
  linearResidualForwardPacked(out, res, inp, packed, T, I, O, precision);
  rmsnormForward(out, rstd, out, T, O, eps);
}

/** out[T,F] = swiglu(inp·weight[2F,I]ᵀ): the product in a buffer of out's type, then swigluForward. */
export function linearSwigluForward(
  out: FloatArray,
  inp: FloatArray,
  weight: FloatArray,
  T: number,
  I: number,
  F: number,
  precision: MatmulPrecision = "float32",
): void {
  const gateUp = product(out, 2 * T * F);
  linearForward(gateUp, inp, weight, T, I, 2 * F, precision);
  swigluForward(out, gateUp, T, F);
}

/** gateUp[T,2F] = inp·weightᵀ, out[T,F] = swiglu(gateUp). */
export function linearGateUpSwigluForward(
  out: FloatArray,
  gateUp: FloatArray,
  inp: FloatArray,
  weight: FloatArray,
  T: number,
  I: number,
  F: number,
  precision: MatmulPrecision = "float32",
): void {
  linearForward(gateUp, inp, weight, T, I, 2 * F, precision);
  swigluForward(out, gateUp, T, F);
}

/** linearSwigluForward from ref packLinear's bytes for weight [2F, I]. */
export function linearSwigluForwardPacked(
  out: FloatArray,
  inp: FloatArray,
  packed: Uint8Array,
  T: number,
  I: number,
  F: number,
  precision: MatmulPrecision = "float32",
): void {
  const gateUp = product(out, 2 * T * F);
  linearForwardPacked(gateUp, inp, packed, T, I, 2 * F, precision);
  swigluForward(out, gateUp, T, F);
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
  precision: MatmulPrecision = "float32",
): void {
  matmul(dinp, dout, weight, T, I, O, false, false, false, precision);
  matmul(dweight, dout, inp, O, I, T, true, false, true, precision);
}
