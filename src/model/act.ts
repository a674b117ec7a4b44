/**
 * The ACT wrapper (official HierarchicalReasoningModel_ACTV1): a carry of (z_H, z_L, steps, halted,
 * current_data) that persists across batches. Each call: rows that halted last time restart from
 * H_init/L_init with the new batch's row; one inner forward; steps += 1; halting. In training (and
 * halt_max_steps > 1) a row also halts when q_halt > q_continue, unless exploration drew a minimum step count
 * in [2, halt_max_steps] it has not reached; the Q-continue target comes from one more no-grad inner forward
 * on the new carry. TRM with no_ACT_continue (its default) halts when q_halt > 0 instead, with no target
 * forward. Evaluation runs halt_max_steps segments (or opts.evalSteps).
 */
import type { Rng } from "../util/rng.js";
import { floatArena } from "../util/memory.js";
import type { HRMConfig } from "./config.js";
import type { HRMInner, InnerOutputs } from "./inner.js";

export interface Batch {
  inputs: Int32Array; // [B, seq_len]
  labels: Int32Array; // [B, seq_len]
  puzzle_identifiers: Int32Array; // [B]
}

export interface Carry {
  B: number;
  zH: Float32Array; // [B, S, D]
  zL: Float32Array;
  steps: Int32Array; // [B]
  halted: Uint8Array; // [B] 0/1
  current: Batch;
}

export interface ActOutputs extends InnerOutputs {
  /** sigmoid of the bootstrapped Q-continue target (training only). */
  targetQContinue?: Float32Array;
}

/** The official initial carry: every row halted (so the first call loads the batch and resets z). */
export function initialCarry(inner: HRMInner, B: number): Carry {
  const c = inner.config;
  const n = B * inner.derived.seqTotal * c.hidden_size;
  const [zH, zL] = floatArena([n, n]);
  return {
    B,
    zH,
    zL,
    steps: new Int32Array(B),
    halted: new Uint8Array(B).fill(1),
    current: {
      inputs: new Int32Array(B * c.seq_len),
      labels: new Int32Array(B * c.seq_len),
      puzzle_identifiers: new Int32Array(B),
    },
  };
}

function checkBatch(inner: HRMInner, carry: Carry, batch: Batch): void {
  const L = inner.config.seq_len;
  const need = { inputs: carry.B * L, labels: carry.B * L, puzzle_identifiers: carry.B };
  for (const [k, n] of Object.entries(need))
    if (batch[k as keyof Batch].length !== n)
      throw new RangeError(
        `batch.${k} has ${batch[k as keyof Batch].length} elements, expected ${n} (batch ${carry.B} x seq_len ${L})`,
      );
}

/** Restarts halted rows: z from H_init/L_init, steps 0, data from the new batch. */
function resetHalted(inner: HRMInner, carry: Carry, batch: Batch): void {
  const D = inner.config.hidden_size;
  const S = inner.derived.seqTotal;
  const L = inner.config.seq_len;
  const hInit = inner.params.get("H_init");
  const lInit = inner.params.get("L_init");
  for (let b = 0; b < carry.B; b++) {
    if (!carry.halted[b]) continue;
    for (let s = 0; s < S; s++) {
      carry.zH.set(hInit, (b * S + s) * D);
      carry.zL.set(lInit, (b * S + s) * D);
    }
    carry.steps[b] = 0;
    carry.current.inputs.set(batch.inputs.subarray(b * L, (b + 1) * L), b * L);
    carry.current.labels.set(batch.labels.subarray(b * L, (b + 1) * L), b * L);
    carry.current.puzzle_identifiers[b] = batch.puzzle_identifiers[b];
  }
}

/**
 * sigmoid rounded to float32, as torch computes it on float32 tensors. The Q target and the BCE gradient
 * must use the same one: when the target equals the prediction the official gradient is exactly 0, and
 * AdamATan2 would turn any residue into a full lr step.
 */
export const sigmoidF32 = (x: number) => Math.fround(1 / (1 + Math.exp(-x)));

export interface ActOptions {
  training: boolean;
  /** Keep activations of the 1-step gradient for a backward. */
  grad?: boolean;
  /** Exploration draws (training with halt_exploration_prob > 0). */
  rng?: Rng;
  /**
   * Evaluation only: the segment limit, instead of halt_max_steps ("think longer" without retraining). Rows
   * halt when they reach it; callers that stop rows themselves pass Infinity.
   */
  evalSteps?: number;
}

/**
 * The Q-head's halting decision for one row (before the segment limit): HRM's q_halt > q_continue, or with
 * TRM's no_ACT_continue (q_continue is never trained there) q_halt > 0. Training and adaptive inference share it.
 */
export function qHalts(c: HRMConfig, qHalt: number, qContinue: number): boolean {
  return c.no_ACT_continue ? qHalt > 0 : qHalt > qContinue;
}

/** One ACT segment; mutates the carry. */
export function actForward(inner: HRMInner, carry: Carry, batch: Batch, opts: ActOptions): ActOutputs {
  const c = inner.config;
  checkBatch(inner, carry, batch);
  resetHalted(inner, carry, batch);
  if (opts.training && opts.evalSteps !== undefined)
    throw new Error("actForward: evalSteps is for evaluation only");
  const limit = opts.evalSteps ?? c.halt_max_steps;
  const { inputs, puzzle_identifiers: ids } = carry.current;
  const out: ActOutputs = inner.forward(carry.zH, carry.zL, inputs, ids, carry.B, opts.grad ?? false);
  const isLast = new Uint8Array(carry.B);
  for (let b = 0; b < carry.B; b++) {
    carry.steps[b] += 1;
    isLast[b] = carry.steps[b] >= limit ? 1 : 0;
    carry.halted[b] = isLast[b];
  }
  if (!opts.training || c.halt_max_steps <= 1) return out;
  for (let b = 0; b < carry.B; b++) {
    let halt = isLast[b] || qHalts(c, out.qHalt[b], out.qContinue[b]);
    if (c.halt_exploration_prob > 0) {
      if (!opts.rng) throw new Error("actForward: training with halt_exploration_prob > 0 needs an rng");
      const explore = opts.rng.uniform() < c.halt_exploration_prob;
      const minHalt = explore ? opts.rng.int(2, c.halt_max_steps + 1) : 0;
      halt = halt && carry.steps[b] >= minHalt;
    }
    carry.halted[b] = halt ? 1 : 0;
  }
  if (c.no_ACT_continue) return out;
  // Bootstrapped target: the next segment's Q values from the new carry (a copy: that forward is discarded,
  // so it computes only what the Q values need).
  const ws = inner.workspace(carry.B);
  ws.zHNext.set(carry.zH);
  ws.zLNext.set(carry.zL);
  const next = inner.forward(ws.zHNext, ws.zLNext, inputs, ids, carry.B, false, true);
  out.targetQContinue = new Float32Array(carry.B);
  for (let b = 0; b < carry.B; b++)
    out.targetQContinue[b] = sigmoidF32(
      isLast[b] ? next.qHalt[b] : Math.max(next.qHalt[b], next.qContinue[b]),
    );
  return out;
}
