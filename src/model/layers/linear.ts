/**
 * What every layer shares: the block dimensions, a block's weights (and their pre-packed copies), the linear
 * layers as the kernels run them (the projection alone, or with the residual add and the post-norm fused), and
 * how a layer's backward hands over its weight gradients.
 */
import type { Kernels, MatmulPrecision } from "../../kernels/api.js";
import { byteArena } from "../../util/memory.js";

export interface Dims {
  B: number;
  S: number;
  D: number;
  NH: number;
  HD: number;
  F: number;
  eps: number;
  /** Every linear layer's matmul precision (the config's forward_dtype). */
  precision: MatmulPrecision;
  /** TRM mlp_t: the sequence-axis SwiGLU's inner size; 0 for attention blocks. */
  FT: number;
}

export interface BlockWeights {
  qkv: Float32Array; // [3D, D] (empty in a TRM mlp_t block)
  o: Float32Array; // [D, D] (empty in a TRM mlp_t block)
  /** TRM mlp_t: the sequence-axis SwiGLU's weights, [2FT, S] and [S, FT]. */
  tGateUp?: Float32Array;
  tDown?: Float32Array;
  gateUp: Float32Array; // [2F, D]
  down: Float32Array; // [D, F]
  /** The same weights pre-packed (Kernels.packLinear) for this forward pass, when the caller packed them. */
  packed?: { qkv: Uint8Array; o: Uint8Array; gateUp: Uint8Array; down: Uint8Array };
}

export type WeightName = "qkv" | "o" | "gateUp" | "down";

/**
 * [I, O] of each block weight (weight [O, I]): the one place the four shapes are written. An mlp_t block has
 * no qkv and o ([0, 0]: nothing packed); its sequence-axis weights are used unpacked.
 */
function weightShapes(d: Dims): Record<WeightName, [number, number]> {
  const att = d.FT > 0 ? 0 : d.D;
  return { qkv: [att, 3 * att], o: [att, att], gateUp: [d.D, 2 * d.F], down: [d.F, d.D] };
}

/** out[T,O] = inp[T,I]·w[name]ᵀ, from the pre-packed copy when there is one. */
export function linear(
  k: Kernels,
  w: BlockWeights,
  name: WeightName,
  out: Float32Array,
  inp: Float32Array,
  T: number,
  I: number,
  O: number,
  p: MatmulPrecision,
): void {
  if (w.packed) k.linearForwardPacked(out, inp, w.packed[name], T, I, O, p);
  else k.linearForward(out, inp, w[name], T, I, O, p);
}

/** out[T,O] = rmsnorm(res + inp·w[name]ᵀ), rstd saved: the projection, the residual add and the post-norm
 * as one kernel. */
export function linearResidualNorm(
  k: Kernels,
  w: BlockWeights,
  name: WeightName,
  out: Float32Array,
  rstd: Float32Array,
  res: Float32Array,
  inp: Float32Array,
  T: number,
  I: number,
  O: number,
  eps: number,
  p: MatmulPrecision,
): void {
  if (w.packed) k.linearResidualRmsnormForwardPacked(out, rstd, res, inp, w.packed[name], T, I, O, eps, p);
  else k.linearResidualRmsnormForward(out, rstd, res, inp, w[name], T, I, O, eps, p);
}

/** Packs a block's four weights into `into` (buffers sized by linearPackedBytes for these dims). */
export function packBlockWeights(
  k: Kernels,
  w: BlockWeights,
  into: NonNullable<BlockWeights["packed"]>,
  d: Dims,
): void {
  for (const [name, [I, O]] of Object.entries(weightShapes(d)) as [WeightName, [number, number]][])
    if (I > 0) k.packLinear(into[name], w[name], I, O, d.precision);
}

/** Buffers for packBlockWeights. */
export function allocPackedBlock(k: Kernels, d: Dims): NonNullable<BlockWeights["packed"]> {
  const s = weightShapes(d);
  const [qkv, o, gateUp, down] = byteArena(
    [s.qkv, s.o, s.gateUp, s.down].map(([I, O]) => (I > 0 ? k.linearPackedBytes(I, O, d.precision) : 0)),
  );
  return { qkv, o, gateUp, down };
}

/**
 * Where a layer's backward sends a weight's gradient: `add(name, fn)` runs fn with the buffer that weight's
 * gradient is added into (name relative to the block, e.g. "mlp.down_proj.weight"); the weight's gradient is
 * complete when fn returns (see GradientSink).
 */
export interface LayerGrads {
  add(name: string, fn: (g: Float32Array) => void): void;
}
