/**
 * Node platform: loads the native addon built by node-gyp at install time. The only place (with the other
 * platform files) that touches node:* APIs and the environment.
 *   HRM_BACKEND=ref        use the TypeScript kernels, no addon, no warning
 *   HRM_BACKEND=native     the addon is required: failing to load it is an error
 *   HRM_NATIVE_ADDON=path  load the addon from this path instead of build/Release (tests use a missing path)
 *   HRM_NUM_THREADS=n      kernel threads (read by the addon itself); unset, one per physical core within the
 *                          cgroup CPU quota (threads.ts)
 *   HRM_HUGE_PAGES=0       keep the model's buffers on ordinary pages (see src/util/memory.ts)
 */
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type { NativeAddon } from "../kernels/native/index.js";
import { defaultKernelThreads } from "./threads.js";

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

/** The addon, or null (with one warning line on stderr) when it is absent or fails to load. */
export function loadNativeAddon(): NativeAddon | null {
  const mode = process.env.HRM_BACKEND || "auto"; // unset or empty: auto
  if (mode === "ref") return null;
  if (mode !== "auto" && mode !== "native")
    throw new Error(`HRM_BACKEND must be "auto", "native" or "ref", got "${mode}"`);
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
        `hrm-ts: WARNING: native addon unavailable (${reason}); using the TypeScript kernels (much slower). ` +
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
