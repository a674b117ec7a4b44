/**
 * Parity with the official PyTorch code on every fixture folder (see support/fixtures.ts), through the ref,
 * native and WASM backends: input embeddings, RoPE tables, eval outputs for every ACT segment (logits, q
 * values, z_H, z_L, halted, steps, loss, metrics) and the training-mode rollout (halting, Q targets,
 * current_data replacement, losses, metrics). Tolerances from the fixture READMEs: recomputing the fixtures
 * in float64 moved logits/z by <= 3e-6 (<= 5e-5 for 6 segments), so logits/z atol 1e-4, losses rtol 1e-5.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { test } from "node:test";
import type { SelectedKernels } from "../src/kernels/api.js";
import { makeNativeBackend } from "../src/kernels/native/index.js";
import { selectKernels } from "../src/kernels/select.js";
import type { Batch } from "../src/model/act.js";
import { actForward, initialCarry } from "../src/model/act.js";
import { HRMInner } from "../src/model/inner.js";
import { actLoss } from "../src/model/loss.js";
import { loadNativeAddon } from "../src/platform/node.js";
import { loadWasmBackendSync } from "../src/platform/wasm-node.js";
import { compare } from "./helpers.js";
import { Fixture, fixtureDirs } from "./support/fixtures.js";

const Z_TOL = { atol: 1e-4, rtol: 1e-4 };
const LOSS_RTOL = 1e-5;

const addon = loadNativeAddon();
const backends: SelectedKernels[] = [selectKernels(null)];
if (addon) backends.push(selectKernels(makeNativeBackend(addon)));
else if (process.env.CI) throw new Error("CI needs the native addon for the fixture tests");
// The WASM build of the same C kernels, with its worker pool (2 threads), holds the same tolerances.
backends.push(selectKernels(loadWasmBackendSync({ threads: 2 })));

function close(got: ArrayLike<number>, want: ArrayLike<number>, what: string, tol = Z_TOL): void {
  const r = compare(got, want, tol.atol, tol.rtol);
  assert.ok(r.ok, `${what}: ${r.report}`);
}

function closeNum(got: number, want: number, what: string, rtol = LOSS_RTOL): void {
  assert.ok(Math.abs(got - want) <= rtol * Math.abs(want) + 1e-6, `${what}: got ${got}, want ${want}`);
}

/** Segment i of a [segments, ...] array. */
function seg(a: Float32Array | Int32Array | Uint8Array, i: number, n: number) {
  return a.subarray(i * n, (i + 1) * n);
}

function checkMetrics(
  got: Record<string, number | undefined>,
  want: Record<string, { value: number }>,
  what: string,
) {
  for (const [k, v] of Object.entries(want)) {
    const g = got[k];
    assert.ok(g !== undefined, `${what}: metric ${k} missing`);
    if (["count", "exact_accuracy", "q_halt_accuracy", "steps"].includes(k))
      assert.equal(g, v.value, `${what}: ${k}`);
    else closeNum(g, v.value, `${what}: ${k}`, 1e-4);
  }
}

for (const dir of fixtureDirs()) {
  const fx = new Fixture(dir);
  const name = basename(dir);
  const c = fx.config;
  const batch = fx.batch();
  const B = batch.puzzle_identifiers.length;
  for (const k of backends) {
    for (const ckpt of fx.checkpoints()) {
      test(`${name}: eval segments match official (${k.backendName}, ${ckpt})`, () => {
        const inner = new HRMInner(fx.params(ckpt), k);
        const S = inner.derived.seqTotal;
        const D = c.hidden_size;
        if (fx.has("rope_cos.npy") && inner.rope) {
          close(inner.rope.cos, fx.f32("rope_cos.npy"), "rope cos", { atol: 1e-6, rtol: 0 });
          close(inner.rope.sin, fx.f32("rope_sin.npy"), "rope sin", { atol: 1e-6, rtol: 0 });
        }
        const emb = new Float32Array(B * S * D);
        inner.inputEmbeddings(emb, batch.inputs, batch.puzzle_identifiers, B);
        close(emb, fx.f32("eval/input_embeddings.npy"), "input embeddings", { atol: 1e-5, rtol: 1e-5 });
        const carry = initialCarry(inner, B);
        const want = {
          logits: fx.f32("eval/logits.npy"),
          qh: fx.f32("eval/q_halt_logits.npy"),
          qc: fx.f32("eval/q_continue_logits.npy"),
          zH: fx.f32("eval/z_H.npy"),
          zL: fx.f32("eval/z_L.npy"),
          halted: fx.npy("eval/halted.npy").data as Uint8Array,
          steps: fx.i32("eval/steps.npy"),
          loss: fx.npy("eval/loss.npy").data as Float64Array,
          metrics: fx.json("eval/metrics.json").per_segment as Record<string, { value: number }>[],
        };
        for (let s = 0; s < c.halt_max_steps; s++) {
          const out = actForward(inner, carry, batch, { training: false });
          const what = `segment ${s + 1}`;
          close(out.logits, seg(want.logits, s, out.logits.length), `${what} logits`);
          close(out.qHalt, seg(want.qh, s, B), `${what} q_halt`);
          close(out.qContinue, seg(want.qc, s, B), `${what} q_continue`);
          close(carry.zH, seg(want.zH, s, carry.zH.length), `${what} z_H`);
          close(carry.zL, seg(want.zL, s, carry.zL.length), `${what} z_L`);
          assert.deepEqual([...carry.halted], [...seg(want.halted, s, B)], `${what} halted`);
          assert.deepEqual([...carry.steps], [...seg(want.steps, s, B)], `${what} steps`);
          const loss = actLoss(k, c, carry, out);
          closeNum(loss.total, want.loss[s], `${what} loss`);
          checkMetrics(loss.metrics as unknown as Record<string, number>, want.metrics[s], what);
        }
      });
    }

    if (fx.has("rollout/logits.npy"))
      test(`${name}: training-mode rollout matches official (${k.backendName})`, () => {
        const inner = new HRMInner(fx.params(), k);
        const carry = initialCarry(inner, B);
        const L = c.seq_len;
        const bi = fx.i32("rollout/batch_inputs.npy");
        const bl = fx.i32("rollout/batch_labels.npy");
        const bp = fx.i32("rollout/batch_puzzle_identifiers.npy");
        const logits = fx.f32("rollout/logits.npy");
        const losses = fx.npy("rollout/losses.npy").data as Float64Array;
        const metrics = fx.json("rollout/metrics.json").per_step as Record<string, { value: number }>[];
        const steps = bp.length / B;
        for (let t = 0; t < steps; t++) {
          const b: Batch = {
            inputs: seg(bi, t, B * L) as Int32Array,
            labels: seg(bl, t, B * L) as Int32Array,
            puzzle_identifiers: seg(bp, t, B) as Int32Array,
          };
          const out = actForward(inner, carry, b, { training: true });
          const what = `rollout step ${t + 1}`;
          assert.deepEqual(
            [...carry.current.inputs],
            [...seg(fx.i32("rollout/current_data_inputs.npy"), t, B * L)],
            `${what} current inputs`,
          );
          assert.deepEqual(
            [...carry.current.labels],
            [...seg(fx.i32("rollout/current_data_labels.npy"), t, B * L)],
            `${what} current labels`,
          );
          assert.deepEqual(
            [...carry.current.puzzle_identifiers],
            [...seg(fx.i32("rollout/current_data_puzzle_identifiers.npy"), t, B)],
            `${what} current ids`,
          );
          close(out.logits, seg(logits, t, out.logits.length), `${what} logits`);
          close(out.qHalt, seg(fx.f32("rollout/q_halt_logits.npy"), t, B), `${what} q_halt`);
          close(out.qContinue, seg(fx.f32("rollout/q_continue_logits.npy"), t, B), `${what} q_continue`);
          close(
            out.targetQContinue!,
            seg(fx.f32("rollout/target_q_continue.npy"), t, B),
            `${what} target_q_continue`,
            { atol: 1e-5, rtol: 1e-4 },
          );
          assert.deepEqual(
            [...carry.halted],
            [...seg(fx.npy("rollout/halted.npy").data as Uint8Array, t, B)],
            `${what} halted`,
          );
          assert.deepEqual([...carry.steps], [...seg(fx.i32("rollout/steps.npy"), t, B)], `${what} steps`);
          const loss = actLoss(k, c, carry, out);
          const [lm, qh, qc, total] = losses.subarray(t * 4, t * 4 + 4);
          closeNum(loss.metrics.lm_loss, lm, `${what} lm_loss`);
          closeNum(loss.metrics.q_halt_loss, qh, `${what} q_halt_loss`);
          closeNum(loss.metrics.q_continue_loss!, qc, `${what} q_continue_loss`, 1e-4);
          closeNum(loss.total, total, `${what} total loss`);
          checkMetrics(loss.metrics as unknown as Record<string, number>, metrics[t], what);
        }
      });
  }
}

test("fixture discovery finds the official folders and those under $HRM_FIXTURES", () => {
  const names = fixtureDirs().map((d) => basename(d));
  for (const n of ["tiny-rope", "tiny-learned", "bf16-buffers", "tiny-rope-pureinit"])
    assert.ok(names.includes(n), `missing ${n}`);
  const extra = mkdtempSync(join(tmpdir(), "hrm-fixtures-"));
  const saved = process.env.HRM_FIXTURES;
  try {
    symlinkSync(join(dirname(fixtureDirs()[0]), "tiny-rope"), join(extra, "my-new-case"));
    mkdirSync(join(extra, "not-a-fixture")); // no config.json / model.pt: ignored
    process.env.HRM_FIXTURES = extra;
    const found = fixtureDirs();
    assert.ok(found.includes(join(extra, "my-new-case")));
    assert.ok(!found.some((d) => d.endsWith("not-a-fixture")));
    process.env.HRM_FIXTURES = join(extra, "missing");
    assert.throws(() => fixtureDirs(), /fixture root .*missing does not exist/);
  } finally {
    if (saved === undefined) delete process.env.HRM_FIXTURES;
    else process.env.HRM_FIXTURES = saved;
    rmSync(extra, { recursive: true, force: true });
  }
});
