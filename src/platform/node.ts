/**
 * Node platform: loads the native addon built by node-gyp at install time. The only place (with the other
 * platform files) that touches node:* APIs and the environment.
 *   HRM_BACKEND=ref        use the TypeScript kernels, no addon, no warning
 *   HRM_BACKEND=native     the addon is required: failing to load it is an error
 *   HRM_BACKEND=wasm       the WASM build of the same C kernels (wasm-node.ts), no addon
 *   unset (auto)           the addon; where it cannot load, WASM (one warning); where that fails too, ref
 *   HRM_NATIVE_ADDON=path  load the addon from this path instead of build/Release (tests use a missing path)
 *   HRM_NUM_THREADS=n      kernel threads (read by the addon itself); unset, one per physical core within the
 *                          cgroup CPU quota (threads.ts)
 *   HRM_HUGE_PAGES=0       keep the model's buffers on ordinary pages (see src/util/memory.ts)
 */
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import type { NativeAddon } from "../kernels/native/index.js";
import type { WasmBackend } from "../kernels/wasm/index.js";
import { defaultKernelThreads } from "./threads.js";
import { loadWasmBackendSync } from "./wasm-node.js";

const DEFAULT_ADDON = fileURLToPath(new URL("../../../build/Release/hrm_native.node", import.meta.url));

let warned = false;
let threadsSet = false;
let threadsWhy: string | null = null;

/** Why the kernel thread count is below the CPUs in the affinity mask (threads.ts), or null when it is not. */
export function kernelThreadsNote(): string | null {
  return threadsWhy;
}

/** False when HRM_HUGE_PAGES=0 turns off huge pages for the model's buffers. */
export function hugePagesWanted(): boolean {
  return process.env.HRM_HUGE_PAGES !== "0";
}

export type BackendMode = "auto" | "native" | "wasm" | "ref";

/** HRM_BACKEND, checked (unset or empty: auto). */
export function backendMode(): BackendMode {
  const mode = process.env.HRM_BACKEND || "auto";
  if (mode !== "auto" && mode !== "native" && mode !== "wasm" && mode !== "ref")
    throw new Error(`HRM_BACKEND must be "auto", "native", "wasm" or "ref", got "${mode}"`);
  return mode;
}

/** Kernel threads for a backend that takes the count from us (WASM): HRM_NUM_THREADS, else one per physical
 * core within the cgroup quota, else every CPU this process may use. */
export function wantedKernelThreads(): number {
  const env = parseInt(process.env.HRM_NUM_THREADS ?? "", 10);
  if (env > 0) return env;
  return defaultKernelThreads()?.threads ?? availableParallelism();
}

/** The WASM backend (wasm-node.ts), or null with one warning when it cannot start (then ref serves). */
export function loadWasmBackend(): WasmBackend | null {
  try {
    return loadWasmBackendSync({ threads: wantedKernelThreads() });
  } catch (e) {
    if (backendMode() === "wasm")
      throw new Error(`HRM_BACKEND=wasm but the WASM backend failed to start: ${(e as Error).message}`);
    console.warn(
      `hrm-ts: WARNING: WASM kernels unavailable (${(e as Error).message}); using the TypeScript kernels (much slower).`,
    );
    return null;
  }
}

/** The addon, or null (with one warning line on stderr) when it is absent or fails to load. */
export function loadNativeAddon(): NativeAddon | null {
  const mode = backendMode();
  if (mode === "ref" || mode === "wasm") return null;
  const path = process.env.HRM_NATIVE_ADDON || DEFAULT_ADDON;
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (e) {
    const reason = (e as Error).message.split("\n")[0];
    if (mode === "native")
      throw new Error(`HRM_BACKEND=native but the native addon failed to load: ${reason}`);
    if (!warned) {
      warned = true;
      console.warn(
        `hrm-ts: WARNING: native addon unavailable (${reason}); using the WASM kernels (slower). ` +
          "Build it with `npm run build:native` (needs a C compiler).",
      );
    }
    return null;
  }
  if (!threadsSet) {
    threadsSet = true;
    // The addon takes HRM_NUM_THREADS when it parses to a positive count (atoi), as here.
    const fewer = parseInt(process.env.HRM_NUM_THREADS ?? "", 10) > 0 ? null : defaultKernelThreads();
    if (fewer) {
      addon.setNumThreads(fewer.threads);
      threadsWhy = `${fewer.threads} (${fewer.why}; HRM_NUM_THREADS overrides)`;
    }
  }
  return addon;
}

/**
 * How forward_dtype=bfloat16 runs here: on the AVX512_BF16 dot product, or as bfloat16-rounded values on the
 * float32 kernels (the same products, summed in another order; 0.9-1.0x the float32 rate). The dot product is
 * used on AMD cores; on Intel ones it ran slower than the float32 kernels (csrc/cpu.c), so there it takes
 * HRM_BF16_DOT=1.
 */
export function bfloat16Note(): string {
  const info = loadNativeAddon()?.info();
  if (info?.bf16Dot)
    return "bfloat16 matmuls on the AVX512_BF16 dot product (HRM_BF16_DOT=0: float32 kernels)";
  if (info?.bf16DotAvailable)
    return "bfloat16 matmuls as rounded values on float32 kernels (the AVX512_BF16 dot product is off on Intel cores, where it ran slower; HRM_BF16_DOT=1 uses it)";
  return "bfloat16 matmuls as rounded values on float32 kernels (this CPU has no AVX512_BF16)";
}
