/**
 * Every GEMM micro-kernel path, not only the one this CPU picks: the portable C kernel, AVX2, and AVX-512 with
 * and without the bfloat16 dot product (when the CPU has them) are forced with HRM_ISA / HRM_BF16_DOT in a
 * child process and checked against ref, float32 and bfloat16 cases alike.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadNativeAddon } from "../src/platform/node.js";

const addon = loadNativeAddon();
const skip = addon ? false : process.env.CI ? false : "native addon not built";
const script = fileURLToPath(new URL("./support/isa-check.js", import.meta.url));
const seed = Math.floor(Math.random() * 2 ** 31);

const wanted: [Record<string, string>, RegExp][] = [[{ HRM_ISA: "generic" }, /kernel=generic-4x16/]];
if (addon && addon.info().isa !== "generic") wanted.push([{ HRM_ISA: "avx2" }, /kernel=avx2-6x16/]);
// On a CPU with the AVX512_BF16 dot product, the path this CPU does not take by default is forced: bfloat16
// matmuls on the dot product, or rounded values in float32 panels (the same numbers up to summation order).
if (addon?.info().bf16DotAvailable) {
  const dot = addon.info().bf16Dot;
  wanted.push([{ HRM_BF16_DOT: dot ? "0" : "1" }, new RegExp(`kernel=avx512-14x32 bf16Dot=${!dot}`)]);
}

for (const [vars, expect] of wanted) {
  const what = Object.entries(vars).map(([k, v]) => `${k}=${v}`);
  test(`GEMM micro-kernel ${what.join(" ")} matches ref (seed ${seed})`, { skip }, () => {
    const r = spawnSync(process.execPath, [script, String(seed)], {
      env: { ...process.env, ...vars },
      encoding: "utf8",
    });
    assert.match(r.stdout, expect, r.stdout + r.stderr);
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
}

// HRM_BF16_DOT chooses between available paths only: =1 must never turn on a dot product the CPU lacks (that
// would be an illegal instruction), =0 must always turn it off, and the note in the run log must agree.
test("HRM_BF16_DOT=0|1 chooses only among the paths this CPU has", { skip }, () => {
  const probe = `import { loadNativeAddon, bfloat16Note } from ${JSON.stringify(new URL("../src/node.js", import.meta.url).href)};
    console.log(JSON.stringify({ ...loadNativeAddon().info(), note: bfloat16Note() }));`;
  const run = (v: string) => {
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", probe], {
      env: { ...process.env, HRM_BF16_DOT: v },
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { bf16Dot: boolean; bf16DotAvailable: boolean; note: string };
  };
  const on = run("1");
  const off = run("0");
  assert.equal(on.bf16Dot, on.bf16DotAvailable);
  assert.equal(off.bf16Dot, false);
  assert.equal(off.bf16DotAvailable, on.bf16DotAvailable);
  assert.match(on.note, on.bf16Dot ? /on the AVX512_BF16 dot product/ : /rounded values on float32 kernels/);
  assert.match(off.note, /rounded values on float32 kernels/);
});

// The kernels (not the N-API binding) must also build without GCC's target_clones, as clang and the WASM build
// see them: compile them with the portable branch of simd.h selected.
const cc = ["cc", "gcc", "clang"].find((c) => spawnSync(c, ["--version"]).status === 0);
test(
  "the C kernels compile on the portable (non-target_clones) path",
  { skip: cc ? false : "no C compiler" },
  () => {
    const csrc = fileURLToPath(new URL("../../csrc/", import.meta.url));
    const files = [
      "attention.c",
      "kernels.c",
      "losses.c",
      "optim.c",
      "gemm.c",
      "gemm_ukr.c",
      "small_gemm_x86.c",
    ].map((f) => csrc + f);
    const r = spawnSync(cc!, ["-D__clang__", "-O2", "-fsyntax-only", `-I${csrc}`, ...files], {
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
  },
);
