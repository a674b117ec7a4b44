/**
 * The native backend: wraps the N-API addon object (handed in by platform code; never imported here).
 * The addon's exports take exactly the contract's arguments, so they are used as they are. It computes in
 * float32 only; float64 buffers (finite-difference checks) go to ref through `supports`, except loss
 * buffers, which the addon also accepts as float64 (the official stablemax losses are float64).
 */
import type { Backend, KernelName, Kernels } from "../api.js";
import { KERNEL_NAMES } from "../api.js";

/** What the compiled addon exports besides the kernels. */
export interface NativeAddon extends Kernels {
  /** bf16Dot: bfloat16 matmuls use the AVX512_BF16 dot product (else rounded values on float32 kernels);
   * bf16DotAvailable: the CPU has it (HRM_BF16_DOT chooses; by default it is used on AMD, not on Intel). */
  info(): { isa: string; gemmKernel: string; threads: number; bf16Dot: boolean; bf16DotAvailable: boolean };
  setNumThreads(n: number): void;
  /** FP32 FMA GFLOP/s on `threads` of the pool's threads (at most all of them), best of runs over `seconds`. */
  fmaPeakGflops(threads: number, seconds: number): number;
  /** Huge pages for the whole 2 MB pages of `bytes` bytes of `buffer` from its first 2 MB boundary, whose
   * offset it returns (-1: nothing advised). See csrc/memory.c. */
  adviseHugePages(buffer: ArrayBuffer, bytes: number): number;
}

/** Argument index that may be a Float64Array, per kernel (the per-token loss buffer). */
const F64_ARG: Partial<Record<KernelName, number>> = {
  softmaxCrossEntropyForward: 0,
  stablemaxCrossEntropyForward: 0,
  softmaxCrossEntropyBackward: 1,
  stablemaxCrossEntropyBackward: 1,
};

export function makeNativeBackend(addon: NativeAddon): Backend & { addon: NativeAddon } {
  const backend: Partial<Kernels> = {};
  for (const name of KERNEL_NAMES) {
    if (typeof addon[name] === "function") (backend as Record<string, unknown>)[name] = addon[name];
  }
  return {
    ...backend,
    name: `native (${addon.info().gemmKernel}, ${addon.info().threads} threads)`,
    addon,
    supports(kernel: KernelName, args: readonly unknown[]): boolean {
      const ok64 = F64_ARG[kernel];
      for (let i = 0; i < args.length; i++) if (args[i] instanceof Float64Array && i !== ok64) return false;
      return true;
    },
  };
}
