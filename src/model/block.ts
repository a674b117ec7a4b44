/**
 * One HRM transformer block (official HierarchicalReasoningModel_ACTV1Block, post-norm):
 *   h1  = rms_norm(x + o_proj(attention(rope(qkv_proj(x)))))
 *   out = rms_norm(h1 + down_proj(silu(gate) * up)),  (gate | up) = gate_up_proj(h1)
 * and a reasoning level: input injection (x = z + injection) then its blocks in order. o_proj and down_proj
 * each run with the residual add after them, and gate_up with SwiGLU, as one kernel.
 * Activations live in a BlockActs record: one shared record for no-grad runs (overwritten block after
 * block), or one per block when the backward needs them.
 */
import type { Kernels, MatmulPrecision } from "../kernels/api.js";
import { byteArena, floatArena } from "../util/memory.js";

export interface BlockWeights {
  qkv: Float32Array; // [3D, D]
  o: Float32Array; // [D, D]
  gateUp: Float32Array; // [2F, D]
  down: Float32Array; // [D, F]
  /** The same weights pre-packed (Kernels.packLinear) for this forward pass, when the caller packed them. */
  packed?: { qkv: Uint8Array; o: Uint8Array; gateUp: Uint8Array; down: Uint8Array };
}

type WeightName = "qkv" | "o" | "gateUp" | "down";

/** [I, O] of each block weight (weight [O, I]): the one place the four shapes are written. */
function weightShapes(d: Dims): Record<WeightName, [number, number]> {
  return { qkv: [d.D, 3 * d.D], o: [d.D, d.D], gateUp: [d.D, 2 * d.F], down: [d.F, d.D] };
}

/** out[T,O] = inp[T,I]·w[name]ᵀ, from the pre-packed copy when there is one. */
function linear(
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
function linearResidualNorm(
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

/** out[T,F] = silu(gate) * up, (gate | up) = inp·gateUpᵀ: one fused kernel, so no-grad runs never write gu. */
function gateUpSwiglu(
  k: Kernels,
  w: BlockWeights,
  out: Float32Array,
  inp: Float32Array,
  T: number,
  d: Dims,
): void {
  if (w.packed) k.linearSwigluForwardPacked(out, inp, w.packed.gateUp, T, d.D, d.F, d.precision);
  else k.linearSwigluForward(out, inp, w.gateUp, T, d.D, d.F, d.precision);
}

/** Packs a block's four weights into `into` (buffers sized by linearPackedBytes for these dims). */
export function packBlockWeights(
  k: Kernels,
  w: BlockWeights,
  into: NonNullable<BlockWeights["packed"]>,
  d: Dims,
): void {
  for (const [name, [I, O]] of Object.entries(weightShapes(d)) as [WeightName, [number, number]][])
    k.packLinear(into[name], w[name], I, O, d.precision);
}

/** Buffers for packBlockWeights. */
export function allocPackedBlock(k: Kernels, d: Dims): NonNullable<BlockWeights["packed"]> {
  const s = weightShapes(d);
  const [qkv, o, gateUp, down] = byteArena(
    [s.qkv, s.o, s.gateUp, s.down].map(([I, O]) => k.linearPackedBytes(I, O, d.precision)),
  );
  return { qkv, o, gateUp, down };
}

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
}

/**
 * Everything a block computes; the backward reads qkv, probs, att, h1, rstd1, out, rstd2, and gu and act where
 * the record keeps them (else it recomputes both). The forward writes gu only into a record that keeps it
 * (otherwise gate_up and SwiGLU are one kernel), and never the projections before their residual adds (also
 * one kernel each).
 */
export interface BlockActs {
  qkv: Float32Array; // [T, 3D] after RoPE
  probs: Float32Array; // [B, NH, S, S]
  att: Float32Array; // [T, D]
  h1: Float32Array; // [T, D]
  rstd1: Float32Array; // [T]
  gu: Float32Array; // [T, 2F]
  /** gu and act are this record's own, written by the forward for the backward (not buffers records share). */
  guSaved: boolean;
  act: Float32Array; // [T, F]
  out: Float32Array; // [T, D] block output
  rstd2: Float32Array; // [T]
}

/**
 * One block's activation record: without `share`, the record for no-grad runs (no probabilities kept);
 * with it, a saved record for the backward. `share` gives buffers several records may use in common: `gu` and
 * `act`, unless `saveGu`. gu is the largest activation ([T, 2F], 32 MB per block for the paper's model at batch
 * 32): recomputing it from the saved h1 (one gate_up matmul), and act from it, keeps a full batch-32 training
 * step under 1 GB for ~5% more FLOPs; where memory allows (HRMInner's saveGateUpMaxBytes) records keep both.
 */
export function allocBlockActs(
  d: Dims,
  share?: { act: Float32Array; gu: Float32Array },
  saveGu = false,
): BlockActs {
  const T = d.B * d.S;
  const own = !share || saveGu; // gu and act
  const [qkv, probs, att, h1, rstd1, gu, act, out, rstd2] = floatArena([
    3 * T * d.D,
    share ? d.B * d.NH * d.S * d.S : 0, // the shared (no-grad) record saves no softmax
    T * d.D,
    T * d.D,
    T,
    own ? 2 * T * d.F : 0,
    own ? T * d.F : 0,
    T * d.D,
    T,
  ]);
  return {
    qkv,
    probs,
    att,
    h1,
    rstd1,
    gu: own ? gu : share.gu,
    guSaved: !!share && saveGu,
    act: own ? act : share.act,
    out,
    rstd2,
  };
}

export interface Rope {
  cos: Float32Array; // [S, HD]
  sin: Float32Array;
}

/** x[T,D] -> out[T,D]; out may be x itself (x is last read before out is written). */
export function blockForward(
  k: Kernels,
  w: BlockWeights,
  x: Float32Array,
  out: Float32Array,
  a: BlockActs,
  d: Dims,
  rope: Rope | null,
): void {
  const { B, S, D, NH, HD, F, eps, precision: p } = d;
  const T = B * S;
  linear(k, w, "qkv", a.qkv, x, T, D, 3 * D, p);
  if (rope && a.probs.length === 0) {
    // No backward reads this qkv: RoPE is applied inside attention, not by a pass over qkv of its own.
    k.attentionRopeForward(a.att, a.qkv, rope.cos, rope.sin, B, S, NH, HD);
  } else {
    if (rope) k.ropeForward(a.qkv, a.qkv, rope.cos, rope.sin, T, 3 * D, S, 2 * NH, HD);
    k.attentionForward(a.att, a.probs, a.qkv, B, S, NH, HD);
  }
  linearResidualNorm(k, w, "o", a.h1, a.rstd1, x, a.att, T, D, D, eps, p);
  if (a.guSaved) {
    linear(k, w, "gateUp", a.gu, a.h1, T, D, 2 * F, p);
    k.swigluForward(a.act, a.gu, T, F);
  } else gateUpSwiglu(k, w, a.act, a.h1, T, d);
  linearResidualNorm(k, w, "down", out, a.rstd2, a.h1, a.act, T, F, D, eps, p);
}

/**
 * z = level(z + injection), in place. With `saved` (one BlockActs per layer) the level input is kept in
 * `levelIn` and every block's activations in its own record, for the backward; without, one shared record.
 */
export function levelForward(
  k: Kernels,
  layers: BlockWeights[],
  z: Float32Array,
  injection: Float32Array,
  d: Dims,
  rope: Rope | null,
  shared: BlockActs,
  saved?: { levelIn: Float32Array; acts: BlockActs[] },
): void {
  const n = d.B * d.S * d.D;
  if (!saved) {
    k.add(z, z, injection, 1, 1, n);
    for (const w of layers) blockForward(k, w, z, z, shared, d, rope);
    return;
  }
  k.add(saved.levelIn, z, injection, 1, 1, n);
  let x = saved.levelIn;
  layers.forEach((w, i) => {
    blockForward(k, w, x, saved.acts[i].out, saved.acts[i], d, rope);
    x = saved.acts[i].out;
  });
  z.set(x);
}
