/**
 * Continuous batching of ACT segments, shared by adaptive evaluation and `hrm serve`: up to `capacity` rows
 * run together, each with its own example, segment limit and halting rule. A row stops when it reaches its
 * limit or (adaptive) when its Q-head says halt (q_halt > q_continue); it is handed back at once and its slot
 * takes the next example before the next segment, as the ACT carry does in training.
 * Active rows are kept packed at the front of the carry. A segment runs on exactly the active rows
 * (`sizes: "active"`, the default: a lone puzzle costs a batch of 1, not of `capacity`; every batch size's
 * workspace is a view of one, see HRMInner.reserveWorkspaces) or on all `capacity` rows (`sizes: "fixed"`,
 * the official evaluation's batch, where the rows past the active ones hold padding and are ignored).
 */
import { IGNORE_LABEL_ID } from "../kernels/api.js";
import type { Carry } from "../model/act.js";
import { actForward, initialCarry, qHalts } from "../model/act.js";
import type { HRMInner } from "../model/inner.js";
import { argmaxRows } from "./outputs.js";

export interface RowJob {
  /** [seq_len] input tokens. */
  tokens: Int32Array;
  puzzleId: number;
  /** Most segments (>= 1). */
  maxSteps: number;
  /** Stop when the Q-head says halt; else run maxSteps. */
  adaptive: boolean;
}

/** One row after one segment. */
export interface RowSegment<J> {
  job: J;
  segment: number;
  /** [seq_len] argmax tokens of this segment (null unless `wants(job)` or the row stops). */
  preds: Int32Array | null;
  qHalt: number;
  qContinue: number;
  /** The row stops after this segment. */
  halted: boolean;
}

export interface RowBatcherOptions {
  sizes?: "active" | "fixed";
  /** Token and puzzle identifier of the padding rows (the dataset's pad_id and blank identifier). */
  padId?: number;
  blankId?: number;
}

export class RowBatcher<J extends RowJob> {
  private readonly carry: Carry;
  private readonly batch: { inputs: Int32Array; labels: Int32Array; puzzle_identifiers: Int32Array };
  private readonly slots: (J | null)[];
  private n = 0;
  private readonly padId: number;
  private readonly blankId: number;
  private readonly fixed: boolean;
  /** Rows run in every segment so far, padding included (the compute spent). */
  rowsRun = 0;

  constructor(
    private readonly inner: HRMInner,
    readonly capacity: number,
    opts: RowBatcherOptions = {},
  ) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`RowBatcher: capacity must be a positive integer, got ${capacity}`);
    this.fixed = opts.sizes === "fixed";
    this.padId = opts.padId ?? 0;
    this.blankId = opts.blankId ?? 0;
    const L = inner.config.seq_len;
    this.carry = initialCarry(inner, capacity);
    this.batch = {
      inputs: new Int32Array(capacity * L).fill(this.padId),
      labels: new Int32Array(capacity * L).fill(IGNORE_LABEL_ID),
      puzzle_identifiers: new Int32Array(capacity).fill(this.blankId),
    };
    this.slots = new Array<J | null>(capacity).fill(null);
    if (!this.fixed) inner.reserveWorkspaces(capacity);
  }

  get active(): number {
    return this.n;
  }

  get free(): number {
    return this.capacity - this.n;
  }

  /** The jobs in the batch. */
  jobs(): J[] {
    return this.slots.slice(0, this.n) as J[];
  }

  /** Puts a job in the next free row; it starts from the initial state at the next segment. */
  add(job: J): void {
    const L = this.inner.config.seq_len;
    if (this.n >= this.capacity) throw new RangeError(`RowBatcher: all ${this.capacity} rows are busy`);
    if (job.tokens.length !== L)
      throw new RangeError(`RowBatcher: a job has ${job.tokens.length} tokens, the model takes ${L}`);
    if (!Number.isInteger(job.maxSteps) || job.maxSteps < 1)
      throw new RangeError(`RowBatcher: maxSteps must be a positive integer, got ${job.maxSteps}`);
    const r = this.n++;
    this.slots[r] = job;
    this.carry.halted[r] = 1; // actForward restarts it from H_init/L_init with this row of the batch
    this.batch.inputs.set(job.tokens, r * L);
    this.batch.puzzle_identifiers[r] = job.puzzleId;
  }

  /** Drops a job (a cancelled request); false if it holds no row. */
  remove(job: J): boolean {
    const r = this.slots.indexOf(job, 0);
    if (r < 0 || r >= this.n) return false;
    this.vacate(r);
    return true;
  }

  /**
   * Runs one segment on the active rows. Returns the rows that stopped (their slots are free again);
   * `onSegment` sees every active row, with its predictions where `wants(job)` (decoding costs a pass over
   * the logits) or where the row stops.
   */
  step(
    onSegment?: (s: RowSegment<J>) => void,
    wants: (job: J) => boolean = () => true,
  ): { job: J; preds: Int32Array; qHalt: number; steps: number }[] {
    if (this.n === 0) return [];
    const c = this.inner.config;
    const L = c.seq_len;
    const V = c.vocab_size;
    const B = this.fixed ? this.capacity : this.n;
    for (let r = this.n; r < B; r++) this.padRow(r);
    const out = actForward(this.inner, this.view(B), this.slice(B), { training: false, evalSteps: Infinity });
    this.rowsRun += B;
    const done: { job: J; preds: Int32Array; qHalt: number; steps: number }[] = [];
    const stopping: number[] = [];
    for (let r = 0; r < this.n; r++) {
      const job = this.slots[r]!;
      const steps = this.carry.steps[r];
      const halted = steps >= job.maxSteps || (job.adaptive && qHalts(c, out.qHalt[r], out.qContinue[r]));
      const traced = onSegment !== undefined && wants(job);
      const preds =
        halted || traced ? argmaxRows(out.logits.subarray(r * L * V, (r + 1) * L * V), L, V) : null;
      if (onSegment)
        onSegment({
          job,
          segment: steps,
          preds,
          qHalt: out.qHalt[r],
          qContinue: out.qContinue[r],
          halted,
        });
      if (!halted || !preds) continue;
      done.push({ job, preds, qHalt: out.qHalt[r], steps });
      stopping.push(r);
    }
    for (let i = stopping.length - 1; i >= 0; i--) this.vacate(stopping[i]); // from the back: indices stay valid
    return done;
  }

  /** Frees row r by moving the last active row into it (carry, data and job). */
  private vacate(r: number): void {
    const last = --this.n;
    if (r !== last) {
      const c = this.carry;
      const L = this.inner.config.seq_len;
      const SD = this.inner.derived.seqTotal * this.inner.config.hidden_size;
      c.zH.copyWithin(r * SD, last * SD, (last + 1) * SD);
      c.zL.copyWithin(r * SD, last * SD, (last + 1) * SD);
      c.steps[r] = c.steps[last];
      c.halted[r] = c.halted[last];
      c.current.inputs.copyWithin(r * L, last * L, (last + 1) * L);
      c.current.labels.copyWithin(r * L, last * L, (last + 1) * L);
      c.current.puzzle_identifiers[r] = c.current.puzzle_identifiers[last];
      this.batch.inputs.copyWithin(r * L, last * L, (last + 1) * L);
      this.batch.puzzle_identifiers[r] = this.batch.puzzle_identifiers[last];
      this.slots[r] = this.slots[last];
    }
    this.slots[last] = null;
    this.padRow(last);
  }

  private padRow(r: number): void {
    const L = this.inner.config.seq_len;
    this.carry.halted[r] = 1;
    this.batch.inputs.fill(this.padId, r * L, (r + 1) * L);
    this.batch.puzzle_identifiers[r] = this.blankId;
  }

  /** The first B rows of the carry (views: the forward updates the carry in place). */
  private view(B: number): Carry {
    const c = this.carry;
    const L = this.inner.config.seq_len;
    const SD = this.inner.derived.seqTotal * this.inner.config.hidden_size;
    return {
      B,
      zH: c.zH.subarray(0, B * SD),
      zL: c.zL.subarray(0, B * SD),
      steps: c.steps.subarray(0, B),
      halted: c.halted.subarray(0, B),
      current: {
        inputs: c.current.inputs.subarray(0, B * L),
        labels: c.current.labels.subarray(0, B * L),
        puzzle_identifiers: c.current.puzzle_identifiers.subarray(0, B),
      },
    };
  }

  private slice(B: number) {
    const L = this.inner.config.seq_len;
    return {
      inputs: this.batch.inputs.subarray(0, B * L),
      labels: this.batch.labels.subarray(0, B * L),
      puzzle_identifiers: this.batch.puzzle_identifiers.subarray(0, B),
    };
  }
}
