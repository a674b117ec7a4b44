/**
 * The training progress bar on stderr (the line is src/report/progress-line.ts): on a terminal it redraws in
 * place (at most 5 times a second); in a log (not a TTY) it prints a line every `logEvery` seconds.
 */
import type { ProgressState } from "../src/report/progress-line.js";
import { formatProgress } from "../src/report/progress-line.js";

export type { ProgressState } from "../src/report/progress-line.js";
export { formatDuration, formatProgress } from "../src/report/progress-line.js";

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
