/**
 * The training progress bar: step/total, a bar, elapsed<ETA, examples/s and live metrics on one line. On a
 * terminal it redraws in place (at most 5 times a second); in a log (not a TTY) it prints a line every
 * `logEvery` seconds. `formatProgress` is pure, for tests.
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

export class ProgressBar {
  private last = 0;
  private drawn = false;
  readonly tty: boolean;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly logEvery = 10,
  ) {
    this.tty = Boolean(out.isTTY);
  }

  update(p: ProgressState, force = false): void {
    const now = performance.now();
    if (!force && now - this.last < (this.tty ? 200 : this.logEvery * 1000)) return;
    this.last = now;
    const line = formatProgress(p);
    if (this.tty) {
      const width = this.out.columns ?? 120;
      this.out.write(`\r${line.slice(0, width - 1).padEnd(Math.min(width - 1, line.length))}\x1b[K`);
      this.drawn = true;
    } else this.out.write(`${line}\n`);
  }

  /** Ends the in-place line so that other output starts on a fresh one. */
  break(): void {
    if (this.tty && this.drawn) this.out.write("\n");
    this.drawn = false;
  }
}

/** Progress on stderr: an updating line on a terminal, a line every 5 s (and at the end) in a log. */
export function progress(label: string): (done: number, total: number) => void {
  const tty = process.stderr.isTTY;
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    if (done !== total && now - last < (tty ? 200 : 5000)) return;
    last = now;
    const pct = ((100 * done) / total).toFixed(0);
    process.stderr.write(
      tty
        ? `\r${label}: ${done}/${total} (${pct}%)${done === total ? "\n" : ""}`
        : `${label}: ${done}/${total} (${pct}%)\n`,
    );
  };
}
