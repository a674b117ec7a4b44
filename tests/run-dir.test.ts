/**
 * Run directories: one training process per directory (an O_EXCL lock naming the holder; stale locks of dead
 * processes are taken over), a run killed before its first checkpoint restarts from step 0 with resume=, and
 * keep_last=N keeps only the newest N checkpoints.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { decodeSafetensors } from "../src/io/safetensors.js";
import { RunLock } from "../src/platform/run-dir.js";

const HRM = fileURLToPath(new URL("../cli/hrm.js", import.meta.url));
const hrm = (...args: string[]) => spawnSync(process.execPath, [HRM, ...args], { encoding: "utf8" });

let dir = "";
let data = "";
const tiny = (run: string, epochs: number, ...more: string[]) => [
  "train",
  `data_path=${data}`,
  `checkpoint_path=${run}`,
  "global_batch_size=8",
  `epochs=${epochs}`,
  `eval_interval=${epochs}`,
  "lr_warmup_steps=2",
  "arch.hidden_size=32",
  "arch.num_heads=2",
  "arch.H_layers=1",
  "arch.L_layers=1",
  "arch.halt_max_steps=2",
  "arch.puzzle_emb_ndim=0",
  "arch.forward_dtype=float32",
  ...more,
];
const steps = (run: string) =>
  readFileSync(join(run, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, number>)
    .filter((r) => "train/lm_loss" in r)
    .map((r) => r.step);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(ok: () => boolean, what: string, ms = 60_000): Promise<void> {
  for (const t0 = Date.now(); !ok(); await sleep(20))
    if (Date.now() - t0 > ms) throw new Error(`timed out: ${what}`);
}
/** A PID that is certainly not running: a process that has exited. */
const deadPid = () => spawnSync(process.execPath, ["-e", ""]).pid!;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "hrm-rundir-"));
  data = join(dir, "data");
  const r = hrm(
    "build-dataset",
    "sudoku",
    "size=4",
    `output_dir=${data}`,
    "generate_train=32",
    "generate_test=8",
  );
  assert.equal(r.status, 0, r.stderr);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("the run lock: exclusive while held, names its holder, released; stale locks are taken over", () => {
  const run = join(dir, "lock");
  const a = RunLock.acquire(run);
  assert.equal(a.stale, null);
  assert.throws(
    () => RunLock.acquire(run),
    new RegExp(`in use by another training process \\(PID ${process.pid} on ${hostname()}`),
  );
  a.release();
  assert.ok(!existsSync(join(run, ".lock")), "released: the file is gone");
  const pid = deadPid();
  writeFileSync(join(run, ".lock"), JSON.stringify({ pid, host: hostname(), started: "then" }));
  const b = RunLock.acquire(run);
  assert.equal(b.stale?.pid, pid, "a dead holder's lock is taken over, and says whose it was");
  b.release();
  writeFileSync(join(run, ".lock"), ""); // a writer killed between create and write, just now
  assert.throws(() => RunLock.acquire(run), /taking the run lock .* right now/);
  utimesSync(join(run, ".lock"), new Date(0), new Date(0)); // ... long ago: stale
  RunLock.acquire(run).release();
  writeFileSync(join(run, ".lock"), JSON.stringify({ pid: 1, host: "elsewhere", started: "then" }));
  assert.throws(
    () => RunLock.acquire(run),
    /PID 1 on elsewhere/,
    "another host's lock cannot be judged stale",
  );
});

test("a second hrm train on a running run directory is refused, naming the first; the run logs each step once", async () => {
  const run = join(dir, "two");
  const first = spawn(process.execPath, [HRM, ...tiny(run, 60)], { stdio: "ignore" });
  const done = new Promise<number | null>((r) => first.on("exit", r));
  await waitFor(() => existsSync(join(run, ".lock")), "the first run's lock");
  const second = hrm(...tiny(run, 60));
  assert.equal(second.status, 1);
  assert.match(
    second.stderr,
    new RegExp(`hrm: ${run} is in use by another training process \\(PID ${first.pid} `),
  );
  assert.equal(await done, 0);
  const s = steps(run);
  assert.deepEqual(
    s,
    Array.from({ length: s.length }, (_, i) => i + 1),
    "every step logged once, in order",
  );
  assert.ok(!existsSync(join(run, ".lock")), "the lock is gone when the run ends");
});

test("a run killed before its first checkpoint restarts from step 0 with resume=, taking over its stale lock", async () => {
  const run = join(dir, "early");
  const child = spawn(process.execPath, [HRM, ...tiny(run, 400)], { stdio: "ignore" });
  const gone = new Promise((r) => child.on("exit", r));
  await waitFor(() => existsSync(join(run, "metrics.jsonl")) && steps(run).length >= 3, "a few steps");
  child.kill("SIGKILL");
  await gone;
  assert.ok(!readdirSync(run).some((f) => f.startsWith("step_")), "killed before any checkpoint");
  const r = hrm("train", `resume=${run}`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`note: took over the run lock of PID ${child.pid} `));
  assert.match(
    r.stdout,
    /note: .* has no checkpoint yet \(stopped before the first\): starting it again from step 0/,
  );
  const s = steps(run);
  assert.deepEqual(
    s,
    Array.from({ length: s.length }, (_, i) => i + 1),
    "the restart logged each step once",
  );
  assert.equal(s.length, 400 * 4); // 32 puzzles / batch 8 = 4 steps per epoch
  const fresh = hrm(...tiny(run, 4));
  assert.equal(fresh.status, 1);
  assert.match(fresh.stderr, /already holds a run .* use resume=.* starts again from step 0/);
});

test("keep_last=2 keeps the newest two checkpoints; by default every one stays", () => {
  const run = (name: string, ...more: string[]) => {
    const r = hrm(...tiny(join(dir, name), 5, "checkpoint_every_steps=4", ...more));
    assert.equal(r.status, 0, r.stderr);
    return readdirSync(join(dir, name))
      .filter((f) => f.startsWith("step_"))
      .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  };
  assert.deepEqual(run("keep", "keep_last=2"), ["step_16", "step_20"]);
  assert.deepEqual(run("all"), ["step_4", "step_8", "step_12", "step_16", "step_20"]);
  assert.match(hrm(...tiny(join(dir, "bad"), 5, "keep_last=0")).stderr, /keep_last=0: must be at least 1/);
});

test("init_from starts a run from a .pt or our checkpoint's weights, with fresh optimiser state; a mismatch is refused", () => {
  const a = join(dir, "initA");
  assert.equal(hrm(...tiny(a, 5)).status, 0);
  const source = join(a, "step_20", "model.safetensors");
  const pt = join(dir, "initA-export", "a.pt");
  assert.equal(hrm("export", `checkpoint=${source}`, `output=${pt}`).status, 0);
  const want = decodeSafetensors(readFileSync(source), "a").tensors;
  for (const from of [pt, source]) {
    const b = join(dir, `initB-${from === pt ? "pt" : "st"}`);
    // lr 0: AdamATan2 leaves every weight as it is, so the run's checkpoint must hold exactly the source weights.
    const r = hrm(...tiny(b, 1, `init_from=${from}`, "lr=0"));
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`note: initialised from ${from}: its weights, with fresh optimiser state`),
    );
    const got = decodeSafetensors(readFileSync(join(b, "step_4", "model.safetensors")), "b").tensors;
    for (const [k, t] of want) assert.deepEqual(got.get(k)!.data, t.data, k);
  }
  const bad = hrm(...tiny(join(dir, "initC"), 1, `init_from=${pt}`, "arch.pos_encodings=learned"));
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /a.pt: state dict does not match the config: missing embed_pos.embedding_weight/);
  const bad2 = hrm(...tiny(join(dir, "initD"), 1, `init_from=${source}`, "arch.pos_encodings=learned"));
  assert.match(bad2.stderr, /pos_encodings="learned" contradicts the checkpoint's pos_encodings="rope"/);
});
