/**
 * npm run bench -- --only=memory: peak memory of a training step as H_cycles x L_cycles grows (2x2, 4x4, 8x8),
 * for HRM's 1-step gradient, HRM with arch.bptt=true (exact backpropagation through every cycle of the
 * segment) and TRM's backpropagation through its last full cycle. Small models (hidden 128, 4 heads; HRM 2+2
 * blocks, TRM one network of 2), 9x9 Sudoku shapes, batch 32, float32, one process per case. Prints the
 * table and writes docs/results/memory/ (README.md, tables.md) and docs/RESULTS.md.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { writeResultsIndex } from "../src/platform/results.js";
import type { ModelResult } from "./model.js";
import { runCase } from "./model.js";
import type { ModelCase } from "./model-worker.js";

const GRIDS = [2, 4, 8];
const MODES: [string, ModelCase["arch"]][] = [
  ["HRM, 1-step gradient", {}],
  ["HRM, bptt", { bptt: true }],
  ["TRM, last cycle", { architecture: "trm", H_layers: 0, L_layers: 2, puzzle_emb_len: 1 }],
];

const row = (cells: string[]) => `| ${cells.join(" | ")} |`;

export function benchMemory(records: Record<string, unknown>[], out = "docs/results"): void {
  const results: ModelResult[][] = GRIDS.map((n) =>
    MODES.map(([label, arch]) => {
      process.stdout.write(`  running ${label} at ${n}x${n}\n`);
      const r = runCase({
        config: "small",
        mode: "train",
        batch: 32,
        reps: 1,
        arch: { ...arch, H_cycles: n, L_cycles: n },
        label: `${label} ${n}x${n}`,
      });
      records.push({
        bench: "memory",
        mode: label,
        cycles: n,
        peak_rss_mb: r.peak_rss_mb,
        seconds: r.seconds,
      });
      return r;
    }),
  );
  const head = ["H_cycles x L_cycles", ...MODES.flatMap(([m]) => [`${m}: peak MB`, `${m}: s/step`])];
  const table = [
    row(head),
    row(head.map(() => "---")),
    ...GRIDS.map((n, i) =>
      row([`${n} x ${n}`, ...results[i].flatMap((r) => [r.peak_rss_mb.toFixed(0), r.seconds.toFixed(2)])]),
    ),
  ].join("\n");
  console.log(`\n${table}\n`);
  const tables = [
    "### Peak memory of a training step against H_cycles x L_cycles",
    "",
    table,
    "",
    "Peak resident memory of the whole process (model, optimiser, data, workspace) over one training step at batch",
    "32; small models (hidden 128, 4 heads; HRM 2+2 blocks, TRM one network of 2 blocks), 9x9 Sudoku shapes,",
    "float32. The 1-step gradient keeps 4 block records whatever the cycles; bptt keeps H_cycles x (2 L_cycles + 2)",
    "of them, TRM 2 (L_cycles + 1). Rerun: `npm run bench -- --only=memory`.",
  ].join("\n");
  const dir = join(out, "memory");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "tables.md"), `${tables}\n`);
  const cpu = cpus()[0]?.model.trim() ?? "unknown";
  writeFileSync(
    join(dir, "README.md"),
    `# Memory\n\n${tables}\n\nMeasured on ${cpu} (${cpus().length} cores), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.\n`,
  );
  console.log(`wrote ${join(dir, "README.md")} and ${writeResultsIndex(out)}`);
}
