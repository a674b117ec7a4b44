/**
 * One official training step (pretrain.py's train_batch): an ACT segment forward with the 1-step gradient,
 * the loss head, backward of (1/global_batch_size) * loss, sign-SGD on the puzzle embedding and AdamATan2 on
 * every parameter. The carry persists across calls.
 * AdamATan2 is element-wise per tensor and each tensor's gradient is final at one point of the backward (the
 * 1-step gradient uses each weight once), so by default each tensor is updated as soon as its gradient is
 * complete, from one scratch buffer: the same bits as updating after the backward, without the gradients'
 * copy of the model (109 MB for the paper's model). `keepGrads` keeps them in `bwd.grads` instead.
 */
import type { Batch, Carry } from "../model/act.js";
import { actForward } from "../model/act.js";
import type { GradientSink } from "../model/backward.js";
import { HRMBackward } from "../model/backward.js";
import type { HRMInner } from "../model/inner.js";
import type { LossResult } from "../model/loss.js";
import { actLoss } from "../model/loss.js";
import type { AdamATan2Options } from "../optim/adam-atan2.js";
import { AdamATan2 } from "../optim/adam-atan2.js";
import { signSgdUpdate } from "../optim/sign-sgd.js";
import type { Rng } from "../util/rng.js";
import { allocFloat32 } from "../util/memory.js";

export interface TrainStepOptions {
  adam: AdamATan2Options;
  puzzleEmbLr: number;
  puzzleEmbWeightDecay: number;
  /** Loss scale; official: 1 / global_batch_size. */
  lossScale: number;
  /** Keep every parameter gradient of the last step in `bwd.grads` (AdamATan2 then runs after the
   * backward); default false: each tensor is updated as soon as its gradient is final. */
  keepGrads?: boolean;
}

/**
 * A sink that applies AdamATan2 to each tensor as its gradient completes. One scratch buffer the size of the
 * largest tensor serves every gradient in turn (the backward finishes one before it asks for the next).
 */
class AdamSink implements GradientSink {
  private readonly index: Map<string, number>;
  private readonly scratch: Float32Array;
  /** The gradient being accumulated: its parameter's index and its view of the scratch. */
  private open: { name: string; i: number; g: Float32Array } | null = null;
  private readonly updated: boolean[];

  constructor(
    readonly adam: AdamATan2,
    readonly names: string[],
  ) {
    this.index = new Map(names.map((n, i) => [n, i]));
    this.scratch = allocFloat32(Math.max(0, ...adam.params.map((p) => p.length)));
    this.updated = names.map(() => false);
  }

  /** Parameter i's gradient view of the scratch, zeroed. */
  private zeros(i: number): Float32Array {
    const g = this.scratch.subarray(0, this.adam.params[i].length);
    g.fill(0);
    return g;
  }

  gradient(name: string): Float32Array {
    const i = this.index.get(name);
    if (i === undefined) throw new Error(`AdamSink: "${name}" is not a trained parameter`);
    if (this.open !== null)
      throw new Error(`AdamSink: gradient of "${name}" asked for before "${this.open.name}" was done`);
    if (this.updated[i]) throw new Error(`AdamSink: "${name}" already updated this step`);
    this.open = { name, i, g: this.zeros(i) };
    return this.open.g;
  }

  done(name: string): void {
    const o = this.open;
    if (o?.name !== name) throw new Error(`AdamSink: done("${name}") but the open gradient is "${o?.name}"`);
    this.adam.updateParam(o.i, o.g);
    this.updated[o.i] = true;
    this.open = null;
  }

  /** Starts a step; finish() then updates every tensor the backward sent no gradient for (zero gradient:
   * weight decay and the moments still move, as after a full backward). */
  begin(lr: number): void {
    this.adam.beginStep(lr);
    this.updated.fill(false);
    this.open = null; // after a backward that threw
  }

  finish(): void {
    if (this.open !== null) throw new Error(`AdamSink: the backward left "${this.open.name}" open`);
    for (let i = 0; i < this.names.length; i++) if (!this.updated[i]) this.adam.updateParam(i, this.zeros(i));
  }
}

export class TrainStep {
  readonly bwd: HRMBackward;
  readonly adam: AdamATan2;
  /** The parameters AdamATan2 updates, in its order (every 'param' spec). */
  readonly paramNames: string[];
  private readonly sink: AdamSink | null;

  constructor(
    readonly inner: HRMInner,
    readonly opts: TrainStepOptions,
  ) {
    this.bwd = new HRMBackward(inner);
    this.paramNames = inner.params.specs.filter((s) => s.kind === "param").map((s) => s.name);
    this.adam = new AdamATan2(
      this.paramNames.map((n) => inner.params.get(n)),
      opts.adam,
      inner.k,
    );
    // TRM's backward uses each weight L_cycles + 1 times: its gradients are summed in the table first.
    // TRM and bptt use each weight in several calls: its gradient is complete only at the end of the backward.
    const perTensor = !opts.keepGrads && inner.config.architecture !== "trm" && !inner.config.bptt;
    this.sink = perTensor ? new AdamSink(this.adam, this.paramNames) : null;
  }

  /** Runs one step; `lr` and `puzzleLr` override the constant rates (for schedules). */
  run(carry: Carry, batch: Batch, rng?: Rng, lr = this.opts.adam.lr, puzzleLr = this.opts.puzzleEmbLr) {
    const inner = this.inner;
    const c = inner.config;
    const out = actForward(inner, carry, batch, { training: true, grad: true, rng });
    const loss: LossResult = actLoss(inner.k, c, carry, out);
    this.bwd.zeroGrad();
    if (this.sink) {
      this.sink.begin(lr);
      this.bwd.backward(carry, out, loss, this.opts.lossScale, this.sink);
      this.sink.finish();
    } else {
      this.bwd.backward(carry, out, loss, this.opts.lossScale);
      this.adam.update(
        this.paramNames.map((n) => this.bwd.grads.get(n)),
        lr,
      );
    }
    if (c.puzzle_emb_ndim > 0)
      signSgdUpdate(
        inner.params.get("puzzle_emb.weights"),
        this.bwd.puzzleGrad,
        carry.current.puzzle_identifiers,
        c.puzzle_emb_ndim,
        puzzleLr,
        this.opts.puzzleEmbWeightDecay,
      );
    return { out, loss };
  }
}
