/**
 * One puzzle solved on Node (`hrm solve sudoku <puzzle> | maze <file> | arc <task.json> checkpoint=<file>`):
 * the answer, whether it is valid (Sudoku rules / the unique shortest maze path, checked exactly) and the
 * segments used, as text through `say`. Halting is adaptive by default (stop when the Q-head says halt, at most
 * halt_max_steps segments); `halting=fixed` always runs max_steps; `trace` shows every segment. ARC: every
 * augmented variant of the task known to the dataset (data_path's identifiers.json) is solved and the answers
 * voted on, as the official evaluation does. `--json` answers as hrm serve does, through the app API.
 */
import { basename } from "node:path";
import type { SelectedKernels } from "../kernels/api.js";
import type { Grid } from "../data/arc.js";
import { parseVariantName, toCanvas, toGrid, transformGrid } from "../data/arc.js";
import { isSolvedMaze, parseMazeText } from "../data/maze.js";
import { boxShapeFor, givensClash, isValidBoxSolution } from "../data/sudoku-box.js";
import { clip } from "../io/limits.js";
import { HRMInner } from "../model/inner.js";
import { decodeModelSafetensors } from "../model/checkpoint.js";
import { ArcVotes, gridKey, keyToGrid } from "../eval/arc-vote.js";
import type { SegmentView } from "../eval/solve.js";
import { solveRows } from "../eval/solve.js";
import { MAX_HALT_STEPS } from "../model/config.js";
import { loadModel } from "../app/model.js";
import type { Halting } from "../app/solve.js";
import { solve } from "../app/solve.js";
import type { OptionsOf, Schema } from "../util/options.js";
import { parseOptions } from "../util/options.js";
import { readBytes, readIdentifiers } from "./files.js";
import { readJson, readText } from "./fs.js";

export class SolveError extends Error {}

export const SOLVE_OPTIONS = {
  checkpoint: {
    kind: "string",
    doc: "our .safetensors checkpoint (required; step_N/model.safetensors of a run)",
  },
  halting: { kind: "string", default: "adaptive", doc: "adaptive (stop when the Q-head halts) or fixed" },
  max_steps: {
    kind: "int",
    min: 1,
    max: MAX_HALT_STEPS,
    doc: "segment limit (default: the model's halt_max_steps)",
  },
  data_path: { kind: "string", doc: "arc: the dataset the model was trained on (for identifiers.json)" },
} satisfies Schema;

export type SolveOptions = OptionsOf<typeof SOLVE_OPTIONS>;

export const SOLVE_HELP = `usage: hrm solve sudoku <puzzle> checkpoint=<file> [--trace | --json] [key=value ...]
       hrm solve maze <file> checkpoint=<file> [--trace | --json]
       hrm solve arc <task.json> checkpoint=<file> data_path=<dataset dir> [--trace]
  <puzzle>: 16, 36 or 81 characters, digits with 0 or . for blanks (row by row)
  <file>: the maze as lines of "# SGo" (wall, open, start, goal), as in the official CSV
  --json: one line {"answer", "segments", "q_halt", "valid"}, as hrm serve answers`;

function load(o: SolveOptions, kernels: SelectedKernels) {
  if (!o.checkpoint) throw new SolveError("hrm solve needs checkpoint=<file.safetensors>");
  const ck = o.checkpoint;
  if (!ck.endsWith(".safetensors"))
    throw new SolveError(`${ck}: hrm solve reads our .safetensors checkpoints (they carry the model config)`);
  const params = decodeModelSafetensors(readBytes(ck), ck);
  const inner = new HRMInner(params, kernels);
  const maxSteps = o.max_steps ?? params.config.halt_max_steps;
  if (!["adaptive", "fixed"].includes(o.halting))
    throw new SolveError(`halting=${o.halting}: expected adaptive or fixed`);
  return { inner, maxSteps, adaptive: o.halting === "adaptive" };
}

function sudokuText(tokens: ArrayLike<number>, n: number): string {
  const { rows, cols } = boxShapeFor(n);
  const lines: string[] = [];
  for (let r = 0; r < n; r++) {
    if (r > 0 && r % rows === 0)
      lines.push(Array.from({ length: n / cols }, () => "-".repeat(2 * cols - 1)).join("-+-"));
    let line = "";
    for (let c = 0; c < n; c++) {
      if (c > 0 && c % cols === 0) line += "| ";
      const v = tokens[r * n + c] - 1;
      line += `${v >= 1 && v <= 9 ? v : "."} `;
    }
    lines.push(line.trimEnd());
  }
  return lines.join("\n");
}

const trace = (c: SolveContext, show: (v: SegmentView) => string) =>
  c.trace
    ? (v: SegmentView) =>
        c.say(
          `segment ${v.segment}: q_halt ${v.qHalt[0].toFixed(2)} q_continue ${v.qContinue[0].toFixed(2)}${v.halting[0] ? " -> halt" : ""}\n${show(v)}\n`,
        )
    : undefined;

function solveSudoku(puzzle: string, o: SolveOptions, c: SolveContext): boolean {
  const n = Math.round(Math.sqrt(puzzle.length));
  if (![16, 36, 81].includes(puzzle.length) || !/^[0-9.]+$/.test(puzzle))
    throw new SolveError(
      `sudoku puzzle "${clip(puzzle)}": expected 16, 36 or 81 characters of digits and . (blank)`,
    );
  const box = boxShapeFor(n);
  const digits = [...puzzle].map((ch) => (ch === "." ? 0 : Number(ch)));
  const bad = digits.findIndex((d) => d > n);
  if (bad >= 0)
    throw new SolveError(`sudoku puzzle: digit ${digits[bad]} at position ${bad} is larger than ${n}`);
  const clash = givensClash(digits, box);
  if (clash) throw new SolveError(`sudoku puzzle: its givens break the rules: ${clash}`);
  const { inner, maxSteps, adaptive } = load(o, c.kernels);
  if (inner.config.seq_len !== n * n)
    throw new SolveError(
      `the checkpoint was trained on sequences of ${inner.config.seq_len}, this puzzle has ${n * n} cells`,
    );
  const inputs = Int32Array.from(digits, (d) => d + 1);
  c.say(`puzzle (${n}x${n}):\n${sudokuText(inputs, n)}\n`);
  const r = solveRows(inner, inputs, new Int32Array(1), {
    maxSteps,
    adaptive,
    onSegment: trace(c, (v) => sudokuText(v.preds, n)),
  });
  const answer = Array.from(r.preds, (t) => t - 1);
  const valid = isValidBoxSolution(answer, box) && digits.every((d, i) => d === 0 || d === answer[i]);
  c.say(`answer after ${r.steps[0]} segment${r.steps[0] > 1 ? "s" : ""}:\n${sudokuText(r.preds, n)}\n`);
  c.say(valid ? "valid: yes (every row, column and box holds each digit once; givens kept)" : "valid: NO");
  return valid;
}

function solveMaze(file: string, o: SolveOptions, c: SolveContext): boolean {
  const { size: n, question } = parseMazeText(readText(file), file);
  const { inner, maxSteps, adaptive } = load(o, c.kernels);
  if (inner.config.seq_len !== n * n)
    throw new SolveError(
      `the checkpoint was trained on sequences of ${inner.config.seq_len}, this maze has ${n * n} cells`,
    );
  const show = (t: ArrayLike<number>) =>
    Array.from({ length: n }, (_, r) =>
      Array.from({ length: n }, (_, c) => "# SGo"[t[r * n + c] - 1] ?? "?").join(""),
    ).join("\n");
  const r = solveRows(inner, Int32Array.from(question), new Int32Array(1), {
    maxSteps,
    adaptive,
    onSegment: trace(c, (v) => show(v.preds)),
  });
  const valid = isSolvedMaze(question, Uint8Array.from(r.preds), n);
  c.say(`answer after ${r.steps[0]} segment${r.steps[0] > 1 ? "s" : ""}:\n${show(r.preds)}\n`);
  c.say(valid ? "valid: yes (exactly the unique shortest path from S to G)" : "valid: NO");
  return valid;
}

function solveArc(file: string, o: SolveOptions, c: SolveContext): boolean {
  if (!o.data_path)
    throw new SolveError(
      "hrm solve arc needs data_path=<dataset dir> (its identifiers.json names the task's variants)",
    );
  const json = readJson(file) as { test?: { input: unknown; output?: unknown }[] } | null;
  if (!json || typeof json !== "object" || !Array.isArray(json.test) || json.test.length === 0)
    throw new SolveError(`${file}: no "test" pairs (expected an ARC task: {"train": [...], "test": [...]})`);
  const tests = json.test.map((p, i) => ({
    input: toGrid(p.input, `${file} test[${i}].input`),
    output: p.output === undefined ? null : toGrid(p.output, `${file} test[${i}].output`),
  }));
  const task = basename(file).replace(/\.json$/, "");
  const identifiers = readIdentifiers(`${o.data_path}/identifiers.json`);
  const variants = identifiers
    .map((name, id) => ({ id, ...parseVariantName(name) }))
    .filter((v) => v.id > 0 && v.task === task);
  if (variants.length === 0)
    throw new SolveError(
      `task "${task}" is not in ${o.data_path}/identifiers.json: the model has no puzzle embedding for it`,
    );
  const { inner, maxSteps, adaptive } = load(o, c.kernels);
  const votes = new ArcVotes();
  const L = inner.config.seq_len;
  for (const t of tests) {
    const inputs = new Int32Array(variants.length * L);
    variants.forEach((v, i) => inputs.set(toCanvas(transformGrid(t.input, v.tid, v.colours), 0, 0), i * L));
    const r = solveRows(
      inner,
      inputs,
      Int32Array.from(variants, (v) => v.id),
      { maxSteps, adaptive },
    );
    variants.forEach((v, i) =>
      votes.add(
        identifiers[v.id],
        inputs.subarray(i * L, (i + 1) * L),
        r.preds.subarray(i * L, (i + 1) * L),
        r.qHalt[i],
      ),
    );
    if (c.trace)
      c.say(`test input: ${variants.length} variants, segments used ${Array.from(r.steps).join(",")}`);
  }
  let allRight = true;
  tests.forEach((t, i) => {
    const ranked = votes.ranked(task, gridKey(t.input));
    const show = (g: number[][]) => g.map((row) => row.join("")).join("\n");
    c.say(`test ${i}: ${ranked.length} candidate answers from ${variants.length} variants`);
    ranked.slice(0, 2).forEach((cand, k) => {
      const right = t.output ? cand.key === gridKey(t.output as Grid) : null;
      c.say(
        `attempt ${k + 1} (${cand.count} votes, mean q ${cand.meanQ.toFixed(3)})${right === null ? "" : right ? " correct" : " wrong"}:\n${show(keyToGrid(cand.key))}`,
      );
    });
    if (t.output) allRight &&= ranked.slice(0, 2).some((cand) => cand.key === gridKey(t.output as Grid));
  });
  return allRight;
}

/** --json: the app API's solve, printed as hrm serve answers (answer, segments, q_halt, valid). */
async function solveJson(
  kind: "sudoku" | "maze",
  target: string,
  o: SolveOptions,
  c: SolveContext,
): Promise<boolean> {
  const ck = o.checkpoint;
  if (!ck) throw new SolveError("hrm solve needs checkpoint=<file.safetensors>");
  const model = await loadModel(readBytes(ck), { kernels: c.kernels, name: ck });
  const puzzle = kind === "maze" ? readText(target) : target;
  const r = await solve(
    model,
    { kind, puzzle },
    { maxThinkSteps: o.max_steps, halting: o.halting as Halting },
  );
  c.say(JSON.stringify({ answer: r.answer, segments: r.segments, q_halt: r.qHalt, valid: r.valid }));
  return r.valid;
}

/** What a solve prints through, runs on, and whether it traces every segment. */
export interface SolveContext {
  kernels: SelectedKernels;
  say(text: string): void;
  trace: boolean;
}

/** `kind target [key=value ...] [--trace | --json]`: solves one puzzle; true when the answer is valid. */
export async function solveFromWords(
  words: string[],
  kernels: SelectedKernels,
  say: (text: string) => void,
): Promise<boolean> {
  const [kind, target, ...rest] = words;
  const traceOn = rest.includes("--trace");
  const json = rest.includes("--json");
  const o = parseOptions(
    rest.filter((w) => w !== "--trace" && w !== "--json"),
    SOLVE_OPTIONS,
  );
  const c: SolveContext = { kernels, say, trace: traceOn };
  if (!target)
    throw new SolveError(`hrm solve ${kind}: the puzzle is missing (hrm solve --help shows the forms)`);
  if (json && traceOn)
    throw new SolveError("hrm solve: --json and --trace do not mix (hrm serve streams traces)");
  if (json && (kind === "sudoku" || kind === "maze")) return solveJson(kind, target, o, c);
  if (json) throw new SolveError("hrm solve: --json is for sudoku and maze");
  if (kind === "sudoku") return solveSudoku(target, o, c);
  if (kind === "maze") return solveMaze(target, o, c);
  if (kind === "arc") return solveArc(target, o, c);
  throw new SolveError(`hrm solve: unknown kind "${kind ?? ""}" (sudoku, maze or arc; hrm solve --help)`);
}
