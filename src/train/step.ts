/**
 * One official training step (pretrain.py's train_batch): an ACT segment forward with the 1-step gradient,
 * the loss head, backward of (1/global_batch_size) * loss, then sign-SGD on the puzzle embedding and
 * AdamATan2 on every parameter, in that order, gradients zeroed after. The carry persists across calls.
 */
import type { Batch, Carry } from "../model/act.js";
import { actForward } from "../model/act.js";
import { HRMBackward } from "../model/backward.js";
import type { HRMInner } from "../model/inner.js";
import type { LossResult } from "../model/loss.js";
import { actLoss } from "../model/loss.js";
import type { AdamATan2Options } from "../optim/adam-atan2.js";
import { AdamATan2 } from "../optim/adam-atan2.js";
import { signSgdUpdate } from "../optim/sign-sgd.js";
import type { Rng } from "../util/rng.js";

export interface TrainStepOptions {
  adam: AdamATan2Options;
  puzzleEmbLr: number;
  puzzleEmbWeightDecay: number;
  /** Loss scale; official: 1 / global_batch_size. */
  lossScale: number;
}

export class TrainStep {
  readonly bwd: HRMBackward;
  readonly adam: AdamATan2;
  /** The parameters AdamATan2 updates, in its order (every 'param' spec). */
  readonly paramNames: string[];

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
  }

  /** Runs one step; `lr` and `puzzleLr` override the constant rates (for schedules). */
  run(carry: Carry, batch: Batch, rng?: Rng, lr = this.opts.adam.lr, puzzleLr = this.opts.puzzleEmbLr) {
    const inner = this.inner;
    const c = inner.config;
    const out = actForward(inner, carry, batch, { training: true, grad: true, rng });
    const loss: LossResult = actLoss(inner.k, c, carry, out);
    this.bwd.zeroGrad();
    this.bwd.backward(carry, out, loss, this.opts.lossScale);
    if (c.puzzle_emb_ndim > 0)
      signSgdUpdate(
        inner.params.get("puzzle_emb.weights"),
        this.bwd.puzzleGrad,
        carry.current.puzzle_identifiers,
        c.puzzle_emb_ndim,
        puzzleLr,
        this.opts.puzzleEmbWeightDecay,
      );
    this.adam.update(
      this.paramNames.map((n) => this.bwd.grads.get(n)),
      lr,
    );
    return { out, loss };
  }
}
