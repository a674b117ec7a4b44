/** Timing helpers for the benches: warm up, then repeat until a time budget, report the median call. */

export interface Timing {
  medianMs: number;
  minMs: number;
  /** The 99th percentile call (the slowest 1% of calls are slower). */
  p99Ms: number;
  reps: number;
}

/** Runs fn once to warm up, then in rounds until `budgetMs` has passed (at least `minReps` calls). */
export function timeIt(fn: () => void, budgetMs = 300, minReps = 3): Timing {
  fn();
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < minReps || performance.now() - start < budgetMs) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
    if (samples.length >= 10000) break;
  }
  samples.sort((a, b) => a - b);
  return {
    medianMs: samples[samples.length >> 1],
    minMs: samples[0],
    p99Ms: samples[Math.floor(0.99 * (samples.length - 1))],
    reps: samples.length,
  };
}

/** Per-call time of a very cheap fn, measured over batches of `inner` calls. */
export function timeTiny(fn: () => void, inner = 10000): number {
  const t = timeIt(() => {
    for (let i = 0; i < inner; i++) fn();
  }, 300);
  return (t.medianMs * 1e6) / inner; // ns per call
}

export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, c) => Math.max(...cells.map((r) => r[c].length)));
  const line = (r: string[]) =>
    r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join("  ");
  return [line(cells[0]), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join(
    "\n",
  );
}
