/**
 * Large float buffers: the model's weights, gradients, optimiser moments and activations are allocated here,
 * several arrays carved from one buffer (an arena), so that a platform can back them with 2 MB pages.
 * On Linux the Node entry installs an advisor from the native addon (madvise MADV_HUGEPAGE): fewer TLB misses,
 * and under hypervisors that shadow page tables it avoids a trap per 4 KB page when a buffer is touched again
 * after the process freed memory elsewhere (see csrc/memory.c; a full training step ran 17% faster).
 * Without an advisor (browsers, no addon) these are plain typed arrays.
 */

/**
 * Backs the whole 2 MB pages of `bytes` bytes of `buffer`, from the first 2 MB boundary in it, with huge pages;
 * returns that boundary's byte offset, or -1 when it could not.
 */
export type HugePageAdvisor = (buffer: ArrayBuffer, bytes: number) => number;

const HUGE_PAGE = 2 << 20;
/** Arenas smaller than this are not worth a huge page (nor the 2 MB of address space for alignment). */
const MIN_ARENA_BYTES = 4 << 20;
/** Each array starts on a 64-byte boundary (a cache line; what the SIMD kernels like). */
const ALIGN_BYTES = 64;

let advisor: HugePageAdvisor | null = null;
/** Set inside carveArenas: arenas are carved from this region instead of allocated. */
let source: Region | null = null;
/** Set inside arenaBytes: the bytes of the arenas made so far. */
let counted: { bytes: number } | null = null;

/** Bytes [offset, end) of one buffer; `at` is the next free byte. */
export interface Region {
  buffer: ArrayBuffer;
  offset: number;
  end: number;
  at: number;
}

/** Installs (or with null removes) the platform's huge-page advisor for arenas allocated from now on. */
export function setHugePageAdvisor(a: HugePageAdvisor | null): void {
  advisor = a;
}

/**
 * Zeroed buffers of the given byte lengths, each 64-byte aligned: arenas of 4 MB or more share one
 * ArrayBuffer, advised to huge pages when an advisor is installed; otherwise each has its own.
 */
function arena(byteLengths: readonly number[]): { buffer: ArrayBuffer; offset: number }[] {
  for (const n of byteLengths)
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`arena: bad byte length ${n}`);
  const padded = byteLengths.map((n) => Math.ceil(n / ALIGN_BYTES) * ALIGN_BYTES);
  const bytes = padded.reduce((s, n) => s + n, 0);
  if (counted) counted.bytes += bytes;
  if (source) return carve(source, padded, bytes);
  if (!advisor || bytes < MIN_ARENA_BYTES)
    return byteLengths.map((n) => ({ buffer: new ArrayBuffer(n), offset: 0 }));
  const buffer = new ArrayBuffer(bytes + HUGE_PAGE); // room to start at a 2 MB boundary
  const start = advisor(buffer, bytes);
  let at = start >= 0 ? start : 0;
  return padded.map((n) => {
    const part = { buffer, offset: at };
    at += n;
    return part;
  });
}

/** Zeroed Float32Arrays of the given lengths, from one arena (views: byteOffset may be > 0). */
export function floatArena(lengths: readonly number[]): Float32Array[] {
  const parts = arena(lengths.map((n) => 4 * n));
  return parts.map((p, i) => new Float32Array(p.buffer, p.offset, lengths[i]));
}

/** Zeroed Uint8Arrays of the given lengths (packed weights), from one arena. */
export function byteArena(lengths: readonly number[]): Uint8Array[] {
  const parts = arena(lengths);
  return parts.map((p, i) => new Uint8Array(p.buffer, p.offset, lengths[i]));
}

/** One zeroed Float32Array of n elements, from its own arena. */
export function allocFloat32(n: number): Float32Array {
  return floatArena([n])[0];
}

/**
 * Consecutive views of the given lengths carved from `region`, each starting on a 64-byte boundary: buffers
 * whose lifetimes never overlap with another set carved from the same region (see Workspace.region).
 */
export function carveFloats(region: Float32Array, lengths: readonly number[]): Float32Array[] {
  const align = ALIGN_BYTES / 4;
  let at = 0;
  return lengths.map((n) => {
    if (at + n > region.length)
      throw new RangeError(`carveFloats: ${lengths.join("+")} floats do not fit in ${region.length}`);
    const v = region.subarray(at, at + n);
    at += Math.ceil(n / align) * align;
    return v;
  });
}

/** Floats carveFloats needs for these lengths. */
export function carvedFloats(lengths: readonly number[]): number {
  const align = ALIGN_BYTES / 4;
  return lengths.reduce((s, n) => s + Math.ceil(n / align) * align, 0);
}

function carve(r: Region, padded: number[], bytes: number): { buffer: ArrayBuffer; offset: number }[] {
  if (r.at + bytes > r.end)
    throw new RangeError(`carveArenas: ${bytes} more bytes do not fit in the ${r.end - r.offset} reserved`);
  new Uint8Array(r.buffer, r.at, bytes).fill(0); // as fresh memory would be
  return padded.map((n) => {
    const part = { buffer: r.buffer, offset: r.at };
    r.at += n;
    return part;
  });
}

/** A region of `bytes` bytes (on 2 MB pages where an advisor is installed) for carveArenas. */
export function reserveRegion(bytes: number): Region {
  const [part] = arena([bytes]);
  return { buffer: part.buffer, offset: part.offset, end: part.offset + bytes, at: part.offset };
}

/**
 * Runs fn with every arena it makes carved, one after another and zeroed, from the start of region `r`
 * instead of allocated. For sets of buffers that are never in use at the same time as another set carved
 * from the same region: the workspaces of different batch sizes of one model, which runs one forward at a
 * time (see HRMInner.reserveWorkspaces). Throws when they do not fit.
 */
export function carveArenas<T>(r: Region, fn: () => T): T {
  const outer = source;
  source = r;
  r.at = r.offset;
  try {
    return fn();
  } finally {
    source = outer;
  }
}

/** The bytes of the arenas that fn makes (allocated as usual, and dropped with fn's result). */
export function arenaBytes(fn: () => unknown): number {
  const outer = counted;
  counted = { bytes: 0 };
  try {
    fn();
    return counted.bytes;
  } finally {
    counted = outer;
  }
}
