/**
 * forward_dtype=bfloat16 (matmul inputs rounded to bfloat16, float32 accumulation, everything else float32):
 * - on the bf16-buffers fixture, the logits stay as close to the float32 reference as the official model
 *   running natively in bfloat16 does (the fixture's eval_bf16_native/, measured here per segment), and
 *   bfloat16 really is in effect (the outputs differ from float32);
 * - a short training run learns as well as the same run in float32, within the seed-to-seed spread.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import type { SelectedKernels } from "../src/kernels/api.js";
import { makeNativeBackend } from "../src/kernels/native/index.js";
import { selectKernels } from "../src/kernels/select.js";
import { actForward, initialCarry } from "../src/model/act.js";
import { HRMInner } from "../src/model/inner.js";
import { loadNativeAddon } from "../src/platform/node.js";
import { Fixture, OFFICIAL_FIXTURES } from "./support/fixtures.js";
import { tinySudokuRun } from "./support/tiny-train.js";

const addon = loadNativeAddon();
const backends: SelectedKernels[] = [selectKernels(null)];
if (addon) backends.push(selectKernels(makeNativeBackend(addon)));

/** ||a - b|| / ||b|| and the fraction of rows of width V whose argmax agrees. */
function spread(a: Float32Array, b: Float32Array, V: number) {
  let num = 0,
    den = 0,
    agree = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  const argmax = (x: Float32Array, r: number) => {
    let best = 0;
    for (let v = 1; v < V; v++) if (x[r * V + v] > x[r * V + best]) best = v;
    return best;
  };
  for (let r = 0; r < a.length / V; r++) agree += argmax(a, r) === argmax(b, r) ? 1 : 0;
  return { rel: Math.sqrt(num / den), agree: agree / (a.length / V) };
}

const fx = new Fixture(join(OFFICIAL_FIXTURES, "bf16-buffers"));
const c = fx.config;
const batch = fx.batch();
const B = batch.puzzle_identifiers.length;
const ref32 = fx.f32("eval/logits.npy");
const native16 = fx.f32("eval_bf16_native/logits.npy");

for (const k of backends)
  test(`bf16-buffers: bfloat16 logits within the official bfloat16 spread (${k.backendName})`, () => {
    const inner = new HRMInner(fx.params("model.pt", { forward_dtype: "bfloat16" }), k);
    const carry = initialCarry(inner, B);
    const n = B * c.seq_len * c.vocab_size;
    for (let s = 0; s < c.halt_max_steps; s++) {
      const out = actForward(inner, carry, batch, { training: false });
      const want = ref32.subarray(s * n, (s + 1) * n);
      const ours = spread(out.logits, want, c.vocab_size);
      const official = spread(native16.subarray(s * n, (s + 1) * n), want, c.vocab_size);
      const what = `segment ${s + 1}: ours rel ${ours.rel.toExponential(2)} agree ${ours.agree.toFixed(3)}; official bf16 rel ${official.rel.toExponential(2)} agree ${official.agree.toFixed(3)}`;
      // bfloat16 is in effect: float32 runs of this model match the reference to ~1e-6 (model-fixtures).
      if (process.env.HRM_TEST_VERBOSE) console.log(what);
      assert.ok(ours.rel > 1e-4, `${what}: no bfloat16 rounding visible`);
      // The README puts native bfloat16 at ~2-5% relative difference; measured here it is 1.0-3.1% by segment.
      // Ours keeps activations in float32, so it lands at or below that (margin: summation order differs
      // between CPUs with and without the bfloat16 dot product, and the recurrence amplifies it).
      assert.ok(ours.rel <= Math.min(0.05, 1.25 * official.rel), `${what}: outside the bfloat16 spread`);
      assert.ok(
        ours.agree >= official.agree - 0.01,
        `${what}: fewer argmax agreements than official bfloat16`,
      );
    }
  });

test(
  "bfloat16 training learns as well as float32 (4x4 Sudoku, 625 steps, 2 seeds each)",
  { skip: addon || process.env.CI ? false : "native addon not built (ref would take minutes)" },
  () => {
    const k = backends[backends.length - 1];
    const run = (forward_dtype: "float32" | "bfloat16", seed: number) =>
      tinySudokuRun(k, { forward_dtype }, { seed, epochs: 20, trainCount: 1000, clues: 9, lr: 5e-3 });
    const f32 = [run("float32", 0), run("float32", 1)].map((r) => r.accuracy);
    const b16 = [run("bfloat16", 0), run("bfloat16", 1)].map((r) => r.accuracy);
    const mean = (x: number[]) => (x[0] + x[1]) / 2;
    const what = `token accuracy float32 ${f32.map((a) => a.toFixed(3))}, bfloat16 ${b16.map((a) => a.toFixed(3))}`;
    // The givens alone score 9/16 = 0.5625; both must clearly learn beyond them.
    for (const a of [...f32, ...b16]) assert.ok(a > 0.7, `${what}: a run did not learn`);
    const noise = Math.max(0.03, 3 * Math.abs(f32[0] - f32[1]));
    assert.ok(Math.abs(mean(b16) - mean(f32)) <= noise, `${what}: differs by more than ${noise.toFixed(3)}`);
  },
);
