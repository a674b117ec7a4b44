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

export function validateMetadata(m: DatasetMetadata, where: string): void {
  const need = [
    "pad_id",
    "blank_identifier_id",
    "vocab_size",
    "seq_len",
    "num_puzzle_identifiers",
    "total_groups",
    "mean_puzzle_examples",
  ] as const;
  for (const k of need)
    if (typeof m[k] !== "number" || !Number.isFinite(m[k]))
      throw new DatasetError(`${where}: field ${k} must be a number, got ${JSON.stringify(m[k])}`);
  if (!Array.isArray(m.sets) || m.sets.length === 0)
    throw new DatasetError(`${where}: field sets must be a non-empty list`);
  if (m.seq_len < 1 || m.vocab_size < 1 || m.vocab_size > 256)
    throw new DatasetError(`${where}: seq_len/vocab_size out of range`);
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
    const out = new Uint8Array(t.data.length);
    for (let i = 0; i < out.length; i++) out[i] = Number(t.data[i]); // range checked by validateSet
    return out;
  };
  const ints = (field: "puzzle_identifiers" | "puzzle_indices" | "group_indices") => {
    const t = arr(field);
    if (t.dtype === "int32") return t.data as Int32Array;
    if (t.dtype === "int64") return Int32Array.from(t.data as BigInt64Array, Number);
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
