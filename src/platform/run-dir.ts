/**
 * A training run's directory on disk: all_config.yaml, metrics.jsonl, step_<N>/ checkpoints and a `latest`
 * pointer. A checkpoint is written into a temporary directory, every file flushed to disk, and then renamed
 * into place, and only then does `latest` move (also by rename): a crash at any point leaves the previous
 * checkpoint intact and never a half-written one under a step_<N> name.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { makeDirs } from "./fs.js";

export class RunDirError extends Error {}

function writeSynced(path: string, data: Uint8Array | string): void {
  const fd = openSync(path, "w");
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes `files` as <runDir>/step_<step>/ atomically and points `latest` at it; returns its path. */
export function writeCheckpoint(
  runDir: string,
  step: number,
  files: Record<string, Uint8Array | string>,
): string {
  makeDirs(runDir);
  const name = `step_${step}`;
  const final = join(runDir, name);
  const tmp = join(runDir, `.${name}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  for (const [file, data] of Object.entries(files)) writeSynced(join(tmp, file), data);
  rmSync(final, { recursive: true, force: true }); // the same step saved twice (e.g. eval, then Ctrl-C)
  renameSync(tmp, final);
  const ptr = join(runDir, `.latest.tmp-${process.pid}`);
  writeSynced(ptr, `${name}\n`);
  renameSync(ptr, join(runDir, "latest"));
  return final;
}

/** The newest complete checkpoint directory of a run, or null when it has none. */
export function latestCheckpoint(runDir: string): string | null {
  if (!existsSync(runDir)) throw new RunDirError(`${runDir}: no such run directory`);
  const ptr = join(runDir, "latest");
  if (existsSync(ptr)) {
    const dir = join(runDir, readFileSync(ptr, "utf8").trim());
    if (existsSync(dir)) return dir;
  }
  const steps = readdirSync(runDir)
    .map((f) => /^step_(\d+)$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a);
  return steps.length ? join(runDir, `step_${steps[0]}`) : null;
}

/** Removes temporary checkpoint directories a crash left behind. */
export function cleanStaleTemps(runDir: string): void {
  if (!existsSync(runDir)) return;
  for (const f of readdirSync(runDir))
    if (/^\.(step_\d+|latest)\.tmp-\d+$/.test(f)) rmSync(join(runDir, f), { recursive: true, force: true });
}

/** Appends JSON lines to metrics.jsonl; `truncateAfter` drops lines past a step (used when resuming). */
export class MetricsLog {
  readonly path: string;
  constructor(runDir: string) {
    makeDirs(runDir);
    this.path = join(runDir, "metrics.jsonl");
  }
  append(record: Record<string, unknown>): void {
    writeFileSync(this.path, `${JSON.stringify(record)}\n`, { flag: "a" });
  }
  read(): Record<string, number | string | boolean>[] {
    if (!existsSync(this.path)) return [];
    return readFileSync(this.path, "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, number | string | boolean>];
        } catch {
          return []; // a line cut short by a kill
        }
      });
  }
  truncateAfter(step: number): void {
    const keep = this.read().filter((r) => typeof r.step === "number" && r.step <= step);
    const tmp = `${this.path}.tmp-${process.pid}`;
    writeSynced(tmp, keep.map((r) => `${JSON.stringify(r)}\n`).join(""));
    renameSync(tmp, this.path);
  }
}
