/**
 * One transformer block (official HierarchicalReasoningModel_ACTV1Block / TRM's block, post-norm), forward
 * and backward, from its two sub-layers:
 *   h1  = rms_norm(x + o_proj(attention(rope(qkv_proj(x)))))      layers/attention.ts
 *         (TRM mlp_t: h1 = rms_norm over positions of xᵀ + SwiGLU_t(xᵀ), transposed back; layers/mlp-t.ts)
 *   out = rms_norm(h1 + down_proj(silu(gate) * up)),  (gate | up) = gate_up_proj(h1)      layers/mlp.ts
 * and a reasoning level: input injection (x = z + injection) then its blocks in order. Activations live in a
 * BlockActs record (workspace.ts): one shared record for no-grad runs (overwritten block after block), or one
 * per block when the backward needs them.
 */
import type { Kernels } from "../kernels/api.js";
import { attentionBackward, attentionForward, qkvAttention } from "./layers/attention.js";
import type { Rope } from "./layers/attention.js";
import type { BlockWeights, Dims, LayerGrads } from "./layers/linear.js";
import { linearResidualNorm } from "./layers/linear.js";
import { gateUpSwiglu, mlpBackward, mlpForward } from "./layers/mlp.js";
import { mlpTBackward, mlpTForward } from "./layers/mlp-t.js";
import type { BlockActs, BlockScratch, SavedLevel } from "./workspace.js";

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
  if (d.FT > 0) mlpTForward(k, w, x, a, d);
  else attentionForward(k, w, x, a, d, rope);
  mlpForward(k, w, out, a, d);
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

/** In: s.dA = d(block output). Out: s.dA = d(block input x). */
export function blockBackward(
  k: Kernels,
  w: BlockWeights,
  a: BlockActs,
  x: Float32Array,
  d: Dims,
  rope: Rope | null,
  s: BlockScratch,
  grads: LayerGrads,
): void {
  mlpBackward(k, w, a, d, s, grads);
  if (d.FT > 0) mlpTBackward(k, w, a, x, s.dh1, s.dA, d, s.t, grads);
  else attentionBackward(k, w, a, x, d, rope, s, grads);
}

/**
 * In: s.dA = d(level output). Out: s.dA = d(level input). `grads(i)` is block i's gradient destination (its
 * names prefixed with the level's and the block's, e.g. "L_level.layers.1.").
 */
export function levelBackward(
  k: Kernels,
  layers: BlockWeights[],
  saved: SavedLevel,
  d: Dims,
  rope: Rope | null,
  s: BlockScratch,
  grads: (i: number) => LayerGrads,
): void {
  for (let i = layers.length - 1; i >= 0; i--) {
    const x = i === 0 ? saved.levelIn : saved.acts[i - 1].out;
    blockBackward(k, layers[i], saved.acts[i], x, d, rope, s, grads(i));
  }
}
