/**
 * TRM end to end through the CLI on a tiny generated Sudoku set, with EMA on (as TRM's runs train): the loss
 * falls; evaluation and the checkpoints use the EMA weights (`hrm eval` of a checkpoint reproduces the logged
 * evaluation exactly, and its weights are not the trained ones); a run killed with SIGKILL and resumed logs
 * exactly the uninterrupted run's metrics; `hrm solve --trace` runs the checkpoint.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Rec } from "./support/run-dir.js";
import { HRM_CLI as HRM, hrm, latestStep, records } from "./support/run-dir.js";
import { decodeSafetensors } from "../src/io/safetensors.js";

let dir = "";
let data = "";
const TOTAL = 120; // 48 puzzles, batch 8 -> 6 steps per epoch, 20 epochs
const common = () => [
  `data_path=${data}`,
  "arch.name=trm",
  "ema=true",
  "ema_rate=0.9",
  "global_batch_size=8",
  "epochs=20",
  "eval_interval=10",
  "lr=3e-3",
  "lr_warmup_steps=5",
  "arch.hidden_size=32",
  "arch.num_heads=2",
  "arch.L_layers=1",
  "arch.H_cycles=2",
  "arch.L_cycles=2",
  "arch.halt_max_steps=2",
  "arch.puzzle_emb_ndim=32",
  "arch.puzzle_emb_len=2",
  "arch.forward_dtype=float32",
];

before(() => {
  dir = mkdtempSync(join(tmpdir(), "trm-train-"));
  data = join(dir, "data");
  const d = hrm("build-dataset", "sudoku", `output_dir=${data}`, "generate_train=48", "generate_test=16");
  assert.equal(d.status, 0, d.stderr);
  const a = hrm("train", ...common(), `checkpoint_path=${join(dir, "A")}`);
  assert.equal(a.status, 0, a.stderr);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("TRM trains with EMA: the loss falls; evaluation and checkpoints use the averaged weights", () => {
  const run = join(dir, "A");
  const train = records(run).filter((r) => "train/lm_loss" in r);
  assert.equal(train.length, TOTAL);
  const mean = (rs: Rec[]) => rs.reduce((s, r) => s + r["train/lm_loss"], 0) / rs.length;
  assert.ok(
    mean(train.slice(-20)) < 0.8 * mean(train.slice(0, 20)),
    `${mean(train.slice(0, 20))} -> ${mean(train.slice(-20))}`,
  );
  assert.ok(!("train/q_continue_loss" in train[0]), "no_ACT_continue: no Q-continue loss");
  const cfg = readFileSync(join(run, "all_config.yaml"), "utf8");
  assert.match(cfg, /name: recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1/);
  assert.match(cfg, /no_ACT_continue: true/);
  const ckpt = join(run, `step_${TOTAL}`);
  const model = decodeSafetensors(readFileSync(join(ckpt, "model.safetensors")), "model");
  const state = decodeSafetensors(readFileSync(join(ckpt, "train_state.safetensors")), "state");
  const name = "_orig_mod.model.inner.lm_head.weight";
  const averaged = model.tensors.get(name)!.data as Float32Array;
  const live = state.tensors.get("live.lm_head.weight")!.data as Float32Array;
  assert.equal(averaged.length, live.length);
  assert.ok(
    averaged.some((x, i) => x !== live[i]),
    "the checkpoint holds the average, the train state the weights",
  );
  const out = join(dir, "evalA");
  const r = hrm(
    "eval",
    `checkpoint=${join(ckpt, "model.safetensors")}`,
    `data_path=${data}`,
    "global_batch_size=8",
    `output_dir=${out}`,
  );
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(readFileSync(join(out, "metrics.json"), "utf8")) as Rec;
  const { step: _s, ...logged } = records(run).filter(
    (x) => "all/exact_accuracy" in x && x.step === TOTAL,
  )[0];
  assert.deepEqual(got, logged);
});

test("TRM with EMA: resume after SIGKILL gives exactly the uninterrupted run's metrics", async () => {
  const run = join(dir, "B");
  const child = spawn(
    process.execPath,
    [HRM, "train", ...common(), `checkpoint_path=${run}`, "checkpoint_every_steps=7"],
    {
      stdio: "ignore",
    },
  );
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  while (!(existsSync(join(run, "latest")) && latestStep(run) >= 14) && child.exitCode === null)
    await new Promise((r) => setTimeout(r, 2));
  child.kill("SIGKILL");
  await exited;
  assert.equal(child.signalCode, "SIGKILL", "the run finished before it could be killed");
  const at = latestStep(run);
  assert.ok(at >= 14 && at < TOTAL, `killed with latest checkpoint at step ${at}`);
  const r = hrm("train", `resume=${run}`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`resuming at step ${at}`));
  assert.deepEqual(records(run), records(join(dir, "A")));
});

test("hrm solve --trace runs a TRM checkpoint", () => {
  const ckpt = join(dir, "A", `step_${TOTAL}`, "model.safetensors");
  const puzzle = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79";
  const r = hrm("solve", "sudoku", puzzle, `checkpoint=${ckpt}`, "--trace");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /segment 1/);
  const j = hrm("solve", "sudoku", puzzle, `checkpoint=${ckpt}`, "--json");
  assert.equal(j.status, 0, j.stderr);
  assert.equal(JSON.parse(j.stdout).segments, 2);
});
