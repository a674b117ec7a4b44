/**
 * The official ARC evaluation (HRM arc_eval): every augmented prediction is cropped from its 30x30 canvas,
 * mapped back to the original task (inverse dihedral, then inverse colour map, from the variant name), and
 * votes for its grid under (task, test input). Candidates rank by vote count, then by mean
 * sigmoid(q_halt). pass@K: a task counts at K only if every one of its test inputs has the right answer
 * among its top K (all-or-nothing, as the paper scores). The top two become the ARC Prize submission.
 */
import type { Grid } from "../data/arc.js";
import { invertGrid, parseVariantName } from "../data/arc.js";

const SIDE = 30;

/** The official crop: the largest top-left rectangle of colour tokens (2..11), as colours 0..9. */
export function cropCanvas(canvas: ArrayLike<number>): Grid {
  let best = { h: 0, w: 0, area: 0 };
  let limit = SIDE;
  for (let r = 1; r <= SIDE; r++) {
    for (let c = 1; c <= limit; c++) {
      const x = canvas[(r - 1) * SIDE + c - 1];
      if (x < 2 || x > 11) {
        limit = c - 1;
        break;
      }
    }
    if (r * limit > best.area) best = { h: r, w: limit, area: r * limit };
  }
  const data = new Uint8Array(best.h * best.w);
  for (let r = 0; r < best.h; r++)
    for (let c = 0; c < best.w; c++) data[r * best.w + c] = canvas[r * SIDE + c] - 2;
  return { h: best.h, w: best.w, data };
}

export const gridKey = (g: Grid) => `${g.h}x${g.w}:${g.data.join("")}`;

export function keyToGrid(key: string): number[][] {
  const m = /^(\d+)x(\d+):(\d*)$/.exec(key)!;
  const [h, w] = [Number(m[1]), Number(m[2])];
  return Array.from({ length: h }, (_, r) => [...m[3].slice(r * w, (r + 1) * w)].map(Number));
}

export interface Candidate {
  key: string;
  count: number;
  meanQ: number;
}

interface Tally {
  count: number;
  qSum: number;
  first: number;
}

/** Votes: task -> test input (key) -> predicted grid (key) -> tally; inputs kept in first-seen order. */
export class ArcVotes {
  private votes = new Map<string, Map<string, Map<string, Tally>>>();
  private seen = 0;

  /** One prediction row: its identifier name, input and predicted canvases, and q_halt logit. */
  add(name: string, input: ArrayLike<number>, pred: ArrayLike<number>, qHaltLogit: number): void {
    const { task, tid, colours } = parseVariantName(name);
    const inputKey = gridKey(invertGrid(cropCanvas(input), tid, colours));
    const predKey = gridKey(invertGrid(cropCanvas(pred), tid, colours));
    const q = 1 / (1 + Math.exp(-qHaltLogit));
    const byInput = this.votes.get(task) ?? new Map<string, Map<string, Tally>>();
    this.votes.set(task, byInput);
    const tallies = byInput.get(inputKey) ?? new Map<string, Tally>();
    byInput.set(inputKey, tallies);
    const t = tallies.get(predKey) ?? { count: 0, qSum: 0, first: this.seen++ };
    t.count++;
    t.qSum += q;
    tallies.set(predKey, t);
  }

  tasks(): string[] {
    return [...this.votes.keys()];
  }

  inputs(task: string): string[] {
    return [...(this.votes.get(task)?.keys() ?? [])];
  }

  /** Candidates for one test input, best first: more votes, then higher mean q, then first seen. */
  ranked(task: string, inputKey: string): Candidate[] {
    const tallies = this.votes.get(task)?.get(inputKey);
    if (!tallies) return [];
    return [...tallies.entries()]
      .map(([key, t]) => ({ key, count: t.count, meanQ: t.qSum / t.count, first: t.first }))
      .sort((a, b) => b.count - a.count || b.meanQ - a.meanQ || a.first - b.first)
      .map(({ key, count, meanQ }) => ({ key, count, meanQ }));
  }
}

export interface ArcScore {
  /** pass@K over tasks, K -> fraction of tasks with every test input right in the top K. */
  passAt: Record<number, number>;
  perTask: Record<string, Record<number, boolean>>;
  tasks: number;
}

/** truth: task -> test input key -> answer key (from the dataset's un-augmented rows or the task files). */
export function scoreArc(
  votes: ArcVotes,
  truth: Map<string, Map<string, string>>,
  ks = [1, 2, 10, 100, 1000],
): ArcScore {
  const perTask: Record<string, Record<number, boolean>> = {};
  const passAt: Record<number, number> = Object.fromEntries(ks.map((k) => [k, 0]));
  for (const [task, answers] of truth) {
    const row: Record<number, boolean> = {};
    for (const k of ks) {
      row[k] = [...answers].every(([inputKey, answer]) =>
        votes
          .ranked(task, inputKey)
          .slice(0, k)
          .some((c) => c.key === answer),
      );
      if (row[k]) passAt[k]++;
    }
    perTask[task] = row;
  }
  for (const k of ks) passAt[k] /= Math.max(1, truth.size);
  return { passAt, perTask, tasks: truth.size };
}

/** Ground truth from un-augmented rows: task -> cropped input key -> cropped label key. */
export function truthFromRows(rows: { name: string; input: ArrayLike<number>; label: ArrayLike<number> }[]) {
  const truth = new Map<string, Map<string, string>>();
  for (const r of rows) {
    const v = parseVariantName(r.name);
    if (v.task !== r.name) continue; // augmented: not a source of truth
    const m = truth.get(r.name) ?? new Map<string, string>();
    truth.set(r.name, m);
    m.set(gridKey(cropCanvas(r.input)), gridKey(cropCanvas(r.label)));
  }
  return truth;
}

export type Submission = Record<string, { attempt_1: number[][]; attempt_2: number[][] }[]>;

/**
 * The ARC Prize submission: for each task, its test inputs in `order` (default: first seen), each with the
 * top two candidates (the top one repeated when it is the only one).
 */
export function submission(votes: ArcVotes, order?: Map<string, string[]>): Submission {
  const out: Submission = {};
  for (const task of votes.tasks()) {
    out[task] = (order?.get(task) ?? votes.inputs(task)).map((inputKey) => {
      const top = votes.ranked(task, inputKey);
      if (top.length === 0) return { attempt_1: [[0]], attempt_2: [[0]] };
      return { attempt_1: keyToGrid(top[0].key), attempt_2: keyToGrid((top[1] ?? top[0]).key) };
    });
  }
  return out;
}
