/**
 * Sudoku of any box shape (2x2 -> 4x4, 2x3 -> 6x6, 3x3 -> 9x9): an exact solver (bitmask candidates, fewest
 * candidates first), a validity check, a generator (random full grid, clues removed while the solution stays
 * unique) and the validity-preserving shuffle (digits, rows within bands, bands, columns within stacks,
 * stacks, and a transpose when the boxes are square). The quick-start trains on 6x6 puzzles from here; the
 * 9x9 builders keep their dedicated fast solver (sudoku-solver.ts).
 * Grids are row-major Uint8Array, 0 = blank, digits 1..n.
 */
import type { Rng } from "../util/rng.js";
import type { DatasetMetadata, PuzzleSet } from "./format.js";
import { DatasetError, SetBuilder } from "./format.js";

export interface BoxShape {
  /** Box height and width; the grid side is n = rows * cols. */
  rows: number;
  cols: number;
}

export function boxShapeFor(n: number): BoxShape {
  const shapes: Record<number, BoxShape> = {
    4: { rows: 2, cols: 2 },
    6: { rows: 2, cols: 3 },
    9: { rows: 3, cols: 3 },
  };
  const s = shapes[n];
  if (!s) throw new DatasetError(`sudoku size ${n}: supported sizes are 4, 6 and 9`);
  return s;
}

/** The 3n units (rows, columns, boxes) as lists of cell indices, and each cell's peers. */
function units(b: BoxShape): { units: number[][]; peers: number[][] } {
  const n = b.rows * b.cols;
  const us: number[][] = [];
  for (let r = 0; r < n; r++) us.push(Array.from({ length: n }, (_, c) => r * n + c));
  for (let c = 0; c < n; c++) us.push(Array.from({ length: n }, (_, r) => r * n + c));
  for (let br = 0; br < n; br += b.rows)
    for (let bc = 0; bc < n; bc += b.cols) {
      const u: number[] = [];
      for (let r = 0; r < b.rows; r++) for (let c = 0; c < b.cols; c++) u.push((br + r) * n + bc + c);
      us.push(u);
    }
  const peers = Array.from({ length: n * n }, (_, i) => {
    const set = new Set<number>();
    for (const u of us) if (u.includes(i)) for (const j of u) if (j !== i) set.add(j);
    return [...set];
  });
  return { units: us, peers };
}

const cache = new Map<string, ReturnType<typeof units>>();
function geometry(b: BoxShape) {
  const key = `${b.rows}x${b.cols}`;
  let g = cache.get(key);
  if (!g) cache.set(key, (g = units(b)));
  return g;
}

const popcount = (x: number) => {
  let c = 0;
  for (; x; x &= x - 1) c++;
  return c;
};

/**
 * Counts solutions up to `limit`; returns the first solution found. With an rng the candidate order is
 * random, which makes the first solution of an empty grid a uniformly shuffled full grid.
 */
export function solveBoxSudoku(
  grid: ArrayLike<number>,
  b: BoxShape,
  limit = 2,
  rng?: Rng,
): { count: number; solution: Uint8Array | null } {
  const n = b.rows * b.cols;
  const { peers } = geometry(b);
  const g = Uint8Array.from(grid);
  const full = (1 << n) - 1;
  let count = 0;
  let solution: Uint8Array | null = null;
  const candidates = (i: number) => {
    let used = 0;
    for (const p of peers[i]) if (g[p]) used |= 1 << (g[p] - 1);
    return full & ~used;
  };
  const rec = (): void => {
    let best = -1;
    let bestMask = 0;
    let bestCount = n + 1;
    for (let i = 0; i < g.length; i++) {
      if (g[i]) continue;
      const m = candidates(i);
      const c = popcount(m);
      if (c < bestCount) [best, bestMask, bestCount] = [i, m, c];
      if (c <= 1) break;
    }
    if (best < 0) {
      if (count++ === 0) solution = g.slice();
      return;
    }
    const digits: number[] = [];
    for (let d = 1; d <= n; d++) if (bestMask & (1 << (d - 1))) digits.push(d);
    if (rng) rng.shuffle(digits);
    for (const d of digits) {
      g[best] = d;
      rec();
      g[best] = 0;
      if (count >= limit) return;
    }
  };
  // Out-of-range givens, or givens that clash with a peer, make the grid unsolvable.
  for (let i = 0; i < g.length; i++)
    if (g[i] && (g[i] > n || peers[i].some((p) => g[p] === g[i]))) return { count: 0, solution: null };
  rec();
  return { count, solution };
}

/**
 * The first rule the givens of a puzzle break ("digit 3 twice in row 1 (cells 2 and 5)"), or null when no row,
 * column or box holds a digit twice. Rows, columns and cells are numbered from 1.
 */
export function givensClash(grid: ArrayLike<number>, b: BoxShape): string | null {
  const n = b.rows * b.cols;
  const { units: us } = geometry(b);
  for (let u = 0; u < us.length; u++) {
    const first = new Map<number, number>();
    for (const i of us[u]) {
      const v = grid[i];
      if (!v) continue;
      const j = first.get(v);
      if (j !== undefined) {
        const kind = ["row", "column", "box"][Math.floor(u / n)];
        return `digit ${v} twice in ${kind} ${(u % n) + 1} (cells ${j + 1} and ${i + 1})`;
      }
      first.set(v, i);
    }
  }
  return null;
}

/** True when `grid` is a complete, valid solution. */
export function isValidBoxSolution(grid: ArrayLike<number>, b: BoxShape): boolean {
  const n = b.rows * b.cols;
  if (grid.length !== n * n) return false;
  for (const u of geometry(b).units) {
    let seen = 0;
    for (const i of u) {
      const v = grid[i];
      if (v < 1 || v > n) return false;
      seen |= 1 << (v - 1);
    }
    if (seen !== (1 << n) - 1) return false;
  }
  return true;
}

/** A puzzle with a unique solution and at most `clues` givens (fewer are impossible for some grids). */
export function generateBoxSudoku(
  rng: Rng,
  b: BoxShape,
  clues: number,
  maxAttempts = 100,
): { question: Uint8Array; answer: Uint8Array } {
  const n = b.rows * b.cols;
  for (let a = 0; a < maxAttempts; a++) {
    const answer = solveBoxSudoku(new Uint8Array(n * n), b, 1, rng).solution!;
    const q = answer.slice();
    let givens = n * n;
    const order = Array.from({ length: n * n }, (_, i) => i);
    rng.shuffle(order);
    for (const c of order) {
      if (givens <= clues) break;
      const keep = q[c];
      q[c] = 0;
      if (solveBoxSudoku(q, b, 2).count !== 1) q[c] = keep;
      else givens--;
    }
    if (givens <= clues) return { question: q, answer };
  }
  throw new DatasetError(
    `generateBoxSudoku: no ${n}x${n} puzzle with ${clues} clues in ${maxAttempts} attempts`,
  );
}

/** A random permutation of 0..k-1. */
function perm(k: number, rng: Rng): number[] {
  const p = Array.from({ length: k }, (_, i) => i);
  rng.shuffle(p);
  return p;
}

/** The same validity-preserving transform applied to a puzzle and its answer (the official shuffle, any box). */
export function shuffleBoxSudoku(
  question: Uint8Array,
  answer: Uint8Array,
  b: BoxShape,
  rng: Rng,
): [Uint8Array, Uint8Array] {
  const n = b.rows * b.cols;
  const digits = [0, ...perm(n, rng).map((d) => d + 1)];
  const bands = perm(n / b.rows, rng);
  const rows = bands.flatMap((band) => perm(b.rows, rng).map((r) => band * b.rows + r));
  const stacks = perm(n / b.cols, rng);
  const cols = stacks.flatMap((st) => perm(b.cols, rng).map((c) => st * b.cols + c));
  const transpose = b.rows === b.cols && rng.uniform() < 0.5;
  const map = (g: Uint8Array) => {
    const out = new Uint8Array(n * n);
    for (let r = 0; r < n; r++)
      for (let c = 0; c < n; c++) {
        const src = transpose ? cols[c] * n + rows[r] : rows[r] * n + cols[c];
        out[r * n + c] = digits[g[src]];
      }
    return out;
  };
  return [map(question), map(answer)];
}

/** Dataset metadata for n x n Sudoku in the official token layout (0 pad, 1 blank, digit d as d + 1). */
export function boxSudokuMetadata(n: number, groups: number): DatasetMetadata {
  return {
    pad_id: 0,
    ignore_label_id: 0,
    blank_identifier_id: 0,
    vocab_size: n + 2,
    seq_len: n * n,
    num_puzzle_identifiers: 1,
    total_groups: groups,
    mean_puzzle_examples: 1,
    sets: ["all"],
  };
}

const tokens = (g: Uint8Array) => g.map((v) => v + 1);

/**
 * A generated train/test pair of n x n Sudoku sets. Train: `trainCount` puzzles, each a group with `numAug`
 * shuffled copies. Test: `testCount` further puzzles whose clue pattern and digits appear nowhere in train
 * (no train example or augmentation has the same question), so test accuracy is on unseen puzzles.
 */
export function buildBoxSudokuDataset(
  box: BoxShape,
  o: { trainCount: number; testCount: number; clues: number; numAug: number },
  rng: Rng,
): { train: PuzzleSet; test: PuzzleSet; trainMeta: DatasetMetadata; testMeta: DatasetMetadata } {
  const n = box.rows * box.cols;
  const seen = new Set<string>();
  const train = new SetBuilder(n * n, o.trainCount * (o.numAug + 1));
  for (let i = 0; i < o.trainCount; i++) {
    const p = generateBoxSudoku(rng, box, o.clues);
    const add = (q: Uint8Array, a: Uint8Array) => {
      seen.add(q.join(""));
      train.addExample(tokens(q), tokens(a));
      train.endPuzzle(0);
    };
    add(p.question, p.answer);
    for (let a = 0; a < o.numAug; a++) add(...shuffleBoxSudoku(p.question, p.answer, box, rng));
    train.endGroup();
  }
  const test = new SetBuilder(n * n, o.testCount);
  for (let i = 0, tries = 0; i < o.testCount; tries++) {
    if (tries > 100 * o.testCount + 1000)
      throw new DatasetError(
        `only ${i} of ${o.testCount} test puzzles differ from every train puzzle; lower the counts`,
      );
    const p = generateBoxSudoku(rng, box, o.clues);
    const key = p.question.join("");
    if (seen.has(key)) continue;
    seen.add(key);
    test.addExample(tokens(p.question), tokens(p.answer));
    test.endPuzzle(0);
    test.endGroup();
    i++;
  }
  return {
    train: train.build(),
    test: test.build(),
    trainMeta: boxSudokuMetadata(n, o.trainCount),
    testMeta: boxSudokuMetadata(n, o.testCount),
  };
}
