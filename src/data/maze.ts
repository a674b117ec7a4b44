/**
 * Mazes in the official format (build_maze_dataset.py): square grids over "# SGo" (wall, open, start, goal,
 * path), tokens = charset index + 1 (0 is PAD), labels mark the shortest path with 'o'. A generator makes
 * new mazes (a random spanning-tree maze with extra openings for loops), computes the shortest path exactly by
 * BFS and keeps a maze only when that path is unique and at least min_path_length long (the official hard set
 * has paths over 110). Optional dihedral augmentation: all 8 transforms of a maze form one group.
 */
import type { Rng } from "../util/rng.js";
import { dihedral } from "./dihedral.js";
import type { DatasetMetadata, PuzzleSet } from "./format.js";
import { DatasetError, SetBuilder } from "./format.js";
import { quote } from "../io/limits.js";
import { csvLines } from "./csv.js";

export const MAZE_CHARS = "# SGo";
export const WALL = 1;
export const OPEN = 2;
export const START = 3;
export const GOAL = 4;
export const PATH = 5;

export interface Maze {
  size: number;
  question: Uint8Array; // tokens 1..4
  answer: Uint8Array; // tokens 1..5
}

/** Parses a 900-character maze string ("# SGo") into tokens; errors name the position and character. */
export function mazeTokens(s: string, where: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const t = MAZE_CHARS.indexOf(s[i]);
    if (t < 0)
      throw new DatasetError(`${where}: character ${quote(s[i])} at ${i} is not one of "${MAZE_CHARS}"`);
    out[i] = t + 1;
  }
  return out;
}

/**
 * One maze question as text: n lines of n characters over "# SG" (blank lines ignored), with exactly one S and one
 * G. The errors name the file and the line.
 */
export function parseMazeText(text: string, file: string): { size: number; question: Uint8Array } {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const n = lines.length;
  const bad = lines.findIndex((l) => l.length !== n);
  if (n < 2 || bad >= 0)
    throw new DatasetError(
      `${file}: a maze must be square: ${n} lines, so each of ${n} characters` +
        (bad >= 0 ? ` (line ${bad + 1} has ${lines[bad].length})` : ""),
    );
  const question = mazeTokens(lines.join(""), file);
  for (const [ch, t] of [
    ["S", START],
    ["G", GOAL],
  ] as const) {
    const count = question.filter((x) => x === t).length;
    if (count !== 1) throw new DatasetError(`${file}: a maze needs exactly one ${ch}, this one has ${count}`);
  }
  const path = question.indexOf(PATH);
  if (path >= 0)
    throw new DatasetError(
      `${file}: "o" (a path cell) at ${path}: the question is the maze without its path`,
    );
  return { size: n, question };
}

/** Mazes from a CSV in the official layout (header source,question,answer,rating; square grids over "# SGo"). */
export function parseMazeCsv(text: string, file: string): Maze[] {
  const lines = csvLines(text, file);
  const out: Maze[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (!lines[i].trim()) continue;
    const where = `${file}:${i + 1}`;
    const cols = lines[i].split(",");
    if (cols.length !== 4) throw new DatasetError(`${where}: expected 4 columns, got ${cols.length}`);
    const n = Math.round(Math.sqrt(cols[1].length));
    if (n < 2 || n * n !== cols[1].length || cols[2].length !== cols[1].length)
      throw new DatasetError(
        `${where}: question and answer must be the same square grid (got ${cols[1].length} and ${cols[2].length} cells)`,
      );
    out.push({ size: n, question: mazeTokens(cols[1], where), answer: mazeTokens(cols[2], where) });
  }
  return out;
}

const DIRS = [
  [-1, 0],
  [1, 0],
  [0, -1],
  [0, 1],
];

/** BFS distances from cell s over non-wall cells (-1 = unreachable). */
function bfs(grid: Uint8Array, n: number, s: number): Int32Array {
  const dist = new Int32Array(n * n).fill(-1);
  const queue = new Int32Array(n * n);
  let head = 0;
  let tail = 0;
  dist[s] = 0;
  queue[tail++] = s;
  while (head < tail) {
    const c = queue[head++];
    const r = Math.floor(c / n);
    const col = c % n;
    for (const [dr, dc] of DIRS) {
      const rr = r + dr;
      const cc = col + dc;
      if (rr < 0 || cc < 0 || rr >= n || cc >= n) continue;
      const nb = rr * n + cc;
      if (grid[nb] === WALL || dist[nb] >= 0) continue;
      dist[nb] = dist[c] + 1;
      queue[tail++] = nb;
    }
  }
  return dist;
}

/**
 * The shortest S->G path as cells (S and G included) when it is unique, else null; also null when G is
 * unreachable. A cell is on some shortest path iff dS + dG == D; the path is unique iff each distance
 * level has exactly one such cell.
 */
export function uniqueShortestPath(grid: Uint8Array, n: number, s: number, g: number): number[] | null {
  const dS = bfs(grid, n, s);
  const dG = bfs(grid, n, g);
  const D = dS[g];
  if (D < 0) return null;
  const level = new Int32Array(D + 1).fill(-1);
  for (let c = 0; c < n * n; c++) {
    if (dS[c] < 0 || dG[c] < 0 || dS[c] + dG[c] !== D) continue;
    if (level[dS[c]] >= 0) return null;
    level[dS[c]] = c;
  }
  return Array.from(level);
}

export interface MazeGenOptions {
  size: number;
  minPathLength: number;
  /** Fraction of interior walls between cells knocked out after the spanning tree (creates loops). */
  loopFraction: number;
  maxAttempts?: number;
}

/** One maze with a unique shortest path of at least minPathLength steps. */
export function generateMaze(rng: Rng, o: MazeGenOptions): Maze {
  const n = o.size;
  for (let attempt = 0; attempt < (o.maxAttempts ?? 500); attempt++) {
    const grid = new Uint8Array(n * n).fill(WALL);
    // Rooms at odd coordinates inside the border; a random spanning tree (DFS) joins them.
    const rooms = Math.floor((n - 1) / 2);
    const cell = (r: number, c: number) => (2 * r + 1) * n + (2 * c + 1);
    const seen = new Uint8Array(rooms * rooms);
    const stack = [[rng.int(0, rooms), rng.int(0, rooms)]];
    seen[stack[0][0] * rooms + stack[0][1]] = 1;
    grid[cell(stack[0][0], stack[0][1])] = OPEN;
    while (stack.length) {
      const [r, c] = stack[stack.length - 1];
      const next = DIRS.map(([dr, dc]) => [r + dr, c + dc]).filter(
        ([rr, cc]) => rr >= 0 && cc >= 0 && rr < rooms && cc < rooms && !seen[rr * rooms + cc],
      );
      if (!next.length) {
        stack.pop();
        continue;
      }
      const [rr, cc] = next[rng.int(0, next.length)];
      seen[rr * rooms + cc] = 1;
      grid[cell(rr, cc)] = OPEN;
      grid[(2 * r + 1 + rr - r) * n + (2 * c + 1 + cc - c)] = OPEN;
      stack.push([rr, cc]);
    }
    // Knock out some walls between rooms for loops (the unique-shortest-path check below keeps labels exact).
    for (let r = 1; r < n - 1; r++)
      for (let c = 1; c < n - 1; c++)
        if (grid[r * n + c] === WALL && (r + c) % 2 === 1 && rng.uniform() < o.loopFraction)
          grid[r * n + c] = OPEN;
    const open: number[] = [];
    for (let c = 0; c < n * n; c++) if (grid[c] === OPEN) open.push(c);
    const s = open[rng.int(0, open.length)];
    const g = open[rng.int(0, open.length)];
    if (s === g) continue;
    const path = uniqueShortestPath(grid, n, s, g);
    if (!path || path.length - 1 < o.minPathLength) continue;
    grid[s] = START;
    grid[g] = GOAL;
    const answer = grid.slice();
    for (const c of path.slice(1, -1)) answer[c] = PATH;
    return { size: n, question: grid, answer };
  }
  throw new DatasetError(
    `generateMaze: no ${n}x${n} maze with a unique shortest path of >= ${o.minPathLength} steps in ${o.maxAttempts ?? 500} attempts`,
  );
}

/** True when `answer` marks exactly the unique shortest S->G path of `question`. */
export function isSolvedMaze(question: Uint8Array, answer: Uint8Array, n: number): boolean {
  const s = question.indexOf(START);
  const g = question.indexOf(GOAL);
  if (s < 0 || g < 0) return false;
  const path = uniqueShortestPath(question, n, s, g);
  if (!path) return false;
  const want = question.slice();
  for (const c of path.slice(1, -1)) want[c] = PATH;
  return want.every((t, i) => t === answer[i]);
}

export function mazeMetadata(n: number, groups: number): DatasetMetadata {
  return {
    pad_id: 0,
    ignore_label_id: 0,
    blank_identifier_id: 0,
    vocab_size: 6,
    seq_len: n * n,
    num_puzzle_identifiers: 1,
    total_groups: groups,
    mean_puzzle_examples: 1,
    sets: ["all"],
  };
}

/** One split: every maze a group; with `aug`, its 8 dihedral transforms (identity first) in that group. */
export function buildMazeSet(mazes: Maze[], aug: boolean): { set: PuzzleSet; metadata: DatasetMetadata } {
  const n = mazes.length ? mazes[0].size : 1;
  const b = new SetBuilder(n * n, mazes.length * (aug ? 8 : 1));
  for (const m of mazes) {
    for (let t = 0; t < (aug ? 8 : 1); t++) {
      b.addExample(dihedral(m.question, n, n, t).grid, dihedral(m.answer, n, n, t).grid);
      b.endPuzzle(0);
    }
    b.endGroup();
  }
  return { set: b.build(), metadata: mazeMetadata(n, mazes.length) };
}
