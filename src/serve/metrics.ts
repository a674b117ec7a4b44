/**
 * The few Prometheus instruments `hrm serve` exports (counters, gauges, histograms with labels) and their text
 * exposition format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/). No client library:
 * this is all /metrics needs.
 */

type Labels = Record<string, string>;

const labelText = (l: Labels) => {
  const parts = Object.entries(l).map(
    ([k, v]) => `${k}="${v.replace(/[\\"\n]/g, (ch) => (ch === "\n" ? "\\n" : `\\${ch}`))}"`,
  );
  return parts.length ? `{${parts.join(",")}}` : "";
};
const key = (l: Labels) => JSON.stringify(Object.entries(l).sort());
const num = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(9).replace(/\.?0+$/, ""));

interface Instrument {
  render(): string;
}

export class Counter implements Instrument {
  private values = new Map<string, { labels: Labels; v: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    const e = this.values.get(k) ?? { labels, v: 0 };
    e.v += by;
    this.values.set(k, e);
  }
  get(labels: Labels = {}): number {
    return this.values.get(key(labels))?.v ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const e of this.values.values()) lines.push(`${this.name}${labelText(e.labels)} ${num(e.v)}`);
    return lines.join("\n");
  }
}

export class Gauge implements Instrument {
  private values = new Map<string, { labels: Labels; read: () => number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  /** The gauge reads its value when scraped. */
  track(labels: Labels, read: () => number): void {
    this.values.set(key(labels), { labels, read });
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    for (const e of this.values.values()) lines.push(`${this.name}${labelText(e.labels)} ${num(e.read())}`);
    return lines.join("\n");
  }
}

export class Histogram implements Instrument {
  private series = new Map<string, { labels: Labels; counts: number[]; sum: number; n: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {}
  observe(v: number, labels: Labels = {}): void {
    const k = key(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { labels, counts: this.buckets.map(() => 0), sum: 0, n: 0 }));
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]) s.counts[i]++;
    s.sum += v;
    s.n++;
  }
  count(labels: Labels = {}): number {
    return this.series.get(key(labels))?.n ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) =>
        lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: num(b) })} ${s.counts[i]}`),
      );
      lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: "+Inf" })} ${s.n}`);
      lines.push(`${this.name}_sum${labelText(s.labels)} ${num(s.sum)}`);
      lines.push(`${this.name}_count${labelText(s.labels)} ${s.n}`);
    }
    return lines.join("\n");
  }
}

/** What hrm serve measures. */
export class ServeMetrics {
  readonly requests = new Counter("hrm_requests_total", "HTTP requests by endpoint and status code.");
  readonly latency = new Histogram(
    "hrm_request_duration_seconds",
    "Time from a request's arrival to its last byte, by endpoint.",
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  );
  readonly batchRows = new Histogram(
    "hrm_batch_rows",
    "Puzzles in each segment's forward batch, by model.",
    [1, 2, 4, 8, 16, 32, 64, 128, 256],
  );
  readonly segments = new Histogram(
    "hrm_segments_used",
    "Segments each solved puzzle ran, by model.",
    [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128],
  );
  readonly queueDepth = new Gauge("hrm_queue_depth", "Puzzles waiting for a row, by model.");
  readonly active = new Gauge("hrm_active_rows", "Puzzles in the running batch, by model.");

  render(): string {
    const all: Instrument[] = [
      this.requests,
      this.latency,
      this.batchRows,
      this.segments,
      this.queueDepth,
      this.active,
    ];
    return `${all.map((i) => i.render()).join("\n")}\n`;
  }
}
