/**
 * Analytic FLOP counts of HRM and TRM (multiply-add = 2 FLOPs; element-wise work, norms, softmax exponentials,
 * transposes and the embedding gather are not counted: they are O(T*D) against the GEMMs' O(T*D^2)). With
 * T = B*S tokens (S = seq_len + puzzle positions), D hidden, I the SwiGLU width, V the vocabulary:
 *
 *   block forward   = mixer + 2*T*D*2I (gate_up) + 2*T*I*D (down), where the mixer is
 *                     attention: 2*T*D*3D (qkv) + 2*T*D*D (o) + 2*2*B*S*S*D (Q.K^T and P.V over all heads), or
 *                     TRM's mlp_t: a SwiGLU of width S and inner IT on B*D rows, 2*B*D*S*2IT + 2*B*D*IT*S
 *   inner forward   = blocks + lm_head 2*T*D*V + q_head 2*B*D*2, with blocks
 *                     HRM: H_cycles*L_cycles*L_layers + H_cycles*H_layers;  TRM: H_cycles*(L_cycles+1)*L_layers
 *   training step   = inner forward (with grad) + the Q-target forward where there is one (halt_max_steps > 1,
 *                     HRM or TRM without no_ACT_continue), which reads only z_H[:, 0]: no lm_head, and its last
 *                     attention block's o_proj and MLP run on the B first rows only
 *                   + backward of the differentiated blocks and the heads, each backward GEMM pair costing
 *                     twice its forward (dX and dW; attention: dP, dV, dQ, dK). Differentiated: HRM the last L
 *                     and H calls (the 1-step gradient), L_layers + H_layers blocks (with bptt every
 *                     block call); TRM the last full cycle, (L_cycles+1)*L_layers blocks
 *   evaluation      = segments * inner forward
 * These are model FLOPs (MFU): what the backward recomputes where keeping it would cost too much memory
 * (gate_up's output, attention's; see chooseSavedPerBlock) is work the implementation chooses, so it is not counted.
 */
import type { HRMConfig } from "./config.js";
import { derive, differentiatedBlocks } from "./config.js";

export interface FlopCounts {
  block: number;
  heads: number;
  forward: number;
  trainStep: number;
}

export function modelFlops(c: HRMConfig, B: number): FlopCounts {
  const { seqTotal: S, inter: I, interT: IT } = derive(c);
  const D = c.hidden_size;
  const T = B * S;
  const mlp = 2 * T * D * (2 * I) + 2 * T * I * D;
  const mixer = c.mlp_t
    ? 2 * B * D * S * (2 * IT) + 2 * B * D * IT * S
    : 2 * T * D * (3 * D) + 2 * T * D * D + 4 * B * S * S * D;
  const block = mixer + mlp;
  const heads = 2 * T * D * c.vocab_size + 2 * B * D * 2;
  const trm = c.architecture === "trm";
  const blocksPerForward = trm
    ? c.H_cycles * (c.L_cycles + 1) * c.L_layers
    : c.H_cycles * c.L_cycles * c.L_layers + c.H_cycles * c.H_layers;
  const forward = blocksPerForward * block + heads;
  const differentiated = differentiatedBlocks(c);
  const backward = 2 * (differentiated * block + heads);
  // The target forward's last block (HRM: the H level's, TRM: its one network's) on the first rows only.
  const lastLayers = trm ? c.L_layers : c.H_layers;
  const rowOnly = lastLayers > 0 && !c.mlp_t ? 2 * (T - B) * (D * D + D * 2 * I + I * D) : 0; // not computed
  const hasTarget = c.halt_max_steps > 1 && !c.no_ACT_continue;
  const target = hasTarget ? forward - 2 * T * D * c.vocab_size - rowOnly : 0;
  return { block, heads, forward, trainStep: forward + target + backward };
}

/** FLOPs of evaluating B sequences for `segments` segments. */
export function evalFlops(c: HRMConfig, B: number, segments: number): number {
  return segments * modelFlops(c, B).forward;
}
