/**
 * `hrm train` end to end on a tiny generated Sudoku set: the loss falls, checkpoints appear, `hrm eval` on the
 * final checkpoint reproduces the logged evaluation exactly, and a run killed with SIGKILL (or stopped with
 * Ctrl-C) and resumed logs exactly the same metrics as the uninterrupted run.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Rec } from "./support/run-dir.js";
import { HRM_CLI as HRM, hrm, latestStep, records } from "./support/run-dir.js";

let dir = "";
let data = "";
const TOTAL = 240; // 48 puzzles, batch 8 -> 6 steps per epoch, 40 epochs
const common = () => [
  `data_path=${data}`,
  "global_batch_size=8",
  "epochs=40",
  "eval_interval=20",
  "lr=3e-3",
  "lr_warmup_steps=5",
  "lr_min_ratio=0.1",
  "arch.hidden_size=32",
  "arch.num_heads=2",
  "arch.H_layers=1",
  "arch.L_layers=1",
  "arch.L_cycles=1",
  "arch.halt_max_steps=2",
  "arch.puzzle_emb_ndim=32",
  "arch.forward_dtype=float32",
];

before(() => {
  dir = mkdtempSync(join(tmpdir(), "hrm-train-"));
  data = join(dir, "data");
  const r = hrm(
    "build-dataset",
    "sudoku",
    `output_dir=${data}`,
    "generate_train=48",
    "generate_test=16",
    "num_aug=1",
    "clues=50",
    "seed=3",
  );
  assert.equal(r.status, 0, r.stderr);
  const a = hrm(
    "train",
    ...common(),
    `checkpoint_path=${join(dir, "A")}`,
    "checkpoint_every_steps=50",
    "eval_save_outputs=preds,q_halt_logits",
  );
  assert.equal(a.status, 0, a.stderr);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("hrm train: the loss falls, checkpoints and report are written, metrics use the official names", () => {
  const run = join(dir, "A");
  const recs = records(run);
  const train = recs.filter((r) => "train/lm_loss" in r);
  assert.equal(train.length, TOTAL);
  assert.deepEqual(
    train.map((r) => r.step),
    Array.from({ length: TOTAL }, (_, i) => i + 1),
  );
  const mean = (rs: Rec[]) => rs.reduce((s, r) => s + r["train/lm_loss"], 0) / rs.length;
  assert.ok(
    mean(train.slice(-20)) < 0.8 * mean(train.slice(0, 20)),
    `${mean(train.slice(0, 20))} -> ${mean(train.slice(-20))}`,
  );
  for (const k of [
    "train/exact_accuracy",
    "train/q_halt_accuracy",
    "train/steps",
    "train/lr",
    "train/q_continue_loss",
  ])
    assert.ok(k in train[0], k);
  const evals = recs.filter((r) => "all/exact_accuracy" in r);
  assert.deepEqual(
    evals.map((r) => r.step),
    [120, 240],
  );
  for (const s of [50, 100, 120, 150, 200, 240])
    for (const f of ["model.safetensors", "train_state.safetensors", "all_config.yaml"])
      assert.ok(existsSync(join(run, `step_${s}`, f)), `step_${s}/${f}`);
  assert.equal(latestStep(run), 240);
  assert.match(readFileSync(join(run, "all_config.yaml"), "utf8"), /^arch:\n(.*\n)* {2}L_cycles: 1\n/m);
  for (const f of [
    "report.html",
    "report/loss.svg",
    "report/exact_accuracy.svg",
    "report/steps.svg",
    "report/lr.svg",
  ])
    assert.ok(existsSync(join(run, f)), f);
  for (const f of ["preds.npy", "q_halt_logits.npy"])
    assert.ok(existsSync(join(run, "step_240_outputs", "all", f)), f);
  const rep = hrm("report", run);
  assert.equal(rep.status, 0, rep.stderr);
  assert.equal(rep.stdout.trim(), join(run, "report.html"));
  assert.match(readFileSync(join(run, "report.html"), "utf8"), /Last evaluation \(step 240\)/);
});

test("hrm eval on the final checkpoint reproduces the logged evaluation", () => {
  const run = join(dir, "A");
  const out = join(dir, "evalA");
  const r = hrm(
    "eval",
    `checkpoint=${join(run, "step_240", "model.safetensors")}`,
    `data_path=${data}`,
    "global_batch_size=8",
    `output_dir=${out}`,
    "save_outputs=preds,q_halt_logits",
  );
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(readFileSync(join(out, "metrics.json"), "utf8")) as Rec;
  const { step: _s, ...logged } = records(run).filter((x) => "all/exact_accuracy" in x && x.step === 240)[0];
  assert.deepEqual(got, logged);
  assert.ok(existsSync(join(out, "outputs", "all", "preds.npy")));
});

/** Runs B until it has a checkpoint past `minStep`, then stops it with `signal`; returns the child. */
async function startAndStop(
  run: string,
  signal: NodeJS.Signals,
  extra: string[],
  minStep: number,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [HRM, "train", ...common(), `checkpoint_path=${run}`, ...extra], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", () => {});
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  for (;;) {
    await new Promise((r) => setTimeout(r, 2));
    const metrics = join(run, "metrics.jsonl");
    const ready =
      signal === "SIGKILL"
        ? existsSync(join(run, "latest")) && latestStep(run) >= minStep
        : existsSync(metrics) && readFileSync(metrics, "utf8").split("\n").length > minStep;
    if (ready || child.exitCode !== null) break;
  }
  child.kill(signal);
  await exited;
  (child as ChildProcess & { out: string }).out = out;
  return child;
}

test("resume after SIGKILL gives exactly the uninterrupted run's metrics", async () => {
  const run = join(dir, "B");
  const child = await startAndStop(run, "SIGKILL", ["checkpoint_every_steps=7"], 14);
  assert.equal(child.signalCode, "SIGKILL", "the run finished before it could be killed");
  const at = latestStep(run);
  assert.ok(at >= 14 && at < TOTAL, `killed with latest checkpoint at step ${at}`);
  const r = hrm("train", `resume=${run}`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`resuming at step ${at}`));
  assert.deepEqual(records(run), records(join(dir, "A")));
});

test("Ctrl-C saves a checkpoint at the current step and exits cleanly; resuming matches too", async () => {
  const run = join(dir, "C");
  const child = (await startAndStop(run, "SIGINT", [], 30)) as ChildProcess & { out: string };
  assert.equal(child.exitCode, 0);
  const m = /interrupted at step (\d+): checkpoint (\S+)/.exec(child.out);
  assert.ok(m, child.out);
  assert.ok(Number(m[1]) < TOTAL);
  assert.equal(latestStep(run), Number(m[1]));
  const r = hrm("train", `resume=${run}`);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(records(run), records(join(dir, "A")));
});

test("hrm train errors: unknown keys, bad values, resume with options, a non-finite loss", () => {
  let r = hrm("train", ...common(), "arch.L_cycle=2");
  assert.equal(r.status, 1);
  assert.match(r.stderr, /hrm: command line: unknown key "arch.L_cycle"/);
  r = hrm("train", ...common(), "beta1=abc");
  assert.match(r.stderr, /beta1="abc": expected a number/);
  r = hrm("train", `resume=${join(dir, "A")}`, "lr=1");
  assert.match(r.stderr, /resume=<run dir> continues the saved config/);
  r = hrm("train", ...common(), `checkpoint_path=${join(dir, "A")}`);
  assert.match(r.stderr, /already holds a run/);
  r = hrm(
    "train",
    ...common().filter((w) => !w.startsWith("lr=")),
    `checkpoint_path=${join(dir, "NaN")}`,
    "lr=1e38",
    "checkpoint_every_steps=1",
  );
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /non-finite train\/\w+ \(NaN\) at step \d+; stopping\. Last checkpoint: \S+step_\d+/,
  );
});
