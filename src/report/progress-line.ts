/**
 * The training progress line, formatted: step/total, a bar, elapsed<ETA (from the steps this process took),
 * examples/s and live metrics. Pure text; the CLI's ProgressBar draws it.
 */

export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = String(t % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

export interface ProgressState {
  step: number;
  total: number;
  elapsedS: number;
  examplesPerS: number;
  /** The step this process started from (a resumed run's): the ETA comes from the steps taken since. */
  startStep?: number;
  /** Shown as `name value` pairs, in order. */
  live: [string, number][];
}

export function formatProgress(p: ProgressState, barWidth = 24): string {
  const frac = p.total > 0 ? Math.min(1, p.step / p.total) : 0;
  const filled = Math.round(frac * barWidth);
  const bar = "#".repeat(filled) + "-".repeat(barWidth - filled);
  const done = p.step - (p.startStep ?? 0);
  const eta = done > 0 ? (p.elapsedS / done) * (p.total - p.step) : NaN;
  const live = p.live.map(([k, v]) => `${k} ${v.toFixed(3)}`).join(" ");
  return (
    `${String(p.step).padStart(String(p.total).length)}/${p.total} [${bar}] ${(100 * frac).toFixed(0).padStart(3)}% ` +
    `${formatDuration(p.elapsedS)}<${formatDuration(eta)} ${p.examplesPerS.toFixed(1)} ex/s ${live}`
  );
}
