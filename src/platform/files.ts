/**
 * Node file access for datasets and checkpoints: atomic writes (temp file + rename, so a crash never leaves a
 * half-written file), and the dataset directory code of src/data/dir.ts bound to Node's file system.
 */
import { closeSync, existsSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { DatasetFs, FileStream, SplitData } from "../data/dir.js";
import {
  readIdentifiersFrom,
  readSplitFrom,
  StreamingSetWriter as DataStreamingSetWriter,
  writeIdentifiersTo,
  writeSplitTo,
} from "../data/dir.js";
import { fsError, makeDirs, readBytes } from "./fs.js";

export type { SplitData } from "../data/dir.js";

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

/** Node's file system for the dataset code (src/data/dir.ts): atomic writes, streams through a temp file. */
export const nodeDatasetFs: DatasetFs = {
  exists: (p) => existsSync(p),
  readBytes,
  writeAtomic: writeFileAtomic,
  createStream(path: string): FileStream {
    makeDirs(dirname(path));
    const tmp = `${path}.tmp-${process.pid}`;
    let fd: number;
    try {
      fd = openSync(tmp, "w");
    } catch (e) {
      throw fsError(e, path, "write");
    }
    return {
      write: (bytes, position) => void writeSync(fd, bytes, 0, bytes.length, position ?? null),
      close() {
        closeSync(fd);
        renameSync(tmp, path);
      },
    };
  },
};

// The dataset directory on Node's file system: src/data/dir.ts with nodeDatasetFs.
export const writeSplit = (root: string, split: string, data: SplitData): void =>
  writeSplitTo(nodeDatasetFs, root, split, data);
export const writeIdentifiers = (root: string, identifiers: string[]): void =>
  writeIdentifiersTo(nodeDatasetFs, root, identifiers);
export const readIdentifiers = (path: string): string[] => readIdentifiersFrom(nodeDatasetFs, path);
export const readSplit = (root: string, split: string): SplitData =>
  readSplitFrom(nodeDatasetFs, root, split);

/** Writes one set of a split straight to disk as it is built (for datasets larger than memory). */
export class StreamingSetWriter extends DataStreamingSetWriter {
  constructor(root: string, split: string, seqLen: number, set = "all") {
    super(nodeDatasetFs, root, split, seqLen, set);
  }
}
