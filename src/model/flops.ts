/**
 * Analytic FLOP counts of HRM (multiply-add = 2 FLOPs; element-wise work, norms, softmax exponentials and the
 * embedding gather are not counted: they are O(T*D) against the GEMMs' O(T*D^2)). With T = B*S tokens
 * (S = seq_len + puzzle positions), D hidden, I the SwiGLU width, V the vocabulary:
 *
 *   block forward   = 2*T*D*3D (qkv) + 2*T*D*D (o) + 2*T*D*2I (gate_up) + 2*T*I*D (down)
 *                   + 2*2*B*S*S*D (attention: Q.K^T and P.V over all heads)
 *   inner forward   = (H_cycles*L_cycles*L_layers + H_cycles*H_layers) blocks + lm_head 2*T*D*V + q_head 2*B*D*2
 *   training step   = inner forward (with grad) + one more inner forward for the Q target (halt_max_steps > 1),
 *                     which reads only z_H[:, 0]: no lm_head, and its last block's o_proj and MLP run on the B
 *                     first rows only, 2*B*D*D + 2*B*D*2I + 2*B*I*D instead of the T-row products
 *                   + backward of the last L step and the last H step (the 1-step gradient) and the heads,
 *                     each backward GEMM pair costing twice its forward (dX and dW; attention: dP, dV, dQ, dK)
 *   evaluation      = segments * inner forward
 * These are model FLOPs (MFU): what the backward recomputes where keeping it would cost too much memory
 * (gate_up's output, attention's; see chooseSaved) is work the implementation chooses, so it is not counted.
 */
import type { HRMConfig } from "./config.js";
import { derive } from "./config.js";

export interface FlopCounts {
  block: number;
  heads: number;
  forward: number;
  trainStep: number;
}

export function hrmFlops(c: HRMConfig, B: number): FlopCounts {
  const { seqTotal: S, inter: I } = derive(c);
  const D = c.hidden_size;
  const T = B * S;
  const block = 2 * T * D * (3 * D) + 2 * T * D * D + 2 * T * D * (2 * I) + 2 * T * I * D + 4 * B * S * S * D;
  const heads = 2 * T * D * c.vocab_size + 2 * B * D * 2;
  const blocksPerForward = c.H_cycles * c.L_cycles * c.L_layers + c.H_cycles * c.H_layers;
  const forward = blocksPerForward * block + heads;
  const backward = 2 * ((c.L_layers + c.H_layers) * block + heads);
  const rowOnly = c.H_layers > 0 ? 2 * (T - B) * (D * D + D * 2 * I + I * D) : 0; // not computed
  const target = c.halt_max_steps > 1 ? forward - 2 * T * D * c.vocab_size - rowOnly : 0;
  return { block, heads, forward, trainStep: forward + target + backward };
}

/** FLOPs of evaluating B sequences for `segments` segments. */
export function evalFlops(c: HRMConfig, B: number, segments: number): number {
  return segments * hrmFlops(c, B).forward;
}
