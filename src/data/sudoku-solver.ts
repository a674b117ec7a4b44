/**
 * A fast exact Sudoku solver: bitmask candidates from row/column/box masks, naked and hidden singles,
 * minimum-remaining-values branching, in-place search with an undo trail. It counts solutions up to a limit
 * and rates difficulty as the dead ends it hit. Plus a generator of new puzzles with a unique solution at a
 * chosen clue count and rating.
 */
import type { Rng } from "../util/rng.js";
import { DatasetError } from "./format.js";

const ALL = 0x1ff;
const ROW = new Uint8Array(81).map((_, c) => Math.floor(c / 9));
const COL = new Uint8Array(81).map((_, c) => c % 9);
const BOX = new Uint8Array(81).map((_, c) => Math.floor(c / 27) * 3 + Math.floor((c % 9) / 3));
/** The 27 units (rows, columns, boxes) as cell lists. */
const UNITS: number[][] = [];
for (let u = 0; u < 9; u++) {
  UNITS.push(Array.from({ length: 9 }, (_, i) => u * 9 + i));
  UNITS.push(Array.from({ length: 9 }, (_, i) => i * 9 + u));
  UNITS.push(
    Array.from(
      { length: 9 },
      (_, i) => (Math.floor(u / 3) * 3 + Math.floor(i / 3)) * 9 + (u % 3) * 3 + (i % 3),
    ),
  );
}

function popcount(x: number): number {
  let n = 0;
  for (; x; x &= x - 1) n++;
  return n;
}

export interface SolveResult {
  /** Solutions found, at most `limit`. */
  count: number;
  /** The first solution (null = none). */
  solution: Uint8Array | null;
  /** Dead ends hit before finishing (a difficulty measure). */
  backtracks: number;
}

/** Search state: placed digits, used-digit masks per row/column/box, and a trail of placements to undo. */
class Board {
  cells = new Uint8Array(81);
  rows = new Uint16Array(9);
  cols = new Uint16Array(9);
  boxes = new Uint16Array(9);
  trail = new Int8Array(81);
  top = 0;
  cand(c: number): number {
    return ALL & ~(this.rows[ROW[c]] | this.cols[COL[c]] | this.boxes[BOX[c]]);
  }
  place(c: number, d: number): void {
    const bit = 1 << (d - 1);
    this.cells[c] = d;
    this.rows[ROW[c]] |= bit;
    this.cols[COL[c]] |= bit;
    this.boxes[BOX[c]] |= bit;
    this.trail[this.top++] = c;
  }
  undoTo(mark: number): void {
    while (this.top > mark) {
      const c = this.trail[--this.top];
      const bit = ~(1 << (this.cells[c] - 1));
      this.rows[ROW[c]] &= bit;
      this.cols[COL[c]] &= bit;
      this.boxes[BOX[c]] &= bit;
      this.cells[c] = 0;
    }
  }
  /** Naked and hidden singles to a fixpoint; false on a contradiction. */
  propagate(): boolean {
    for (let changed = true; changed;) {
      changed = false;
      for (let c = 0; c < 81; c++) {
        if (this.cells[c]) continue;
        const m = this.cand(c);
        if (m === 0) return false;
        if ((m & (m - 1)) === 0) {
          this.place(c, 32 - Math.clz32(m));
          changed = true;
        }
      }
      for (const unit of UNITS) {
        let once = 0;
        let twice = 0;
        let used = 0;
        for (const c of unit) {
          if (this.cells[c]) {
            used |= 1 << (this.cells[c] - 1);
            continue;
          }
          const m = this.cand(c);
          twice |= once & m;
          once |= m;
        }
        if ((once | used) !== ALL) return false; // some digit has no place left in this unit
        let hidden = once & ~twice & ~used;
        while (hidden) {
          const bit = hidden & -hidden;
          hidden ^= bit;
          for (const c of unit)
            if (!this.cells[c] && this.cand(c) & bit) {
              this.place(c, 32 - Math.clz32(bit));
              changed = true;
              break;
            }
        }
      }
    }
    return true;
  }
}

/**
 * Solves grid[81] (0 = blank). Stops after `limit` solutions (2 checks uniqueness). With `rng`, branches try
 * digits in random order (the generator uses this for random full grids).
 */
export function solveSudoku(grid: ArrayLike<number>, limit = 2, rng?: Rng): SolveResult {
  const res: SolveResult = { count: 0, solution: null, backtracks: 0 };
  const b = new Board();
  for (let c = 0; c < 81; c++) {
    const d = grid[c];
    if (!(d >= 0 && d <= 9)) throw new RangeError(`cell ${c} holds ${d}, expected 0..9`);
    if (d === 0) continue;
    if (!(b.cand(c) & (1 << (d - 1)))) return res; // contradictory givens
    b.place(c, d);
  }
  const search = (): void => {
    const mark = b.top;
    if (!b.propagate()) {
      res.backtracks++;
      b.undoTo(mark);
      return;
    }
    let best = -1;
    let bestN = 10;
    for (let c = 0; c < 81 && bestN > 2; c++) {
      if (b.cells[c]) continue;
      const n = popcount(b.cand(c));
      if (n < bestN) [best, bestN] = [c, n];
    }
    if (best < 0) {
      if (res.count++ === 0) res.solution = b.cells.slice();
      b.undoTo(mark);
      return;
    }
    const m = b.cand(best);
    const digits: number[] = [];
    for (let d = 1; d <= 9; d++) if (m & (1 << (d - 1))) digits.push(d);
    if (rng)
      for (let i = digits.length - 1; i > 0; i--) {
        const j = rng.int(0, i + 1);
        [digits[i], digits[j]] = [digits[j], digits[i]];
      }
    for (const d of digits) {
      const inner = b.top;
      b.place(best, d);
      search();
      b.undoTo(inner);
      if (res.count >= limit) break;
    }
    b.undoTo(mark);
  };
  search();
  return res;
}

/** True when `grid` is a complete valid solution. */
export function isValidSolution(grid: ArrayLike<number>): boolean {
  for (const unit of UNITS) {
    let seen = 0;
    for (const c of unit) {
      if (!(grid[c] >= 1 && grid[c] <= 9)) return false;
      seen |= 1 << (grid[c] - 1);
    }
    if (seen !== ALL) return false;
  }
  return true;
}

export interface GenerateOptions {
  /** Target number of givens (at least 17); removal stops there or when no clue can go. */
  clues: number;
  /** Keep only puzzles whose solver rating (backtracks) is in [minRating, maxRating]. */
  minRating?: number;
  maxRating?: number;
  /** Attempts before giving up with an error. */
  maxAttempts?: number;
}

/** A new puzzle with a unique solution: a random full grid, then clues removed while the solution stays unique. */
export function generateSudoku(
  rng: Rng,
  opts: GenerateOptions,
): { question: Uint8Array; answer: Uint8Array; rating: number } {
  const attempts = opts.maxAttempts ?? 200;
  for (let a = 0; a < attempts; a++) {
    const answer = solveSudoku(new Uint8Array(81), 1, rng).solution!;
    const q = answer.slice();
    let givens = 81;
    const order = Array.from({ length: 81 }, (_, i) => i);
    for (let i = 80; i > 0; i--) {
      const j = rng.int(0, i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (const c of order) {
      if (givens <= opts.clues) break;
      const keep = q[c];
      q[c] = 0;
      if (solveSudoku(q, 2).count !== 1) q[c] = keep;
      else givens--;
    }
    if (givens > opts.clues) continue;
    const rating = solveSudoku(q, 2).backtracks;
    if (rating < (opts.minRating ?? 0) || rating > (opts.maxRating ?? Infinity)) continue;
    return { question: q, answer, rating };
  }
  throw new DatasetError(
    `generateSudoku: no puzzle with ${opts.clues} clues and rating in [${opts.minRating ?? 0}, ${opts.maxRating ?? "inf"}] in ${attempts} attempts`,
  );
}
