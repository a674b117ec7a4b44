/**
 * Model pieces beyond fixture parity: config validation, the official init, checkpoint name/shape errors,
 * our safetensors checkpoints, exploration, and memory that does not grow with H_cycles / L_cycles.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { readTorchCheckpoint } from "../src/io/torch.js";
import type { Kernels } from "../src/kernels/api.js";
import { makeNativeBackend } from "../src/kernels/native/index.js";
import { selectKernels } from "../src/kernels/select.js";
import { loadNativeAddon } from "../src/platform/node.js";
import { actForward, initialCarry, qHalts } from "../src/model/act.js";
import { RowBatcher } from "../src/eval/rows.js";
import { solveRows } from "../src/eval/solve.js";
import { decodeModelSafetensors, encodeModelSafetensors, loadStateDict } from "../src/model/checkpoint.js";
import type { HRMConfig } from "../src/model/config.js";
import { derive, makeConfig } from "../src/model/config.js";
import { HRMInner } from "../src/model/inner.js";
import {
  backwardScratchLengths,
  chooseSavedPerBlock,
  defaultSaveBudget,
  modelDims,
  SAVE_RECOMPUTABLE_MAX_BYTES,
  saveCosts,
} from "../src/model/workspace.js";
import { HRMParams } from "../src/model/params.js";
import { TrainStep } from "../src/train/step.js";
import { carvedFloats } from "../src/util/memory.js";
import { Rng } from "../src/util/rng.js";
import { OFFICIAL_FIXTURES } from "./support/fixtures.js";

const ref = selectKernels(null);
const small: Partial<HRMConfig> = {
  hidden_size: 32,
  num_heads: 2,
  H_layers: 1,
  L_layers: 1,
  seq_len: 9,
  vocab_size: 5,
  puzzle_emb_ndim: 32,
  num_puzzle_identifiers: 3,
  halt_max_steps: 4,
  batch_size: 2,
  forward_dtype: "float32",
};

test("config: official derived sizes and clear validation errors", () => {
  const full = makeConfig({});
  assert.deepEqual(derive(full), { headDim: 64, puzzleEmbLen: 1, seqTotal: 82, inter: 1536, interT: 0 });
  assert.equal(derive(makeConfig({ hidden_size: 64, num_heads: 4 })).inter, 256);
  assert.throws(
    () => makeConfig({ hidden_size: 100, num_heads: 8 }),
    /config hidden_size = 100: must be divisible by num_heads \(8\)/,
  );
  assert.throws(() => makeConfig({ H_cycles: 0 }), /config H_cycles = 0: must be at least 1/);
  assert.throws(() => makeConfig({ pos_encodings: "alibi" as never }), /config pos_encodings = "alibi"/);
  assert.throws(() => makeConfig({ L_cycle: 2 } as never), /unknown config key "L_cycle"/);
  assert.throws(
    () => makeConfig({ halt_exploration_prob: 1.5 }),
    /halt_exploration_prob = 1.5: must be in \[0, 1\]/,
  );
  assert.throws(() => makeConfig({ loss_type: "mse" as never }), /config loss_type = "mse"/);
});

test("init: official scheme, deterministic per seed", () => {
  const c = makeConfig({ ...small, hidden_size: 256, num_heads: 4 });
  const a = HRMParams.init(c, 7);
  assert.deepEqual(a.data, HRMParams.init(c, 7).data);
  assert.notDeepEqual(a.data, HRMParams.init(c, 8).data);
  assert.ok(a.get("q_head.weight").every((x) => x === 0));
  assert.ok(a.get("q_head.bias").every((x) => x === -5));
  assert.ok(a.get("puzzle_emb.weights").every((x) => x === 0));
  // Truncated normal with the corrected std: sample std ~= the target, nothing beyond 2 corrected stds.
  const w = a.get("H_level.layers.0.self_attn.qkv_proj.weight");
  const target = 1 / Math.sqrt(256);
  const std = Math.sqrt(w.reduce((s, x) => s + x * x, 0) / w.length);
  assert.ok(Math.abs(std / target - 1) < 0.02, `std ${std} vs ${target}`);
  const bound = 2 * target * 1.1376; // corrected std = std / 0.8796 for the [-2, 2] truncation
  assert.ok(w.every((x) => Math.abs(x) <= bound * 1.001));
  assert.ok(Math.abs(a.get("H_init").reduce((s, x) => s + x * x, 0) / 256 - 1) < 0.25);
});

test("checkpoint errors name the key, both shapes, and the puzzle-count cause", () => {
  const file = join(OFFICIAL_FIXTURES, "tiny-rope/model.pt");
  const sd = readTorchCheckpoint(readFileSync(file), file);
  const base = {
    hidden_size: 64,
    num_heads: 4,
    H_layers: 2,
    L_layers: 2,
    seq_len: 81,
    vocab_size: 11,
    puzzle_emb_ndim: 64,
    expansion: 4,
  };
  const ok = new HRMParams(makeConfig({ ...base, num_puzzle_identifiers: 10 }));
  loadStateDict(ok, sd, "model.pt");
  const wrongPuzzles = new HRMParams(makeConfig({ ...base, num_puzzle_identifiers: 12 }));
  assert.throws(
    () => loadStateDict(wrongPuzzles, sd, "model.pt"),
    /model.pt: _orig_mod.model.inner.puzzle_emb.weights has shape \[10,64\], the config needs \[12,64\] \(the checkpoint has 10 puzzle embeddings, the config 12: the dataset's puzzle count differs/,
  );
  const fewer = new HRMParams(makeConfig({ ...base, num_puzzle_identifiers: 10, H_layers: 1 }));
  assert.throws(
    () => loadStateDict(fewer, sd, "model.pt"),
    /unexpected _orig_mod.model.inner.H_level.layers.1.self_attn.qkv_proj.weight/,
  );
  const partial = new Map([...sd].filter(([k]) => !k.endsWith("lm_head.weight")));
  assert.throws(() => loadStateDict(ok, partial, "model.pt"), /missing lm_head.weight/);
});

test("our safetensors checkpoint round-trips the config and every tensor, and runs the same", () => {
  const c = makeConfig(small);
  const p = HRMParams.init(c, 3);
  const bytes = encodeModelSafetensors(p);
  const back = decodeModelSafetensors(bytes, "ck.safetensors");
  assert.deepEqual(back.config, c);
  assert.deepEqual(back.data, p.data);
  const run = (params: HRMParams) => {
    const inner = new HRMInner(params, ref);
    const carry = initialCarry(inner, 2);
    const batch = {
      inputs: Int32Array.from({ length: 18 }, (_, i) => i % 5),
      labels: new Int32Array(18),
      puzzle_identifiers: Int32Array.of(0, 2),
    };
    return actForward(inner, carry, batch, { training: false }).logits;
  };
  assert.deepEqual(run(back), run(p));
  assert.throws(() => decodeModelSafetensors(bytes.subarray(0, 100), "cut.safetensors"), /cut.safetensors/);
});

test("exploration: no row halts before its drawn minimum, and every row by halt_max_steps", () => {
  const c = makeConfig({ ...small, halt_exploration_prob: 1, halt_max_steps: 6, batch_size: 16 });
  const p = HRMParams.init(c, 1);
  p.get("q_head.bias").set([5, -5]); // q_halt >> q_continue: without exploration every row halts at step 1
  const inner = new HRMInner(p, ref);
  const carry = initialCarry(inner, 16);
  const batch = {
    inputs: new Int32Array(16 * 9),
    labels: new Int32Array(16 * 9),
    puzzle_identifiers: new Int32Array(16),
  };
  const rng = new Rng(11);
  const haltedAt: number[] = new Array(16).fill(0);
  for (let s = 1; s <= 6; s++) {
    actForward(inner, carry, batch, { training: true, rng });
    for (let b = 0; b < 16; b++) if (carry.halted[b] && !haltedAt[b]) haltedAt[b] = s;
    if (s === 1)
      assert.ok(
        [...carry.halted].every((h) => h === 0),
        "minimum steps are >= 2",
      );
  }
  assert.ok(
    haltedAt.every((s) => s >= 2 && s <= 6),
    `halted at ${haltedAt}`,
  );
  assert.ok(new Set(haltedAt).size > 1, "exploration draws differ between rows");
});

/** Bytes of every typed array reachable from an object (the model's buffers). */
function bytesOf(x: unknown, seen = new Set<unknown>()): number {
  if (!x || typeof x !== "object" || seen.has(x)) return 0;
  seen.add(x);
  if (ArrayBuffer.isView(x)) return x.byteLength;
  return Object.values(x).reduce((s: number, v) => s + bytesOf(v, seen), 0);
}

/** A TrainStep with the optimiser settings these tests share (lossScale 0.5: two rows). */
function stepOf(inner: HRMInner, lr: number): TrainStep {
  return new TrainStep(inner, {
    adam: { lr, beta1: 0.9, beta2: 0.95, weightDecay: 0.1 },
    puzzleEmbLr: 1e-2,
    puzzleEmbWeightDecay: 0.1,
    lossScale: 0.5,
  });
}

/** Two rows of the `small` shape (seq_len 9): inputs all 1 unless given, labels all 2 unless given. */
function twoRows(
  inputs = new Int32Array(18).fill(1),
  labels = new Int32Array(18).fill(2),
  ids = Int32Array.of(0, 1),
) {
  return { inputs, labels, puzzle_identifiers: ids };
}

test("training-step memory does not grow with H_cycles or L_cycles (1-step gradient)", () => {
  const sizes = [1, 2, 4, 8].flatMap((h) =>
    [1, 3, 8].map((l) => {
      const c = makeConfig({ ...small, H_cycles: h, L_cycles: l });
      const inner = new HRMInner(HRMParams.init(c, 1), ref);
      const step = stepOf(inner, 1e-4);
      const carry = initialCarry(inner, 2);
      step.run(carry, twoRows(), new Rng(5));
      return bytesOf(inner.workspace(2)) + bytesOf(step.bwd);
    }),
  );
  // sizes[0] is H_cycles = L_cycles = 1: each weight is used once per forward, so there are no pre-packed
  // weight copies (see HRMInner.levels); every other config has the same, fixed set of them.
  assert.ok(
    sizes.slice(1).every((s) => s === sizes[1]) && sizes[0] <= sizes[1],
    `buffer bytes by cycles: ${sizes.join(", ")}`,
  );
});

test("training buffers shared, not copied: the levels' outputs are the carry, temporaries share one region", () => {
  const c = makeConfig({ ...small, H_cycles: 2, L_cycles: 2, H_layers: 2, L_layers: 3 });
  const inner = new HRMInner(HRMParams.init(c, 1), ref);
  const step = stepOf(inner, 1e-4);
  const carry = initialCarry(inner, 2);
  step.run(carry, twoRows(), new Rng(5));
  const ws = inner.workspace(2);
  const TD = 2 * ws.dims.S * ws.dims.D;
  for (const [level, z] of [
    [ws.savedL, carry.zL],
    [ws.savedH, carry.zH],
  ] as const) {
    const outs = level.acts.map((a) => a.out);
    assert.equal(outs[outs.length - 1], z, "the last block's record holds the carry itself");
    for (const o of outs.slice(0, -1)) assert.equal(o.length, TD, "earlier blocks keep their own outputs");
    const overlap = (a: Float32Array, b: Float32Array) =>
      a.buffer === b.buffer &&
      a.byteOffset < b.byteOffset + b.byteLength &&
      b.byteOffset < a.byteOffset + a.byteLength;
    outs.forEach((a, i) =>
      outs.slice(i + 1).forEach((b) => assert.ok(!overlap(a, b), "block outputs overlap")),
    );
  }
  for (const v of [ws.emb, ws.inj, ws.zHNext, ws.zLNext]) {
    assert.equal(v.buffer, ws.region.buffer);
    assert.ok(
      v.byteOffset >= ws.region.byteOffset &&
        v.byteOffset + v.byteLength <= ws.region.byteOffset + ws.region.byteLength,
    );
  }
  // The region is the larger of the two sets it serves, not their sum.
  const lengths = [[TD, TD, TD, TD], backwardScratchLengths(ws.dims, c.vocab_size)];
  assert.equal(ws.region.length, Math.max(...lengths.map(carvedFloats)));
});

// With F <= 3D (the paper's model) the backward's dact borrows the no-grad record's qkv buffer; otherwise it has
// its own. A model padded with zero SwiGLU units computes the same function with the same gradients for the
// shared weights (the padded units' activations and gradients are exactly 0, and ref sums in float64, so the
// zeros change no rounding): F = 768 = 3D (borrowed) must train bit for bit like F = 1024 (own buffer).
test("the backward's borrowed dact buffer (F <= 3D) trains exactly like one of its own", () => {
  const base = { ...small, hidden_size: 256, num_heads: 4, puzzle_emb_ndim: 256, H_layers: 1, L_layers: 2 };
  const narrow = makeConfig({ ...base, expansion: 4.5 });
  const wide = makeConfig({ ...base, expansion: 6 });
  const [F, Fw, D] = [derive(narrow).inter, derive(wide).inter, 256];
  assert.deepEqual([F, Fw], [3 * D, 4 * D]);
  const pn = HRMParams.init(narrow, 3);
  const pw = new HRMParams(wide);
  for (const spec of pn.specs) {
    const src = pn.get(spec.name);
    const dst = pw.get(spec.name);
    if (spec.name.endsWith("gate_up_proj.weight")) {
      dst.set(src.subarray(0, F * D)); // gate rows, then up rows from row Fw
      dst.set(src.subarray(F * D), Fw * D);
    } else if (spec.name.endsWith("down_proj.weight"))
      for (let r = 0; r < D; r++) dst.set(src.subarray(r * F, (r + 1) * F), r * Fw);
    else dst.set(src);
  }
  const train = (params: HRMParams) => {
    const inner = new HRMInner(params, ref);
    inner.saveRecomputableMaxBytes = 0; // as at the paper's batch 32: the backward recomputes into shared buffers
    const step = stepOf(inner, 1e-3);
    const carry = initialCarry(inner, 2);
    const batch = twoRows(
      Int32Array.from({ length: 18 }, (_, i) => 1 + (i % 4)),
      Int32Array.from({ length: 18 }, (_, i) => 1 + ((i * 3) % 4)),
      Int32Array.of(0, 2),
    );
    const rng = new Rng(2);
    for (let s = 0; s < 2; s++) step.run(carry, batch, rng);
    return { inner, carry };
  };
  const a = train(pn);
  const b = train(pw);
  assert.deepEqual(b.carry.zH, a.carry.zH);
  for (const spec of pn.specs) {
    const x = pn.get(spec.name);
    const y = pw.get(spec.name);
    if (spec.name.endsWith("gate_up_proj.weight")) {
      assert.deepEqual(y.subarray(0, F * D), x.subarray(0, F * D), spec.name);
      assert.deepEqual(y.subarray(Fw * D, (Fw + F) * D), x.subarray(F * D), spec.name);
    } else if (spec.name.endsWith("down_proj.weight")) {
      for (let r = 0; r < D; r++)
        assert.deepEqual(y.subarray(r * Fw, r * Fw + F), x.subarray(r * F, (r + 1) * F));
    } else assert.deepEqual(y, x, spec.name);
  }
});

test("a level of 0 layers (z + injection) trains: the backward reads the H output from the carry", () => {
  for (const [H_layers, L_layers] of [
    [0, 1],
    [1, 0],
    [0, 0],
  ]) {
    const inner = new HRMInner(HRMParams.init(makeConfig({ ...small, H_layers, L_layers }), 1), ref);
    const step = stepOf(inner, 1e-3);
    const head = Float32Array.from(inner.params.get("lm_head.weight"));
    step.run(
      initialCarry(inner, 2),
      twoRows(Int32Array.from({ length: 18 }, (_, i) => 1 + (i % 4))),
      new Rng(5),
    );
    const what = `H_layers ${H_layers}, L_layers ${L_layers}`;
    assert.ok(inner.params.data.every(Number.isFinite), what);
    assert.notDeepEqual(inner.params.get("lm_head.weight"), head, what);
  }
});

test("pre-packed level weights (small batches) give exactly the per-call-packed forward, on every backend", () => {
  const addon = loadNativeAddon();
  for (const k of [ref, ...(addon ? [selectKernels(makeNativeBackend(addon))] : [])])
    for (const forward_dtype of ["float32", "bfloat16"] as const) {
      const c = makeConfig({ ...small, H_cycles: 2, L_cycles: 2, forward_dtype });
      const params = HRMParams.init(c, 3);
      const run = (prepack: boolean) => {
        const inner = new HRMInner(params, k);
        if (!prepack) inner.prepackMaxTokens = 0;
        const carry = initialCarry(inner, 3);
        const batch = {
          inputs: Int32Array.from({ length: 27 }, (_, i) => 1 + (i % 4)),
          labels: new Int32Array(27).fill(2),
          puzzle_identifiers: Int32Array.of(0, 1, 0),
        };
        const outs = [1, 2].map(() => actForward(inner, carry, batch, { training: false }).logits);
        return [...outs, carry.zH, carry.zL];
      };
      assert.deepEqual(run(true), run(false), `${k.backendName} ${forward_dtype}`);
    }
});

test("the Q-target forward (qOnly) gives the full forward's Q values bit for bit, from the first rows only", () => {
  const addon = loadNativeAddon();
  for (const k of [ref, ...(addon ? [selectKernels(makeNativeBackend(addon))] : [])])
    for (const forward_dtype of ["float32", "bfloat16"] as const)
      for (const pos_encodings of ["rope", "learned"] as const)
        for (const prepack of [true, false]) {
          const what = `${k.backendName} ${forward_dtype} ${pos_encodings} prepack=${prepack}`;
          const c = makeConfig({
            ...small,
            H_layers: 2,
            H_cycles: 2,
            L_cycles: 2,
            forward_dtype,
            pos_encodings,
          });
          const params = HRMParams.init(c, 5);
          const rows: number[] = []; // T of each SwiGLU product
          const counting = { ...k };
          for (const name of ["linearSwigluForward", "linearSwigluForwardPacked"] as const)
            counting[name] = (...a: Parameters<Kernels[typeof name]>) => {
              rows.push(a[3]);
              (k[name] as (...x: unknown[]) => void)(...a);
            };
          const inner = new HRMInner(params, counting as Kernels);
          if (!prepack) inner.prepackMaxTokens = 0;
          const rng = new Rng(9);
          const carry = initialCarry(inner, 3);
          const batch = {
            inputs: Int32Array.from({ length: 27 }, () => rng.int(1, 5)),
            labels: new Int32Array(27).fill(2),
            puzzle_identifiers: Int32Array.of(0, 1, 2),
          };
          actForward(inner, carry, batch, { training: false }); // a carry that is not the initial one
          const run = (qOnly: boolean) => {
            const [zH, zL] = [carry.zH.slice(), carry.zL.slice()];
            rows.length = 0;
            const out = inner.forward(zH, zL, batch.inputs, batch.puzzle_identifiers, 3, false, qOnly);
            return { out, zH, zL, rows: rows.slice() };
          };
          const [full, q] = [run(false), run(true)];
          assert.deepEqual([q.out.qHalt, q.out.qContinue], [full.out.qHalt, full.out.qContinue], what);
          assert.deepEqual(q.zL, full.zL, what);
          const S = 10 * 32; // seq_len 9 + the puzzle position, hidden 32
          for (let b = 0; b < 3; b++)
            assert.deepEqual(q.zH.subarray(b * S, b * S + 32), full.zH.subarray(b * S, b * S + 32), what);
          assert.equal(q.out.logits.length, 0, what);
          // Only the last block's MLP is on the 3 first rows; every other block runs on all 30.
          assert.deepEqual(full.rows, Array(full.rows.length).fill(30), what);
          assert.deepEqual(q.rows, [...full.rows.slice(0, -1), 3], what);
        }
  assert.throws(() => {
    const inner = new HRMInner(HRMParams.init(makeConfig(small), 1), ref);
    const carry = initialCarry(inner, 2);
    inner.forward(carry.zH, carry.zL, new Int32Array(18), new Int32Array(2), 2, true, true);
  }, /qOnly/);
});

test("inside frozen() weights are pre-packed once at any batch size, with the same bits as packed per call", () => {
  const addon = loadNativeAddon();
  for (const base of [ref, ...(addon ? [selectKernels(makeNativeBackend(addon))] : [])]) {
    const c = makeConfig({ ...small, H_cycles: 2, L_cycles: 2 });
    const params = HRMParams.init(c, 3);
    const run = (maxTokens: number) => {
      let packs = 0;
      const k = {
        ...base,
        packLinear: (...a: Parameters<typeof base.packLinear>) => (packs++, base.packLinear(...a)),
      };
      const inner = new HRMInner(params, k);
      inner.prepackMaxTokens = maxTokens; // 1: the 27-token batch counts as large, 0: never pre-pack
      const carry = initialCarry(inner, 3);
      const batch = {
        inputs: Int32Array.from({ length: 27 }, (_, i) => 1 + ((i * 3) % 4)),
        labels: new Int32Array(27).fill(2),
        puzzle_identifiers: Int32Array.of(0, 1, 0),
      };
      const unfrozen = actForward(inner, carry, batch, { training: false }).logits;
      const packsUnfrozen = packs;
      const frozen = inner.frozen(() =>
        [1, 2, 3].map(() => actForward(inner, carry, batch, { training: false }).logits),
      );
      return {
        outs: [unfrozen, ...frozen, carry.zH, carry.zL],
        packsUnfrozen,
        packsFrozen: packs - packsUnfrozen,
      };
    };
    const large = run(1);
    const never = run(0);
    const weights = 4 * (c.H_layers + c.L_layers);
    assert.equal(
      large.packsUnfrozen,
      0,
      `${base.backendName}: a large batch outside frozen() packs per call`,
    );
    assert.equal(
      large.packsFrozen,
      weights,
      `${base.backendName}: each weight packed once for three forwards`,
    );
    assert.equal(never.packsFrozen, 0, `${base.backendName}: prepackMaxTokens 0 never pre-packs`);
    assert.deepEqual(large.outs, never.outs, base.backendName);
  }
});

test("activations kept for the backward or recomputed in it: the same training, bit for bit, on every backend", () => {
  const addon = loadNativeAddon();
  for (const k of [ref, ...(addon ? [selectKernels(makeNativeBackend(addon))] : [])])
    for (const forward_dtype of ["float32", "bfloat16"] as const)
      for (const pos_encodings of ["rope", "learned"] as const) {
        const c = makeConfig({ ...small, H_cycles: 2, L_cycles: 2, forward_dtype, pos_encodings });
        const run = (maxBytes: number, keepGrads = false) => {
          const inner = new HRMInner(HRMParams.init(c, 4), k);
          inner.saveRecomputableMaxBytes = maxBytes;
          const step = new TrainStep(inner, {
            adam: { lr: 1e-3, beta1: 0.9, beta2: 0.95, weightDecay: 0.1 },
            puzzleEmbLr: 1e-2,
            puzzleEmbWeightDecay: 0.1,
            lossScale: 1 / 3,
            keepGrads,
          });
          const carry = initialCarry(inner, 3);
          const batch = {
            inputs: Int32Array.from({ length: 27 }, (_, i) => 1 + (i % 4)),
            labels: Int32Array.from({ length: 27 }, (_, i) => 1 + ((i * 7) % 4)),
            puzzle_identifiers: Int32Array.of(0, 1, 2),
          };
          const rng = new Rng(9);
          for (let s = 0; s < 3; s++) step.run(carry, batch, rng);
          const saved = inner.workspace(3).savedL.acts[0].saved;
          return { saved, params: inner.params.data, m: step.adam.m, v: step.adam.v, zH: carry.zH };
        };
        const costs = saveCosts(modelDims(c, 3));
        const budgets = [Infinity, 0, 2 * costs.gu, 2 * costs.attention, 2 * (costs.gu + costs.attention)];
        const runs = budgets.map((b) => run(b));
        const what = `${k.backendName} ${forward_dtype} ${pos_encodings}`;
        assert.deepEqual(
          runs.map((r) => r.saved),
          [
            { gu: true, attention: true, act: true },
            { gu: false, attention: false, act: false },
            { gu: true, attention: false, act: false },
            { gu: false, attention: true, act: false },
            { gu: true, attention: true, act: false },
          ],
          what,
        );
        // The optimiser applied per tensor during the backward (default) or after it (keepGrads): same bits.
        runs.push(run(Infinity, true));
        for (const r of runs.slice(1)) {
          assert.deepEqual(r.params, runs[0].params, what);
          assert.deepEqual([r.m, r.v], [runs[0].m, runs[0].v], what);
          assert.deepEqual(r.zH, runs[0].zH, what);
        }
      }
  // The default budget: the paper's model keeps everything at batch 8, only gate_up's output at batch 32 (which
  // keeps that training step under 1 GB), nothing at the ARC shape.
  const paper = makeConfig({
    hidden_size: 512,
    num_heads: 8,
    H_layers: 4,
    L_layers: 4,
    seq_len: 81,
    vocab_size: 11,
    puzzle_emb_ndim: 512,
    num_puzzle_identifiers: 1,
  });
  const arc = makeConfig({ ...paper, seq_len: 900, vocab_size: 12 });
  const choose = (cfg: HRMConfig, B: number) =>
    chooseSavedPerBlock(modelDims(cfg, B), 8, SAVE_RECOMPUTABLE_MAX_BYTES);
  assert.deepEqual(choose(paper, 8), Array(8).fill({ gu: true, attention: true, act: true }));
  assert.deepEqual(choose(paper, 32), Array(8).fill({ gu: true, attention: false, act: false }));
  const arcChoice = choose(arc, 4);
  assert.equal(arcChoice.filter((c) => c.gu).length, 6, "ARC at batch 4: gate_up's output in 6 of 8 records");
  assert.ok(arcChoice.every((c) => !c.attention && !c.act));
});

test("frozen(): packed weights reused while frozen, repacked after it, so a weight change is never missed", () => {
  const addon = loadNativeAddon();
  const k = addon ? selectKernels(makeNativeBackend(addon)) : ref;
  const c = makeConfig({ ...small, H_cycles: 2, L_cycles: 2 });
  const params = HRMParams.init(c, 4);
  const batch = {
    inputs: Int32Array.from({ length: 18 }, (_, i) => 1 + (i % 4)),
    labels: new Int32Array(18).fill(2),
    puzzle_identifiers: Int32Array.of(0, 1),
  };
  const segments = (inner: HRMInner) => {
    const carry = initialCarry(inner, 2);
    return [1, 2, 3].map(() => actForward(inner, carry, batch, { training: false }).logits);
  };
  const inner = new HRMInner(params, k);
  const plain = segments(inner);
  assert.deepEqual(
    inner.frozen(() => segments(inner)),
    plain,
  );
  // Change a weight after a frozen run (as training does between evaluations): the next forward must see it.
  inner.frozen(() => segments(inner));
  params.get("L_level.layers.0.mlp.down_proj.weight").fill(0.01);
  const fresh = segments(new HRMInner(params, k));
  assert.notDeepEqual(fresh, plain);
  assert.deepEqual(segments(inner), fresh);
});

test("TRM: records keep activations block by block within the budget; any split trains to the same bits", () => {
  const paper = makeConfig({ architecture: "trm", seq_len: 81, vocab_size: 11, num_puzzle_identifiers: 1 });
  const d = modelDims(paper, 32);
  const choices = chooseSavedPerBlock(d, 14, defaultSaveBudget(paper));
  assert.equal(defaultSaveBudget(paper), 448 * 2 ** 20);
  assert.equal(choices.filter((c) => c.gu).length, 12, "gate_up's output kept in 12 of 14 records");
  assert.ok(choices.every((c) => !c.attention && !c.act));
  const hrm = makeConfig({
    hidden_size: 512,
    num_heads: 8,
    seq_len: 81,
    vocab_size: 11,
    num_puzzle_identifiers: 1,
  });
  assert.deepEqual(
    chooseSavedPerBlock(modelDims(hrm, 32), 8, SAVE_RECOMPUTABLE_MAX_BYTES),
    Array(8).fill({ gu: true, attention: false, act: false }),
  );
  for (const mlp_t of [false, true]) {
    const c = makeConfig({
      architecture: "trm",
      ...small,
      H_layers: 0,
      L_layers: 2,
      H_cycles: 2,
      L_cycles: 2,
      puzzle_emb_len: 1,
      mlp_t,
      pos_encodings: mlp_t ? "none" : "rope",
    });
    const costs = saveCosts(modelDims(c, 2));
    const run = (maxBytes: number) => {
      const inner = new HRMInner(HRMParams.init(c, 4), ref);
      inner.saveRecomputableMaxBytes = maxBytes;
      const step = stepOf(inner, 1e-3);
      const carry = initialCarry(inner, 2);
      const rng = new Rng(9);
      for (let s = 0; s < 3; s++) step.run(carry, twoRows(), rng);
      return {
        params: inner.params.data,
        kept: inner.workspace(2).savedT.flatMap((l) => l.acts.map((a) => a.saved!.gu)),
      };
    };
    const all = run(Infinity);
    const some = run(3 * costs.gu + costs.act);
    assert.deepEqual(some.kept, [true, true, true, false, false, false]);
    for (const r of [some, run(0)]) assert.deepEqual(r.params, all.params, `mlp_t ${mlp_t}`);
  }
});

test("adaptive halting follows the architecture's rule: TRM (no_ACT_continue) stops at q_halt > 0, HRM at q_halt > q_continue", () => {
  for (const no_ACT_continue of [true, false]) {
    const c = makeConfig({
      architecture: "trm",
      ...small,
      H_layers: 0,
      L_layers: 1,
      puzzle_emb_len: 1,
      halt_max_steps: 4,
      no_ACT_continue,
    });
    const params = HRMParams.init(c, 2);
    params.get("q_head.weight").fill(0);
    params.get("q_head.bias").set([1, 5]); // q_halt = 1 > 0, but below q_continue = 5
    const inner = new HRMInner(params, ref);
    const inputs = new Int32Array(2 * c.seq_len).fill(1);
    const ids = Int32Array.of(0, 1);
    const r = solveRows(inner, inputs, ids, { maxSteps: 4, adaptive: true });
    assert.deepEqual([...r.steps], no_ACT_continue ? [1, 1] : [4, 4]);
    const rows = new RowBatcher(inner, 2, { sizes: "fixed" });
    rows.add({ tokens: inputs.subarray(0, c.seq_len), puzzleId: 0, maxSteps: 4, adaptive: true });
    assert.equal(rows.step().length, no_ACT_continue ? 1 : 0, "the row stops after its first segment");
    assert.equal(qHalts(c, 1, 5), no_ACT_continue);
  }
});
