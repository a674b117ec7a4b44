/** Shared test helpers: the project's seeded RNG, random buffers, and an array comparison that reports the worst pairs. */
import type { FloatArray } from "../src/kernels/api.js";
import type { Rng } from "../src/util/rng.js";

export { Rng } from "../src/util/rng.js";

export function randn<T extends FloatArray>(ctor: { new (n: number): T }, n: number, rng: Rng, scale = 1): T {
  const a = new ctor(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * scale;
  return a;
}

export function randInts(n: number, hi: number, rng: Rng): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.int(0, hi);
  return a;
}

export interface CompareResult {
  ok: boolean;
  maxAbs: number;
  maxRel: number;
  report: string;
}

/**
 * Elementwise |a-b| <= atol + rtol*|b| (b is the reference). NaN anywhere fails. The report lists the first
 * five failing pairs and the worst error, so a failure says where and how much.
 */
export function compare(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  atol: number,
  rtol: number,
): CompareResult {
  if (a.length !== b.length)
    return { ok: false, maxAbs: Infinity, maxRel: Infinity, report: `length ${a.length} vs ${b.length}` };
  let maxAbs = 0;
  let maxRel = 0;
  let bad = 0;
  const first: string[] = [];
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    const ok = d <= atol + rtol * Math.abs(b[i]); // false for NaN
    if (!ok) {
      bad++;
      if (first.length < 5) first.push(`[${i}] got ${a[i]} want ${b[i]}`);
    }
    if (!(d <= maxAbs)) maxAbs = d;
    const r = d / (Math.abs(b[i]) + 1e-30);
    if (!(r <= maxRel) && Math.abs(b[i]) > atol) maxRel = r;
  }
  const report = `${bad}/${a.length} outside atol=${atol} rtol=${rtol}; max abs ${maxAbs.toExponential(2)}; ${first.join(", ")}`;
  return { ok: bad === 0, maxAbs, maxRel, report };
}
