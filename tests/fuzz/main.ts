/**
 * npm run fuzz [-- --runs=100000] [--seed=N] [--only=<name>]: fuzzes every loader with mutated inputs and prints,
 * per format, the inputs tried, how many were accepted (and round-tripped), refused with a clean error, crashed,
 * hung or were silently accepted; bad inputs are saved under fuzz-findings/ for replay. Exit code 1 on any crash,
 * hang or silent acceptance. Progress goes to stderr.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fuzzTarget } from "./run.js";
import type { Stats } from "./run.js";
import { TARGETS } from "./targets.js";

function arg(name: string, fallback: string): string {
  const a = process.argv.slice(2).find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : fallback;
}

const runs = Number(arg("runs", "100000"));
const seed = Number(arg("seed", "1"));
const only = arg("only", "");
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(seed)) {
  console.error("usage: npm run fuzz [-- --runs=N] [--seed=N] [--only=<format>]");
  process.exit(2);
}
const targets = TARGETS.filter((t) => !only || t.name.toLowerCase().includes(only.toLowerCase()));
if (!targets.length) {
  console.error(`--only=${only}: no such format (formats: ${TARGETS.map((t) => t.name).join(", ")})`);
  process.exit(2);
}

const rows: Stats[] = [];
const t0 = performance.now();
for (const t of targets) {
  const ts = performance.now();
  const s = fuzzTarget(t, runs, seed, (p) =>
    process.stderr.write(
      `\r${t.name}: ${p.inputs}/${runs} (${((performance.now() - ts) / 1000).toFixed(0)} s)   `,
    ),
  );
  process.stderr.write("\n");
  rows.push(s);
  s.examples.forEach((e, i) => {
    const dir = join("fuzz-findings", t.name.replace(/\W+/g, "-"));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${e.outcome}-${i}.bin`), e.input);
    console.log(`${t.name}: ${e.outcome}: ${e.detail} (saved as ${join(dir, `${e.outcome}-${i}.bin`)})`);
  });
}

const head = [
  "format",
  "inputs",
  "accepted",
  "clean errors",
  "crashes",
  "hangs",
  "silent acceptances",
  "slowest",
];
const table = rows.map((s) => [
  s.target,
  s.inputs.toLocaleString("en"),
  s.counts.accepted.toLocaleString("en"),
  s.counts.clean.toLocaleString("en"),
  String(s.counts.crash),
  String(s.counts.hang),
  String(s.counts.silent),
  `${s.maxMs.toFixed(0)} ms`,
]);
const sum = (k: "accepted" | "clean" | "crash" | "hang" | "silent") =>
  rows.reduce((a, s) => a + s.counts[k], 0);
table.push([
  "total",
  rows.reduce((a, s) => a + s.inputs, 0).toLocaleString("en"),
  sum("accepted").toLocaleString("en"),
  sum("clean").toLocaleString("en"),
  String(sum("crash")),
  String(sum("hang")),
  String(sum("silent")),
  "",
]);
console.log(`\n| ${head.join(" | ")} |\n|${head.map(() => "---").join("|")}|`);
for (const r of table) console.log(`| ${r.join(" | ")} |`);
console.log(
  `\nseed ${seed}, ${((performance.now() - t0) / 1000).toFixed(0)} s, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
);
process.exitCode = sum("crash") + sum("hang") + sum("silent") > 0 ? 1 : 0;
