/**
 * Node file access for datasets and checkpoints: atomic writes (temp file + rename, so a crash never leaves a
 * half-written file) and the official dataset directory layout on disk.
 */
import { closeSync, existsSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import type { DatasetMetadata, PuzzleSet, SetWriter } from "../data/format.js";
import { fsError, makeDirs, readBytes, readJson } from "./fs.js";
import { encodeNpy, encodeNpyHeader } from "../io/npy.js";
import {
  DatasetError,
  decodeSet,
  encodeSet,
  setFileName,
  validateMetadata,
  validateSet,
  validateSplit,
} from "../data/format.js";

export { readBytes } from "./fs.js";

export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  makeDirs(dirname(path));
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw fsError(e, path, "write");
  }
}

export interface SplitData {
  metadata: DatasetMetadata;
  sets: Map<string, PuzzleSet>;
}

/** Writes one split (dataset.json + five .npy files per set), validating first. */
export function writeSplit(root: string, split: string, data: SplitData): void {
  for (const [name, set] of data.sets) validateSet(data.metadata, set, join(root, split, name));
  for (const [name, set] of data.sets)
    for (const [file, bytes] of encodeSet(name, set, data.metadata.seq_len))
      writeFileAtomic(join(root, split, file), bytes);
  writeFileAtomic(join(root, split, "dataset.json"), JSON.stringify(data.metadata));
}

export function writeIdentifiers(root: string, identifiers: string[]): void {
  writeFileAtomic(join(root, "identifiers.json"), JSON.stringify(identifiers));
}

/** A dataset's identifiers.json: a list of strings (puzzle identifier -> name). */
export function readIdentifiers(path: string): string[] {
  const ids = readJson(path);
  if (!Array.isArray(ids) || !ids.every((x) => typeof x === "string"))
    throw new DatasetError(`${path}: expected a JSON list of strings (puzzle identifier names)`);
  return ids;
}

/** Reads and validates one split of a dataset directory. */
export function readSplit(root: string, split: string): SplitData {
  const metaPath = join(root, split, "dataset.json");
  if (!existsSync(metaPath))
    throw new DatasetError(`${metaPath}: not found (is ${root} a dataset directory with a ${split}/ split?)`);
  const metadata = readJson(metaPath) as DatasetMetadata;
  validateMetadata(metadata, metaPath);
  const sets = new Map<string, PuzzleSet>();
  for (const name of metadata.sets)
    sets.set(
      name,
      decodeSet(
        name,
        metadata,
        (file) => {
          const p = join(root, split, file);
          if (!existsSync(p)) throw new DatasetError(`${p}: missing (listed by ${metaPath})`);
          return readBytes(p);
        },
        join(root, split),
      ),
    );
  validateSplit(metadata, sets, metaPath);
  return { metadata, sets };
}

const STREAM_HEADER = 128; // fixed .npy header size, rewritten with the final shape when the stream closes
const CHUNK = 1 << 22;

/** A uint8 [rows, seqLen] .npy written row by row: constant memory, temp file renamed into place on finish. */
class NpyRowStream {
  private fd: number;
  private buf = new Uint8Array(CHUNK);
  private used = 0;
  rows = 0;
  constructor(
    readonly path: string,
    readonly seqLen: number,
  ) {
    makeDirs(dirname(path));
    try {
      this.fd = openSync(`${path}.tmp-${process.pid}`, "w");
    } catch (e) {
      throw fsError(e, path, "write");
    }
    writeSync(this.fd, new Uint8Array(STREAM_HEADER));
  }
  add(row: ArrayLike<number>): void {
    if (this.used + this.seqLen > CHUNK) this.flush();
    this.buf.set(row, this.used);
    this.used += this.seqLen;
    this.rows++;
  }
  private flush(): void {
    writeSync(this.fd, this.buf, 0, this.used);
    this.used = 0;
  }
  finish(): void {
    this.flush();
    writeSync(
      this.fd,
      encodeNpyHeader("uint8", [this.rows, this.seqLen], STREAM_HEADER),
      0,
      STREAM_HEADER,
      0,
    );
    closeSync(this.fd);
    renameSync(`${this.path}.tmp-${process.pid}`, this.path);
  }
}

/** Writes one set of a split straight to disk as it is built (for datasets larger than memory). */
export class StreamingSetWriter implements SetWriter {
  private inputs: NpyRowStream;
  private labels: NpyRowStream;
  private ids: number[] = [];
  private puzzleIdx: number[] = [0];
  private groupIdx: number[] = [0];
  constructor(
    readonly root: string,
    readonly split: string,
    readonly seqLen: number,
    readonly set = "all",
  ) {
    this.inputs = new NpyRowStream(join(root, split, setFileName(set, "inputs")), seqLen);
    this.labels = new NpyRowStream(join(root, split, setFileName(set, "labels")), seqLen);
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
    const dir = join(this.root, this.split);
    const ints = (a: number[]) => encodeNpy({ dtype: "int32", shape: [a.length], data: Int32Array.from(a) });
    writeFileAtomic(join(dir, setFileName(this.set, "puzzle_identifiers")), ints(this.ids));
    writeFileAtomic(join(dir, setFileName(this.set, "puzzle_indices")), ints(this.puzzleIdx));
    writeFileAtomic(join(dir, setFileName(this.set, "group_indices")), ints(this.groupIdx));
    writeFileAtomic(join(dir, "dataset.json"), JSON.stringify(metadata));
  }
}
