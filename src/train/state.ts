/**
 * Everything beyond the weights that a training run needs to continue bit-exactly: the AdamATan2 moments and
 * step count, the ACT carry (z_H, z_L, steps, halted, current data), the exploration RNG state, the optimiser
 * step and the data-iterator position (iteration, batches consumed); with EMA, the trained weights themselves
 * (the checkpoint's model file then holds the average). Stored as safetensors (tensors named optim.m.<param>,
 * optim.v.<param>, carry.<field>, live.<param>) with the scalars as JSON in the metadata. Pure: bytes in/out.
 */
import { decodeSafetensors, encodeSafetensors } from "../io/safetensors.js";
import type { HostTensor } from "../tensor.js";
import type { Carry } from "../model/act.js";
import type { Trainer } from "./trainer.js";

export class TrainStateError extends Error {}

/** Where the data iterator stands: iteration `iter` (eval_interval epochs), `batch` batches already used. */
export interface IteratorPosition {
  iter: number;
  batch: number;
}

interface Scalars extends IteratorPosition {
  format: "hrm-ts-train-state";
  version: 1;
  step: number;
  adam_step: number;
  rng: number[];
  total_steps: number;
  carry_batch: number | null;
}

function carryTensors(c: Carry, S: number, D: number, L: number): [string, HostTensor][] {
  return [
    ["carry.z_H", { dtype: "float32", shape: [c.B, S, D], data: c.zH }],
    ["carry.z_L", { dtype: "float32", shape: [c.B, S, D], data: c.zL }],
    ["carry.steps", { dtype: "int32", shape: [c.B], data: c.steps }],
    ["carry.halted", { dtype: "uint8", shape: [c.B], data: c.halted }],
    ["carry.inputs", { dtype: "int32", shape: [c.B, L], data: c.current.inputs }],
    ["carry.labels", { dtype: "int32", shape: [c.B, L], data: c.current.labels }],
    ["carry.puzzle_identifiers", { dtype: "int32", shape: [c.B], data: c.current.puzzle_identifiers }],
  ];
}

export function encodeTrainState(t: Trainer, pos: IteratorPosition): Uint8Array {
  const { adam } = t.step;
  const names = t.step.paramNames;
  const tensors = new Map<string, HostTensor>();
  names.forEach((n, i) => {
    const shape = [adam.m[i].length];
    tensors.set(`optim.m.${n}`, { dtype: "float32", shape, data: adam.m[i] });
    tensors.set(`optim.v.${n}`, { dtype: "float32", shape, data: adam.v[i] });
  });
  if (t.ema)
    for (const n of t.ema.names) {
      const data = t.inner.params.get(n);
      tensors.set(`live.${n}`, { dtype: "float32", shape: [data.length], data });
    }
  const c = t.inner.config;
  if (t.carry)
    for (const [k, v] of carryTensors(t.carry, t.inner.derived.seqTotal, c.hidden_size, c.seq_len))
      tensors.set(k, v);
  const scalars: Scalars = {
    format: "hrm-ts-train-state",
    version: 1,
    step: t.stepCount,
    adam_step: adam.step,
    rng: Array.from(t.rng.s),
    total_steps: t.totalSteps,
    carry_batch: t.carry ? t.carry.B : null,
    ...pos,
  };
  return encodeSafetensors(tensors, { state: JSON.stringify(scalars) });
}

/** Restores a trainer built with the same config; returns the iterator position to continue from. */
export function restoreTrainState(t: Trainer, bytes: Uint8Array, file: string): IteratorPosition {
  const { tensors, metadata } = decodeSafetensors(bytes, file);
  const s = JSON.parse(metadata.state ?? "null") as Scalars | null;
  if (!s || s.format !== "hrm-ts-train-state")
    throw new TrainStateError(`${file}: not an hrm-ts train state (no "state" metadata)`);
  if (s.total_steps !== t.totalSteps)
    throw new TrainStateError(
      `${file}: saved with total_steps ${s.total_steps}, this run has ${t.totalSteps} (different epochs, batch size or dataset?)`,
    );
  const take = (name: string, into: { length: number; set(a: ArrayLike<number>): void }) => {
    const x = tensors.get(name);
    if (!x) throw new TrainStateError(`${file}: missing tensor ${name}`);
    if (x.data.length !== into.length)
      throw new TrainStateError(
        `${file}: ${name} has ${x.data.length} values, this model needs ${into.length}`,
      );
    into.set(x.data as ArrayLike<number>);
  };
  const { adam } = t.step;
  t.step.paramNames.forEach((n, i) => {
    take(`optim.m.${n}`, adam.m[i]);
    take(`optim.v.${n}`, adam.v[i]);
  });
  const live = [...tensors.keys()].some((k) => k.startsWith("live."));
  if (live !== (t.ema !== null))
    throw new TrainStateError(
      `${file}: saved ${live ? "with" : "without"} ema, this run has ema=${t.ema !== null} (the weights would not continue)`,
    );
  // The model file gave the EMA its shadow; the trained weights continue from here.
  if (t.ema) for (const n of t.ema.names) take(`live.${n}`, t.inner.params.get(n));
  adam.step = s.adam_step;
  t.stepCount = s.step;
  t.rng.s.set(s.rng);
  if (s.carry_batch !== null) {
    const c = t.initCarry();
    const cfg = t.inner.config;
    for (const [k, v] of carryTensors(c, t.inner.derived.seqTotal, cfg.hidden_size, cfg.seq_len))
      take(k, v.data as Float32Array);
  } else t.carry = null;
  return { iter: s.iter, batch: s.batch };
}
