/**
 * The official dataset directory on any file system: `<root>/<split>/dataset.json` plus five `.npy` files per
 * set, and `<root>/identifiers.json`. The file system comes in as a `DatasetFs` (Node's is
 * src/platform/files.ts; `memoryDatasetFs` keeps a dataset in a Map, e.g. in a browser), so this code reads,
 * validates and writes datasets without touching any platform API. Paths are joined with "/".
 */
import type { DatasetMetadata, PuzzleSet, SetWriter } from "./format.js";
import {
  DatasetError,
  decodeSet,
  encodeSet,
  setFileName,
  validateMetadata,
  validateSet,
  validateSplit,
} from "./format.js";
import { encodeNpy, encodeNpyHeader } from "../io/npy.js";
import { parseJson } from "../io/limits.js";

/** A file being written front to back; `write` at a position rewrites bytes already written. */
export interface FileStream {
  write(bytes: Uint8Array, position?: number): void;
  /** Makes the file visible under its name (Node: renames the temp file into place). */
  close(): void;
}

/** What the dataset code needs of a file system. Errors name the path (Node's: FileError). */
export interface DatasetFs {
  exists(path: string): boolean;
  readBytes(path: string): Uint8Array;
  /** Replaces the file whole, or not at all (Node: temp file + rename). */
  writeAtomic(path: string, data: Uint8Array | string): void;
  createStream(path: string): FileStream;
}

export interface SplitData {
  metadata: DatasetMetadata;
  sets: Map<string, PuzzleSet>;
}

export const joinPath = (...parts: string[]): string =>
  parts
    .filter((p) => p !== "")
    .join("/")
    .replace(/\/{2,}/g, "/");

const text = new TextDecoder();

function readJsonFile(fs: DatasetFs, path: string): unknown {
  return parseJson(text.decode(fs.readBytes(path)), path);
}

/** Writes one split (dataset.json + five .npy files per set), validating first. */
export function writeSplitTo(fs: DatasetFs, root: string, split: string, data: SplitData): void {
  for (const [name, set] of data.sets) validateSet(data.metadata, set, joinPath(root, split, name));
  for (const [name, set] of data.sets)
    for (const [file, bytes] of encodeSet(name, set, data.metadata.seq_len))
      fs.writeAtomic(joinPath(root, split, file), bytes);
  fs.writeAtomic(joinPath(root, split, "dataset.json"), JSON.stringify(data.metadata));
}

export function writeIdentifiersTo(fs: DatasetFs, root: string, identifiers: string[]): void {
  fs.writeAtomic(joinPath(root, "identifiers.json"), JSON.stringify(identifiers));
}

/** A dataset's identifiers.json: a list of strings (puzzle identifier -> name). */
export function readIdentifiersFrom(fs: DatasetFs, path: string): string[] {
  const ids = readJsonFile(fs, path);
  if (!Array.isArray(ids) || !ids.every((x) => typeof x === "string"))
    throw new DatasetError(`${path}: expected a JSON list of strings (puzzle identifier names)`);
  return ids;
}

/** Reads and validates one split of a dataset directory. */
export function readSplitFrom(fs: DatasetFs, root: string, split: string): SplitData {
  const dir = joinPath(root, split);
  const metaPath = joinPath(dir, "dataset.json");
  if (!fs.exists(metaPath))
    throw new DatasetError(`${metaPath}: not found (is ${root} a dataset directory with a ${split}/ split?)`);
  const metadata = readJsonFile(fs, metaPath) as DatasetMetadata;
  validateMetadata(metadata, metaPath);
  const sets = new Map<string, PuzzleSet>();
  const read = (file: string) => {
    const p = joinPath(dir, file);
    if (!fs.exists(p)) throw new DatasetError(`${p}: missing (listed by ${metaPath})`);
    return fs.readBytes(p);
  };
  for (const name of metadata.sets) sets.set(name, decodeSet(name, metadata, read, dir));
  validateSplit(metadata, sets, metaPath);
  return { metadata, sets };
}

const STREAM_HEADER = 128; // fixed .npy header size, rewritten with the final shape when the stream closes
const CHUNK = 1 << 22;

/** A uint8 [rows, seqLen] .npy written row by row in constant memory. */
class NpyRowStream {
  private out: FileStream;
  private buf = new Uint8Array(CHUNK);
  private used = 0;
  rows = 0;
  constructor(
    fs: DatasetFs,
    path: string,
    readonly seqLen: number,
  ) {
    this.out = fs.createStream(path);
    this.out.write(new Uint8Array(STREAM_HEADER));
  }
  add(row: ArrayLike<number>): void {
    if (this.used + this.seqLen > CHUNK) this.flush();
    this.buf.set(row, this.used);
    this.used += this.seqLen;
    this.rows++;
  }
  private flush(): void {
    this.out.write(this.buf.subarray(0, this.used));
    this.used = 0;
  }
  finish(): void {
    this.flush();
    this.out.write(encodeNpyHeader("uint8", [this.rows, this.seqLen], STREAM_HEADER), 0);
    this.out.close();
  }
}

/** Writes one set of a split as it is built (for datasets larger than memory). */
export class StreamingSetWriter implements SetWriter {
  private inputs: NpyRowStream;
  private labels: NpyRowStream;
  private ids: number[] = [];
  private puzzleIdx: number[] = [0];
  private groupIdx: number[] = [0];
  constructor(
    readonly fs: DatasetFs,
    readonly root: string,
    readonly split: string,
    readonly seqLen: number,
    readonly set = "all",
  ) {
    this.inputs = new NpyRowStream(fs, joinPath(root, split, setFileName(set, "inputs")), seqLen);
    this.labels = new NpyRowStream(fs, joinPath(root, split, setFileName(set, "labels")), seqLen);
  }
  addExample(input: ArrayLike<number>, label: ArrayLike<number>): void {
    this.inputs.add(input);
    this.labels.add(label);
  }
  endPuzzle(identifier: number): void {
    this.ids.push(identifier);
    this.puzzleIdx.push(this.inputs.rows);
  }
  endGroup(): void {
    this.groupIdx.push(this.ids.length);
  }
  get examples(): number {
    return this.inputs.rows;
  }
  get puzzles(): number {
    return this.ids.length;
  }
  get groups(): number {
    return this.groupIdx.length - 1;
  }
  /** Closes the token files and writes the index arrays and dataset.json. */
  finish(metadata: DatasetMetadata): void {
    this.inputs.finish();
    this.labels.finish();
    const dir = joinPath(this.root, this.split);
    const ints = (a: number[]) => encodeNpy({ dtype: "int32", shape: [a.length], data: Int32Array.from(a) });
    this.fs.writeAtomic(joinPath(dir, setFileName(this.set, "puzzle_identifiers")), ints(this.ids));
    this.fs.writeAtomic(joinPath(dir, setFileName(this.set, "puzzle_indices")), ints(this.puzzleIdx));
    this.fs.writeAtomic(joinPath(dir, setFileName(this.set, "group_indices")), ints(this.groupIdx));
    this.fs.writeAtomic(joinPath(dir, "dataset.json"), JSON.stringify(metadata));
  }
}

/** A dataset file system in memory (path -> bytes): for browsers, tests, or building before uploading. */
export function memoryDatasetFs(files = new Map<string, Uint8Array>()): DatasetFs & {
  files: Map<string, Uint8Array>;
} {
  const enc = new TextEncoder();
  return {
    files,
    exists: (p) => files.has(p),
    readBytes: (p) => {
      const b = files.get(p);
      if (!b) throw new DatasetError(`${p}: no such file`);
      return b;
    },
    writeAtomic: (p, data) => void files.set(p, typeof data === "string" ? enc.encode(data) : data.slice()),
    createStream: (p) => {
      let bytes = new Uint8Array(0);
      let end = 0;
      return {
        write(chunk, position = end) {
          const need = position + chunk.length;
          if (need > bytes.length) {
            const grown = new Uint8Array(Math.max(need, 2 * bytes.length));
            grown.set(bytes.subarray(0, end));
            bytes = grown;
          }
          bytes.set(chunk, position);
          end = Math.max(end, need);
        },
        close: () => void files.set(p, bytes.slice(0, end)),
      };
    },
  };
}
