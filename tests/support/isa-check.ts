/**
 * Child-process check for one GEMM micro-kernel: run under HRM_ISA=generic|avx2 or HRM_BF16_DOT=0|1 (the addon
 * reads them at load), it compares native matmul/linear and attention (whose small GEMM also depends on the ISA) against
 * ref on the light conformance cases, and SwiGLU at extreme gates, and prints the kernel it used. Exit code 1 on any mismatch. Spawned by isa-paths.test.ts.
 */
import { refKernels as ref } from "../../src/kernels/ref/index.js";
import { loadNativeAddon } from "../../src/platform/node.js";
import {
  attentionCases,
  cloneArgs,
  extremeSwigluFailures,
  gemmCases,
  linearCases,
} from "../conformance-cases.js";
import { compare, Rng } from "../helpers.js";

const addon = loadNativeAddon();
if (!addon) {
  console.log("no addon");
  process.exit(2);
}
const seed = Number(process.argv[2] ?? 1);
const rng = new Rng(seed);
let failures = 0;
for (const c of [...gemmCases(rng, false), ...linearCases(rng, false), ...attentionCases(rng, false)]) {
  const nArgs = c.args;
  const rArgs = cloneArgs(nArgs);
  (addon[c.kernel] as (...a: unknown[]) => void)(...nArgs);
  (ref[c.kernel] as (...a: unknown[]) => void)(...rArgs);
  for (const i of [...c.written, ...c.accumulated]) {
    const r = compare(nArgs[i] as Float32Array, rArgs[i] as Float32Array, c.atol, c.rtol);
    if (!r.ok) {
      failures++;
      console.log(`FAIL ${c.kernel} ${c.label} arg ${i}: ${r.report}`);
    }
  }
}
// SwiGLU takes the portable sigmoid below AVX-512: its hold at the bottom of the float range is checked here.
for (const msg of extremeSwigluFailures(addon)) {
  failures++;
  console.log(`FAIL ${msg}`);
}
console.log(`kernel=${addon.info().gemmKernel} bf16Dot=${addon.info().bf16Dot} failures=${failures}`);
process.exit(failures ? 1 : 0);
