/**
 * docs/RESULTS.md: every experiment's tables (docs/results/<name>/tables.md, written by `hrm experiment` or
 * `npm run bench -- --only=memory`) under one roof, rebuilt whenever one of them changes.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** Rebuilds <out>/../RESULTS.md from <out>/<name>/tables.md; returns its path. */
export function writeResultsIndex(out: string): string {
  const names = existsSync(out)
    ? readdirSync(out)
        .filter((n) => existsSync(join(out, n, "tables.md")))
        .sort()
    : [];
  const parts = [
    "# Results",
    "",
    "Measured on CPUs by `npm run experiments -- <name>` (specs in experiments/) and `npm run bench -- --only=memory`;",
    "every table comes from real runs, with the command that reruns it beside it and the machine on its page.",
    "",
  ];
  for (const n of names)
    parts.push(
      `## ${n}`,
      "",
      `[Full page](results/${n}/README.md)`,
      "",
      readFileSync(join(out, n, "tables.md"), "utf8"),
      "",
    );
  const file = join(dirname(out), "RESULTS.md");
  writeFileSync(file, parts.join("\n"));
  return file;
}
