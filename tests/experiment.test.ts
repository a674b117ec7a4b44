/**
 * `hrm experiment`: the spec's checks (each error names the file and the field), the accuracy-at-minutes rule,
 * and a tiny experiment end to end: its tables, chart and per-run files; a rerun that keeps finished runs; and
 * a run killed with SIGKILL that resumes from its checkpoint to exactly the uninterrupted run's results.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, test } from "node:test";
import {
  accuracyAtMinutes,
  ExperimentError,
  meanSpread,
  parseExperimentSpec,
  thinMetrics,
} from "../src/report/experiment.js";
import { HRM_CLI, hrm, latestStep, records } from "./support/run-dir.js";

const dir = mkdtempSync(join(tmpdir(), "hrm-experiment-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const SPEC = `description: A tiny 4x4 experiment.
dataset: sudoku
data: [size=4, generate_train=200, generate_test=50, num_aug=2, clues=6, seed=0]
train:
  - global_batch_size=32
  - epochs=24
  - eval_interval=4
  - lr=1e-3
  - lr_warmup_steps=5
  - checkpoint_every_steps=7
  - arch.hidden_size=32
  - arch.num_heads=2
  - arch.H_layers=1
  - arch.L_layers=1
  - arch.H_cycles=1
  - arch.L_cycles=1
  - arch.halt_max_steps=2
  - arch.puzzle_emb_ndim=0
  - arch.loss.loss_type=softmax_cross_entropy
models:
  hrm: []
  trm: [arch.name=trm, arch.puzzle_emb_len=0]
seeds: [0, 1]
minutes: [0.001, 10]
segments: [1, 2, 4]
adaptive: 4
`;
const specFile = join(dir, "tiny.yaml");
writeFileSync(specFile, SPEC);
const out = (name: string) => [`out=${join(dir, name, "results")}`, `work=${join(dir, name, "work")}`];
const result = (name: string, run: string) =>
  JSON.parse(readFileSync(join(dir, name, "results", "tiny", "runs", run, "result.json"), "utf8")) as {
    result: Record<string, unknown>;
  };

test("experiment specs: every error names the file and the field", () => {
  const bad = (text: string, re: RegExp) =>
    assert.throws(
      () => parseExperimentSpec(text, "x.yaml", "x"),
      (e: Error) => e instanceof ExperimentError && re.test(e.message),
    );
  const ok = parseExperimentSpec(SPEC, "x.yaml", "x");
  assert.deepEqual(Object.keys(ok.models), ["hrm", "trm"]);
  assert.deepEqual(ok.minutes, [0.001, 10]);
  bad(SPEC.replace("adaptive: 4", "adaptiv: 4"), /x\.yaml: unknown key adaptiv/);
  bad(SPEC.replace("dataset: sudoku", "dataset: arc"), /x\.yaml: dataset: "arc", expected sudoku or maze/);
  bad(SPEC.replace("clues=6", "clues"), /x\.yaml: data\[4\]: "clues" is not a key=value word/);
  bad(
    SPEC.replace("minutes: [0.001, 10]", "minutes: [10, 1]"),
    /minutes: expected positive values in increasing/,
  );
  bad(SPEC.replace("seeds: [0, 1]", "seeds: [0, 0]"), /seeds: repeated seed/);
  bad(SPEC.replace("seeds: [0, 1]", "seeds: [-1]"), /seeds\[0\]: -1 is not an integer >= 0/);
  bad(SPEC.replace("segments: [1, 2, 4]", "segments: []"), /segments: expected a non-empty list/);
  bad(SPEC.replace("  hrm: []", "  HRM: []"), /models: name "HRM"/);
});

test("the repository's experiments/*.yaml parse", () => {
  const root = fileURLToPath(new URL("../../experiments/", import.meta.url));
  const files = readdirSync(root).filter((f) => f.endsWith(".yaml"));
  assert.ok(files.includes("sudoku6.yaml"));
  for (const f of files) {
    const spec = parseExperimentSpec(readFileSync(join(root, f), "utf8"), f, f.slice(0, -5));
    assert.ok(Object.keys(spec.models).length > 0, f);
  }
});

test("accuracy at a time mark: the last evaluation within it; a run that ended earlier counts its last", () => {
  const metrics = [
    { step: 10, "all/exact_accuracy": 0.1 },
    { step: 20, "all/exact_accuracy": 0.5 },
    { step: 30, "all/exact_accuracy": 0.9 },
  ];
  const timing: Record<string, number>[] = [
    { step: 10, train_s: 50, eval_s: 1 },
    { step: 10, train_s: 50.5 }, // a checkpoint's line: not an evaluation
    { step: 20, train_s: 130, eval_s: 1 },
    { step: 30, train_s: 170, eval_s: 1 },
  ];
  assert.deepEqual(
    accuracyAtMinutes(metrics, timing, [0.5, 1, 2, 3, 60]).map((a) => [a.minutes, a.step, a.exact]),
    [
      [1, 10, 0.1],
      [2, 10, 0.1],
      [3, 30, 0.9],
      [60, 30, 0.9],
    ],
  );
  assert.equal(meanSpread([0.9, 0.95, 1]), "95.0 ± 5.0");
  assert.equal(meanSpread([0.5]), "50.0");
});

test("a committed training log keeps every evaluation, the header, the last step and every Nth step", () => {
  const log: Record<string, number>[] = [{ step: 0, num_params: 5 }];
  for (let s = 1; s <= 95; s++) {
    log.push({ step: s, "train/lm_loss": 1 / s });
    if (s % 30 === 0) log.push({ step: s, "all/exact_accuracy": s / 100 });
  }
  const kept = thinMetrics(log, 10);
  const steps = kept.filter((r) => "train/lm_loss" in r).map((r) => r.step);
  assert.deepEqual(steps, [10, 20, 30, 40, 50, 60, 70, 80, 90, 95]); // stride ceil(95/10) = 10
  assert.deepEqual(
    kept.filter((r) => !("train/lm_loss" in r)).map((r) => r.step),
    [0, 30, 60, 90],
  );
  assert.equal(thinMetrics(log, 1000).length, log.length); // short logs stay whole
});

test("a tiny experiment end to end: tables, chart, per-run logs and results; a rerun keeps finished runs", () => {
  const r = hrm("experiment", specFile, ...out("A"));
  assert.equal(r.status, 0, r.stderr);
  const res = join(dir, "A", "results");
  const page = readFileSync(join(res, "tiny", "README.md"), "utf8");
  for (const m of ["hrm", "trm"]) {
    assert.match(page, new RegExp(`\\| ${m} \\| [\\d,]+ \\| 0, 1 \\|`));
    assert.match(page, new RegExp(`npm run experiments -- tiny models=${m}`));
    for (const s of [0, 1]) {
      const run = join(res, "tiny", "runs", `${m}-s${s}`);
      const logged = records(run).filter((x) => "all/exact_accuracy" in x);
      assert.equal(logged.length, 6, "an evaluation every 4 of 24 epochs");
      const { result: got } = result("A", `${m}-s${s}`);
      assert.equal(got.steps, 150); // 24 epochs of 200 puzzles x 3 (num_aug=2) at batch 32
      // the final sweep agrees with the run's own last evaluation at the trained limit (2 segments)
      assert.equal(
        (got.sweep as Record<string, number>)["2"],
        logged[logged.length - 1]["all/exact_accuracy"],
      );
      const timing = readFileSync(join(run, "timing.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      const t = timing.map((x: { train_s: number }) => x.train_s);
      assert.ok(
        t.every((x: number, i: number) => i === 0 || x >= t[i - 1]),
        "training time never decreases",
      );
    }
  }
  assert.match(
    readFileSync(join(res, "tiny", "accuracy.svg"), "utf8"),
    /^<svg[\s\S]*training minutes[\s\S]*<\/svg>$/,
  );
  assert.match(readFileSync(join(dir, "A", "RESULTS.md"), "utf8"), /## tiny[\s\S]*\| hrm \|/);
  const before = readFileSync(join(res, "tiny", "runs", "hrm-s0", "timing.jsonl"), "utf8");
  const again = hrm("experiment", specFile, ...out("A"), "models=hrm");
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /hrm seed 0: done[\s\S]*hrm seed 1: done/);
  assert.doesNotMatch(again.stdout, /training/);
  const typo = hrm("experiment", specFile, ...out("A"), "model=hrm");
  assert.equal(typo.status, 1);
  assert.match(typo.stderr, /unknown option "model" \(known: models, seeds, out, work\)/);
  assert.equal(readFileSync(join(res, "tiny", "runs", "hrm-s0", "timing.jsonl"), "utf8"), before);
});

test("an experiment killed during training resumes from its checkpoint to the uninterrupted results", async () => {
  const runDir = join(dir, "B", "work", "tiny", "hrm-s0");
  const child = spawn(
    process.execPath,
    [HRM_CLI, "experiment", specFile, ...out("B"), "models=hrm", "seeds=0"],
    {
      stdio: "ignore",
    },
  );
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  while (!(existsSync(join(runDir, "latest")) && latestStep(runDir) >= 14) && child.exitCode === null)
    await new Promise((r) => setTimeout(r, 2));
  child.kill("SIGKILL");
  await exited;
  assert.equal(child.signalCode, "SIGKILL", "the experiment finished before it could be killed");
  assert.ok(latestStep(runDir) < 150);
  const r = hrm("experiment", specFile, ...out("B"), "models=hrm", "seeds=0");
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(records(runDir), records(join(dir, "A", "work", "tiny", "hrm-s0")));
  // The training time goes on from the checkpoint's: one line per step that logged one, never decreasing.
  const timing = readFileSync(join(runDir, "timing.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { step: number; train_s: number });
  timing.forEach((t, i) => {
    if (i === 0) return;
    assert.ok(t.step >= timing[i - 1].step && t.train_s >= timing[i - 1].train_s, JSON.stringify(t));
  });
  const [a, b] = [result("A", "hrm-s0").result, result("B", "hrm-s0").result];
  for (const k of ["steps", "params", "sweep"]) assert.deepEqual(b[k], a[k], k);
  assert.deepEqual((b.fixed as { exact: number }).exact, (a.fixed as { exact: number }).exact);
  // A run is only resumed with the settings it started with.
  mkdirSync(join(dir, "changed"));
  const changed = join(dir, "changed", "tiny.yaml"); // the same experiment name, another lr
  writeFileSync(changed, SPEC.replace("lr=1e-3", "lr=2e-3"));
  const c = hrm(
    "experiment",
    changed,
    `out=${join(dir, "C")}`,
    `work=${join(dir, "B", "work")}`,
    "models=hrm",
  );
  assert.equal(c.status, 1);
  assert.match(c.stderr, /hrm-s0 was started with other settings \(lr=2e-3 lr=1e-3\): delete it/);
});
