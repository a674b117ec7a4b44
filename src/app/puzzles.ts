/**
 * The puzzle kinds an app hands to solve(): Sudoku (4x4, 6x6, 9x9), maze and ARC grid. Each has an encoder
 * (what the user types or draws -> the model's tokens, as the official datasets encode them), a decoder
 * (tokens -> an answer a UI can draw) and an exact validity check. Bad input throws a PuzzleError naming the
 * field and what is wrong; nothing is guessed or cut short.
 */
import type { Grid } from "../data/arc.js";
import { fromCanvas, toCanvas, toGrid } from "../data/arc.js";
import { isSolvedMaze, MAZE_CHARS, parseMazeText } from "../data/maze.js";
import { boxShapeFor, givensClash, isValidBoxSolution } from "../data/sudoku-box.js";
import { clip } from "../io/limits.js";

export type PuzzleKind = "sudoku" | "maze" | "arc" | "tokens";
export const PUZZLE_KINDS: readonly PuzzleKind[] = ["sudoku", "maze", "arc", "tokens"];

/**
 * A puzzle as an app or a client sends it:
 * - sudoku: 16, 36 or 81 characters row by row (digits, 0 or . for a blank; spaces, newlines and the box
 *   rules | - + are ignored), or an n x n array of numbers with 0 for a blank;
 * - maze: n lines of n characters over "# SG" (wall, open, start, goal), as one string or an array of lines;
 * - arc: a grid of colours 0-9, at most 30 x 30;
 * - tokens: the model's input row itself (seq_len integers in [0, vocab)), for any model; its answer is the
 *   output tokens and no rule checks it (valid is false).
 * puzzleId is the model's puzzle identifier (0, the blank identifier, when omitted).
 */
export interface PuzzleInput {
  kind: PuzzleKind;
  puzzle: string | readonly string[] | readonly (readonly number[])[] | readonly number[];
  puzzleId?: number;
}

/** A bad puzzle: `field` names the part of the input at fault ("kind", "puzzle", "puzzleId"). */
export class PuzzleError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = "PuzzleError";
  }
}

/** A puzzle as the model takes it: one row of tokens, and what decoding and checking need. */
export interface EncodedPuzzle {
  kind: PuzzleKind;
  tokens: Int32Array;
  puzzleId: number;
  /** Side of the board (sudoku, maze), 30 for the ARC canvas. */
  size: number;
  /** sudoku: the givens, row by row, 0 for a blank; maze: the question's tokens; arc: the input grid's shape. */
  givens: number[];
}

/** sudoku: digits row by row; maze: lines over "# SGo"; arc: rows of colours, or null when the canvas holds no
 * well-formed grid. */
export type Answer = number[][] | string[] | number[] | null;

export function encodePuzzle(p: PuzzleInput): EncodedPuzzle {
  if (!p || typeof p !== "object") throw new PuzzleError("puzzle", "expected {kind, puzzle}");
  const id = p.puzzleId ?? 0;
  if (!Number.isInteger(id) || id < 0)
    throw new PuzzleError("puzzleId", `puzzleId must be a non-negative integer, got ${clip(String(id))}`);
  switch (p.kind) {
    case "sudoku":
      return encodeSudoku(p.puzzle, id);
    case "maze":
      return encodeMaze(p.puzzle, id);
    case "arc":
      return encodeArc(p.puzzle, id);
    case "tokens":
      return encodeTokens(p.puzzle, id);
    default:
      throw new PuzzleError(
        "kind",
        `unknown puzzle kind ${clip(String(p.kind))}: expected ${PUZZLE_KINDS.join(", ")}`,
      );
  }
}

function sudokuDigits(puzzle: PuzzleInput["puzzle"]): number[] {
  if (typeof puzzle === "string") {
    const s = puzzle.replace(/[\s|+-]/g, "");
    if (![16, 36, 81].includes(s.length))
      throw new PuzzleError(
        "puzzle",
        `sudoku "${clip(puzzle)}": ${s.length} cells, expected 16, 36 or 81 (4x4, 6x6, 9x9)`,
      );
    const bad = /[^0-9.]/.exec(s);
    if (bad)
      throw new PuzzleError(
        "puzzle",
        `sudoku: character "${bad[0]}" at cell ${bad.index}: expected 0-9 or .`,
      );
    return [...s].map((ch) => (ch === "." ? 0 : Number(ch)));
  }
  if (!Array.isArray(puzzle))
    throw new PuzzleError("puzzle", "sudoku: expected a string or an array of rows");
  const n = puzzle.length;
  if (![4, 6, 9].includes(n)) throw new PuzzleError("puzzle", `sudoku: ${n} rows, expected 4, 6 or 9`);
  const out: number[] = [];
  puzzle.forEach((row, r) => {
    if (!Array.isArray(row) || row.length !== n)
      throw new PuzzleError("puzzle", `sudoku: row ${r} must be an array of ${n} numbers`);
    row.forEach((v, c) => {
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0)
        throw new PuzzleError(
          "puzzle",
          `sudoku: cell (${r}, ${c}) = ${clip(JSON.stringify(v))}: expected 0-${n}`,
        );
      out.push(v);
    });
  });
  return out;
}

function encodeSudoku(puzzle: PuzzleInput["puzzle"], id: number): EncodedPuzzle {
  const digits = sudokuDigits(puzzle);
  const n = Math.round(Math.sqrt(digits.length));
  const bad = digits.findIndex((d) => d > n);
  if (bad >= 0)
    throw new PuzzleError("puzzle", `sudoku: digit ${digits[bad]} at cell ${bad} is larger than ${n}`);
  const clash = givensClash(digits, boxShapeFor(n));
  if (clash) throw new PuzzleError("puzzle", `sudoku: the givens break the rules: ${clash}`);
  return {
    kind: "sudoku",
    tokens: Int32Array.from(digits, (d) => d + 1),
    puzzleId: id,
    size: n,
    givens: digits,
  };
}

function encodeMaze(puzzle: PuzzleInput["puzzle"], id: number): EncodedPuzzle {
  const text = Array.isArray(puzzle) ? puzzle.join("\n") : puzzle;
  if (typeof text !== "string")
    throw new PuzzleError("puzzle", "maze: expected a string or an array of lines");
  let parsed: { size: number; question: Uint8Array };
  try {
    parsed = parseMazeText(text, "maze");
  } catch (e) {
    throw new PuzzleError("puzzle", (e as Error).message);
  }
  const q = Array.from(parsed.question);
  return { kind: "maze", tokens: Int32Array.from(q), puzzleId: id, size: parsed.size, givens: q };
}

function encodeArc(puzzle: PuzzleInput["puzzle"], id: number): EncodedPuzzle {
  let g: Grid;
  try {
    g = toGrid(puzzle, "arc grid");
  } catch (e) {
    throw new PuzzleError("puzzle", (e as Error).message);
  }
  return {
    kind: "arc",
    tokens: Int32Array.from(toCanvas(g, 0, 0)),
    puzzleId: id,
    size: 30,
    givens: [g.h, g.w],
  };
}

function encodeTokens(puzzle: PuzzleInput["puzzle"], id: number): EncodedPuzzle {
  if (!Array.isArray(puzzle) || puzzle.some((v) => typeof v !== "number" || !Number.isInteger(v) || v < 0))
    throw new PuzzleError("puzzle", "tokens: expected an array of non-negative integers");
  const tokens = Int32Array.from(puzzle as unknown as number[]);
  return { kind: "tokens", tokens, puzzleId: id, size: tokens.length, givens: [] };
}

/** The answer in the model's output tokens, in the puzzle's own terms. */
export function decodeAnswer(p: EncodedPuzzle, tokens: ArrayLike<number>): Answer {
  if (p.kind === "sudoku")
    return Array.from({ length: p.size }, (_, r) =>
      Array.from({ length: p.size }, (_, c) => Math.max(0, tokens[r * p.size + c] - 1)),
    );
  if (p.kind === "tokens") return Array.from(tokens);
  if (p.kind === "maze")
    return Array.from({ length: p.size }, (_, r) =>
      Array.from({ length: p.size }, (_, c) => MAZE_CHARS[tokens[r * p.size + c] - 1] ?? "?").join(""),
    );
  const g = fromCanvas(tokens);
  return g
    ? Array.from({ length: g.h }, (_, r) => Array.from(g.data.subarray(r * g.w, (r + 1) * g.w)))
    : null;
}

/**
 * Exact checks: sudoku, every row, column and box holds each digit once and the givens are kept; maze, the
 * answer is exactly the unique shortest path from S to G; arc, the canvas holds a well-formed grid (whether it
 * is the right one needs the task's answer).
 */
export function isValidAnswer(p: EncodedPuzzle, tokens: ArrayLike<number>): boolean {
  if (p.kind === "sudoku") {
    const answer = Array.from({ length: p.size * p.size }, (_, i) => tokens[i] - 1);
    return (
      isValidBoxSolution(answer, boxShapeFor(p.size)) && p.givens.every((d, i) => d === 0 || d === answer[i])
    );
  }
  if (p.kind === "tokens") return false;
  if (p.kind === "maze")
    return isSolvedMaze(
      Uint8Array.from(p.givens),
      Uint8Array.from({ length: p.size * p.size }, (_, i) => tokens[i]),
      p.size,
    );
  return fromCanvas(tokens) !== null;
}

/** The answer as text: a Sudoku grid with box rules, the maze's lines, or the ARC grid's rows of digits. */
export function formatAnswer(p: EncodedPuzzle, answer: Answer): string {
  if (answer === null) return "(no grid)";
  if (p.kind === "tokens") return (answer as number[]).join(" ");
  if (p.kind === "maze") return (answer as string[]).join("\n");
  if (p.kind === "arc") return (answer as number[][]).map((r) => r.join("")).join("\n");
  const { rows, cols } = boxShapeFor(p.size);
  const lines: string[] = [];
  (answer as number[][]).forEach((row, r) => {
    if (r > 0 && r % rows === 0)
      lines.push(Array.from({ length: p.size / cols }, () => "-".repeat(2 * cols - 1)).join("-+-"));
    lines.push(row.map((v, c) => `${c > 0 && c % cols === 0 ? "| " : ""}${v >= 1 ? v : "."}`).join(" "));
  });
  return lines.join("\n");
}
