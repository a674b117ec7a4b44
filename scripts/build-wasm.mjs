// Builds the WASM backend from the same C kernels as the native addon (csrc/), into wasm/:
//   hrm-simd.wasm         SIMD128, one thread (memory not shared: works in any page and in Node)
//   hrm-relaxed.wasm      relaxed SIMD (fused multiply-add), one thread
//   hrm-simd-mt.wasm      SIMD128 on shared memory, for a pool of workers (cross-origin-isolated pages, Node)
//   hrm-relaxed-mt.wasm   relaxed SIMD on shared memory
// The .wasm files are committed, so `npm install` needs no compiler; CI rebuilds them with Debian's clang-19
// and lld-19 and fails if the bytes differ (`--check`). No libc is linked but wasi-libc's math functions (the
// heap and the thread pool are csrc/wasm/runtime.c); nothing in the output names a path or a time.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = new URL("..", import.meta.url).pathname;
const SOURCES = [
  "gemm.c",
  "gemm_ukr.c",
  "kernels.c",
  "attention.c",
  "losses.c",
  "optim.c",
  "memory.c",
  "parallel_range.c",
  "wasm/runtime.c",
];
const EXPORTS = [
  "malloc",
  "free",
  "hrm_gemm",
  "hrm_packed_b_bytes",
  "hrm_pack_b",
  "hrm_gemm_prepacked",
  "hrm_linear_residual",
  "hrm_linear_swiglu",
  "hrm_embedding_fwd",
  "hrm_embedding_bwd",
  "hrm_rmsnorm_fwd",
  "hrm_rmsnorm_bwd",
  "hrm_rope",
  "hrm_attention_fwd",
  "hrm_attention_rope_fwd",
  "hrm_attention_bwd",
  "hrm_swiglu_fwd",
  "hrm_swiglu_bwd",
  "hrm_add",
  "hrm_add_bwd",
  "hrm_transpose_batched",
  "hrm_ce_fwd",
  "hrm_ce_bwd",
  "hrm_bce_fwd",
  "hrm_bce_bwd",
  "hrm_adam_atan2",
  "hrm_num_threads",
  "hrm_wasm_worker",
  "hrm_wasm_registered",
  "hrm_wasm_close_registration",
  "hrm_wasm_failed_flag",
  "hrm_wasm_kernel_name",
];
const VARIANTS = [
  { file: "hrm-simd.wasm", relaxed: false, threads: false },
  { file: "hrm-relaxed.wasm", relaxed: true, threads: false },
  { file: "hrm-simd-mt.wasm", relaxed: false, threads: true },
  { file: "hrm-relaxed-mt.wasm", relaxed: true, threads: true },
];
const STACK = 1 << 20;

function findTool(names) {
  for (const n of names) {
    const r = spawnSync(n, ["--version"], { encoding: "utf8" });
    if (r.status === 0) return n;
  }
  return null;
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: "utf8", cwd: ROOT });
  if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr);
    throw new Error(`${cmd} failed (exit ${r.status ?? r.error?.message})`);
  }
}

function build(clang, v, out) {
  const features = ["-msimd128", "-mbulk-memory", "-mnontrapping-fptoint", "-msign-ext"];
  if (v.relaxed) features.push("-mrelaxed-simd");
  if (v.threads) features.push("-matomics");
  const libc = "/usr/lib/wasm32-wasi/libc.a";
  if (!existsSync(libc)) throw new Error(`${libc} is missing: apt-get install wasi-libc`);
  const link = [
    "--no-entry",
    "--import-memory",
    "--stack-first",
    "--max-memory=4294967296",
    "--initial-memory=4194304",
    ...(process.env.HRM_WASM_DEBUG ? [] : ["--strip-all"]),
    `-z`,
    `stack-size=${STACK}`,
    "--export=__heap_base",
    ...(v.threads
      ? [
          "--shared-memory",
          "--export=__stack_pointer",
          "--export=__wasm_init_tls",
          "--export=__tls_size",
          "--export=__tls_align",
        ]
      : []),
    ...EXPORTS.map((e) => `--export=${e}`),
  ];
  run(clang, [
    "--target=wasm32-wasi",
    "-O3",
    "-std=c11",
    "-nostdlib",
    "-ffp-contract=fast",
    "-fno-math-errno",
    "-fno-trapping-math",
    "-Wall",
    "-Wextra",
    "-Wno-unused-parameter",
    "-DHRM_WASM=1",
    "-mexec-model=reactor",
    ...features,
    ...SOURCES.map((s) => join("csrc", s)),
    libc,
    ...link.map((l) => `-Wl,${l}`),
    "-o",
    out,
  ]);
}

function main() {
  const check = process.argv.includes("--check");
  const clang = findTool([process.env.HRM_WASM_CC, "clang-19"].filter(Boolean));
  if (!clang) {
    console.error("build-wasm: clang-19 not found (apt-get install clang-19 lld-19 wasi-libc)");
    process.exit(1);
  }
  const tmp = mkdtempSync(join(tmpdir(), "hrm-wasm-"));
  let differ = 0;
  try {
    for (const v of VARIANTS) {
      const out = join(tmp, v.file);
      build(clang, v, out);
      const bytes = readFileSync(out);
      const target = join(ROOT, "wasm", v.file);
      const same = existsSync(target) && Buffer.compare(readFileSync(target), bytes) === 0;
      if (check) {
        console.log(
          `${v.file}: ${bytes.length} bytes, ${same ? "identical to the committed file" : "DIFFERS"}`,
        );
        if (!same) differ++;
      } else {
        writeFileSync(target, bytes);
        console.log(`${v.file}: ${bytes.length} bytes${same ? " (unchanged)" : ""}`);
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  if (differ) {
    console.error(`build-wasm: ${differ} file(s) differ from wasm/: run npm run build:wasm and commit them`);
    process.exit(1);
  }
}

main();
