/**
 * Backward of one ACT segment. HRM, the 1-step gradient: loss head -> heads -> last H call -> last L call
 * -> input embeddings. Only those two level calls carry gradient (the official code runs every earlier
 * cycle under no_grad and detaches the carry), so memory does not grow with H_cycles/L_cycles. TRM: heads ->
 * the z_H call -> each of the last cycle's L_cycles z_L calls in reverse, the input embeddings collecting
 * the gradient of every one (exact backpropagation through the last full cycle; memory grows with L_cycles),
 * and each weight's gradient summed over its L_cycles + 1 uses. HRM with bptt: back through every call of the
 * segment (bpttBackward), each weight's gradient summed over its uses.
 * Each "param" tensor's gradient goes to a GradientSink: by default the `grads` table (every gradient kept
 * until the caller reads it), or one that applies the optimiser to each tensor as soon as its gradient is
 * complete (TrainStep), so that no full copy of the model's gradients exists. The puzzle embedding's gradient
 * is per batch row (`puzzleGrad` [B, puzzle_emb_ndim]), as the official sparse embedding keeps it.
 */
import { IGNORE_LABEL_ID } from "../kernels/api.js";
import type { ActOutputs, Carry } from "./act.js";
import { sigmoidF32 } from "./act.js";
import { levelBackward } from "./block.js";
import type { HRMInner } from "./inner.js";
import { LEARNED_POS_SCALE } from "./inner.js";
import type { BlockWeights, Dims, LayerGrads } from "./layers/linear.js";
import type { LossResult } from "./loss.js";
import type { ParamSpec } from "./params.js";
import type { BackwardScratch, SavedLevel, Workspace } from "./workspace.js";
import { backwardScratch } from "./workspace.js";
import { floatArena } from "../util/memory.js";

/**
 * Where the backward sends parameter gradients. `gradient(name)` gives the buffer that tensor's gradient is
 * added into (zeros, unless the sink means to sum over backwards: GradTable keeps its values until
 * HRMBackward.zeroGrad); `done(name)` follows once the gradient is final and the backward no longer reads that
 * parameter. The backward finishes one tensor before it asks for the next, so a sink may hand out the same
 * scratch memory every time.
 */
export interface GradientSink {
  gradient(name: string): Float32Array;
  done(name: string): void;
}

/** Every trained ("param") tensor's gradient, kept: a sink that holds the last backward's gradients. */
export class GradTable implements GradientSink {
  private readonly views = new Map<string, Float32Array>();

  constructor(specs: readonly ParamSpec[]) {
    const trained = specs.filter((s) => s.kind === "param");
    const bufs = floatArena(trained.map((s) => s.shape.reduce((a, b) => a * b, 1)));
    trained.forEach((s, i) => this.views.set(s.name, bufs[i]));
  }

  /** The gradient of one trained tensor; throws for any other name. */
  get(name: string): Float32Array {
    const v = this.views.get(name);
    if (!v) throw new Error(`no trained parameter "${name}" in this config`);
    return v;
  }

  gradient(name: string): Float32Array {
    return this.get(name);
  }

  done(): void {}

  zero(): void {
    for (const v of this.views.values()) v.fill(0);
  }
}

export class HRMBackward {
  puzzleGrad: Float32Array = new Float32Array(0);
  private s: BackwardScratch | null = null;
  private table: GradTable | null = null;
  /** Where the running backward sends gradients. */
  private sink: GradientSink | null = null;

  constructor(readonly inner: HRMInner) {}

  /** The default sink's gradients (allocated on first use: a sink of the caller's needs no table). */
  get grads(): GradTable {
    return (this.table ??= new GradTable(this.inner.params.specs));
  }

  /** Zeroes the grads table (if one exists) and the puzzle embedding's gradient. */
  zeroGrad(): void {
    this.table?.zero();
    this.puzzleGrad.fill(0);
  }

  private scratch(ws: Workspace): BackwardScratch {
    if (this.s && this.s.shared === ws.shared) return this.s;
    this.s = backwardScratch(ws, this.inner.config);
    this.puzzleGrad = new Float32Array(ws.dims.B * this.inner.config.puzzle_emb_ndim);
    return this.s;
  }

  /**
   * Accumulates d(scale * total loss) into the grads (or sends it to `sink`), from the forward that produced
   * `out` (run with grad), with `carry` as that forward left it: its z_H and z_L are the saved levels' outputs
   * (see levelForward). scale is 1/global_batch_size in official training.
   */
  backward(
    carry: Carry,
    out: ActOutputs,
    loss: LossResult,
    scale: number,
    sink: GradientSink = this.grads,
  ): void {
    this.sink = sink;
    try {
      this.run(carry, out, loss, scale);
    } finally {
      this.sink = null;
    }
  }

  /** linearBackward into the sink's gradient for `name` (weight w), completed after it. */
  private linearBack(
    name: string,
    dinp: Float32Array,
    dout: Float32Array,
    inp: Float32Array,
    w: Float32Array,
    T: number,
    I: number,
    O: number,
  ): void {
    const p = this.inner.config.forward_dtype;
    this.inner.k.linearBackward(dinp, this.sink!.gradient(name), dout, inp, w, T, I, O, p);
    this.sink!.done(name);
  }

  private run(carry: Carry, out: ActOutputs, loss: LossResult, scale: number): void {
    const inner = this.inner;
    const c = inner.config;
    const k = inner.k;
    const ws = inner.workspace(carry.B);
    const d = ws.dims;
    const s = this.scratch(ws);
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
    const zH = carry.zH; // the H level's output, as its forward left it (also with H_layers = 0)
    this.linearBack("lm_head.weight", s.dA, s.dlogitsAll, zH, inner.params.get("lm_head.weight"), T, D, V);
    // q_head input = z_H[:, 0], gathered from the saved H output: ws.qIn belongs to whichever forward ran
    // last, which in training is the no-grad one that computes the Q target.
    const qIn = new Float32Array(B * D);
    for (let b = 0; b < B; b++) qIn.set(zH.subarray(b * S * D, b * S * D + D), b * D);
    const dqIn = new Float32Array(B * D);
    this.linearBack("q_head.weight", dqIn, dq, qIn, inner.params.get("q_head.weight"), B, D, 2);
    const dBias = this.sink!.gradient("q_head.bias");
    for (let b = 0; b < B; b++) {
      dBias[0] += dq[2 * b];
      dBias[1] += dq[2 * b + 1];
      for (let i = 0; i < D; i++) s.dA[b * S * D + i] += dqIn[b * D + i];
    }
    this.sink!.done("q_head.bias");

    if (c.architecture === "trm" || c.bptt) {
      if (c.bptt) this.bpttBackward(ws, d);
      else this.trmBackward(ws, d);
      this.embeddingBackward(carry, s.dx, d);
      return;
    }
    // H level: its injection is z_L (new), so the level-input gradient flows on into the L level's output.
    this.levelBackward(inner.H, ws.savedH, d, "H_level");
    this.levelBackward(inner.L, ws.savedL, d, "L_level");
    // s.dA now holds d(level input of L) = d(z_H + input_embeddings): z_H is detached, so this is d emb.
    this.embeddingBackward(carry, s.dA, d);
  }

  /**
   * TRM's last cycle, in: s.dA = d z_H. The z_H call's input is z_H (detached, from before the cycle) + z_L,
   * so its input gradient is d z_L; each z_L call's input z_L + z_H + x passes it on to the previous z_L
   * (detached before the first) and adds it to d x. Out: s.dx = d x.
   */
  private trmBackward(ws: Workspace, d: Dims): void {
    const s = this.s!;
    const rec = ws.savedT;
    const n = d.B * d.S * d.D;
    const L = this.inner.L;
    this.levelBackward(L, rec[rec.length - 1], d, "L_level");
    s.dx.fill(0);
    for (let j = rec.length - 2; j >= 0; j--) {
      this.levelBackward(L, rec[j], d, "L_level");
      this.inner.k.add(s.dx, s.dx, s.dA, 1, 1, n);
    }
  }

  /**
   * HRM with bptt, in: s.dA = d z_H (after the segment). Back through the calls in reverse: an H call's input
   * z_H + z_L gives its gradient to the z_H before it and to z_L (the cycle's last L output, which the next
   * cycle's first L call also read); an L call's input z_L + (z_H + x) to the z_L before it, to the cycle's z_H
   * and to x. The carry the segment started from is detached. Out: s.dx = d x.
   */
  private bpttBackward(ws: Workspace, d: Dims): void {
    const s = this.s!;
    const { k, config: c, H, L } = this.inner;
    const n = d.B * d.S * d.D;
    const rec = ws.savedB;
    s.dzH.set(s.dA);
    s.dzL.fill(0);
    s.dx.fill(0);
    let r = rec.length - 1;
    for (let h = c.H_cycles - 1; h >= 0; h--) {
      s.dA.set(s.dzH);
      this.levelBackward(H, rec[r--], d, "H_level");
      s.dzH.set(s.dA);
      k.add(s.dzL, s.dzL, s.dA, 1, 1, n);
      for (let l = c.L_cycles - 1; l >= 0; l--) {
        s.dA.set(s.dzL);
        this.levelBackward(L, rec[r--], d, "L_level");
        s.dzL.set(s.dA);
        k.add(s.dzH, s.dzH, s.dA, 1, 1, n);
        k.add(s.dx, s.dx, s.dA, 1, 1, n);
      }
    }
  }

  /** In: s.dA = d(level output). Out: s.dA = d(level input); each weight's gradient to the sink. */
  private levelBackward(layers: BlockWeights[], saved: SavedLevel, d: Dims, name: string): void {
    const sink = this.sink!;
    const grads = (i: number): LayerGrads => ({
      add(weight, fn) {
        const full = `${name}.layers.${i}.${weight}`;
        fn(sink.gradient(full));
        sink.done(full);
      },
    });
    levelBackward(this.inner.k, layers, saved, d, this.inner.rope, this.s!, grads);
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
      const dpos = this.sink!.gradient("embed_pos.embedding_weight");
      for (let b = 0; b < B; b++)
        for (let i = 0; i < S * D; i++) dpos[i] += LEARNED_POS_SCALE * scale * demb[b * S * D + i];
      this.sink!.done("embed_pos.embedding_weight");
      scale *= LEARNED_POS_SCALE;
    }
    k.add(demb, demb, demb, scale, 0, B * S * D);
    const table = this.sink!.gradient("embed_tokens.embedding_weight");
    for (let b = 0; b < B; b++)
      k.embeddingBackward(
        table,
        demb.subarray((b * S + P) * D, (b + 1) * S * D),
        carry.current.inputs.subarray(b * L, (b + 1) * L),
        L,
        D,
        c.vocab_size,
      );
    this.sink!.done("embed_tokens.embedding_weight");
    const nd = c.puzzle_emb_ndim;
    for (let b = 0; b < B && nd > 0; b++)
      this.puzzleGrad.set(demb.subarray(b * S * D, b * S * D + nd), b * nd);
  }
}
