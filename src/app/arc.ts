/**
 * solveArcTask: one ARC test input the way the official evaluation answers it: every augmented variant of the
 * task that the model has a puzzle embedding for (named in the dataset's identifiers.json) is solved in one
 * batch, each prediction is mapped back through its variant's transform, and the answers are voted on (more
 * votes, then higher mean sigmoid(q_halt)). Returns the ranked candidates; the first two are pass@2's attempts.
 */
import { parseVariantName, toCanvas, toGrid, transformGrid } from "../data/arc.js";
import { ArcVotes, gridKey, keyToGrid } from "../eval/arc-vote.js";
import { solveRows } from "../eval/solve.js";
import type { HRMModel } from "./model.js";
import { PuzzleError } from "./puzzles.js";
import { thinkingOptions } from "./solve.js";

export interface ArcCandidate {
  grid: number[][];
  votes: number;
  meanQ: number;
}

export interface ArcAnswer {
  task: string;
  variants: number;
  candidates: ArcCandidate[];
  /** Segments each variant ran. */
  segments: number[];
}

/**
 * `task`: the task's name as in identifiers.json (its file name without .json); `input`: the test input grid;
 * `identifiers`: the dataset's identifiers.json (an array of names, index = puzzle identifier).
 */
export function solveArcTask(
  model: HRMModel,
  task: string,
  input: unknown,
  identifiers: unknown,
  opts: { maxThinkSteps?: number; halting?: "adaptive" | "fixed" } = {},
): ArcAnswer {
  if (!model.kinds.includes("arc"))
    throw new PuzzleError("kind", `this model (seq_len ${model.config.seq_len}) does not solve ARC grids`);
  if (!Array.isArray(identifiers) || identifiers.some((n) => typeof n !== "string"))
    throw new PuzzleError(
      "identifiers",
      "identifiers must be the dataset's identifiers.json: an array of names",
    );
  const grid = (() => {
    try {
      return toGrid(input, "arc test input");
    } catch (e) {
      throw new PuzzleError("puzzle", (e as Error).message);
    }
  })();
  const variants = (identifiers as string[])
    .map((name, id) => ({ id, name }))
    .filter((v) => v.id > 0 && v.id < model.config.num_puzzle_identifiers)
    .map((v) => ({ ...v, ...parseVariantName(v.name) }))
    .filter((v) => v.task === task);
  if (variants.length === 0)
    throw new PuzzleError(
      "task",
      `task "${task}" is not in identifiers.json: the model has no puzzle embedding for it`,
    );
  const { maxSteps, adaptive } = thinkingOptions(model, opts);
  const L = model.config.seq_len;
  const inputs = new Int32Array(variants.length * L);
  variants.forEach((v, i) => inputs.set(toCanvas(transformGrid(grid, v.tid, v.colours), 0, 0), i * L));
  const r = solveRows(
    model.inner,
    inputs,
    Int32Array.from(variants, (v) => v.id),
    { maxSteps, adaptive },
  );
  const votes = new ArcVotes();
  variants.forEach((v, i) =>
    votes.add(v.name, inputs.subarray(i * L, (i + 1) * L), r.preds.subarray(i * L, (i + 1) * L), r.qHalt[i]),
  );
  return {
    task,
    variants: variants.length,
    candidates: votes
      .ranked(task, gridKey(grid))
      .map((c) => ({ grid: keyToGrid(c.key), votes: c.count, meanQ: c.meanQ })),
    segments: Array.from(r.steps),
  };
}
