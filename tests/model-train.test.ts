/**
 * Training parity with the official code on every fixture folder with a train/ directory, ref and native:
 * step-1 logits, every parameter gradient (and the per-row puzzle-embedding gradient), the parameters after
 * the first optimiser step, and six consecutive steps of losses, Q values, targets, halting and metrics.
 * Tolerances (fixture README): grads atol 1e-5 * max|g|; after step 1, elements whose reference gradient is
 * below 1e-5 * max|g| are masked (AdamATan2's first step is ~lr * sign(g), so a tiny g may flip).
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { test } from "node:test";
import type { SelectedKernels } from "../src/kernels/api.js";
import { makeNativeBackend } from "../src/kernels/native/index.js";
import { selectKernels } from "../src/kernels/select.js";
import type { Batch } from "../src/model/act.js";
import { initialCarry } from "../src/model/act.js";
import { canonicalName } from "../src/model/checkpoint.js";
import { HRMInner } from "../src/model/inner.js";
import { loadNativeAddon } from "../src/platform/node.js";
import { TrainStep } from "../src/train/step.js";
import { compare } from "./helpers.js";
import { Fixture, fixtureDirs } from "./support/fixtures.js";

const addon = loadNativeAddon();
const backends: SelectedKernels[] = [selectKernels(null)];
if (addon) backends.push(selectKernels(makeNativeBackend(addon)));

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function closeNum(got: number, want: number, what: string, rtol = 1e-5): void {
  assert.ok(Math.abs(got - want) <= rtol * Math.abs(want) + 1e-6, `${what}: got ${got}, want ${want}`);
}

for (const dir of fixtureDirs()) {
  const fx = new Fixture(dir);
  if (!fx.has("train/losses.npy")) continue;
  const name = basename(dir);
  const opt = fx.raw.optimizer as {
    adam_atan2: { lr: number; betas: [number, number]; weight_decay: number };
    sparse_signsgd?: { lr: number; weight_decay: number };
  };
  const batch: Batch = {
    inputs: fx.i32("batch/inputs.npy"),
    labels: fx.i32("batch/labels.npy"),
    puzzle_identifiers: fx.i32("batch/puzzle_identifiers.npy"),
  };
  const B = batch.puzzle_identifiers.length;
  for (const k of backends)
    test(`${name}: training steps match official (${k.backendName})`, () => {
      const inner = new HRMInner(fx.params(), k);
      const step = new TrainStep(inner, {
        adam: {
          lr: opt.adam_atan2.lr,
          beta1: opt.adam_atan2.betas[0],
          beta2: opt.adam_atan2.betas[1],
          weightDecay: opt.adam_atan2.weight_decay,
        },
        puzzleEmbLr: opt.sparse_signsgd?.lr ?? 0,
        puzzleEmbWeightDecay: opt.sparse_signsgd?.weight_decay ?? 0,
        lossScale: 1 / B,
        keepGrads: true, // the gradients are compared below
      });
      const carry = initialCarry(inner, B);
      const losses = fx.npy("train/losses.npy").data as Float64Array;
      const metrics = fx.json("train/metrics.json").per_step as Record<string, { value: number }>[];
      const nSteps = losses.length / 4;
      for (let t = 0; t < nSteps; t++) {
        const what = `step ${t + 1}`;
        const before = t === 0 ? inner.params.data.slice() : null;
        const { out, loss } = step.run(carry, batch);
        if (t === 0) {
          let r = compare(out.logits, fx.f32("train/step1_logits.npy"), 1e-4, 1e-4);
          assert.ok(r.ok, `step-1 logits: ${r.report}`);
          const gradFiles = readdirSync(join(dir, "train/grads")).filter((f) => f.endsWith(".npy"));
          assert.ok(gradFiles.length >= inner.params.specs.filter((s) => s.kind === "param").length);
          const refGrads = new Map<string, Float32Array>();
          for (const f of gradFiles) {
            const key = canonicalName(f.slice(0, -4));
            const want = fx.f32(`train/grads/${f}`);
            refGrads.set(key, want);
            const got = key === "puzzle_emb.local_weights" ? step.bwd.puzzleGrad : step.bwd.grads.get(key);
            r = compare(got, want, 1e-5 * maxAbs(want) + 1e-12, 0);
            assert.ok(r.ok, `grad ${key}: ${r.report}`);
          }
          for (const s of inner.params.specs) {
            const file = `train/after_step1/_orig_mod.model.inner.${s.name}.npy`;
            if (!fx.has(file)) continue;
            const want = fx.f32(file);
            const got = inner.params.get(s.name);
            const g = s.kind === "sparse" ? null : refGrads.get(s.name);
            const tiny = g ? 1e-5 * maxAbs(g) : 0;
            let bad = 0;
            for (let i = 0; i < want.length; i++) {
              if (g && Math.abs(g[i]) < tiny) continue; // may legitimately flip by 2*lr
              if (!(Math.abs(got[i] - want[i]) <= 2e-6 + 1e-5 * Math.abs(want[i]))) bad++;
            }
            assert.equal(bad, 0, `${s.name} after step 1: ${bad} elements differ`);
          }
          assert.ok(
            before!.some((x, i) => x !== inner.params.data[i]),
            "step 1 changed the parameters",
          );
        }
        const [lm, qh, qc, total] = losses.subarray(t * 4, t * 4 + 4);
        closeNum(loss.metrics.lm_loss, lm, `${what} lm_loss`);
        closeNum(loss.metrics.q_halt_loss, qh, `${what} q_halt_loss`);
        closeNum(loss.metrics.q_continue_loss!, qc, `${what} q_continue_loss`, 1e-4);
        closeNum(loss.total, total, `${what} total`);
        const seg = <T extends Float32Array | Int32Array | Uint8Array>(a: T) =>
          a.subarray(t * B, (t + 1) * B);
        let r = compare(out.qHalt, seg(fx.f32("train/q_halt_logits.npy")), 1e-4, 1e-4);
        assert.ok(r.ok, `${what} q_halt: ${r.report}`);
        r = compare(out.qContinue, seg(fx.f32("train/q_continue_logits.npy")), 1e-4, 1e-4);
        assert.ok(r.ok, `${what} q_continue: ${r.report}`);
        r = compare(out.targetQContinue!, seg(fx.f32("train/target_q_continue.npy")), 1e-5, 1e-4);
        assert.ok(r.ok, `${what} target: ${r.report}`);
        assert.deepEqual(
          [...carry.halted],
          [...seg(fx.npy("train/halted.npy").data as Uint8Array)],
          `${what} halted`,
        );
        assert.deepEqual([...carry.steps], [...seg(fx.i32("train/steps.npy"))], `${what} steps`);
        for (const key of ["count", "exact_accuracy", "q_halt_accuracy", "steps"] as const)
          assert.equal(loss.metrics[key], metrics[t][key].value, `${what} ${key}`);
      }
    });
}
