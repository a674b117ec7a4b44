/** Node entry point: the public API plus the kernels chosen for this machine (native addon, else ref). */
import type { SelectedKernels } from "./kernels/api.js";
import { makeNativeBackend } from "./kernels/native/index.js";
import { selectKernels } from "./kernels/select.js";
import { loadNativeAddon } from "./platform/node.js";

export * from "./index.js";
export { loadNativeAddon } from "./platform/node.js";

let cached: SelectedKernels | null = null;

/** The best kernels available here, selected once per process. */
export function getKernels(): SelectedKernels {
  if (!cached) {
    const addon = loadNativeAddon();
    cached = selectKernels(addon ? makeNativeBackend(addon) : null);
  }
  return cached;
}
