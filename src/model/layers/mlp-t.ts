/**
 * TRM's mlp_t sub-layer, the attention replacement of its MLP variant (official TRM block with mlp_t): the
 * state is transposed to [B, D, S], a SwiGLU of width S mixes positions, the residual is added and the RMS
 * norm is taken over the last axis (positions, at that point), and the result is transposed back:
 *   h1 = (rms_norm(xᵀ + down_t(silu(gate_t) * up_t)))ᵀ,  (gate_t | up_t) = gate_up_t(xᵀ)
 * The matmuls and the norm are the MLP's kernels on B*D rows of width S; the transposes are the batched
 * transpose kernel (in TypeScript they were ~10% of a training step of TRM's paper-size mlp_t model).
 */
import type { Kernels } from "../../kernels/api.js";
import type { BlockActs } from "../workspace.js";
import type { BlockWeights, Dims, LayerGrads } from "./linear.js";
import { downSwigluBackward } from "./mlp.js";

function weights(w: BlockWeights): { gateUp: Float32Array; down: Float32Array } {
  if (!w.tGateUp || !w.tDown) throw new Error("an mlp_t block needs its mlp_t weights");
  return { gateUp: w.tGateUp, down: w.tDown };
}

/** a.h1 [T, D] from x [T, D]; a record for the backward keeps guT and rstdT. */
export function mlpTForward(k: Kernels, w: BlockWeights, x: Float32Array, a: BlockActs, d: Dims): void {
  const { B, S, D, FT, eps, precision: p } = d;
  const TT = B * D;
  const t = weights(w);
  k.transpose(a.xt, x, B, S, D);
  if (a.saved) k.linearGateUpSwigluForward(a.actT, a.guT, a.xt, t.gateUp, TT, S, FT, p);
  else k.linearSwigluForward(a.actT, a.xt, t.gateUp, TT, S, FT, p);
  k.linearResidualRmsnormForward(a.h1t, a.rstdT, a.xt, a.actT, t.down, TT, FT, S, eps, p);
  k.transpose(a.h1, a.h1t, B, D, S);
}

/** The backward's buffers for mlp_t blocks (on the transposed state). */
export interface MlpTScratch {
  dh1t: Float32Array; // [B*D, S]
  dactT: Float32Array; // [B*D, FT]
  dxt: Float32Array; // [B*D, S]
}

/** In: dh1 [T, D] = d(h1), x the block input. Out: dx [T, D] = d(x), residual included. */
export function mlpTBackward(
  k: Kernels,
  w: BlockWeights,
  a: BlockActs,
  x: Float32Array,
  dh1: Float32Array,
  dx: Float32Array,
  d: Dims,
  s: MlpTScratch,
  grads: LayerGrads,
): void {
  const { B, S, D, FT, precision: p } = d;
  const TT = B * D;
  const t = weights(w);
  k.transpose(s.dh1t, dh1, B, S, D);
  k.transpose(a.h1t, a.h1, B, S, D);
  k.rmsnormBackward(s.dh1t, s.dh1t, a.h1t, a.rstdT, TT, S); // now d(xᵀ + mlp_t(xᵀ))
  const dguT = a.guT; // in place: guT is not read again; actT (not kept) is recomputed on the way
  downSwigluBackward(
    k,
    grads,
    "mlp_t.down_proj.weight",
    dguT,
    a.actT,
    s.dactT,
    s.dh1t,
    a.guT,
    t.down,
    TT,
    FT,
    S,
    p,
  );
  k.transpose(a.xt, x, B, S, D);
  grads.add("mlp_t.gate_up_proj.weight", (g) =>
    k.linearBackward(s.dxt, g, dguT, a.xt, t.gateUp, TT, S, 2 * FT, p),
  );
  k.add(s.dxt, s.dxt, s.dh1t, 1, 1, TT * S);
  k.transpose(dx, s.dxt, B, D, S);
}
