#!/usr/bin/env node
/**
 * Rebuilds tests/fixtures/ from the workspace's full copies: the official HRM and TRM fixtures (trimmed of the
 * arrays no test reads), a sample of ARC tasks in the Kaggle "combined" layout, and a sample of the Sudoku CSV.
 *
 *   node scripts/make-test-fixtures.mjs <hrm-official-dir> <arc-dir> <sudoku-csv> [out=tests/fixtures] [trm-official-dir]
 *
 * The selection is deterministic (file order), so rerunning on the same inputs gives the same bytes.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";

const [hrmDir, arcDir, sudokuCsv, out = "tests/fixtures", trmDir] = process.argv.slice(2);
if (!hrmDir || !arcDir || !sudokuCsv) {
  console.error("usage: node scripts/make-test-fixtures.mjs <hrm-official-dir> <arc-dir> <sudoku-csv> [out]");
  process.exit(2);
}

// Arrays that no test reads: the per-call trace of segment 1, the final carries (equal to the last entries of
// eval/z_H.npy and eval/z_L.npy) and the native-bfloat16 Q values (the bf16 test compares logits).
const TRIMMED = [
  "eval/seg1_trace.npy",
  "eval/z_H_final.npy",
  "eval/z_L_final.npy",
  "eval_bf16_native/q_halt_logits.npy",
];

function walk(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

function copyOfficial(src, name) {
  const dest = join(out, name);
  let bytes = 0;
  for (const file of walk(src)) {
    const rel = relative(src, file);
    if (TRIMMED.some((t) => rel.endsWith(`/${t}`))) continue;
    mkdirSync(dirname(join(dest, rel)), { recursive: true });
    copyFileSync(file, join(dest, rel));
    bytes += statSync(file).size;
  }
  console.log(`${name}: ${(bytes / 2 ** 20).toFixed(1)} MiB`);
}

const ARC_SETS = ["training", "evaluation", "concept", "training2", "evaluation2"];

/** The first 4 tasks of each set, plus the first with several test inputs and the first with a 30x30 grid. */
function arcSample(challenges) {
  const ids = Object.keys(challenges);
  const pairs = (t) => [...t.train, ...t.test];
  const pick = new Set(ids.slice(0, 4));
  const multi = ids.find((k) => challenges[k].test.length > 1);
  const full = ids.find((k) =>
    pairs(challenges[k]).some((p) => p.input.length === 30 && p.input[0].length === 30),
  );
  for (const k of [multi, full]) if (k) pick.add(k);
  return [...pick];
}

function copyArc() {
  const dest = join(out, "data", "arc");
  mkdirSync(dest, { recursive: true });
  for (const set of ARC_SETS) {
    const read = (kind) => JSON.parse(readFileSync(join(arcDir, `arc-agi_${set}_${kind}.json`), "utf8"));
    const challenges = read("challenges");
    const solutions = read("solutions");
    const ids = arcSample(challenges);
    const subset = (obj) => Object.fromEntries(ids.map((k) => [k, obj[k]]));
    writeFileSync(join(dest, `arc-agi_${set}_challenges.json`), JSON.stringify(subset(challenges)));
    writeFileSync(join(dest, `arc-agi_${set}_solutions.json`), JSON.stringify(subset(solutions)));
    console.log(`arc ${set}: ${ids.join(" ")}`);
  }
}

function copySudoku() {
  const dest = join(out, "data", "sudoku");
  mkdirSync(dest, { recursive: true });
  const lines = readFileSync(sudokuCsv, "utf8").split("\n");
  // The header and the first 1000 rows (the source file is shuffled, so every source list is represented).
  writeFileSync(join(dest, "puzzles.csv"), lines.slice(0, 1001).join("\n") + "\n");
  console.log("sudoku: 1000 rows");
}

copyOfficial(hrmDir, "hrm-official");
if (trmDir) copyOfficial(trmDir, "trm-official");
copyArc();
copySudoku();
