/**
 * `hrm quickstart` (what `npm start` runs): the library's main job (src/platform/quickstart.ts), printed: 4x4
 * Sudoku built, HRM trained on the CPU, the held-out puzzles evaluated by segment limit and with adaptive
 * halting, a few solved. `--arch trm` trains TRM; `--paper data_path=<dir>` runs the paper's Sudoku recipe on a
 * dataset; any key=value is passed to `hrm train` as an override.
 */
import { join } from "node:path";
import { getKernels } from "../src/node.js";
import { paperWords, quickstart, takeArch } from "../src/platform/quickstart.js";
import { progress, ProgressBar } from "./progress.js";
import { consoleReporter, runTrain } from "./train.js";

export { PAPER_SUDOKU, QUICKSTART, QUICKSTART_TRM } from "../src/platform/quickstart.js";

const grid = (tokens: ArrayLike<number>, n: number): string[] =>
  Array.from({ length: n }, (_, r) =>
    Array.from({ length: n }, (_, c) => (tokens[r * n + c] >= 2 ? String(tokens[r * n + c] - 1) : ".")).join(
      " ",
    ),
  );

const SLOW = (backend: string) =>
  `warning: the native addon is not in use, so this runs on ${backend.startsWith("wasm") ? "the WASM kernels, several times" : "the TypeScript kernels, about 10-20x"} ` +
  "slower (see the ETA). Install a C compiler (gcc or clang, make, python3) and run npm install again.\n";

export async function runQuickstart(all: string[]): Promise<void> {
  const t0 = performance.now();
  const { arch, rest: words } = takeArch(all);
  if (words.includes("--paper")) {
    await runTrain(
      paperWords(
        arch,
        words.filter((w) => w !== "--paper"),
      ),
    );
    return;
  }
  console.log(
    `hrm-ts quick start: train ${arch.toUpperCase()} on 4x4 Sudoku, CPU only, about 8 minutes on 2 cores\n`,
  );
  const kernels = getKernels();
  if (!kernels.backendName.startsWith("native")) console.warn(SLOW(kernels.backendName));
  const bar = new ProgressBar();
  const say = (l: string) => console.log(l);
  const r = await quickstart(arch, words, kernels, {
    say,
    progress,
    training: consoleReporter(false, bar),
  }).finally(() => bar.break());
  if (!r) return;
  const n = r.size;
  say(
    `   exact accuracy on ${r.puzzles} unseen puzzles by segment limit (trained with ${r.trainedSegments}):`,
  );
  for (const { limit: s, exact } of r.sweep)
    say(`     ${String(s).padStart(2)} segment${s > 1 ? "s" : " "}  ${(100 * exact).toFixed(1)}%`);
  say(
    `   adaptive halting (Q-head decides, at most ${r.adaptive.limit}): ${(100 * r.adaptive.exact).toFixed(1)}% ` +
      `using ${r.adaptive.segments.toFixed(2)} segments per puzzle on average`,
  );
  say("\n4. a few held-out puzzles, solved (puzzle -> answer, checked against the rules):");
  for (const e of r.examples) {
    const [gq, ga] = [grid(e.question, n), grid(e.answer, n)];
    const verdict = `   ${e.valid ? "valid" : "INVALID"}, ${e.segments} segment(s)`;
    gq.forEach((row, i) => say(`     ${row}   ${i === 1 ? "->" : "  "}   ${ga[i]}${i === 1 ? verdict : ""}`));
    say("");
  }
  const total = (performance.now() - t0) / 1000;
  const { run } = r;
  say(
    `done in ${Math.floor(total / 60)} min ${Math.round(total % 60)} s (${run.steps} training steps in ${run.seconds.toFixed(0)} s)`,
  );
  say(`report:     ${join(run.runDir, "report.html")}`);
  say(`checkpoint: ${r.checkpointFile}`);
  const example = Array.from(r.examples[0].question, (t) => (t <= 1 ? "." : String(t - 1))).join("");
  say(`try:        npm run hrm -- solve sudoku ${example} checkpoint=${r.checkpointFile} --trace`);
}
