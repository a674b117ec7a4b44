/**
 * Dynamic batching for one served model: requests queue, and one batch runs at a time on RowBatcher (the
 * continuous batching of adaptive evaluation). Each segment takes queued puzzles into free rows, so rows that
 * halt are answered at once and refilled; each row keeps its own request's max_think_steps and halting. When
 * rows have left a running batch, the next segment waits up to maxWaitMs for puzzles to fill it (see fill). Between two segments the event loop runs (new requests are parsed and queued there),
 * so nothing blocks it for more than a segment.
 */
import type { HRMModel } from "../app/model.js";
import type { Answer, EncodedPuzzle } from "../app/puzzles.js";
import { decodeAnswer, isValidAnswer } from "../app/puzzles.js";
import type { RowJob, RowSegment } from "../eval/rows.js";
import { RowBatcher } from "../eval/rows.js";
import { now } from "../util/clock.js";
import type { ServeMetrics } from "./metrics.js";

export interface SegmentReport {
  segment: number;
  answer: Answer;
  q_halt: number;
  q_continue: number;
  halted: boolean;
  valid: boolean;
}

export interface SolveResult {
  answer: Answer;
  segments: number;
  q_halt: number[];
  valid: boolean;
}

export interface Job extends RowJob {
  puzzle: EncodedPuzzle;
  /** Called with every segment of a traced request. */
  trace?: (s: SegmentReport) => void;
  done: (r: SolveResult) => void;
  /** The model could not run the batch (a kernel error): the request gets 500. */
  fail: (e: Error) => void;
  qHalts: number[];
}

/** The queue is full: the request gets 503 with Retry-After. */
export class QueueFullError extends Error {}

export interface SchedulerOptions {
  maxBatch: number;
  maxWaitMs: number;
  maxQueue: number;
}

/** Lets pending I/O run: setImmediate where there is one (Node; setTimeout(0) waits >= 1 ms there). */
const yieldToLoop = (): Promise<void> =>
  new Promise((r) => (typeof setImmediate === "function" ? setImmediate(r) : setTimeout(r, 0)));

export class ModelScheduler {
  private readonly queue: Job[] = [];
  private readonly rows: RowBatcher<Job>;
  /** True from the first submit until the loop finds nothing to do (set in the loop's own tick, so a submit
   * never sees a loop that is about to end). */
  private looping = false;
  private running: Promise<void> = Promise.resolve();
  private wake: (() => void) | null = null;
  private lastSegmentMs = 0;
  private readonly thaw: () => void;

  constructor(
    readonly name: string,
    readonly model: HRMModel,
    readonly opts: SchedulerOptions,
    private readonly metrics: ServeMetrics,
    /** Requests being read (any model): a refill waits for them too, within the same bound. */
    private readonly arriving: () => number = () => 0,
  ) {
    this.rows = new RowBatcher<Job>(model.inner, opts.maxBatch);
    // The weights never change while serving: pack them once, not at every request that finds the model idle.
    this.thaw = model.inner.freeze();
    metrics.queueDepth.track({ model: name }, () => this.queue.length);
    metrics.active.track({ model: name }, () => this.rows.active);
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Room for n more puzzles in the queue. */
  hasRoom(n: number): boolean {
    return this.queue.length + n <= this.opts.maxQueue;
  }

  submit(jobs: Job[]): void {
    if (!this.hasRoom(jobs.length))
      throw new QueueFullError(
        `the queue of model "${this.name}" is full (${this.queue.length} of max_queue=${this.opts.maxQueue} waiting)`,
      );
    this.queue.push(...jobs);
    if (this.wake && this.queue.length >= this.rows.free) this.wake();
    if (!this.looping) {
      this.looping = true;
      this.running = this.run().catch((e: unknown) => this.failAll(e, this.rows.jobs()));
    }
  }

  /** Takes a job out of the queue or the batch (a request that timed out or whose client left). */
  cancel(job: Job): void {
    const i = this.queue.indexOf(job);
    if (i >= 0) this.queue.splice(i, 1);
    else this.rows.remove(job);
  }

  /** Resolves when nothing is queued or running. */
  async idle(): Promise<void> {
    while (this.looping) await this.running;
  }

  /** After idle(): lets the model's packed weight copies go (the model may be trained or served again). */
  release(): void {
    this.thaw();
  }

  private async run(): Promise<void> {
    let finished = false; // rows left the batch in the last segment: replacements may be on their way
    try {
      await yieldToLoop(); // never inside submit(): the caller finishes its tick, and same-tick requests join
      while (this.queue.length > 0 || this.rows.active > 0) {
        // Refill only: an empty batch starts at once (a lone client would pay every wait in full).
        if (this.rows.active > 0 && this.queue.length < this.rows.free && (finished || this.arriving() > 0))
          await this.fill(finished);
        while (this.rows.free > 0 && this.queue.length > 0) this.rows.add(this.queue.shift()!);
        const t0 = now();
        finished = this.guardedSegment() > 0;
        this.lastSegmentMs = now() - t0;
        await yieldToLoop();
      }
    } finally {
      this.looping = false;
    }
  }

  /**
   * Waits for puzzles to fill the free rows: at most maxWaitMs, and at most a quarter of the last segment's
   * time (a wait costs every row in the batch; for a small model it would cost more than it saves). Requests
   * that arrived during the segment are still being read; with `replacements` (rows just finished), the
   * clients whose answers were just written send their next requests within a millisecond or two.
   */
  private async fill(replacements: boolean): Promise<void> {
    const ms = Math.min(this.opts.maxWaitMs, this.lastSegmentMs > 0 ? this.lastSegmentMs / 4 : Infinity);
    const deadline = now() + ms;
    // Requests whose bytes are still being read (several turns of the event loop each): until they are
    // queued. The queue filling the free rows ends the wait at once.
    while (this.arriving() > 0 && this.queue.length < this.rows.free && now() < deadline) await yieldToLoop();
    const left = deadline - now();
    if (!replacements || left < 1 || this.queue.length >= this.rows.free) return; // timers: whole ms
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
      const t = setTimeout(done, left);
      this.wake = done;
    });
  }

  /** Returns the rows that finished. */
  private guardedSegment(): number {
    const batch = this.rows.jobs();
    try {
      return this.segment();
    } catch (e) {
      this.failAll(e, batch);
      return batch.length;
    }
  }

  /** Fails `batch` and everything queued with `e`, and takes them out (the model goes on serving). */
  private failAll(e: unknown, batch: Job[]): void {
    const err = e instanceof Error ? e : new Error(String(e));
    for (const j of [...batch, ...this.queue.splice(0)]) {
      this.rows.remove(j);
      j.fail(err);
    }
  }

  private segment(): number {
    this.metrics.batchRows.observe(this.rows.active, { model: this.name });
    const finished = this.rows.step(
      (s) => this.onSegment(s),
      (j) => j.trace !== undefined,
    );
    for (const f of finished) {
      const j = f.job;
      this.metrics.segments.observe(f.steps, { model: this.name });
      j.done({
        answer: decodeAnswer(j.puzzle, f.preds),
        segments: f.steps,
        q_halt: j.qHalts,
        valid: isValidAnswer(j.puzzle, f.preds),
      });
    }
    return finished.length;
  }

  private onSegment(s: RowSegment<Job>): void {
    s.job.qHalts.push(s.qHalt);
    if (!s.job.trace || !s.preds) return;
    s.job.trace({
      segment: s.segment,
      answer: decodeAnswer(s.job.puzzle, s.preds),
      q_halt: s.qHalt,
      q_continue: s.qContinue,
      halted: s.halted,
      valid: isValidAnswer(s.job.puzzle, s.preds),
    });
  }
}
