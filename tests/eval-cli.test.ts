/**
 * `hrm eval` on an official .pt checkpoint (tiny-rope fixture) over a dataset holding the fixture's batch: its
 * printed metrics equal the library's evaluate() on the same data (whose parity with the official metrics is
 * tested in model-fixtures). The fixture's labels can be token 0, which the on-disk format reads as "ignore",
 * so the official numbers themselves are not the reference here. sweep_steps at halt_max_steps equals a
 * plain evaluation.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { SetBuilder } from "../src/data/format.js";
import { selectKernels } from "../src/kernels/select.js";
import { HRMInner } from "../src/model/inner.js";
import { evaluate } from "../src/eval/evaluate.js";
import { writeSplit } from "../src/platform/files.js";
import { Fixture, OFFICIAL_FIXTURES } from "./support/fixtures.js";

const HRM = fileURLToPath(new URL("../cli/hrm.js", import.meta.url));

function metricsOf(stdout: string): Record<string, number> {
  return Object.fromEntries(
    [...stdout.matchAll(/^\s+(\S+)\s+(-?[\d.]+)$/gm)].map((m) => [m[1], Number(m[2])]),
  );
}

test("hrm eval on an official .pt equals the library evaluation; sweep agrees; mismatched arch is a clear error", () => {
  const fx = new Fixture(join(OFFICIAL_FIXTURES, "tiny-rope"));
  const dir = mkdtempSync(join(tmpdir(), "hrm-eval-"));
  try {
    const inputs = fx.i32("batch/inputs.npy");
    const labels = fx.i32("batch/labels.npy");
    const ids = fx.i32("batch/puzzle_identifiers.npy");
    const b = new SetBuilder(81);
    for (let r = 0; r < 4; r++) {
      const y = Array.from(labels.subarray(r * 81, (r + 1) * 81), (t) => (t === -100 ? 0 : t)); // on disk: ignore = 0
      b.addExample(inputs.subarray(r * 81, (r + 1) * 81), y);
      b.endPuzzle(ids[r]);
      b.endGroup();
    }
    const meta = {
      pad_id: 0,
      ignore_label_id: 0,
      blank_identifier_id: 0,
      vocab_size: 11,
      seq_len: 81,
      num_puzzle_identifiers: 10,
      total_groups: 4,
      mean_puzzle_examples: 1,
      sets: ["all"],
    };
    writeSplit(dir, "test", { metadata: meta, sets: new Map([["all", b.build()]]) });
    const arch = [
      "arch.hidden_size=64",
      "arch.num_heads=4",
      "arch.H_layers=2",
      "arch.L_layers=2",
      "arch.puzzle_emb_ndim=64",
      "arch.halt_max_steps=4",
      "arch.forward_dtype=float32",
    ];
    const common = [
      `checkpoint=${join(fx.dir, "model.pt")}`,
      `data_path=${dir}`,
      "global_batch_size=4",
      `output_dir=${join(dir, "eval")}`,
      ...arch,
    ];
    const r = spawnSync(process.execPath, [HRM, "eval", ...common], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const got = metricsOf(r.stdout);
    const want = evaluate(new HRMInner(fx.params(), selectKernels(null)), b.build(), meta, 4);
    for (const k of ["accuracy", "exact_accuracy", "q_halt_accuracy", "steps", "lm_loss", "q_halt_loss"])
      assert.ok(
        Math.abs(got[`all/${k}`] - want[`all/${k}`]) < 2e-4,
        `all/${k}: ${got[`all/${k}`]} vs ${want[`all/${k}`]}`,
      );
    assert.equal(got["all/steps"], 4);
    const sweep = spawnSync(process.execPath, [HRM, "eval", ...common, "sweep_steps=1,4,6"], {
      encoding: "utf8",
    });
    assert.equal(sweep.status, 0, sweep.stderr);
    const s = metricsOf(sweep.stdout);
    for (const k of ["accuracy", "exact_accuracy", "lm_loss"])
      assert.ok(Math.abs(s[`all/${k}@4`] - got[`all/${k}`]) < 1e-4, `sweep ${k}@4`);
    assert.equal(s["all/steps@6"], 6, "a limit beyond halt_max_steps keeps thinking");
    const bad = spawnSync(process.execPath, [HRM, "eval", ...common.slice(0, 3)], { encoding: "utf8" });
    assert.match(
      bad.stderr,
      /model.pt: _orig_mod.model.inner.H_init has shape \[64\], the config needs \[512\]/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
