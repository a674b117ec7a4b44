/**
 * ARC datasets as the official build_arc_dataset.py makes them, seeded. Tasks come from per-task JSON files
 * (a folder of subset folders) or from combined *_challenges.json + *_solutions.json files. Per task: the
 * original plus up to num_aug unique variants (colour permutation keeping 0, then a dihedral transform;
 * de-duplicated by a hash of all pairs; at most 5*num_aug tries), named {task}_t{tid}_{colour map}.
 * Demonstration pairs go to train; test pairs go to test for "evaluation" subsets, else to train. Grids sit
 * in a 30x30 canvas (tokens: 0 PAD, 1 EOS, colour+2) with an EOS frame below and right; in train, every
 * example but one random one is translated. Names (and so identifiers.json) are enough to invert a variant.
 */
import type { Rng } from "../util/rng.js";
import { DIHEDRAL_INVERSE, dihedral } from "./dihedral.js";
import type { DatasetMetadata, PuzzleSet } from "./format.js";
import type { SetWriter } from "./format.js";
import { DatasetError, SetBuilder } from "./format.js";
import { clip, describe, own } from "../io/limits.js";

export const ARC_SIZE = 30;
export const PAD = 0;
export const EOS = 1;

export interface Grid {
  h: number;
  w: number;
  data: Uint8Array; // row-major colours 0..9
}

export interface ArcPair {
  input: Grid;
  output: Grid;
}

export interface ArcTask {
  name: string;
  subset: string;
  train: ArcPair[];
  test: ArcPair[];
}

/** Checks and converts a JSON grid; errors name the task and where. */
export function toGrid(v: unknown, where: string): Grid {
  if (!Array.isArray(v) || v.length === 0 || !v.every(Array.isArray))
    throw new DatasetError(`${where}: not a 2-D grid (list of rows)`);
  const h = v.length;
  const w = (v[0] as unknown[]).length;
  if (h > ARC_SIZE || w > ARC_SIZE || w === 0)
    throw new DatasetError(`${where}: grid is ${h}x${w}, the maximum is ${ARC_SIZE}x${ARC_SIZE}`);
  const data = new Uint8Array(h * w);
  (v as unknown[][]).forEach((row, r) => {
    if (row.length !== w)
      throw new DatasetError(`${where}: ragged grid (row ${r} has ${row.length} cells, row 0 has ${w})`);
    row.forEach((x, c) => {
      if (!Number.isInteger(x) || (x as number) < 0 || (x as number) > 9)
        throw new DatasetError(`${where}: colour ${describe(x)} at (${r}, ${c}) is not an integer 0..9`);
      data[r * w + c] = x as number;
    });
  });
  return { h, w, data };
}

function pairs(list: unknown, where: string, solutions?: unknown[]): ArcPair[] {
  if (!Array.isArray(list)) throw new DatasetError(`${where}: expected a list of pairs`);
  return list.map((p, i) => {
    if (!isObject(p)) throw new DatasetError(`${where}[${i}]: expected {"input": ..., "output": ...}`);
    const out = solutions ? solutions[i] : (p as { output?: unknown }).output;
    if (out === undefined) throw new DatasetError(`${where}[${i}]: no output (missing solution?)`);
    return {
      input: toGrid((p as { input?: unknown }).input, `${where}[${i}].input`),
      output: toGrid(out, `${where}[${i}].output`),
    };
  });
}

/** One task from its JSON object ({"train": [...], "test": [...]}, optional "name"). */
export function parseTask(
  json: unknown,
  name: string,
  subset: string,
  file: string,
  solutions?: unknown[],
): ArcTask {
  if (!isObject(json))
    throw new DatasetError(`${file} task ${clip(name)}: expected {"train": [...], "test": [...]}`);
  const t = json as { train?: unknown; test?: unknown; name?: unknown };
  if (t.name !== undefined && typeof t.name !== "string")
    throw new DatasetError(`${file} task ${clip(name)}: "name" is ${describe(t.name)}, not a string`);
  const id = t.name ?? name;
  if (solutions !== undefined && !Array.isArray(solutions))
    throw new DatasetError(`${file}: the solutions of task ${clip(id)} are not a list of grids`);
  return {
    name: id,
    subset,
    train: pairs(t.train, `${file} task ${id} train`),
    test: pairs(t.test, `${file} task ${id} test`, solutions),
  };
}

/** Tasks from a combined challenges object and its solutions object (Kaggle layout). */
export function parseCombined(
  challenges: unknown,
  solutions: unknown,
  subset: string,
  file: string,
): ArcTask[] {
  if (!isObject(challenges)) throw new DatasetError(`${file}: expected a JSON object of tasks (id -> task)`);
  if (!isObject(solutions))
    throw new DatasetError(`${file}: its solutions file is not a JSON object of tasks (id -> list of grids)`);
  return Object.keys(challenges as object).map((id) => {
    const sol = own(solutions as Record<string, unknown>, id);
    if (sol === undefined)
      throw new DatasetError(`${file}: task ${clip(id)} has no entry in the solutions file`);
    return parseTask((challenges as Record<string, unknown>)[id], id, subset, file, sol as unknown[]);
  });
}

function isObject(v: unknown): v is object {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

// ---- augmentation ----

/** Colour map (0 fixed) then dihedral transform, applied to one grid. */
export function transformGrid(g: Grid, tid: number, colours: ArrayLike<number>): Grid {
  const mapped = g.data.map((c) => colours[c]);
  const t = dihedral(mapped, g.h, g.w, tid);
  return { h: t.H, w: t.W, data: t.grid };
}

/** The inverse: undo the dihedral transform, then the colour map. */
export function invertGrid(g: Grid, tid: number, colours: ArrayLike<number>): Grid {
  const inv = new Uint8Array(10);
  for (let c = 0; c < 10; c++) inv[colours[c]] = c;
  const t = dihedral(g.data, g.h, g.w, DIHEDRAL_INVERSE[tid]);
  return { h: t.H, w: t.W, data: t.grid.map((c) => inv[c]) };
}

export function variantName(task: string, tid: number, colours: ArrayLike<number>): string {
  return `${task}_t${tid}_${Array.from(colours).join("")}`;
}

/** Parses {task}_t{tid}_{10 digits}; the original (no suffix) is identity. */
export function parseVariantName(name: string): { task: string; tid: number; colours: number[] } {
  const m = /^(.*)_t([0-7])_(\d{10})$/.exec(name);
  if (!m) return { task: name, tid: 0, colours: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] };
  return { task: m[1], tid: Number(m[2]), colours: [...m[3]].map(Number) };
}

/** 53-bit hash (cyrb53) of every pair's shapes and cells, order-independent across pairs. */
function taskHash(ps: ArcPair[]): string {
  const one = (g: Grid) => {
    let h1 = 0xdeadbeef ^ g.h;
    let h2 = 0x41c6ce57 ^ g.w;
    for (let i = 0; i < g.data.length; i++) {
      h1 = Math.imul(h1 ^ g.data[i], 2654435761);
      h2 = Math.imul(h2 ^ g.data[i], 1597334677);
    }
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
  };
  return ps
    .map((p) => `${one(p.input)}|${one(p.output)}`)
    .sort()
    .join(",");
}

export interface Variant {
  name: string;
  train: ArcPair[];
  test: ArcPair[];
}

/** The original plus up to numAug unique variants (fewer for very symmetric tasks). */
export function augmentTask(task: ArcTask, numAug: number, rng: Rng): Variant[] {
  const identity = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const out: Variant[] = [{ name: task.name, train: task.train, test: task.test }];
  const seen = new Set([taskHash([...task.train, ...task.test])]);
  for (let trial = 0; trial < 5 * numAug && out.length < numAug + 1; trial++) {
    const tid = rng.int(0, 8);
    const perm = identity.slice(1);
    for (let i = perm.length - 1; i > 0; i--) {
      const j = rng.int(0, i + 1);
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    const colours = [0, ...perm];
    const f = (p: ArcPair): ArcPair => ({
      input: transformGrid(p.input, tid, colours),
      output: transformGrid(p.output, tid, colours),
    });
    const train = task.train.map(f);
    const test = task.test.map(f);
    const h = taskHash([...train, ...test]);
    if (seen.has(h)) continue;
    seen.add(h);
    out.push({ name: variantName(task.name, tid, colours), train, test });
  }
  return out;
}

// ---- serialisation ----

/** A grid in the 30x30 canvas at (r0, c0), colours as c+2, EOS below and right of it (corner stays PAD). */
export function toCanvas(g: Grid, r0: number, c0: number): Uint8Array {
  const out = new Uint8Array(ARC_SIZE * ARC_SIZE);
  for (let r = 0; r < g.h; r++)
    for (let c = 0; c < g.w; c++) out[(r0 + r) * ARC_SIZE + c0 + c] = g.data[r * g.w + c] + 2;
  if (r0 + g.h < ARC_SIZE) for (let c = 0; c < g.w; c++) out[(r0 + g.h) * ARC_SIZE + c0 + c] = EOS;
  if (c0 + g.w < ARC_SIZE) for (let r = 0; r < g.h; r++) out[(r0 + r) * ARC_SIZE + c0 + g.w] = EOS;
  return out;
}

/** Reads a grid back from a canvas: the top-left-most colour cell starts it, EOS (or the edge) ends it. */
export function fromCanvas(canvas: ArrayLike<number>): Grid | null {
  let r0 = -1;
  let c0 = -1;
  for (let i = 0; i < ARC_SIZE * ARC_SIZE && r0 < 0; i++)
    if (canvas[i] >= 2) [r0, c0] = [Math.floor(i / ARC_SIZE), i % ARC_SIZE];
  if (r0 < 0) return null;
  let w = 0;
  while (c0 + w < ARC_SIZE && canvas[r0 * ARC_SIZE + c0 + w] >= 2) w++;
  let h = 0;
  while (r0 + h < ARC_SIZE && canvas[(r0 + h) * ARC_SIZE + c0] >= 2) h++;
  const data = new Uint8Array(h * w);
  for (let r = 0; r < h; r++)
    for (let c = 0; c < w; c++) {
      const t = canvas[(r0 + r) * ARC_SIZE + c0 + c];
      if (t < 2) return null; // not a rectangle of colours
      data[r * w + c] = t - 2;
    }
  return { h, w, data };
}

export interface ArcBuildOptions {
  numAug: number;
  /** Subsets whose test pairs form the test split (official: "evaluation"). */
  testSubsets: string[];
}

/** Metadata of a finished ARC split. */
export function arcMetadata(w: SetWriter, numIdentifiers: number): DatasetMetadata {
  return {
    pad_id: PAD,
    ignore_label_id: PAD,
    blank_identifier_id: 0,
    vocab_size: 12,
    seq_len: ARC_SIZE * ARC_SIZE,
    num_puzzle_identifiers: numIdentifiers,
    total_groups: w.groups,
    mean_puzzle_examples: w.puzzles ? w.examples / w.puzzles : 0,
    sets: ["all"],
  };
}

function writePuzzle(w: SetWriter, examples: ArcPair[], id: number, translate: boolean, rng: Rng): void {
  const keep = rng.int(0, examples.length); // official: drawn in both splits; only train translates
  examples.forEach((ex, e) => {
    let r0 = 0;
    let c0 = 0;
    if (translate && e !== keep) {
      r0 = rng.int(0, ARC_SIZE - Math.max(ex.input.h, ex.output.h) + 1);
      c0 = rng.int(0, ARC_SIZE - Math.max(ex.input.w, ex.output.w) + 1);
    }
    w.addExample(toCanvas(ex.input, r0, c0), toCanvas(ex.output, r0, c0));
  });
  w.endPuzzle(id);
}

/**
 * One pass over the tasks, writing each task's groups to the train and test writers as it goes (constant
 * memory apart from the index arrays). Identifiers: new names get the next id from 1 (0 = "<blank>") in
 * write order; both halves of an evaluation task share them. Returns identifiers.json.
 */
export function writeArcDataset(
  tasks: ArcTask[],
  o: ArcBuildOptions,
  rng: Rng,
  out: { train: SetWriter; test: SetWriter },
  onTask?: (done: number, total: number) => void,
): string[] {
  const ids = new Map<string, number>([["<blank>", 0]]);
  const idOf = (name: string) => ids.get(name) ?? ids.set(name, ids.size).get(name)!;
  tasks.forEach((task, i) => {
    const toTest = o.testSubsets.includes(task.subset);
    const variants = augmentTask(task, o.numAug, rng);
    for (const v of variants)
      writePuzzle(out.train, toTest ? v.train : [...v.train, ...v.test], idOf(v.name), true, rng);
    out.train.endGroup();
    if (toTest) {
      for (const v of variants) writePuzzle(out.test, v.test, idOf(v.name), false, rng);
      out.test.endGroup();
    }
    onTask?.(i + 1, tasks.length);
  });
  return [...ids.keys()];
}

export interface ArcDataset {
  identifiers: string[];
  splits: Record<"train" | "test", { set: PuzzleSet; metadata: DatasetMetadata }>;
}

/** The whole dataset in memory (small builds and tests; the CLI streams to disk instead). */
export function buildArcDataset(tasks: ArcTask[], o: ArcBuildOptions, rng: Rng): ArcDataset {
  const train = new SetBuilder(ARC_SIZE * ARC_SIZE);
  const test = new SetBuilder(ARC_SIZE * ARC_SIZE);
  const identifiers = writeArcDataset(tasks, o, rng, { train, test });
  return {
    identifiers,
    splits: {
      train: { set: train.build(), metadata: arcMetadata(train, identifiers.length) },
      test: { set: test.build(), metadata: arcMetadata(test, identifiers.length) },
    },
  };
}
