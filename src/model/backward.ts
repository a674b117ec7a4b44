/**
 * Backward of one ACT segment through the 1-step gradient: loss head -> heads -> last H call -> last L call
 * -> input embeddings. Only those two level calls carry gradient (the official code runs every earlier
 * cycle under no_grad and detaches the carry), so memory does not grow with H_cycles/L_cycles.
 * Gradients of "param" tensors accumulate into `grads` (same table as the params); the puzzle embedding's
 * gradient is per batch row (`puzzleGrad` [B, puzzle_emb_ndim]), as the official sparse embedding keeps it.
 */
import { IGNORE_LABEL_ID } from "../kernels/api.js";
import type { ActOutputs, Carry } from "./act.js";
import { sigmoidF32 } from "./act.js";
import type { BlockActs, BlockWeights, Dims } from "./block.js";
import type { HRMInner, SavedLevel } from "./inner.js";
import { LEARNED_POS_SCALE } from "./inner.js";
import type { LossResult } from "./loss.js";
import { HRMParams } from "./params.js";
import { floatArena } from "../util/memory.js";

interface Scratch {
  B: number;
  dA: Float32Array; // [T, D] gradient flowing down the level (block outputs / inputs)
  dB: Float32Array; // [T, D]
  dh1: Float32Array; // [T, D]
  dtmp: Float32Array; // [T, D]
  datt: Float32Array; // [T, D]
  dqkv: Float32Array; // [T, 3D]
  dact: Float32Array; // [T, F]
  dlogitsAll: Float32Array; // [T, V]
}

export class HRMBackward {
  readonly grads: HRMParams;
  puzzleGrad: Float32Array = new Float32Array(0);
  private s: Scratch | null = null;

  constructor(readonly inner: HRMInner) {
    this.grads = new HRMParams(inner.config);
  }

  zeroGrad(): void {
    this.grads.data.fill(0);
    this.puzzleGrad.fill(0);
  }

  private scratch(d: Dims): Scratch {
    if (this.s && this.s.B === d.B) return this.s;
    const T = d.B * d.S;
    const TD = T * d.D;
    const [dA, dB, dh1, dtmp, datt, dqkv, dact, dlogitsAll] = floatArena([
      TD,
      TD,
      TD,
      TD,
      TD,
      3 * TD,
      T * d.F,
      T * this.inner.config.vocab_size,
    ]);
    this.s = { B: d.B, dA, dB, dh1, dtmp, datt, dqkv, dact, dlogitsAll };
    this.puzzleGrad = new Float32Array(d.B * this.inner.config.puzzle_emb_ndim);
    return this.s;
  }

  /**
   * Accumulates d(scale * total loss) into the grads, from the forward that produced `out` (run with grad).
   * scale is 1/global_batch_size in official training.
   */
  backward(carry: Carry, out: ActOutputs, loss: LossResult, scale: number): void {
    const inner = this.inner;
    const c = inner.config;
    const k = inner.k;
    const ws = inner.workspace(carry.B);
    const d = ws.dims;
    const s = this.scratch(d);
    const { B, S, D } = d;
    const T = B * S;
    const P = inner.derived.puzzleEmbLen;
    const V = c.vocab_size;
    const L = c.seq_len;

    // LM loss: d/dlogits of scale * sum_b sum_t CE(b,t) / divisor_b, in float64 for stablemax (official).
    const dTok = new Float64Array(B * L);
    for (let b = 0; b < B; b++) for (let t = 0; t < L; t++) dTok[b * L + t] = scale / loss.divisor[b];
    const dLogits = new Float32Array(B * L * V);
    const ceBack =
      c.loss_type === "stablemax_cross_entropy"
        ? k.stablemaxCrossEntropyBackward
        : k.softmaxCrossEntropyBackward;
    ceBack(dLogits, dTok, out.logits, carry.current.labels, B * L, V, IGNORE_LABEL_ID);
    s.dlogitsAll.fill(0); // puzzle positions get no gradient (sliced off in the forward)
    for (let b = 0; b < B; b++)
      s.dlogitsAll.set(dLogits.subarray(b * L * V, (b + 1) * L * V), (b * S + P) * V);

    // Q head: 0.5 * BCE terms; torch's BCE-with-logits backward, (sigmoid(x) - y) * g, in float32.
    const dq = new Float32Array(B * 2);
    const g = Math.fround(0.5 * scale);
    for (let b = 0; b < B; b++) {
      dq[2 * b] = Math.fround(sigmoidF32(out.qHalt[b]) - loss.seqCorrect[b]) * g;
      if (out.targetQContinue)
        dq[2 * b + 1] = Math.fround(sigmoidF32(out.qContinue[b]) - out.targetQContinue[b]) * g;
    }

    // Heads -> dz_H (s.dA).
    const zH = ws.savedH.acts[c.H_layers - 1].out;
    k.linearBackward(
      s.dA,
      this.grads.get("lm_head.weight"),
      s.dlogitsAll,
      zH,
      inner.params.get("lm_head.weight"),
      T,
      D,
      V,
      c.forward_dtype,
    );
    // q_head input = z_H[:, 0], gathered from the saved H output: ws.qIn belongs to whichever forward ran
    // last, which in training is the no-grad one that computes the Q target.
    const qIn = new Float32Array(B * D);
    for (let b = 0; b < B; b++) qIn.set(zH.subarray(b * S * D, b * S * D + D), b * D);
    const dqIn = new Float32Array(B * D);
    k.linearBackward(
      dqIn,
      this.grads.get("q_head.weight"),
      dq,
      qIn,
      inner.params.get("q_head.weight"),
      B,
      D,
      2,
      c.forward_dtype,
    );
    const dBias = this.grads.get("q_head.bias");
    for (let b = 0; b < B; b++) {
      dBias[0] += dq[2 * b];
      dBias[1] += dq[2 * b + 1];
      for (let i = 0; i < D; i++) s.dA[b * S * D + i] += dqIn[b * D + i];
    }

    // H level: its injection is z_L (new), so the level-input gradient flows on into the L level's output.
    this.levelBackward(inner.H, ws.savedH, d, "H_level");
    this.levelBackward(inner.L, ws.savedL, d, "L_level");
    // s.dA now holds d(level input of L) = d(z_H + input_embeddings): z_H is detached, so this is d emb.
    this.embeddingBackward(carry, s.dA, d);
  }

  /** In: s.dA = d(level output). Out: s.dA = d(level input). */
  private levelBackward(layers: BlockWeights[], saved: SavedLevel, d: Dims, name: string): void {
    for (let i = layers.length - 1; i >= 0; i--) {
      const x = i === 0 ? saved.levelIn : saved.acts[i - 1].out;
      this.blockBackward(layers[i], saved.acts[i], x, d, `${name}.layers.${i}`);
    }
  }

  /** In: s.dA = d(block output). Out: s.dA = d(block input x). */
  private blockBackward(w: BlockWeights, a: BlockActs, x: Float32Array, d: Dims, prefix: string): void {
    const k = this.inner.k;
    const s = this.s!;
    const { B, S, D, NH, HD, F, precision: p } = d;
    const T = B * S;
    const g = (n: string) => this.grads.get(`${prefix}.${n}`);
    k.rmsnormBackward(s.dB, s.dA, a.out, a.rstd2, T, D); // dB = d r2 = d h1 (residual) = d m
    // gu and act are shared between records unless this record kept them (see allocBlockActs): recompute
    // them from the saved h1.
    if (!a.guSaved) {
      k.linearForward(a.gu, a.h1, w.gateUp, T, D, 2 * F, p);
      k.swigluForward(a.act, a.gu, T, F);
    }
    k.linearBackward(s.dact, g("mlp.down_proj.weight"), s.dB, a.act, w.down, T, F, D, p);
    const dgu = a.gu; // d gate_up overwrites gu in place: gu is not read again
    k.swigluBackward(dgu, s.dact, a.gu, T, F);
    k.linearBackward(s.dh1, g("mlp.gate_up_proj.weight"), dgu, a.h1, w.gateUp, T, D, 2 * F, p);
    k.add(s.dh1, s.dh1, s.dB, 1, 1, T * D);
    k.rmsnormBackward(s.dB, s.dh1, a.h1, a.rstd1, T, D); // dB = d r1 = d x (residual) = d tmp
    k.linearBackward(s.datt, g("self_attn.o_proj.weight"), s.dB, a.att, w.o, T, D, D, p);
    k.attentionBackward(s.dqkv, s.datt, a.qkv, a.probs, B, S, NH, HD);
    const rope = this.inner.rope;
    if (rope) k.ropeBackward(s.dqkv, s.dqkv, rope.cos, rope.sin, T, 3 * D, S, 2 * NH, HD);
    k.linearBackward(s.dA, g("self_attn.qkv_proj.weight"), s.dqkv, x, w.qkv, T, D, 3 * D, p);
    k.add(s.dA, s.dA, s.dB, 1, 1, T * D);
  }

  /** demb [T, D] -> token table (scatter-add), learned positions, per-row puzzle embedding gradient. */
  private embeddingBackward(carry: Carry, demb: Float32Array, d: Dims): void {
    const inner = this.inner;
    const c = inner.config;
    const k = inner.k;
    const { B, S, D } = d;
    const P = inner.derived.puzzleEmbLen;
    const L = c.seq_len;
    let scale = Math.fround(Math.sqrt(D));
    if (c.pos_encodings === "learned") {
      const dpos = this.grads.get("embed_pos.embedding_weight");
      for (let b = 0; b < B; b++)
        for (let i = 0; i < S * D; i++) dpos[i] += LEARNED_POS_SCALE * scale * demb[b * S * D + i];
      scale *= LEARNED_POS_SCALE;
    }
    k.add(demb, demb, demb, scale, 0, B * S * D);
    const table = this.grads.get("embed_tokens.embedding_weight");
    for (let b = 0; b < B; b++)
      k.embeddingBackward(
        table,
        demb.subarray((b * S + P) * D, (b + 1) * S * D),
        carry.current.inputs.subarray(b * L, (b + 1) * L),
        L,
        D,
        c.vocab_size,
      );
    const nd = c.puzzle_emb_ndim;
    for (let b = 0; b < B && nd > 0; b++)
      this.puzzleGrad.set(demb.subarray(b * S * D, b * S * D + nd), b * nd);
  }
}
