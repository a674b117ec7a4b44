/**
 * solve(model, puzzle, options): one puzzle, asynchronously, one ACT segment at a time. Between segments it
 * yields to the event loop (a page stays responsive; a server serves other requests), and every segment is
 * reported (as an async iterator, or to a callback) with the predicted answer, q_halt and q_continue, the
 * cells that changed and the time it took, so a UI can draw the model thinking.
 * Halting: "adaptive" stops when the Q-head says halt (q_halt > q_continue) or at maxThinkSteps; "fixed"
 * always runs maxThinkSteps. The default limit is the model's halt_max_steps.
 */
import { MAX_HALT_STEPS } from "../model/config.js";
import { solveSegments } from "../eval/solve.js";
import { now } from "../util/clock.js";
import type { HRMModel } from "./model.js";
import type { Answer, EncodedPuzzle, PuzzleInput } from "./puzzles.js";
import { decodeAnswer, encodePuzzle, isValidAnswer, PuzzleError } from "./puzzles.js";

export type Halting = "adaptive" | "fixed";

export interface SolveOptions {
  /** Most segments to run (1..1024; default: the model's halt_max_steps). */
  maxThinkSteps?: number;
  halting?: Halting;
  /** Called with every segment, before the next one starts. */
  onSegment?: (s: SegmentEvent) => void;
  /** Stops between segments; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface SegmentEvent {
  segment: number;
  answer: Answer;
  /** Flat indices of the cells (tokens) whose prediction changed since the previous segment (all, at 1). */
  changed: number[];
  qHalt: number;
  qContinue: number;
  /** sigmoid(q_halt): the Q-head's halting probability. */
  haltProbability: number;
  /** [seq_len, vocab] logits of this segment. */
  logits: Float32Array;
  /** The solve stops after this segment. */
  halted: boolean;
  valid: boolean;
  elapsedMs: number;
}

export interface SolveAnswer {
  answer: Answer;
  /** The tokens of the answer (the model's output row). */
  tokens: Int32Array;
  segments: number;
  /** q_halt of every segment run. */
  qHalt: number[];
  valid: boolean;
  elapsedMs: number;
}

const breathe = () => new Promise<void>((r) => setTimeout(r, 0));

/** Checks the options and the puzzle against the model; errors name the field. */
export function preparePuzzle(model: HRMModel, puzzle: PuzzleInput, opts: SolveOptions = {}) {
  const p = encodePuzzle(puzzle);
  const c = model.config;
  if (p.kind === "tokens" && p.tokens.some((t) => t >= c.vocab_size))
    throw new PuzzleError(
      "puzzle",
      `tokens: every token must be below the model's vocabulary of ${c.vocab_size}`,
    );
  if (p.kind !== "tokens" && !model.kinds.includes(p.kind))
    throw new PuzzleError(
      "kind",
      `this model (seq_len ${c.seq_len}, vocabulary ${c.vocab_size}) solves ${model.kinds.join(", ") || "no known puzzle kind"}, not ${p.kind}`,
    );
  if (p.tokens.length !== c.seq_len)
    throw new PuzzleError(
      "puzzle",
      `this ${p.kind} has ${p.tokens.length} cells, the model takes ${c.seq_len}`,
    );
  if (c.puzzle_emb_ndim > 0 && p.puzzleId >= c.num_puzzle_identifiers)
    throw new PuzzleError(
      "puzzleId",
      `puzzleId ${p.puzzleId} is not below the model's ${c.num_puzzle_identifiers} identifiers`,
    );
  return { p, ...thinkingOptions(model, opts) };
}

/** maxThinkSteps (default: the model's halt_max_steps) and halting, checked; errors name the field. */
export function thinkingOptions(
  model: HRMModel,
  opts: Pick<SolveOptions, "maxThinkSteps" | "halting">,
): { maxSteps: number; adaptive: boolean } {
  const maxSteps = opts.maxThinkSteps ?? model.config.halt_max_steps;
  if (!Number.isInteger(maxSteps) || maxSteps < 1 || maxSteps > MAX_HALT_STEPS)
    throw new PuzzleError(
      "maxThinkSteps",
      `maxThinkSteps must be an integer in 1..${MAX_HALT_STEPS}, got ${maxSteps}`,
    );
  const halting = opts.halting ?? "adaptive";
  if (halting !== "adaptive" && halting !== "fixed")
    throw new PuzzleError("halting", `halting must be "adaptive" or "fixed", got ${String(halting)}`);
  return { maxSteps, adaptive: halting === "adaptive" };
}

/** The segments as they come; the iterator's return value is the final answer. */
export async function* solveStream(
  model: HRMModel,
  puzzle: PuzzleInput,
  opts: SolveOptions = {},
): AsyncGenerator<SegmentEvent, SolveAnswer, void> {
  const { p, maxSteps, adaptive } = preparePuzzle(model, puzzle, opts);
  const c = model.config;
  const start = now();
  const steps = solveSegments(model.inner, p.tokens, Int32Array.of(p.puzzleId), { maxSteps, adaptive });
  const qHalt: number[] = [];
  let prev: Int32Array | null = null;
  for (;;) {
    opts.signal?.throwIfAborted();
    const t0 = now();
    const n = steps.next();
    if (n.done) return finish(p, n.value.preds, qHalt, start);
    const v = n.value;
    qHalt.push(v.qHalt[0]);
    const changed: number[] = [];
    for (let i = 0; i < v.preds.length; i++) if (!prev || prev[i] !== v.preds[i]) changed.push(i);
    prev = v.preds.slice();
    yield {
      segment: v.segment,
      answer: decodeAnswer(p, v.preds),
      changed,
      qHalt: v.qHalt[0],
      qContinue: v.qContinue[0],
      haltProbability: 1 / (1 + Math.exp(-v.qHalt[0])),
      logits: v.logits.slice(0, c.seq_len * c.vocab_size),
      halted: v.halting[0] === 1,
      valid: isValidAnswer(p, v.preds),
      elapsedMs: now() - t0,
    };
    await breathe();
  }
}

function finish(p: EncodedPuzzle, tokens: Int32Array, qHalt: number[], start: number): SolveAnswer {
  return {
    answer: decodeAnswer(p, tokens),
    tokens,
    segments: qHalt.length,
    qHalt,
    valid: isValidAnswer(p, tokens),
    elapsedMs: now() - start,
  };
}

/** Solves one puzzle; opts.onSegment sees each segment. */
export async function solve(
  model: HRMModel,
  puzzle: PuzzleInput,
  opts: SolveOptions = {},
): Promise<SolveAnswer> {
  const it = solveStream(model, puzzle, opts);
  for (;;) {
    const n = await it.next();
    if (n.done) return n.value;
    opts.onSegment?.(n.value);
  }
}
