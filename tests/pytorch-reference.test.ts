/**
 * bench/pytorch/hrm_step.py, the PyTorch side of `npm run bench -- --only=pytorch`, must compute the official
 * training step: six steps from the tiny-rope fixture's checkpoint and batch, every loss within 1e-4 of the
 * official code's. Runs where a python3 with torch is at hand (HRM_PYTHON, else python3, else
 * /usr/bin/python3, Debian's); skipped elsewhere (CI installs no Python packages: nothing else needs them).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { findPython, SCRIPT } from "../bench/pytorch.js";
import { OFFICIAL_FIXTURES } from "./support/fixtures.js";

test("the PyTorch reference step matches the official training losses (tiny-rope, 6 steps)", (t) => {
  const py = findPython("torch, numpy").python;
  if (!py) return t.skip("no python3 with torch and numpy (HRM_PYTHON)");
  const r = spawnSync(py, [SCRIPT, "--check", `${OFFICIAL_FIXTURES}tiny-rope`], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.filter((l) => l.startsWith("step ")).length, 6 * 4, r.stdout);
  const worst = Number(/largest relative error (\S+)/.exec(lines[lines.length - 1])?.[1]);
  assert.ok(worst < 1e-4, r.stdout);
});
