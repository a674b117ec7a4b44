/**
 * One transformer block (official HierarchicalReasoningModel_ACTV1Block / TRM's block, post-norm):
 *   h1  = rms_norm(x + o_proj(attention(rope(qkv_proj(x)))))
 *         (TRM mlp_t: h1 = rms_norm over positions of xᵀ + SwiGLU_t(xᵀ), transposed back; see mlp-t.ts)
 *   out = rms_norm(h1 + down_proj(silu(gate) * up)),  (gate | up) = gate_up_proj(h1)
 * and a reasoning level: input injection (x = z + injection) then its blocks in order. o_proj and down_proj
 * each run with the residual add after them, and gate_up with SwiGLU, as one kernel.
 * Activations live in a BlockActs record: one shared record for no-grad runs (overwritten block after
 * block), or one per block when the backward needs them.
 */
import type { Kernels, MatmulPrecision } from "../kernels/api.js";
import { byteArena, floatArena } from "../util/memory.js";
import { mlpTForward } from "./mlp-t.js";

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

type WeightName = "qkv" | "o" | "gateUp" | "down";

/**
 * [I, O] of each block weight (weight [O, I]): the one place the four shapes are written. An mlp_t block has
 * no qkv and o ([0, 0]: nothing packed); its sequence-axis weights are used unpacked.
 */
function weightShapes(d: Dims): Record<WeightName, [number, number]> {
  const att = d.FT > 0 ? 0 : d.D;
  return { qkv: [att, 3 * att], o: [att, att], gateUp: [d.D, 2 * d.F], down: [d.F, d.D] };
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

/**
 * Everything a block computes. The backward reads qkv (after RoPE), h1, rstd1, out, rstd2, and probs, att, gu
 * and act, which a record may keep (`saved`) or leave to buffers records share, into which the backward then
 * recomputes them: probs and att from qkv (attentionForward), gu from h1 (one gate_up matmul), act from gu.
 * The forward never writes the projections before their residual adds (one kernel each), nor gu into a
 * record that does not keep it (gate_up and SwiGLU are then one kernel).
 */
export interface BlockActs {
  qkv: Float32Array; // [T, 3D] (after RoPE in a record for the backward)
  probs: Float32Array; // [B, NH, S, S]
  att: Float32Array; // [T, D]
  h1: Float32Array; // [T, D]
  rstd1: Float32Array; // [T]
  gu: Float32Array; // [T, 2F]
  act: Float32Array; // [T, F]
  out: Float32Array; // [T, D] block output
  rstd2: Float32Array; // [T]
  /**
   * TRM mlp_t blocks (length 0 otherwise), on the transposed state [B, D, S]: xt = xᵀ and h1t = h1ᵀ (the
   * backward transposes them again), guT [B*D, 2FT] (a record for the backward keeps it), actT [B*D, FT] and
   * rstdT [B*D] (kept).
   */
  xt: Float32Array;
  guT: Float32Array;
  actT: Float32Array;
  h1t: Float32Array;
  rstdT: Float32Array;
  /** A record for the backward (null: the no-grad record, which keeps nothing), and what it keeps. */
  saved: SaveChoice | null;
}

/** Which recomputable activations a record for the backward keeps (its own copies). */
export interface SaveChoice {
  /** gate_up's output [T, 2F] (else recomputed: one matmul per block, the costliest to redo). */
  gu: boolean;
  /** The softmax probabilities and attention output (else recomputed by attentionForward from qkv). */
  attention: boolean;
  /** SwiGLU's output [T, F] (only with gu; else recomputed from gu, element-wise). */
  act: boolean;
}

/** Bytes one record spends on each recomputable activation it keeps (mlp_t blocks have no attention). */
export function saveCosts(d: Dims): Record<keyof SaveChoice, number> {
  const T = d.B * d.S;
  const attention = d.FT > 0 ? 0 : 4 * (d.B * d.NH * d.S * d.S + T * d.D);
  return { gu: 4 * T * 2 * d.F, attention, act: 4 * T * d.F };
}

/**
 * What each of `blocks` records keeps within maxBytes: items in order of time saved per byte (the paper's
 * model at batch 32: gu ~24 ms of matmul per 32 MB record, attention ~3.5 ms per 12 MB, act ~1.3 ms per 16 MB),
 * each for as many records as still fit. TRM's 14 records at batch 32 of its paper model keep gate_up's output
 * in 12 of them (448 MiB) where an all-or-nothing choice kept it in none. Only time and memory differ: a record
 * that does not keep an activation recomputes it into the same bits.
 */
export function chooseSavedPerBlock(d: Dims, blocks: number, maxBytes: number): SaveChoice[] {
  const cost = saveCosts(d);
  let left = maxBytes;
  const out = Array.from({ length: blocks }, () => ({ gu: false, attention: false, act: false }));
  const take = (key: keyof SaveChoice, ok: (c: SaveChoice) => boolean) => {
    for (const c of out)
      if (ok(c) && cost[key] <= left) {
        c[key] = true;
        left -= cost[key];
      }
  };
  take("gu", () => true);
  take("attention", () => true);
  take("act", (c) => c.gu);
  return out;
}

interface Own {
  probs: boolean;
  att: boolean;
  gu: boolean;
  act: boolean;
  out: boolean;
  /** mlp_t blocks: xt, h1t and actT (the no-grad record's; records for the backward share them), and guT. */
  tShared: boolean;
  guT: boolean;
}

/** A record's own buffers: everything but the recomputable ones `own` leaves out (length 0 there). */
function actBuffers(d: Dims, own: Own) {
  const T = d.B * d.S;
  const att = d.FT === 0;
  const TT = d.B * d.D; // rows of the transposed state
  const [qkv, probs, attOut, h1, rstd1, gu, act, out, rstd2, xt, guT, actT, h1t, rstdT] = floatArena([
    att ? 3 * T * d.D : 0,
    att && own.probs ? d.B * d.NH * d.S * d.S : 0,
    att && own.att ? T * d.D : 0,
    T * d.D,
    att ? T : 0,
    own.gu ? 2 * T * d.F : 0,
    own.act ? T * d.F : 0,
    own.out ? T * d.D : 0,
    T,
    !att && own.tShared ? TT * d.S : 0,
    !att && own.guT ? 2 * TT * d.FT : 0,
    !att && own.tShared ? TT * d.FT : 0,
    !att && own.tShared ? TT * d.S : 0,
    att ? 0 : TT,
  ]);
  return { qkv, probs, att: attOut, h1, rstd1, gu, act, out, rstd2, xt, guT, actT, h1t, rstdT };
}

/**
 * The no-grad record, which also holds the buffers the records for the backward share: what those keep
 * (`forSaved`) decides whether it needs room for recomputed probabilities and gu. gu is the largest
 * activation ([T, 2F], 32 MB per block for the paper's model at batch 32).
 */
export function allocNoGradActs(d: Dims, forSaved: SaveChoice): BlockActs {
  const own = { probs: !forSaved.attention, att: true, gu: !forSaved.gu, act: true, out: true };
  return { ...actBuffers(d, { ...own, tShared: true, guT: false }), saved: null };
}

/**
 * A record for the backward: its own copies of what `save` keeps, the no-grad record's buffers for the rest.
 * Without `ownOut` its `out` is empty until levelForward points it at the level's output (the last block's).
 */
export function allocSavedActs(d: Dims, shared: BlockActs, save: SaveChoice, ownOut = true): BlockActs {
  const a = actBuffers(d, {
    probs: save.attention,
    att: save.attention,
    gu: save.gu,
    act: save.act,
    out: ownOut,
    tShared: false,
    guT: true, // an mlp_t block's guT: 2FT/S of the state per block, small beside attention's probabilities
  });
  return {
    ...a,
    xt: shared.xt,
    actT: shared.actT,
    h1t: shared.h1t,
    probs: save.attention ? a.probs : shared.probs,
    att: save.attention ? a.att : shared.att,
    gu: save.gu ? a.gu : shared.gu,
    act: save.act ? a.act : shared.act,
    saved: save,
  };
}

const NO_PROBS = new Float32Array(0);

export interface Rope {
  cos: Float32Array; // [S, HD]
  sin: Float32Array;
}

/** The block's attention half up to o_proj: a.qkv = qkv_proj(x), a.att = attention(rope(a.qkv)). */
function qkvAttention(
  k: Kernels,
  w: BlockWeights,
  x: Float32Array,
  a: BlockActs,
  d: Dims,
  rope: Rope | null,
) {
  const { B, S, D, NH, HD, precision: p } = d;
  const T = B * S;
  linear(k, w, "qkv", a.qkv, x, T, D, 3 * D, p);
  if (rope && !a.saved) {
    // No backward reads this qkv: RoPE is applied inside attention, not by a pass over qkv of its own.
    k.attentionRopeForward(a.att, a.qkv, rope.cos, rope.sin, B, S, NH, HD);
  } else {
    if (rope) k.ropeForward(a.qkv, a.qkv, rope.cos, rope.sin, T, 3 * D, S, 2 * NH, HD);
    // probs: kept for the backward, or the shared buffer it recomputes into; a no-grad run keeps none.
    k.attentionForward(a.att, a.saved ? a.probs : NO_PROBS, a.qkv, B, S, NH, HD);
  }
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
  const { B, S, D, F, eps, precision: p } = d;
  const T = B * S;
  if (d.FT > 0) mlpTForward(k, w, x, a, d);
  else {
    qkvAttention(k, w, x, a, d, rope);
    linearResidualNorm(k, w, "o", a.h1, a.rstd1, x, a.att, T, D, D, eps, p);
  }
  if (a.saved?.gu && !w.packed) k.linearGateUpSwigluForward(a.act, a.gu, a.h1, w.gateUp, T, D, F, p);
  else if (a.saved?.gu) {
    linear(k, w, "gateUp", a.gu, a.h1, T, D, 2 * F, p);
    k.swigluForward(a.act, a.gu, T, F);
  } else gateUpSwiglu(k, w, a.act, a.h1, T, d);
  linearResidualNorm(k, w, "down", out, a.rstd2, a.h1, a.act, T, F, D, eps, p);
}

/**
 * blockForward in place on x[T,D] for the first position of each sequence only (rows b*S): q, k, v and
 * attention run over every position (the first row attends to all of them), o_proj, the MLP and both norms
 * over those B rows. The other rows of x are left as they were, stale. For the Q-learning target, which reads
 * only z_H[:, 0] (the q_head's input) after the last block: o_proj and the MLP are 10/13 of a block's matmul
 * FLOPs (expansion 4). Row for row the same bits as blockForward: every kernel here computes each row on its
 * own.
 */
export function blockForwardFirstRows(
  k: Kernels,
  w: BlockWeights,
  x: Float32Array,
  a: BlockActs,
  d: Dims,
  rope: Rope | null,
): void {
  if (a.saved) throw new Error("blockForwardFirstRows: a record for the backward needs every row");
  if (d.FT > 0) throw new Error("blockForwardFirstRows: an mlp_t block mixes every row in its norm");
  const { B, S, D, F, eps, precision: p } = d;
  qkvAttention(k, w, x, a, d, rope);
  // The B rows, gathered into the record's buffers that are free now: qkv is read, out unused in place.
  const xs = a.qkv.subarray(0, B * D);
  const atts = a.out.subarray(0, B * D);
  const h1 = a.h1.subarray(0, B * D);
  const act = a.act.subarray(0, B * F);
  for (let b = 0; b < B; b++) {
    xs.set(x.subarray(b * S * D, b * S * D + D), b * D);
    atts.set(a.att.subarray(b * S * D, b * S * D + D), b * D);
  }
  linearResidualNorm(k, w, "o", h1, a.rstd1, xs, atts, B, D, D, eps, p);
  gateUpSwiglu(k, w, act, h1, B, d);
  linearResidualNorm(k, w, "down", h1, a.rstd2, h1, act, B, F, D, eps, p);
  for (let b = 0; b < B; b++) x.set(h1.subarray(b * D, (b + 1) * D), b * S * D);
}

/**
 * z = level(z + injection), in place; with `firstRowsOnly` (no `saved`), the last block updates only the first
 * row of each sequence (blockForwardFirstRows). With `saved` (one BlockActs per layer) the level input is kept in
 * `levelIn` and every block's activations in its own record, for the backward; without, one shared record.
 * The last block writes z itself, which its record then holds as its `out`: the backward reads the level's
 * output from the carry, so a caller must not change z between this forward and that backward (11 MB fewer
 * at batch 32 of the paper's model than a copy per level). With `ownOut` (TRM, whose later calls overwrite z)
 * the last record keeps its own output and z gets a copy.
 */
export function levelForward(
  k: Kernels,
  layers: BlockWeights[],
  z: Float32Array,
  injection: Float32Array,
  d: Dims,
  rope: Rope | null,
  shared: BlockActs,
  saved?: { levelIn: Float32Array; acts: BlockActs[]; ownOut?: boolean },
  firstRowsOnly = false,
): void {
  const n = d.B * d.S * d.D;
  if (!saved) {
    k.add(z, z, injection, 1, 1, n);
    layers.forEach((w, i) => {
      if (firstRowsOnly && i === layers.length - 1 && d.FT === 0)
        blockForwardFirstRows(k, w, z, shared, d, rope);
      else blockForward(k, w, z, z, shared, d, rope);
    });
    return;
  }
  k.add(saved.levelIn, z, injection, 1, 1, n);
  if (layers.length === 0) z.set(saved.levelIn);
  else if (!saved.ownOut) saved.acts[layers.length - 1].out = z; // z is in levelIn: the last block may overwrite it
  let x = saved.levelIn;
  layers.forEach((w, i) => {
    blockForward(k, w, x, saved.acts[i].out, saved.acts[i], d, rope);
    x = saved.acts[i].out;
  });
  if (saved.ownOut && layers.length > 0) z.set(x);
}
