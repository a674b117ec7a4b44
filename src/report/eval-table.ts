/** An evaluation's metrics as a text table: one row per test set, one column per metric (official names). */
import type { Reduced } from "../train/metrics.js";

export function evalTableLines(step: number, m: Reduced): string[] {
  const sets = [...new Set(Object.keys(m).map((k) => k.slice(0, k.lastIndexOf("/"))))];
  const metrics = [...new Set(Object.keys(m).map((k) => k.slice(k.lastIndexOf("/") + 1)))];
  const w = Math.max(10, ...sets.map((s) => s.length));
  const cell = (x: string, v: string) => v.padStart(Math.max(9, x.length));
  return [
    `evaluation at step ${step}`,
    `  ${"set".padEnd(w)} ${metrics.map((x) => cell(x, x)).join(" ")}`,
    ...sets.map(
      (s) => `  ${s.padEnd(w)} ${metrics.map((x) => cell(x, (m[`${s}/${x}`] ?? NaN).toFixed(4))).join(" ")}`,
    ),
  ];
}
