/**
 * The attention sub-layer of a block (official Attention + the block's first post-norm):
 *   h1 = rms_norm(x + o_proj(attention(rope(qkv_proj(x)))))
 * forward and backward. The forward never writes o_proj's output before its residual add (one kernel); a
 * record for the backward keeps qkv after RoPE, and the probabilities and attention output when its SaveChoice
 * says so (else the backward recomputes them into the shared buffers, the same bits).
 */
import type { Kernels } from "../../kernels/api.js";
import type { BlockActs, BlockScratch } from "../workspace.js";
import type { BlockWeights, Dims, LayerGrads } from "./linear.js";
import { linear, linearResidualNorm } from "./linear.js";

const NO_PROBS = new Float32Array(0);

export interface Rope {
  cos: Float32Array; // [S, HD]
  sin: Float32Array;
}

/** The block's attention half up to o_proj: a.qkv = qkv_proj(x), a.att = attention(rope(a.qkv)). */
export function qkvAttention(
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

/** a.h1 = rms_norm(x + o_proj(attention(x))), rstd1 kept. */
export function attentionForward(
  k: Kernels,
  w: BlockWeights,
  x: Float32Array,
  a: BlockActs,
  d: Dims,
  rope: Rope | null,
): void {
  const T = d.B * d.S;
  qkvAttention(k, w, x, a, d, rope);
  linearResidualNorm(k, w, "o", a.h1, a.rstd1, x, a.att, T, d.D, d.D, d.eps, d.precision);
}

/** In: s.dh1 = d(h1), x the block input. Out: s.dA = d(x), residual included (s.dB, s.datt, s.dqkv used). */
export function attentionBackward(
  k: Kernels,
  w: BlockWeights,
  a: BlockActs,
  x: Float32Array,
  d: Dims,
  rope: Rope | null,
  s: BlockScratch,
  grads: LayerGrads,
): void {
  const { B, S, D, NH, HD, precision: p } = d;
  const T = B * S;
  k.rmsnormBackward(s.dB, s.dh1, a.h1, a.rstd1, T, D); // dB = d r1 = d x (residual) = d tmp
  if (!a.saved!.attention) k.attentionForward(a.att, a.probs, a.qkv, B, S, NH, HD); // the forward's bits
  grads.add("self_attn.o_proj.weight", (g) => k.linearBackward(s.datt, g, s.dB, a.att, w.o, T, D, D, p));
  k.attentionBackward(s.dqkv, s.datt, a.qkv, a.probs, B, S, NH, HD);
  if (rope) k.ropeBackward(s.dqkv, s.dqkv, rope.cos, rope.sin, T, 3 * D, S, 2 * NH, HD);
  grads.add("self_attn.qkv_proj.weight", (g) => k.linearBackward(s.dA, g, s.dqkv, x, w.qkv, T, D, 3 * D, p));
  k.add(s.dA, s.dA, s.dB, 1, 1, T * D);
}
