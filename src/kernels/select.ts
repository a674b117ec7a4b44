/**
 * Backend selection: a fast backend when one is given, with every kernel it lacks, and every call it does
 * not `support` (e.g. float64 buffers on native), served by ref. Without one, ref serves everything.
 */
import type { Backend, SelectedKernels } from "./api.js";
import { KERNEL_NAMES } from "./api.js";
import { refKernels } from "./ref/index.js";

export function selectKernels(fast: Backend | null): SelectedKernels {
  if (!fast) return { ...refKernels, backendName: "ref" };
  const out: Record<string, unknown> = { backendName: fast.name };
  for (const name of KERNEL_NAMES) {
    const f = fast[name] as ((...a: unknown[]) => void) | undefined;
    const r = refKernels[name] as (...a: unknown[]) => void;
    out[name] = f ? (...args: unknown[]) => (fast.supports(name, args) ? f(...args) : r(...args)) : r;
  }
  return out as unknown as SelectedKernels;
}
