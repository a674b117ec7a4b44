/**
 * The training report: line charts of the logged metrics as standalone SVG, and one self-contained HTML page
 * that shows them inline with the final evaluation table and the config. Input is the metrics log (one JSON
 * object per line: `step` plus "train/..." or "<set>/..." keys). Pure: strings in, strings out.
 */

export type MetricRecord = Record<string, number | string | boolean>;

export interface Series {
  name: string;
  points: [number, number][];
}

const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

function fmt(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(1) : String(Number(v.toPrecision(4)));
}

/** One chart: x = step (or xLabel), y = value; series drawn as lines (points with one sample drawn as dots). */
export function lineChartSvg(
  title: string,
  series: Series[],
  width = 640,
  height = 320,
  xLabel = "step",
): string {
  const pad = { l: 64, r: 16, t: 32, b: 44 };
  const all = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y));
  const xs = all.map(([x]) => x);
  const ys = all.map(([, y]) => y);
  const x0 = Math.min(0, ...xs);
  let x1 = Math.max(1, ...xs);
  let [y0, y1] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  if (y1 - y0 < 1e-12) [y0, y1] = [y0 - 0.5 * (Math.abs(y0) || 1), y1 + 0.5 * (Math.abs(y1) || 1)];
  if (x1 === x0) x1 = x0 + 1;
  const X = (x: number) => pad.l + ((x - x0) / (x1 - x0)) * (width - pad.l - pad.r);
  const Y = (y: number) => height - pad.b - ((y - y0) / (y1 - y0)) * (height - pad.t - pad.b);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="13">${esc(title)}</text>`,
  ];
  for (const t of niceTicks(y0, y1))
    parts.push(
      `<line x1="${pad.l}" x2="${width - pad.r}" y1="${Y(t).toFixed(1)}" y2="${Y(t).toFixed(1)}" stroke="#eee"/>`,
      `<text x="${pad.l - 6}" y="${(Y(t) + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`,
    );
  for (const t of niceTicks(x0, x1))
    parts.push(
      `<text x="${X(t).toFixed(1)}" y="${height - pad.b + 16}" text-anchor="middle">${fmt(t)}</text>`,
    );
  parts.push(
    `<text x="${(pad.l + width - pad.r) / 2}" y="${height - 8}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<rect x="${pad.l}" y="${pad.t}" width="${width - pad.l - pad.r}" height="${height - pad.t - pad.b}" fill="none" stroke="#999"/>`,
  );
  series.forEach((s, i) => {
    const c = COLOURS[i % COLOURS.length];
    const pts = s.points.filter(([, y]) => Number.isFinite(y));
    if (pts.length > 1)
      parts.push(
        `<polyline fill="none" stroke="${c}" stroke-width="1.5" points="${pts.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(" ")}"/>`,
      );
    if (pts.length <= 30)
      for (const [x, y] of pts)
        parts.push(`<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="2.5" fill="${c}"/>`);
    parts.push(
      `<rect x="${pad.l + 10}" y="${pad.t + 8 + i * 16}" width="12" height="3" fill="${c}"/>`,
      `<text x="${pad.l + 28}" y="${pad.t + 13 + i * 16}">${esc(s.name)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n");
}

/** Keeps at most `max` points (every k-th, always the last) so long runs stay small files. */
function thin(points: [number, number][], max = 2000): [number, number][] {
  if (points.length <= max) return points;
  const k = Math.ceil(points.length / max);
  return points.filter((_, i) => i % k === 0 || i === points.length - 1);
}

function seriesOf(records: MetricRecord[], key: string, name = key): Series {
  const points: [number, number][] = [];
  for (const r of records)
    if (typeof r[key] === "number" && typeof r.step === "number") points.push([r.step, r[key]]);
  return { name, points: thin(points) };
}

/** The evaluation keys in the log ("<set>/<metric>", not train/), by metric name. */
function evalKeys(records: MetricRecord[], metric: string): string[] {
  const keys = new Set<string>();
  for (const r of records)
    for (const k of Object.keys(r)) if (!k.startsWith("train/") && k.endsWith(`/${metric}`)) keys.add(k);
  return [...keys].sort();
}

export interface ReportChart {
  file: string;
  title: string;
  svg: string;
}

/** The four standard charts: loss, exact accuracy, mean ACT steps, learning rate. */
export function reportCharts(records: MetricRecord[]): ReportChart[] {
  const withEval = (metric: string) => [
    seriesOf(records, `train/${metric}`),
    ...evalKeys(records, metric).map((k) => seriesOf(records, k, `eval ${k}`)),
  ];
  const charts: [string, string, Series[]][] = [
    [
      "loss.svg",
      "Loss",
      [
        seriesOf(records, "train/lm_loss"),
        seriesOf(records, "train/q_halt_loss"),
        ...evalKeys(records, "lm_loss").map((k) => seriesOf(records, k, `eval ${k}`)),
      ],
    ],
    ["exact_accuracy.svg", "Exact accuracy", withEval("exact_accuracy")],
    ["steps.svg", "Mean ACT steps", withEval("steps")],
    ["lr.svg", "Learning rate", [seriesOf(records, "train/lr")]],
  ];
  return charts.map(([file, title, series]) => ({
    file,
    title,
    svg: lineChartSvg(
      title,
      series.filter((s) => s.points.length > 0),
    ),
  }));
}

/** A self-contained page: the charts inline, the last evaluation as a table, and the config. */
export function reportHtml(
  title: string,
  charts: ReportChart[],
  records: MetricRecord[],
  configYaml: string,
): string {
  const lastEval = [...records]
    .reverse()
    .find((r) => Object.keys(r).some((k) => k.includes("/") && !k.startsWith("train/")));
  const lastTrain = [...records].reverse().find((r) => "train/lm_loss" in r);
  const rows = (r: MetricRecord | undefined) =>
    r
      ? Object.entries(r)
          .filter(([k, v]) => k.includes("/") && typeof v === "number")
          .map(([k, v]) => `<tr><td>${esc(k)}</td><td>${fmt(v as number)}</td></tr>`)
          .join("")
      : "";
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;max-width:1320px;margin:1em auto;padding:0 1em}
.charts{display:flex;flex-wrap:wrap;gap:8px}table{border-collapse:collapse}td{padding:2px 10px;border-bottom:1px solid #ddd}
pre{background:#f6f6f6;padding:8px;overflow:auto}</style></head><body>
<h1>${esc(title)}</h1>
<div class="charts">${charts.map((c) => c.svg).join("\n")}</div>
<h2>Last evaluation${lastEval ? ` (step ${esc(String(lastEval.step))})` : ""}</h2>
<table>${rows(lastEval) || "<tr><td>no evaluation yet</td></tr>"}</table>
<h2>Last training step${lastTrain ? ` (step ${esc(String(lastTrain.step))})` : ""}</h2>
<table>${rows(lastTrain)}</table>
<h2>Config</h2><pre>${esc(configYaml)}</pre>
</body></html>
`;
}
