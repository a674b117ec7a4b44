/**
 * The official HRM dataset layout (puzzle_dataset.py / dataset/common.py), bit-compatible both ways:
 *   identifiers.json                       names by puzzle identifier (index 0 = "<blank>")
 *   <split>/dataset.json                   metadata (PuzzleDatasetMetadata)
 *   <split>/<set>__inputs.npy              uint8 [examples, seq_len]
 *   <split>/<set>__labels.npy              uint8 [examples, seq_len]
 *   <split>/<set>__puzzle_identifiers.npy  int32 [puzzles]
 *   <split>/<set>__puzzle_indices.npy      int32 [puzzles + 1]  CSR offsets into examples
 *   <split>/<set>__group_indices.npy       int32 [groups + 1]   CSR offsets into puzzles
 * Bytes in, bytes out: reading and writing files is the platform's job. Hierarchy: example ⊂ puzzle ⊂ group.
 */
import { decodeNpy, encodeNpy } from "../io/npy.js";
import type { HostTensor } from "../tensor.js";
import { describe } from "../io/limits.js";

export interface DatasetMetadata {
  pad_id: number;
  ignore_label_id: number | null;
  blank_identifier_id: number;
  vocab_size: number;
  seq_len: number;
  num_puzzle_identifiers: number;
  total_groups: number;
  mean_puzzle_examples: number;
  sets: string[];
}

/** One set of one split, in memory: flat typed arrays, no per-example objects. */
export interface PuzzleSet {
  inputs: Uint8Array; // [examples * seq_len]
  labels: Uint8Array;
  puzzle_identifiers: Int32Array; // [puzzles]
  puzzle_indices: Int32Array; // [puzzles + 1]
  group_indices: Int32Array; // [groups + 1]
}

export class DatasetError extends Error {}

export const FIELDS = ["inputs", "labels", "puzzle_identifiers", "puzzle_indices", "group_indices"] as const;

export function setFileName(set: string, field: (typeof FIELDS)[number]): string {
  return `${set}__${field}.npy`;
}

/** Checks every invariant the loader relies on; errors name the file, the field and the first bad index. */
export function validateSet(meta: DatasetMetadata, s: PuzzleSet, where: string): void {
  const fail = (field: string, msg: string): never => {
    throw new DatasetError(`${where}/${field}: ${msg}`);
  };
  const L = meta.seq_len;
  if (s.inputs.length % L !== 0)
    fail("inputs", `length ${s.inputs.length} is not a multiple of seq_len ${L}`);
  if (s.labels.length !== s.inputs.length)
    fail("labels", `has ${s.labels.length / L} examples, inputs ${s.inputs.length / L}`);
  const examples = s.inputs.length / L;
  const puzzles = s.puzzle_identifiers.length;
  const offsets = (field: "puzzle_indices" | "group_indices", a: Int32Array, n: number, end: number) => {
    if (a.length !== n + 1) fail(field, `has ${a.length} entries, expected ${n + 1}`);
    if (a[0] !== 0) fail(field, `must start at 0, starts at ${a[0]}`);
    for (let i = 1; i < a.length; i++)
      if (a[i] < a[i - 1]) fail(field, `not monotonic at index ${i} (${a[i - 1]} then ${a[i]})`);
    if (a[a.length - 1] !== end) fail(field, `ends at ${a[a.length - 1]}, expected ${end}`);
  };
  offsets("puzzle_indices", s.puzzle_indices, puzzles, examples);
  offsets("group_indices", s.group_indices, s.group_indices.length - 1, puzzles);
  for (const field of ["inputs", "labels"] as const) {
    const a = s[field];
    for (let i = 0; i < a.length; i++)
      if (a[i] >= meta.vocab_size)
        fail(
          field,
          `token ${a[i]} at example ${Math.floor(i / L)}, position ${i % L} is not below vocab_size ${meta.vocab_size}`,
        );
  }
  for (let i = 0; i < puzzles; i++) {
    const id = s.puzzle_identifiers[i];
    if (id < 0 || id >= meta.num_puzzle_identifiers)
      fail(
        "puzzle_identifiers",
        `identifier ${id} at puzzle ${i} is outside [0, ${meta.num_puzzle_identifiers})`,
      );
  }
}

/**
 * Checks dataset.json: integer fields are non-negative integers, mean_puzzle_examples a number, set names plain
 * file-name stems (they become file names: no "/" or ".."), seq_len 1..65536 and vocab_size 1..256 (tokens are uint8).
 */
export function validateMetadata(m: DatasetMetadata, where: string): void {
  const fail = (msg: string): never => {
    throw new DatasetError(`${where}: ${msg}`);
  };
  if (!m || typeof m !== "object" || Array.isArray(m)) fail("expected a JSON object (PuzzleDatasetMetadata)");
  const ints = [
    "pad_id",
    "blank_identifier_id",
    "vocab_size",
    "seq_len",
    "num_puzzle_identifiers",
    "total_groups",
  ] as const;
  for (const k of ints) {
    if (!Number.isSafeInteger(m[k]) || m[k] < 0)
      fail(`field ${k} must be a non-negative integer, got ${describe(m[k])}`);
    m[k] += 0; // JSON's -0 is 0
  }
  if (typeof m.mean_puzzle_examples !== "number" || !Number.isFinite(m.mean_puzzle_examples))
    fail(`field mean_puzzle_examples must be a number, got ${describe(m.mean_puzzle_examples)}`);
  m.mean_puzzle_examples += 0;
  if (m.ignore_label_id !== null && m.ignore_label_id !== undefined) {
    if (!Number.isSafeInteger(m.ignore_label_id))
      fail(`field ignore_label_id must be an integer or null, got ${describe(m.ignore_label_id)}`);
    m.ignore_label_id += 0;
  }
  if (!Array.isArray(m.sets) || m.sets.length === 0) fail("field sets must be a non-empty list");
  for (const s of m.sets)
    if (typeof s !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(s))
      fail(`set name ${describe(s)} is not a plain name (letters, digits, _ and -; it becomes a file name)`);
  if (new Set(m.sets).size !== m.sets.length) fail("field sets lists a name twice");
  if (m.seq_len < 1 || m.seq_len > 65536) fail(`seq_len ${m.seq_len} is outside 1..65536`);
  if (m.num_puzzle_identifiers > 1 << 24)
    fail(`num_puzzle_identifiers ${m.num_puzzle_identifiers} is over 2^24`);
  if (m.vocab_size < 1 || m.vocab_size > 256)
    fail(`vocab_size ${m.vocab_size} is outside 1..256 (tokens are uint8)`);
}

/**
 * Checks what dataset.json says about all of a split's sets together: total_groups is their group count and
 * mean_puzzle_examples their examples per puzzle (as the official builders compute them). The training length and
 * the LR schedule are derived from both, so a wrong value would change a run without a word.
 */
export function validateSplit(meta: DatasetMetadata, sets: Map<string, PuzzleSet>, where: string): void {
  let [groups, puzzles, examples] = [0, 0, 0];
  for (const s of sets.values()) {
    groups += s.group_indices.length - 1;
    puzzles += s.puzzle_identifiers.length;
    examples += s.inputs.length / meta.seq_len;
  }
  if (groups !== meta.total_groups)
    throw new DatasetError(`${where}: total_groups is ${meta.total_groups}, the sets hold ${groups} groups`);
  const mean = puzzles ? examples / puzzles : 0;
  if (Math.abs(meta.mean_puzzle_examples - mean) > 1e-9 * Math.max(1, mean))
    throw new DatasetError(
      `${where}: mean_puzzle_examples is ${meta.mean_puzzle_examples}, the sets hold ${examples} examples in ${puzzles} puzzles (${mean})`,
    );
}

/** The five .npy files of one set, with the official dtypes. */
export function encodeSet(set: string, s: PuzzleSet, seqLen: number): Map<string, Uint8Array> {
  const n = s.inputs.length / seqLen;
  const t = (data: HostTensor["data"], dtype: HostTensor["dtype"], shape: number[]) =>
    encodeNpy({ dtype, shape, data });
  return new Map([
    [setFileName(set, "inputs"), t(s.inputs, "uint8", [n, seqLen])],
    [setFileName(set, "labels"), t(s.labels, "uint8", [n, seqLen])],
    [setFileName(set, "puzzle_identifiers"), t(s.puzzle_identifiers, "int32", [s.puzzle_identifiers.length])],
    [setFileName(set, "puzzle_indices"), t(s.puzzle_indices, "int32", [s.puzzle_indices.length])],
    [setFileName(set, "group_indices"), t(s.group_indices, "int32", [s.group_indices.length])],
  ]);
}

/** Decodes one set from a file reader (name -> bytes); integer arrays are accepted as int32 or int64. */
export function decodeSet(
  set: string,
  meta: DatasetMetadata,
  read: (name: string) => Uint8Array,
  where: string,
): PuzzleSet {
  const arr = (field: (typeof FIELDS)[number]) => {
    const name = setFileName(set, field);
    return decodeNpy(read(name), `${where}/${name}`);
  };
  const tokens = (field: "inputs" | "labels") => {
    const t = arr(field);
    if (t.shape.length !== 2 || t.shape[1] !== meta.seq_len)
      throw new DatasetError(
        `${where}/${setFileName(set, field)}: shape [${t.shape}] does not match seq_len ${meta.seq_len}`,
      );
    if (t.dtype === "uint8") return t.data as Uint8Array;
    if (t.dtype === "float16" || t.dtype === "bfloat16" || t.dtype === "float32" || t.dtype === "float64")
      throw new DatasetError(`${where}/${setFileName(set, field)}: dtype ${t.dtype}, expected uint8 tokens`);
    const out = new Uint8Array(t.data.length);
    for (let i = 0; i < out.length; i++) {
      const v = Number(t.data[i]);
      if (v < 0 || v > 255)
        throw new DatasetError(`${where}/${setFileName(set, field)}: token ${v} at ${i} does not fit uint8`);
      out[i] = v;
    }
    return out;
  };
  const ints = (field: "puzzle_identifiers" | "puzzle_indices" | "group_indices") => {
    const t = arr(field);
    if (t.dtype === "int32") return t.data as Int32Array;
    if (t.dtype === "int64") {
      const a = t.data as BigInt64Array;
      const bad = a.findIndex((v) => v < -0x80000000n || v > 0x7fffffffn);
      if (bad >= 0)
        throw new DatasetError(
          `${where}/${setFileName(set, field)}: value ${a[bad]} at ${bad} does not fit int32`,
        );
      return Int32Array.from(a, Number);
    }
    throw new DatasetError(`${where}/${setFileName(set, field)}: dtype ${t.dtype}, expected int32`);
  };
  const s: PuzzleSet = {
    inputs: tokens("inputs"),
    labels: tokens("labels"),
    puzzle_identifiers: ints("puzzle_identifiers"),
    puzzle_indices: ints("puzzle_indices"),
    group_indices: ints("group_indices"),
  };
  validateSet(meta, s, `${where}/${set}`);
  return s;
}

/** Where a builder puts examples, puzzles and groups: in memory (SetBuilder) or streamed to disk. */
export interface SetWriter {
  addExample(input: ArrayLike<number>, label: ArrayLike<number>): void;
  endPuzzle(identifier: number): void;
  endGroup(): void;
  readonly examples: number;
  readonly puzzles: number;
  readonly groups: number;
}

/** Incremental in-memory builder: add examples grouped into puzzles and puzzles into groups. */
export class SetBuilder implements SetWriter {
  private inputs: Uint8Array;
  private labels: Uint8Array;
  private n = 0;
  private ids: number[] = [];
  private puzzleIdx: number[] = [0];
  private groupIdx: number[] = [0];

  constructor(
    readonly seqLen: number,
    capacity = 1024,
  ) {
    this.inputs = new Uint8Array(capacity * seqLen);
    this.labels = new Uint8Array(capacity * seqLen);
  }

  addExample(input: ArrayLike<number>, label: ArrayLike<number>): void {
    if (input.length !== this.seqLen || label.length !== this.seqLen)
      throw new DatasetError(`example has ${input.length}/${label.length} tokens, seq_len is ${this.seqLen}`);
    if ((this.n + 1) * this.seqLen > this.inputs.length) {
      const grow = (a: Uint8Array) => {
        const b = new Uint8Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.inputs = grow(this.inputs);
      this.labels = grow(this.labels);
    }
    this.inputs.set(input, this.n * this.seqLen);
    this.labels.set(label, this.n * this.seqLen);
    this.n++;
  }
  /** Closes the puzzle made of the examples added since the last call. */
  endPuzzle(identifier: number): void {
    this.ids.push(identifier);
    this.puzzleIdx.push(this.n);
  }
  /** Closes the group made of the puzzles closed since the last call. */
  endGroup(): void {
    this.groupIdx.push(this.ids.length);
  }
  get examples(): number {
    return this.n;
  }
  get groups(): number {
    return this.groupIdx.length - 1;
  }
  get puzzles(): number {
    return this.ids.length;
  }
  build(): PuzzleSet {
    return {
      inputs: this.inputs.slice(0, this.n * this.seqLen),
      labels: this.labels.slice(0, this.n * this.seqLen),
      puzzle_identifiers: Int32Array.from(this.ids),
      puzzle_indices: Int32Array.from(this.puzzleIdx),
      group_indices: Int32Array.from(this.groupIdx),
    };
  }
}
