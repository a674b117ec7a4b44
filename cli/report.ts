/** `hrm report <run dir>`: training curves as SVG files plus a self-contained report.html, from metrics.jsonl. */
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { writeFileAtomic } from "../src/platform/files.js";
import { MetricsLog } from "../src/platform/run-dir.js";
import { reportCharts, reportHtml } from "../src/report/report.js";
import { CliError } from "./parse.js";

/** Writes <runDir>/report/*.svg and <runDir>/report.html; returns the HTML path. */
export function writeReport(runDir: string): string {
  const log = new MetricsLog(runDir);
  if (!existsSync(log.path))
    throw new CliError(`${runDir}: no metrics.jsonl (not a training run directory?)`);
  const records = log.read();
  const charts = reportCharts(records);
  for (const c of charts) writeFileAtomic(join(runDir, "report", c.file), c.svg);
  const cfgPath = join(runDir, "all_config.yaml");
  const yaml = existsSync(cfgPath) ? readFileSync(cfgPath, "utf8") : "";
  const html = join(runDir, "report.html");
  writeFileAtomic(html, reportHtml(`hrm-ts run ${basename(runDir)}`, charts, records, yaml));
  return html;
}
