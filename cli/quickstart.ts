/**
 * `hrm quickstart` (what `npm start` runs): the main job on a fresh machine with no download. Builds a 4x4
 * Sudoku dataset with the project's generator (test puzzles absent from train), trains a small HRM on the
 * CPU with the official loop (ACT with 2 segments, H_cycles = L_cycles = 2), evaluates the held-out puzzles
 * at several segment limits and with adaptive halting, and shows a few solved puzzles, the report and the
 * checkpoint. `--arch trm` trains TRM instead (its recipe below). `--paper data_path=<dir>` runs the paper's
 * Sudoku configuration on a dataset instead; any key=value is passed to `hrm train` as an override.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { boxShapeFor, isValidBoxSolution } from "../src/data/sudoku-box.js";
import { decodeModelSafetensors } from "../src/model/checkpoint.js";
import { HRMInner } from "../src/model/inner.js";
import { getKernels } from "../src/node.js";
import { readBytes, readSplit } from "../src/platform/files.js";
import { evaluateAdaptive } from "../src/eval/adaptive.js";
import { evaluateSweep } from "../src/eval/evaluate.js";
import { buildSudoku, SUDOKU_SCHEMA } from "./build-dataset.js";
import { CliError, mergeWords, parseOptions } from "./parse.js";
import { runStamp, runTrain } from "./train.js";

/** The quick-start recipe: what it trains (README quotes these). */
export const QUICKSTART = {
  data: ["size=4", "generate_train=20000", "generate_test=500", "num_aug=10", "clues=5", "seed=0"],
  train: [
    "global_batch_size=64",
    "epochs=16",
    "eval_interval=4",
    "lr=2e-3",
    "lr_min_ratio=0.1",
    "lr_warmup_steps=50",
    "weight_decay=0.1",
    "arch.hidden_size=128",
    "arch.num_heads=4",
    "arch.H_layers=2",
    "arch.L_layers=2",
    "arch.H_cycles=2",
    "arch.L_cycles=2",
    "arch.halt_max_steps=2",
    "arch.puzzle_emb_ndim=0",
    "arch.loss.loss_type=softmax_cross_entropy",
    "arch.forward_dtype=float32",
  ],
};

/**
 * The TRM quick start: the same data, batch and schedule; TRM's one network of 2 blocks, 2 x 2 cycles (12
 * block calls per segment, as HRM's 2 x (2 x 2 + 2)), no puzzle embedding, and an EMA of the weights as TRM's
 * runs keep (its rate 0.999 over these ~5,000 steps).
 */
export const QUICKSTART_TRM = [
  "arch.name=trm",
  "arch.L_layers=2",
  "arch.H_cycles=2",
  "arch.L_cycles=2",
  "arch.puzzle_emb_len=0",
  "ema=true",
];

/** The paper's Sudoku-Extreme recipe (official README): run on a dataset built from the official CSVs. */
export const PAPER_SUDOKU = [
  "epochs=20000",
  "eval_interval=2000",
  "global_batch_size=384",
  "lr=7e-5",
  "puzzle_emb_lr=7e-5",
  "weight_decay=1.0",
  "puzzle_emb_weight_decay=1.0",
];

function grid(tokens: ArrayLike<number>, n: number): string[] {
  return Array.from({ length: n }, (_, r) =>
    Array.from({ length: n }, (_, c) => {
      const v = tokens[r * n + c] - 1;
      return v >= 1 ? String(v) : ".";
    }).join(" "),
  );
}

/** `--arch hrm|trm` (or `--arch=...`, which the CLI hands on as `arch=...`): the architecture, and the rest. */
function takeArch(words: string[]): { arch: "hrm" | "trm"; rest: string[] } {
  const i = words.findIndex((w) => w === "--arch" || w.startsWith("arch="));
  if (i < 0) return { arch: "hrm", rest: words };
  const value = words[i] === "--arch" ? words[i + 1] : words[i].slice("arch=".length);
  if (value !== "hrm" && value !== "trm") throw new CliError(`--arch ${value ?? ""}: expected hrm or trm`);
  return { arch: value, rest: words.filter((_, j) => j !== i && !(words[i] === "--arch" && j === i + 1)) };
}

export async function runQuickstart(all: string[]): Promise<void> {
  const t0 = performance.now();
  const { arch, rest: words } = takeArch(all);
  if (words.includes("--paper")) {
    const rest = words.filter((w) => w !== "--paper");
    if (!rest.some((w) => w.startsWith("data_path=")))
      throw new CliError(
        "--paper needs data_path=<dataset dir> (e.g. built with hrm build-dataset sudoku train_csv=...)",
      );
    await runTrain(mergeWords(PAPER_SUDOKU, arch === "trm" ? ["arch.name=trm", "ema=true"] : [], rest));
    return;
  }
  const data = "data/quickstart-sudoku-4x4-20k"; // named by recipe: a changed recipe builds afresh
  console.log(
    `hrm-ts quick start: train ${arch.toUpperCase()} on 4x4 Sudoku, CPU only, about 8 minutes on 2 cores\n`,
  );
  const backend = getKernels().backendName;
  if (!backend.startsWith("native"))
    console.warn(
      `warning: the native addon is not in use, so this runs on ${backend.startsWith("wasm") ? "the WASM kernels, several times" : "the TypeScript kernels, about 10-20x"} ` +
        "slower (see the ETA). Install a C compiler (gcc or clang, make, python3) and run npm install again.\n",
    );
  if (!existsSync(join(data, "test", "dataset.json"))) {
    console.log(`1. building the dataset with the project's generator -> ${data}`);
    buildSudoku(parseOptions([...QUICKSTART.data, `output_dir=${data}`], SUDOKU_SCHEMA));
  } else console.log(`1. dataset: ${data} (already built)`);
  console.log(
    "\n2. training (progress on stderr; metrics.jsonl, checkpoints and report in the run directory)",
  );
  const run = await runTrain(
    mergeWords(
      [
        `data_path=${data}`,
        `checkpoint_path=checkpoints/quickstart/${arch === "trm" ? "trm-" : ""}${runStamp()}`,
      ],
      QUICKSTART.train,
      arch === "trm" ? QUICKSTART_TRM : [],
      words,
    ),
  );
  if (!run.checkpoint) return;
  console.log("\n3. evaluating the held-out puzzles");
  const file = join(run.checkpoint, "model.safetensors");
  const params = decodeModelSafetensors(readBytes(file), file);
  const inner = new HRMInner(params, getKernels());
  const test = readSplit(data, "test");
  const set = test.sets.get("all")!;
  const n = Math.round(Math.sqrt(test.metadata.seq_len));
  const limits = [1, 2, 4, 8];
  const sweep = evaluateSweep(inner, set, test.metadata, 100, limits);
  console.log(
    `   exact accuracy on ${set.inputs.length / (n * n)} unseen puzzles by segment limit (trained with ${params.config.halt_max_steps}):`,
  );
  for (const s of limits)
    console.log(
      `     ${String(s).padStart(2)} segment${s > 1 ? "s" : " "}  ${(100 * sweep[`all/exact_accuracy@${s}`]).toFixed(1)}%`,
    );
  const ad = evaluateAdaptive(inner, set, test.metadata, 100, 8);
  console.log(
    `   adaptive halting (Q-head decides, at most 8): ${(100 * ad.metrics["all/exact_accuracy"]).toFixed(1)}% ` +
      `using ${ad.metrics["all/steps"].toFixed(2)} segments per puzzle on average`,
  );
  console.log("\n4. a few held-out puzzles, solved (puzzle -> answer, checked against the rules):");
  const box = boxShapeFor(n);
  const L = n * n;
  for (let e = 0; e < 3; e++) {
    const q = set.inputs.subarray(e * L, (e + 1) * L);
    const a = ad.predictions.preds.subarray(e * L, (e + 1) * L);
    const digits = Array.from(a, (t) => t - 1);
    const valid = isValidBoxSolution(digits, box) && Array.from(q).every((t, i) => t <= 1 || t === a[i]);
    const [gq, ga] = [grid(q, n), grid(a, n)];
    gq.forEach((row, i) =>
      console.log(
        `     ${row}   ${i === 1 ? "->" : "  "}   ${ga[i]}${i === 1 ? `   ${valid ? "valid" : "INVALID"}, ${ad.predictions.steps[e]} segment(s)` : ""}`,
      ),
    );
    console.log("");
  }
  const total = (performance.now() - t0) / 1000;
  console.log(
    `done in ${Math.floor(total / 60)} min ${Math.round(total % 60)} s (${run.steps} training steps in ${run.seconds.toFixed(0)} s)`,
  );
  console.log(`report:     ${join(run.runDir, "report.html")}`);
  console.log(`checkpoint: ${file}`);
  const example = Array.from(set.inputs.subarray(0, L), (t) => (t <= 1 ? "." : String(t - 1))).join("");
  console.log(`try:        npm run hrm -- solve sudoku ${example} checkpoint=${file} --trace`);
}
