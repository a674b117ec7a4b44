/**
 * File-system access that fails in one line naming the path: reads (bytes, text, JSON), directory creation that
 * cannot loop (Node's recursive mkdir spins forever under /proc, where mkdir of a missing child of an existing
 * directory answers ENOENT), and a writability probe so long work never starts on an output it cannot write.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { clip, parseJson } from "../io/limits.js";

export class FileError extends Error {}

const REASONS: Record<string, string> = {
  ENOENT: "no such file or directory",
  EISDIR: "is a directory, not a file",
  ENOTDIR: "a part of the path is not a directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  EEXIST: "already exists",
  EMFILE: "too many open files",
  ENAMETOOLONG: "name too long",
};

/** A Node file-system error as `<path>: cannot <doing>: <reason> (<CODE>)`; other errors pass through. */
export function fsError(e: unknown, path: string, doing: string): Error {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== "string") return e instanceof Error ? e : new Error(String(e));
  const reason = Object.prototype.hasOwnProperty.call(REASONS, code)
    ? REASONS[code]
    : clip((e as Error).message);
  return new FileError(`${clip(path, 200)}: cannot ${doing}: ${reason} (${code})`);
}

export function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw fsError(e, path, "read");
  }
}

export function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw fsError(e, path, "read");
  }
}

/** Parses a JSON file; the error names the file and what JSON.parse said. */
export function readJson(path: string): unknown {
  return parseJson(readText(path), path);
}

/** mkdir -p, one level at a time from the nearest existing ancestor, with errors that name the directory. */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  let d = resolve(dir);
  while (!existsSync(d)) {
    missing.push(d);
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  if (existsSync(d) && !statSync(d).isDirectory())
    throw new FileError(`${clip(dir, 200)}: cannot create directory: ${clip(d, 200)} is a file`);
  for (const m of missing.reverse())
    try {
      mkdirSync(m);
    } catch (e) {
      throw fsError(e, m, "create directory");
    }
}

/** Creates `dir` if needed and proves a file can be written in it, before any long work starts. */
export function ensureWritableDir(dir: string): void {
  makeDirs(dir);
  const probe = resolve(dir, `.hrm-write-test-${process.pid}`);
  try {
    writeFileSync(probe, "");
  } catch (e) {
    throw fsError(e, dir, "write into directory");
  }
  rmSync(probe, { force: true });
}
