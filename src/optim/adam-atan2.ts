/**
 * AdamATan2 (Everett et al. 2024, the authors' adam-atan2 package, as the official HRM trains with it):
 * no epsilon; the update is bounded by atan2. Per step t (from 1), for every element:
 *   p *= 1 - lr*wd;  m = lerp(m, g, 1-b1);  v = lerp(v, g*g, 1-b2)
 *   p -= lr / (1 - b1^t) * atan2(m, sqrt(v) / sqrt(1 - b2^t))
 * Moments live in flat arrays parallel to the parameter views it is given; the element loop is the
 * adamAtan2 kernel (native and threaded when the addon is loaded).
 */
import type { Kernels } from "../kernels/api.js";
import { floatArena } from "../util/memory.js";

export interface AdamATan2Options {
  lr: number;
  beta1: number;
  beta2: number;
  weightDecay: number;
}

export class AdamATan2 {
  step = 0;
  readonly m: Float32Array[];
  readonly v: Float32Array[];
  /** The current step's learning rate and bias corrections (beginStep). */
  private stepLr = 0;
  private stepSize = 0;
  private bc2 = 0;

  constructor(
    readonly params: Float32Array[],
    public opts: AdamATan2Options,
    readonly k: Pick<Kernels, "adamAtan2">,
  ) {
    this.m = floatArena(params.map((p) => p.length));
    this.v = floatArena(params.map((p) => p.length));
  }

  /** One update with gradients parallel to the params; lr may be given per step (schedules). */
  update(grads: Float32Array[], lr = this.opts.lr): void {
    this.beginStep(lr);
    for (let i = 0; i < this.params.length; i++) this.updateParam(i, grads[i]);
  }

  /** Starts step t + 1 at learning rate lr; then updateParam(i, grad) for every parameter, in any order. */
  beginStep(lr = this.opts.lr): void {
    const { beta1: b1, beta2: b2 } = this.opts;
    this.step++;
    this.stepLr = lr;
    this.stepSize = lr / (1 - Math.pow(b1, this.step));
    this.bc2 = Math.sqrt(1 - Math.pow(b2, this.step));
  }

  /** The current step's update of parameter i (an index into the constructor's params) from its gradient. */
  updateParam(i: number, grad: Float32Array): void {
    const { beta1: b1, beta2: b2, weightDecay: wd } = this.opts;
    if (this.step === 0) throw new Error("AdamATan2.updateParam before beginStep");
    const p = this.params[i];
    if (grad.length !== p.length)
      throw new RangeError(
        `AdamATan2: gradient of parameter ${i} has ${grad.length} values, expected ${p.length}`,
      );
    this.k.adamAtan2(
      p,
      grad,
      this.m[i],
      this.v[i],
      p.length,
      this.stepLr,
      b1,
      b2,
      wd,
      this.stepSize,
      this.bc2,
    );
  }
}
