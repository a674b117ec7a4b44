/**
 * The JSON requests of `hrm serve` checked into jobs: every field's type and range, the model and kind, and the
 * puzzle through the app API's encoders (the encodings of `hrm solve`). A bad request is an ApiError with the
 * HTTP status and the field at fault; nothing is guessed, truncated or defaulted past what the docs say.
 */
import type { HRMModel } from "../app/model.js";
import type { EncodedPuzzle, PuzzleInput } from "../app/puzzles.js";
import { PuzzleError } from "../app/puzzles.js";
import { preparePuzzle } from "../app/solve.js";
import { clip } from "../io/limits.js";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly field: string | null,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

const bad = (field: string | null, message: string) => new ApiError(400, field, message);

export interface SolveRequest {
  model: string;
  puzzles: EncodedPuzzle[];
  maxSteps: number;
  adaptive: boolean;
  trace: boolean;
}

const SOLVE_FIELDS = ["model", "kind", "puzzle", "puzzle_id", "max_think_steps", "halting", "trace"];
const BATCH_FIELDS = ["model", "kind", "puzzles", "puzzle_id", "max_think_steps", "halting"];
/** The app API's field names, as the HTTP API spells them. */
const API_FIELD: Record<string, string> = { maxThinkSteps: "max_think_steps", puzzleId: "puzzle_id" };

const describe = (v: unknown) =>
  v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "string" ? `"${clip(v)}"` : typeof v;

export function parseJsonBody(text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw bad("body", `malformed JSON: ${(e as Error).message}`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw bad("body", `the body must be a JSON object, got ${describe(v)}`);
  return v as Record<string, unknown>;
}

/** The request's model: named, or the only one loaded. */
export function pickModel(models: ReadonlyMap<string, HRMModel>, name: unknown): [string, HRMModel] {
  if (name === undefined) {
    if (models.size === 1) return [...models][0];
    throw bad("model", `${models.size} models are loaded (${[...models.keys()].join(", ")}): name one`);
  }
  if (typeof name !== "string") throw bad("model", `model must be a string, got ${describe(name)}`);
  const m = models.get(name);
  if (!m)
    throw bad("model", `unknown model "${clip(name)}": this server has ${[...models.keys()].join(", ")}`);
  return [name, m];
}

/** A /v1/solve (one puzzle) or /v1/solve/batch (`puzzles`: an array) request. */
export function parseSolveRequest(
  body: Record<string, unknown>,
  models: ReadonlyMap<string, HRMModel>,
  limits: { maxThinkSteps: number; maxPuzzles: number },
  batch: boolean,
): SolveRequest {
  const allowed = batch ? BATCH_FIELDS : SOLVE_FIELDS;
  for (const k of Object.keys(body))
    if (!allowed.includes(k)) throw bad(k, `unknown field "${clip(k)}" (expected ${allowed.join(", ")})`);
  const [model, m] = pickModel(models, body.model);
  if (typeof body.kind !== "string")
    throw bad("kind", `kind must be a string (sudoku, maze, arc or tokens), got ${describe(body.kind)}`);
  const maxSteps = body.max_think_steps ?? m.config.halt_max_steps;
  const limit = Math.max(limits.maxThinkSteps, m.config.halt_max_steps);
  if (typeof maxSteps !== "number" || !Number.isInteger(maxSteps))
    throw bad("max_think_steps", `max_think_steps must be an integer, got ${describe(maxSteps)}`);
  if (maxSteps < 1 || maxSteps > limit)
    throw bad("max_think_steps", `max_think_steps must be in 1..${limit}, got ${maxSteps}`);
  const halting = body.halting ?? "adaptive";
  if (halting !== "adaptive" && halting !== "fixed")
    throw bad("halting", `halting must be "adaptive" or "fixed", got ${describe(halting)}`);
  const trace = body.trace ?? false;
  if (typeof trace !== "boolean") throw bad("trace", `trace must be true or false, got ${describe(trace)}`);
  const puzzleId = body.puzzle_id ?? 0;
  if (typeof puzzleId !== "number")
    throw bad("puzzle_id", `puzzle_id must be an integer, got ${describe(puzzleId)}`);
  const one = (p: unknown, field: string) =>
    encode(
      m,
      { kind: body.kind as PuzzleInput["kind"], puzzle: p as PuzzleInput["puzzle"], puzzleId },
      field,
    );
  let puzzles: EncodedPuzzle[];
  if (!batch) {
    if (body.puzzle === undefined) throw bad("puzzle", "puzzle is missing");
    puzzles = [one(body.puzzle, "puzzle")];
  } else {
    const list = body.puzzles;
    if (!Array.isArray(list) || list.length === 0)
      throw bad("puzzles", `puzzles must be a non-empty array, got ${describe(list)}`);
    if (list.length > limits.maxPuzzles)
      throw bad("puzzles", `${list.length} puzzles: at most ${limits.maxPuzzles} per request (max_queue)`);
    puzzles = list.map((p, i) => one(p, `puzzles[${i}]`));
  }
  return { model, puzzles, maxSteps, adaptive: halting === "adaptive", trace };
}

function encode(m: HRMModel, input: PuzzleInput, field: string): EncodedPuzzle {
  if (typeof input.puzzle !== "string" && !Array.isArray(input.puzzle))
    throw bad(field, `the puzzle must be a string or an array, got ${describe(input.puzzle)}`);
  try {
    return preparePuzzle(m, input).p;
  } catch (e) {
    if (!(e instanceof PuzzleError)) throw e;
    const f = e.field === "puzzle" ? field : (API_FIELD[e.field] ?? e.field);
    throw bad(f, e.message);
  }
}
