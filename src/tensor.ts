/**
 * Host tensors: a dtype tag, a shape and a flat C-order typed array. What the file formats (npy, safetensors,
 * .pt) read and write; no math here.
 */

export type DType =
  "float64" | "float32" | "float16" | "bfloat16" | "int64" | "int32" | "int16" | "int8" | "uint8" | "bool";

export type TypedArray =
  | Float64Array
  | Float32Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | Uint16Array
  | BigInt64Array;

export interface HostTensor {
  dtype: DType;
  shape: number[];
  /** float16/bfloat16 are kept as their raw Uint16Array bits; bool as Uint8Array (0/1); int64 as BigInt64Array. */
  data: TypedArray;
}

export const DTYPE_BYTES: Record<DType, number> = {
  float64: 8,
  float32: 4,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A typed array of `dtype` viewing a fresh copy of `bytes` (copied so alignment never matters). */
export function typedFromBytes(dtype: DType, bytes: Uint8Array): TypedArray {
  // An explicit copy: Node's Buffer.slice() would return a view into a shared pool.
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  const buf = copy.buffer;
  switch (dtype) {
    case "float64":
      return new Float64Array(buf);
    case "float32":
      return new Float32Array(buf);
    case "float16":
    case "bfloat16":
      return new Uint16Array(buf);
    case "int64":
      return new BigInt64Array(buf);
    case "int32":
      return new Int32Array(buf);
    case "int16":
      return new Int16Array(buf);
    case "int8":
      return new Int8Array(buf);
    case "uint8":
    case "bool":
      return new Uint8Array(buf);
  }
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Any float tensor as float32 (bfloat16 and float16 widened exactly); throws for non-float dtypes. */
/** float32 values as bfloat16 bits, rounded to nearest even (NaN stays a quiet NaN), as PyTorch's .bfloat16(). */
export function toBfloat16Bits(x: Float32Array): Uint16Array {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = u[i];
    out[i] = (v & 0x7fffffff) > 0x7f800000 ? (v >>> 16) | 0x40 : (v + 0x7fff + ((v >>> 16) & 1)) >>> 16;
  }
  return out;
}

export function toFloat32(t: HostTensor, what = "tensor"): Float32Array {
  switch (t.dtype) {
    case "float32":
      return t.data as Float32Array;
    case "float64":
      return Float32Array.from(t.data as Float64Array);
    case "bfloat16": {
      const src = t.data as Uint16Array;
      const bits = new Uint32Array(src.length);
      for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
      return new Float32Array(bits.buffer);
    }
    case "float16":
      return Float32Array.from(t.data as Uint16Array, halfToFloat);
    default:
      throw new TypeError(`${what} has dtype ${t.dtype}; a floating-point tensor is needed`);
  }
}
