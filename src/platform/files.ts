/**
 * Node file access for datasets and checkpoints: atomic writes (temp file + rename, so a crash never leaves a
 * half-written file) and the official dataset directory layout on disk.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { DatasetMetadata, PuzzleSet } from "../data/format.js";
import { DatasetError, decodeSet, encodeSet, validateMetadata, validateSet } from "../data/format.js";

export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

export function readBytes(path: string): Uint8Array {
  return readFileSync(path);
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

/** Reads and validates one split of a dataset directory. */
export function readSplit(root: string, split: string): SplitData {
  const metaPath = join(root, split, "dataset.json");
  if (!existsSync(metaPath))
    throw new DatasetError(`${metaPath}: not found (is ${root} a dataset directory with a ${split}/ split?)`);
  let metadata: DatasetMetadata;
  try {
    metadata = JSON.parse(readFileSync(metaPath, "utf8"));
  } catch (e) {
    throw new DatasetError(`${metaPath}: not valid JSON (${(e as Error).message})`);
  }
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
          return readFileSync(p);
        },
        join(root, split),
      ),
    );
  return { metadata, sets };
}
