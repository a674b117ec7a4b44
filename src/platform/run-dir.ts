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
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { fsError, makeDirs } from "./fs.js";

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

/** The step_<N> checkpoint directories of a run, oldest first. */
function checkpointSteps(runDir: string): number[] {
  return readdirSync(runDir)
    .map((f) => /^step_(\d+)$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/** Deletes all but the newest `keep` checkpoints (after a new one is in place, so one always survives). */
export function pruneCheckpoints(runDir: string, keep: number): string[] {
  const steps = checkpointSteps(runDir);
  const gone = steps.slice(0, Math.max(0, steps.length - keep)).map((s) => join(runDir, `step_${s}`));
  for (const dir of gone) rmSync(dir, { recursive: true, force: true });
  return gone;
}

/** The newest complete checkpoint directory of a run, or null when it has none. */
export function latestCheckpoint(runDir: string): string | null {
  if (!existsSync(runDir)) throw new RunDirError(`${runDir}: no such run directory`);
  const ptr = join(runDir, "latest");
  if (existsSync(ptr)) {
    const dir = join(runDir, readFileSync(ptr, "utf8").trim());
    if (existsSync(dir)) return dir;
  }
  const steps = checkpointSteps(runDir);
  return steps.length ? join(runDir, `step_${steps[steps.length - 1]}`) : null;
}

/** Removes temporary checkpoint directories a crash left behind. */
export function cleanStaleTemps(runDir: string): void {
  if (!existsSync(runDir)) return;
  for (const f of readdirSync(runDir))
    if (/^\.(step_\d+|latest)\.tmp-\d+$/.test(f)) rmSync(join(runDir, f), { recursive: true, force: true });
}

/**
 * Appends JSON lines to metrics.jsonl (or another file of the run); `truncateAfter` drops lines past a step
 * (used when resuming).
 */
export class MetricsLog {
  readonly path: string;
  constructor(runDir: string, file = "metrics.jsonl") {
    makeDirs(runDir);
    this.path = join(runDir, file);
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

/** What a run directory's lock file records. */
interface LockInfo {
  pid: number;
  host: string;
  started: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}

/**
 * An exclusive lock on a run directory (<runDir>/.lock, created with O_EXCL, holding the PID, host and start time),
 * so two training processes never write one run. A lock left by a process that is gone (same host, PID not
 * running) is stale: it is taken over, and `stale` says whose it was. Released on release() and at process exit.
 */
export class RunLock {
  private released = false;
  private readonly onExit = () => this.release();
  private constructor(
    readonly path: string,
    readonly stale: LockInfo | null,
  ) {
    process.once("exit", this.onExit);
  }

  static acquire(runDir: string): RunLock {
    makeDirs(runDir);
    const path = join(runDir, ".lock");
    const me: LockInfo = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
    let stale: LockInfo | null = null;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, "wx");
        try {
          writeSync(fd, JSON.stringify(me));
        } finally {
          closeSync(fd);
        }
        return new RunLock(path, stale);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw fsError(e, path, "create the run lock");
      }
      const holder = readLock(path);
      const made = statSync(path, { throwIfNoEntry: false })?.mtimeMs;
      if (made === undefined) continue; // released between our create and our read: try to take it again
      if (holder === null && Date.now() - made < 5000)
        throw new RunDirError(
          `${runDir}: another process is taking the run lock (${path}) right now; try again`,
        );
      const gone = holder === null || (holder.host === hostname() && !alive(holder.pid));
      if (!gone)
        throw new RunDirError(
          `${runDir} is in use by another training process (PID ${holder.pid} on ${holder.host}, since ${holder.started}); ` +
            `wait for it to finish, or if it is not running, delete ${path}`,
        );
      stale = holder;
      rmSync(path, { force: true });
    }
    throw new RunDirError(`${runDir}: another process took the run lock at the same moment; try again`);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    process.removeListener("exit", this.onExit);
    const holder = readLock(this.path);
    if (holder && holder.pid === process.pid && holder.host === hostname())
      rmSync(this.path, { force: true });
  }
}

/** The lock's contents, or null when unreadable (a writer killed between create and write). */
function readLock(path: string): LockInfo | null {
  try {
    const v = JSON.parse(readFileSync(path, "utf8")) as LockInfo;
    return Number.isInteger(v.pid) && typeof v.host === "string" ? v : null;
  } catch {
    return null;
  }
}
