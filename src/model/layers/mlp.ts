/**
 * The MLP sub-layer of a block (official SwiGLU + the block's second post-norm):
 *   out = rms_norm(h1 + down_proj(silu(gate) * up)),  (gate | up) = gate_up_proj(h1)
 * forward and backward. gate_up and SwiGLU run as one kernel, and down_proj with the residual add and the
 * norm as another; a record for the backward keeps gate_up's output (gu) and SwiGLU's (act) when its
 * SaveChoice says so, else the backward recomputes them (the same bits).
 */
import type { Kernels, MatmulPrecision } from "../../kernels/api.js";
import type { BlockActs, BlockScratch } from "../workspace.js";
import type { BlockWeights, Dims, LayerGrads } from "./linear.js";
import { linear, linearResidualNorm } from "./linear.js";

/** out[T,F] = silu(gate) * up, (gate | up) = inp·gateUpᵀ: one fused kernel, so no-grad runs never write gu. */
export function gateUpSwiglu(
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

/** out = rms_norm(a.h1 + down_proj(SwiGLU(gate_up_proj(a.h1)))), rstd2 kept; gu and act as a.saved says. */
export function mlpForward(k: Kernels, w: BlockWeights, out: Float32Array, a: BlockActs, d: Dims): void {
  const { B, S, D, F, eps, precision: p } = d;
  const T = B * S;
  if (a.saved?.gu && !w.packed) k.linearGateUpSwigluForward(a.act, a.gu, a.h1, w.gateUp, T, D, F, p);
  else if (a.saved?.gu) {
    linear(k, w, "gateUp", a.gu, a.h1, T, D, 2 * F, p);
    k.swigluForward(a.act, a.gu, T, F);
  } else gateUpSwiglu(k, w, a.act, a.h1, T, d);
  linearResidualNorm(k, w, "down", out, a.rstd2, a.h1, a.act, T, F, D, eps, p);
}

/**
 * A down projection after SwiGLU, back to d gate_up, when act was not kept: its two products apart, d act
 * first, then act recomputed in the SwiGLU backward's pass over gu (not in a pass of its own), then the
 * weight gradient (`name`) that reads it. The same bits as linearBackward. dgu may be gu itself. Shapes:
 * dout [T, O], down [O, F], gu/dgu [T, 2F], act/dact [T, F].
 */
export function downSwigluBackward(
  k: Kernels,
  grads: LayerGrads,
  name: string,
  dgu: Float32Array,
  act: Float32Array,
  dact: Float32Array,
  dout: Float32Array,
  gu: Float32Array,
  down: Float32Array,
  T: number,
  F: number,
  O: number,
  p: MatmulPrecision,
): void {
  k.matmul(dact, dout, down, T, F, O, false, false, false, p);
  k.swigluActBackward(dgu, act, dact, gu, T, F);
  grads.add(name, (g) => k.matmul(g, dout, act, O, F, T, true, false, true, p));
}

/** In: s.dA = d(out). Out: s.dh1 = d(h1), residual included (s.dB, s.dact used; a.gu overwritten). */
export function mlpBackward(
  k: Kernels,
  w: BlockWeights,
  a: BlockActs,
  d: Dims,
  s: BlockScratch,
  grads: LayerGrads,
): void {
  const { B, S, D, F, precision: p } = d;
  const T = B * S;
  k.rmsnormBackward(s.dB, s.dA, a.out, a.rstd2, T, D); // dB = d r2 = d h1 (residual) = d m
  // What the record does not keep is in buffers records share: recompute it (see BlockActs).
  const kept = a.saved!;
  if (!kept.gu) k.linearForward(a.gu, a.h1, w.gateUp, T, D, 2 * F, p);
  const dgu = a.gu; // d gate_up overwrites gu in place: gu is not read again
  if (kept.act) {
    grads.add("mlp.down_proj.weight", (g) => k.linearBackward(s.dact, g, s.dB, a.act, w.down, T, F, D, p));
    k.swigluBackward(dgu, s.dact, a.gu, T, F);
  } else
    downSwigluBackward(k, grads, "mlp.down_proj.weight", dgu, a.act, s.dact, s.dB, a.gu, w.down, T, F, D, p);
  grads.add("mlp.gate_up_proj.weight", (g) =>
    k.linearBackward(s.dh1, g, dgu, a.h1, w.gateUp, T, D, 2 * F, p),
  );
  k.add(s.dh1, s.dh1, s.dB, 1, 1, T * D);
}
