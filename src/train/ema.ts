/**
 * The exponential moving average of the trained weights (official models/ema.py EMAHelper, as pretrain.py uses
 * it with ema=True): the shadow starts as a copy of the parameters and after every training step (after both
 * optimisers) becomes (1 - mu) * param + mu * shadow, in float32. Only "param" tensors are averaged; the sparse
 * puzzle embedding and the H_init/L_init buffers are not (the official helper walks nn.Parameters only).
 * Evaluation and checkpoints use the shadow: withShadow swaps it into the parameters for the duration.
 */
import type { HRMParams } from "../model/params.js";
import { allocFloat32 } from "../util/memory.js";

export class Ema {
  /** Shadow values of every averaged tensor, back to back in spec order. */
  readonly shadow: Float32Array;
  private readonly views: { name: string; param: Float32Array; shadow: Float32Array }[] = [];
  private readonly c1: number;
  private readonly c2: number;

  constructor(
    readonly params: HRMParams,
    readonly mu: number,
  ) {
    if (!(mu >= 0 && mu <= 1)) throw new RangeError(`ema_rate = ${mu}: must be in [0, 1]`);
    const trained = params.specs.filter((s) => s.kind === "param");
    this.shadow = allocFloat32(trained.reduce((n, s) => n + params.get(s.name).length, 0));
    let at = 0;
    for (const s of trained) {
      const param = params.get(s.name);
      const shadow = this.shadow.subarray(at, at + param.length);
      shadow.set(param);
      this.views.push({ name: s.name, param, shadow });
      at += param.length;
    }
    // torch multiplies a float32 tensor by a Python float in float32: the rates rounded once.
    this.c1 = Math.fround(1 - mu);
    this.c2 = Math.fround(mu);
  }

  /** Names of the averaged tensors, in order. */
  get names(): string[] {
    return this.views.map((v) => v.name);
  }

  /** The shadow of one averaged tensor. */
  get(name: string): Float32Array {
    const v = this.views.find((x) => x.name === name);
    if (!v) throw new Error(`no EMA shadow for "${name}"`);
    return v.shadow;
  }

  /** shadow = fl(fl(c1 * param) + fl(c2 * shadow)), element by element, as the official float32 update. */
  update(): void {
    const { c1, c2 } = this;
    const f = Math.fround;
    for (const { param, shadow } of this.views)
      for (let i = 0; i < param.length; i++) shadow[i] = f(f(c1 * param[i]) + f(c2 * shadow[i]));
  }

  /** Runs fn with the shadow in the parameters (the live values are restored after, also when fn throws). */
  withShadow<T>(fn: () => T): T {
    const live = this.views.map((v) => v.param.slice());
    for (const v of this.views) v.param.set(v.shadow);
    try {
      return fn();
    } finally {
      this.views.forEach((v, i) => v.param.set(live[i]));
    }
  }
}
