/**
 * Conformance: every native kernel against ref (see conformance-cases.ts for shapes and tolerances). Inputs
 * are fresh each run (the seed is printed, and HRM_TEST_SEED replays it). Also: bad calls throw instead of
 * touching memory, and results do not depend on the thread count.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import type { Backend, Kernels } from "../src/kernels/api.js";
import { KERNEL_NAMES } from "../src/kernels/api.js";
import { makeNativeBackend } from "../src/kernels/native/index.js";
import { refKernels as ref } from "../src/kernels/ref/index.js";
import { loadNativeAddon } from "../src/platform/node.js";
import { loadWasmBackendSync } from "../src/platform/wasm-node.js";
import { relaxedSimdSupported } from "../src/kernels/wasm/index.js";
import {
  allCases,
  cloneArgs,
  extremeSwigluFailures,
  gemmCases,
  SWIGLU_LINEAR_SHAPES,
} from "./conformance-cases.js";
import { compare, randn, Rng } from "./helpers.js";

const addon = loadNativeAddon();
const SEED = Number(process.env.HRM_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
// In CI the addon must have built: a silent fallback to ref would make this whole file vacuous.
const skip = addon ? false : process.env.CI ? false : "native addon not built (npm run build:native)";

// Every fast backend runs the same checks: native, and the WASM build of the same C at 1 and 2 threads (with
// relaxed SIMD where this engine has it; a second process runs them with it, see the end of this file).
// HRM_CONFORMANCE=wasm runs the WASM subjects only.
const onlyWasm = process.env.HRM_CONFORMANCE === "wasm";
const subjects: { label: string; k: Backend; skip: string | false }[] = [];
if (!onlyWasm) subjects.push({ label: "native", k: (addon ? makeNativeBackend(addon) : null)!, skip });
for (const threads of [1, 2]) {
  const w = loadWasmBackendSync({ threads });
  subjects.push({ label: `${w.kernelName} ${threads}t`, k: w, skip: false });
}

const PACKED = [
  "linearPackedBytes",
  "packLinear",
  "linearForwardPacked",
  "linearResidualForwardPacked",
  "linearResidualRmsnormForwardPacked",
  "linearSwigluForwardPacked",
];

// The table: ref once per case, then every backend on its own copy of the inputs.
test(`fast kernels match ref: ${subjects.map((x) => x.label).join(", ")} (seed ${SEED})`, async (t) => {
  const cases = allCases(SEED, !onlyWasm); // the relaxed child: the light table (native and SIMD128 ran the heavy one)
  const covered = new Set(cases.map((c) => c.kernel));
  for (const name of KERNEL_NAMES)
    assert.ok(covered.has(name) || PACKED.includes(name), `no conformance case for ${name}`);
  const live = subjects.filter((x) => !x.skip);
  for (const c of cases) {
    await t.test(`${c.kernel} ${c.label}`, () => {
      const rArgs = cloneArgs(c.args);
      (ref[c.kernel] as (...a: unknown[]) => void)(...rArgs);
      for (const { label, k } of live) {
        const args = cloneArgs(c.args);
        (k[c.kernel] as (...a: unknown[]) => void)(...args);
        for (const i of [...c.written, ...c.accumulated]) {
          const r = compare(args[i] as Float32Array, rArgs[i] as Float32Array, c.atol, c.rtol);
          assert.ok(r.ok, `${label} arg ${i}: ${r.report} (seed ${SEED})`);
        }
      }
    });
  }
});

// The same C runs in WASM as natively, so the WASM subjects skip the largest shapes below (T 2624: ref alone
// takes seconds per product); the table above has them for every backend.
const big = (label: string, ...dims: number[]) => label !== "native" && dims.reduce((a, b) => a * b) > 2e8;

for (const { label, k: kb, skip } of subjects) {
  const k = kb as Backend & Kernels;
  test(
    `${label} is present and has every kernel${process.env.CI ? " (required in CI)" : ""}`,
    { skip },
    () => {
      assert.ok(k, `${label} failed to load`);
      for (const name of KERNEL_NAMES) assert.equal(typeof k[name], "function", `${label} lacks ${name}`);
    },
  );

  // Pre-packed weights are backend-specific bytes, so they are not in the shared table: native's packLinear +
  // linearForwardPacked must equal ref's linearForward, on model shapes (T 82 = one puzzle, 2624 = batch 32)
  // and awkward ones (row and column splits, edge tiles, odd depth for bfloat16 pairs).

  test(`${label} pre-packed linear weights match ref's linearForward (seed ${SEED})`, { skip }, () => {
    const rng = new Rng(SEED);
    const shapes = [
      [82, 512, 1536],
      [82, 1536, 512],
      [2624, 512, 3072],
      [1, 512, 11],
      [17, 63, 65],
      [3, 65, 17],
      [65, 1, 3],
    ];
    for (const [T, I, O] of shapes.filter(([T, I, O]) => !big(label, T, I, O)))
      for (const p of ["float32", "bfloat16"] as const) {
        const inp = randn(Float32Array, T * I, rng);
        const w = randn(Float32Array, O * I, rng);
        const packed = new Uint8Array(k.linearPackedBytes(I, O, p));
        k.packLinear(packed, w, I, O, p);
        const got = new Float32Array(T * O).fill(NaN);
        k.linearForwardPacked(got, inp, packed, T, I, O, p);
        const want = new Float32Array(T * O);
        ref.linearForward(want, inp, w, T, I, O, p);
        const r = compare(got, want, 1e-6 * Math.max(I, 16), 1e-5); // the GEMM tolerance (conformance-cases)
        assert.ok(r.ok, `T${T} ${I}->${O} ${p}: ${r.report} (seed ${SEED})`);
        // ref round trip, and bytes of the wrong backend or dims are refused rather than misread.
        const rp = new Uint8Array(ref.linearPackedBytes(I, O, p));
        ref.packLinear(rp, w, I, O, p);
        const viaRef = new Float32Array(T * O);
        ref.linearForwardPacked(viaRef, inp, rp, T, I, O, p);
        assert.deepEqual(viaRef, want);
        assert.throws(() => ref.linearForwardPacked(viaRef, inp, packed, T, I, O, p), /not made by ref/);
        if (rp.length >= packed.length)
          assert.throws(() => k.linearForwardPacked(got, inp, rp, T, I, O, p), /not made by this backend/);
      }
  });

  // The fused projection + residual add, pre-packed or not, with out a separate buffer or the residual itself
  // (the model's in-place use), must equal ref's linearForward then add.
  test(
    `${label} linear + residual add, pre-packed and in place, matches ref (seed ${SEED})`,
    { skip },
    () => {
      const rng = new Rng(SEED);
      const shapes = [
        [2624, 512, 512],
        [2624, 1536, 512],
        [82, 512, 512],
        [17, 63, 65],
        [3, 1600, 5],
        [1, 3, 1],
      ];
      for (const [T, I, O] of shapes.filter(([T, I, O]) => !big(label, T, I, O)))
        for (const p of ["float32", "bfloat16"] as const) {
          const inp = randn(Float32Array, T * I, rng);
          const w = randn(Float32Array, O * I, rng);
          const res = randn(Float32Array, T * O, rng);
          const want = new Float32Array(T * O);
          ref.linearResidualForward(want, res, inp, w, T, I, O, p);
          const packed = new Uint8Array(k.linearPackedBytes(I, O, p));
          k.packLinear(packed, w, I, O, p);
          const runs: [string, (out: Float32Array, r: Float32Array) => void][] = [
            ["unpacked", (out, r) => k.linearResidualForward(out, r, inp, w, T, I, O, p)],
            ["packed", (out, r) => k.linearResidualForwardPacked(out, r, inp, packed, T, I, O, p)],
          ];
          for (const [how, run] of runs) {
            const out = new Float32Array(T * O).fill(NaN);
            run(out, res);
            const inPlace = res.slice();
            run(inPlace, inPlace);
            for (const [what, got] of [
              ["out", out],
              ["in place", inPlace],
            ] as const) {
              const r = compare(got, want, 1e-6 * Math.max(I, 16), 1e-5); // the GEMM tolerance
              assert.ok(r.ok, `T${T} ${I}->${O} ${p} ${how} ${what}: ${r.report} (seed ${SEED})`);
            }
          }
        }
    },
  );

  // The projection + residual + RMSNorm kernel, pre-packed or not, separate or in place, must give the same bits as
  // native's own linearResidualForward then rmsnormForward (it normalises row blocks inside the product where a
  // thread computes whole rows, else in a pass after it: shapes for both, at the model's eps).
  test(
    `${label} linear + residual + RMSNorm equals the two kernels, bit for bit (seed ${SEED})`,
    { skip },
    () => {
      const rng = new Rng(SEED);
      const eps = 1e-5;
      for (const [T, I, O] of [
        [2624, 512, 512],
        [2624, 128, 128],
        [82, 1536, 512],
        [17, 63, 65],
        [1, 3, 1],
      ].filter(([T, I, O]) => !big(label, T, I, O)))
        for (const p of ["float32", "bfloat16"] as const) {
          const inp = randn(Float32Array, T * I, rng);
          const w = randn(Float32Array, O * I, rng);
          const res = randn(Float32Array, T * O, rng);
          const packed = new Uint8Array(k.linearPackedBytes(I, O, p));
          k.packLinear(packed, w, I, O, p);
          for (const pk of [false, true]) {
            const want = new Float32Array(T * O);
            const wantRstd = new Float32Array(T);
            if (pk) k.linearResidualForwardPacked(want, res, inp, packed, T, I, O, p);
            else k.linearResidualForward(want, res, inp, w, T, I, O, p);
            k.rmsnormForward(want, wantRstd, want, T, O, eps);
            const run = (out: Float32Array, rstd: Float32Array, r: Float32Array) =>
              pk
                ? k.linearResidualRmsnormForwardPacked(out, rstd, r, inp, packed, T, I, O, eps, p)
                : k.linearResidualRmsnormForward(out, rstd, r, inp, w, T, I, O, eps, p);
            const out = new Float32Array(T * O).fill(NaN);
            const rstd = new Float32Array(T).fill(NaN);
            run(out, rstd, res);
            const inPlace = res.slice();
            const rstd2 = new Float32Array(T).fill(NaN);
            run(inPlace, rstd2, inPlace);
            const at = `T${T} ${I}->${O} ${p}${pk ? " packed" : ""}`;
            assert.deepEqual(out, want, `${at}: out`);
            assert.deepEqual(rstd, wantRstd, `${at}: rstd`);
            assert.deepEqual(inPlace, want, `${at}: in place`);
            assert.deepEqual(rstd2, wantRstd, `${at}: rstd in place`);
          }
        }
    },
  );

  // The fused gate_up + SwiGLU from packLinear's bytes for [2F, I] must equal ref's unpacked one.
  test(
    `${label} pre-packed gate_up + SwiGLU matches ref's linearSwigluForward (seed ${SEED})`,
    { skip },
    () => {
      const rng = new Rng(SEED);
      for (const [T, I, F] of SWIGLU_LINEAR_SHAPES.heavy.filter(([T, I, F]) => !big(label, T, I, 2 * F)))
        for (const p of ["float32", "bfloat16"] as const) {
          const inp = randn(Float32Array, T * I, rng);
          const w = randn(Float32Array, 2 * F * I, rng, 1 / Math.sqrt(I));
          const packed = new Uint8Array(k.linearPackedBytes(I, 2 * F, p));
          k.packLinear(packed, w, I, 2 * F, p);
          const got = new Float32Array(T * F).fill(NaN);
          k.linearSwigluForwardPacked(got, inp, packed, T, I, F, p);
          const want = new Float32Array(T * F);
          ref.linearSwigluForward(want, inp, w, T, I, F, p);
          const r = compare(got, want, 4e-6 * Math.max(I, 16), 2e-5); // swigluLinearTol (conformance-cases)
          assert.ok(r.ok, `T${T} ${I}->2x${F} ${p}: ${r.report} (seed ${SEED})`);
          const rp = new Uint8Array(ref.linearPackedBytes(I, 2 * F, p));
          ref.packLinear(rp, w, I, 2 * F, p);
          const viaRef = new Float32Array(T * F);
          ref.linearSwigluForwardPacked(viaRef, inp, rp, T, I, F, p);
          assert.deepEqual(viaRef, want);
          if (rp.length >= packed.length)
            assert.throws(
              () => k.linearSwigluForwardPacked(got, inp, rp, T, I, F, p),
              /not made by this backend/,
            );
        }
    },
  );

  test(`${label} rejects bad calls with clear errors`, { skip }, () => {
    const a = k;
    const x = new Float32Array(8);
    assert.throws(() => a.add(x, x, x, 1, 1, 9), /add: out has 8 elements, the dims need 9/);
    assert.throws(() => a.add(x, new Float64Array(8) as never, x, 1, 1, 8), /a must be a Float32Array/);
    assert.throws(
      () => a.matmul(x, x, x, 2, 2, -1, false, false, false),
      /dimension K must be a non-negative integer/,
    );
    assert.throws(
      () => a.embeddingForward(new Float32Array(4), Int32Array.of(3), new Float32Array(12), 1, 4, 3),
      /ids\[0\] = 3 is outside \[0, 3\)/,
    );
    assert.throws(
      () =>
        a.softmaxCrossEntropyForward(
          new Float32Array(2),
          new Float32Array(6),
          Int32Array.of(0, 7),
          2,
          3,
          -100,
        ),
      /labels\[1\] = 7 is outside \[0, 3\)/,
    );
  });

  test(
    `${label} swigluBackward in place (dgateUp = gateUp, as the model's backward calls it) equals out of place`,
    { skip },
    () => {
      const rng = new Rng(SEED);
      const [T, F] = [17, 65];
      const gu = randn(Float32Array, T * 2 * F, rng);
      const dout = randn(Float32Array, T * F, rng);
      for (const kk of [ref, k as typeof ref]) {
        const want = new Float32Array(T * 2 * F);
        kk.swigluBackward(want, dout, gu, T, F);
        const inPlace = gu.slice();
        kk.swigluBackward(inPlace, dout, inPlace, T, F);
        assert.deepEqual(inPlace, want);
      }
    },
  );

  // The AVX-512 exponential (exp_x86.h) clamps like hrm_expf but scales by vscalefps; SwiGLU's sigmoid is held at
  // >= 1.2e-38 so that it never goes denormal. At the ends of the float range: no NaN, no inf, ref within tolerance,
  // and the sigmoid never denormal (with up = 1 / gate, SiLU(g) up is the sigmoid itself).
  // The portable sigmoid (AVX2 and generic builds) has the same hold: isa-paths runs this check under HRM_ISA.
  test(
    `${label}: SwiGLU and attention at extreme inputs: finite, match ref, no denormal sigmoid`,
    { skip },
    () => {
      const native = k as typeof ref;
      assert.deepEqual(extremeSwigluFailures(native), []);
      // Scores spread over hundreds (q and k rows scaled up): most softmax terms underflow.
      const rng = new Rng(SEED);
      const [B, S, NH, HD] = [2, 20, 2, 16];
      const qkv = randn(Float32Array, B * S * 3 * NH * HD, rng).map((v) => 12 * v);
      const [got, want] = [native, ref].map((k) => {
        const out = new Float32Array(B * S * NH * HD);
        k.attentionForward(out, new Float32Array(B * NH * S * S), qkv, B, S, NH, HD);
        return out;
      });
      assert.ok(got.every(Number.isFinite));
      // float32 scores of magnitude ~500 carry absolute errors ~1e-4, which the softmax turns into relative errors of
      // the probabilities: a tolerance of 1e-3 of the values' scale (12).
      const r = compare(got, want, 12e-3, 1e-3);
      assert.ok(r.ok, `attention: ${r.report}`);
    },
  );

  // The model rotates q and k in place; native copies each head first when out == inp (so its loops vectorise),
  // and goes element by element for heads wider than that copy (HD 1026).
  test(`${label}: RoPE in place (as the model calls it) matches ref out of place`, { skip }, () => {
    const rng = new Rng(SEED);
    for (const [B, S, NH, HD] of [
      [32, 82, 8, 64],
      [3, 17, 3, 2],
      [1, 2, 1, 1026],
    ]) {
      const T = B * S;
      const W = 3 * NH * HD;
      const cos = randn(Float32Array, S * HD, rng);
      const sin = randn(Float32Array, S * HD, rng);
      const x = randn(Float32Array, T * W, rng);
      for (const kernel of ["ropeForward", "ropeBackward"] as const) {
        const want = new Float32Array(T * W);
        ref[kernel](want, x, cos, sin, T, W, S, 2 * NH, HD);
        const got = x.slice();
        k[kernel](got, got, cos, sin, T, W, S, 2 * NH, HD);
        const r = compare(got, want, 1e-6, 1e-6); // POINTWISE_TOL (conformance-cases)
        assert.ok(r.ok, `${kernel} B${B} S${S} NH${NH} HD${HD}: ${r.report} (seed ${SEED})`);
      }
    }
  });
}

test("native results do not depend on the thread count", { skip }, () => {
  const a = addon!;
  const threads = a.info().threads;
  const cases = gemmCases(new Rng(SEED), false).filter((c) => c.label.startsWith("82x3072"));
  const run = (n: number) => {
    a.setNumThreads(n);
    const args = cloneArgs(cases[0].args);
    a.matmul(...(args as Parameters<typeof a.matmul>));
    return args[0] as Float32Array;
  };
  try {
    assert.deepEqual(run(1), run(Math.max(2, threads)));
  } finally {
    a.setNumThreads(threads);
  }
});

// A weight gradient's depth split hands K ranges to whichever thread is free: the partial sums must still add
// in a fixed order, or training is not reproducible from its seed (it was not, with a partial per thread).
test("native depth-split weight gradients are the same bits on every run", { skip }, () => {
  const a = addon!;
  const threads = a.info().threads;
  const rng = new Rng(SEED);
  // dW = dyᵀ·x: long K and C too short for a row split (M < 2 * threads * 14), so the depth split runs
  // rather than the transpose-first row split.
  const [M, N, K] = [24, 64, 4096];
  const dy = randn(Float32Array, K * M, rng);
  const x = randn(Float32Array, K * N, rng);
  const init = randn(Float32Array, M * N, rng);
  const run = () => {
    const c = Float32Array.from(init);
    a.matmul(c, dy, x, M, N, K, true, false, true);
    return c;
  };
  try {
    a.setNumThreads(Math.max(2, threads));
    const first = run();
    for (let r = 0; r < 60; r++) assert.deepEqual(run(), first, `run ${r} differs from the first`);
  } finally {
    a.setNumThreads(threads);
  }
});

test("WASM results do not depend on the thread count", () => {
  const [one, two] = subjects.filter((s) => s.label.startsWith("wasm")).map((s) => s.k as Backend & Kernels);
  const c = gemmCases(new Rng(SEED), false).find((x) => x.label.startsWith("82x3072"))!;
  const run = (k: Kernels) => {
    const args = cloneArgs(c.args);
    k.matmul(...(args as Parameters<Kernels["matmul"]>));
    return args[0] as Float32Array;
  };
  assert.deepEqual(run(one), run(two));
});

// Node 20 runs relaxed SIMD only behind a flag: the same checks on that build, in a process with the flag.
test(
  "the relaxed-SIMD WASM build passes the same checks",
  { skip: onlyWasm || relaxedSimdSupported() ? "in this process" : false },
  () => {
    // NODE_TEST_CONTEXT (set for this file by the runner) would make the child report to us instead of running.
    const env: NodeJS.ProcessEnv = { ...process.env, HRM_CONFORMANCE: "wasm", HRM_TEST_SEED: String(SEED) };
    delete env.NODE_TEST_CONTEXT;
    const r = spawnSync(
      process.execPath,
      ["--experimental-wasm-relaxed-simd", "--test", "--test-reporter=tap", fileURLToPath(import.meta.url)],
      { env, encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stdout.slice(-4000) + r.stderr.slice(-2000));
    assert.match(r.stdout, /wasm-relaxed 1t/, "the child ran the relaxed build");
    const passed = Number(/^# pass (\d+)/m.exec(r.stdout)?.[1] ?? 0);
    assert.ok(passed >= 10, `the child passed ${passed} tests`);
    assert.match(r.stdout, /^# fail 0$/m);
  },
);
