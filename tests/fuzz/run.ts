/**
 * Runs fuzz targets and classifies every input: accepted (and round-trips), a clean error (the loader's own
 * class, naming the file, one line of at most 500 characters), a crash (anything else thrown), a hang (over 1 s),
 * or a silent acceptance (accepted, but re-serializing does not give the same values back).
 */
import fc from "fast-check";
import type { FuzzTarget } from "./targets.js";

export type Outcome = "accepted" | "clean" | "crash" | "hang" | "silent";
export const HANG_MS = 1000;

export interface Verdict {
  outcome: Outcome;
  detail: string;
  ms: number;
}

export function classify(t: FuzzTarget, input: Uint8Array): Verdict {
  const t0 = performance.now();
  let value: unknown;
  try {
    value = t.load(input);
  } catch (e) {
    const ms = performance.now() - t0;
    const msg = e instanceof Error ? e.message : String(e);
    const name = e instanceof Error ? e.constructor.name : typeof e;
    if (ms > HANG_MS)
      return { outcome: "hang", detail: `${ms.toFixed(0)} ms, then ${name}: ${msg.slice(0, 200)}`, ms };
    const own = t.errors.some((c) => e instanceof c);
    const clean = own && msg.includes(t.file) && !msg.includes("\n") && msg.length <= 500;
    return { outcome: clean ? "clean" : "crash", detail: `${name}: ${msg.slice(0, 300)}`, ms };
  }
  const ms = performance.now() - t0;
  if (ms > HANG_MS) return { outcome: "hang", detail: `accepted after ${ms.toFixed(0)} ms`, ms };
  let diff: string | null;
  try {
    diff = t.roundTrip(value, input);
  } catch (e) {
    diff = `re-serializing threw ${e instanceof Error ? `${e.constructor.name}: ${e.message.slice(0, 200)}` : e}`;
  }
  return diff === null ? { outcome: "accepted", detail: "", ms } : { outcome: "silent", detail: diff, ms };
}

export interface Stats {
  target: string;
  inputs: number;
  counts: Record<Outcome, number>;
  maxMs: number;
  /** The first five inputs of each bad outcome, for the report. */
  examples: { outcome: Outcome; detail: string; input: Uint8Array }[];
}

/** Classifies `runs` generated inputs (in chunks, so memory stays flat); `seed` makes the run repeatable. */
export function fuzzTarget(t: FuzzTarget, runs: number, seed: number, onChunk?: (s: Stats) => void): Stats {
  const stats: Stats = {
    target: t.name,
    inputs: 0,
    counts: { accepted: 0, clean: 0, crash: 0, hang: 0, silent: 0 },
    maxMs: 0,
    examples: [],
  };
  const arb = t.inputs();
  for (let chunk = 0; stats.inputs < runs; chunk++) {
    const n = Math.min(1000, runs - stats.inputs);
    // Chunk seeds never overlap between runs with different seeds.
    for (const input of fc.sample(arb, { numRuns: n, seed: (seed * 1_000_003 + chunk) | 0 })) {
      const v = classify(t, input);
      stats.inputs++;
      stats.counts[v.outcome]++;
      stats.maxMs = Math.max(stats.maxMs, v.ms);
      const kept = stats.examples.filter((e) => e.outcome === v.outcome).length;
      if (v.outcome !== "accepted" && v.outcome !== "clean" && kept < 5)
        stats.examples.push({ outcome: v.outcome, detail: v.detail, input });
    }
    onChunk?.(stats);
  }
  return stats;
}
