/**
 * The main job (`hrm quickstart`, `npm start`) on Node: build the 4x4 Sudoku dataset with the project's
 * generator (test puzzles absent from train) unless it is there, train a small HRM (or TRM) with the official
 * loop, then evaluate the held-out puzzles at several segment limits and with adaptive halting, and solve a
 * few. Returns the numbers; the CLI prints them. The recipes are here so that README and tests quote them.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { SelectedKernels } from "../kernels/api.js";
import { buildSudokuDir, SUDOKU_OPTIONS } from "../data/recipes.js";
import { boxShapeFor, isValidBoxSolution } from "../data/sudoku-box.js";
import { evaluateAdaptive } from "../eval/adaptive.js";
import { evaluateSweep } from "../eval/evaluate.js";
import { decodeModelSafetensors } from "../model/checkpoint.js";
import { HRMInner } from "../model/inner.js";
import { RunConfigError } from "../train/config.js";
import { mergeWords, parseOptions } from "../util/options.js";
import { nodeBuildIO } from "./datasets.js";
import { readBytes, readSplit } from "./files.js";
import { runStamp } from "./train-run.js";
import type { TrainReporter, TrainResult } from "./train-session.js";
import { trainFromWords } from "./train-session.js";

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

/** Where the quick start's dataset goes, named by recipe: a changed recipe builds afresh. */
export const QUICKSTART_DATA = "data/quickstart-sudoku-4x4-20k";

/** `--arch hrm|trm` (or `--arch=...`, which the CLI hands on as `arch=...`): the architecture, and the rest. */
export function takeArch(words: string[]): { arch: "hrm" | "trm"; rest: string[] } {
  const i = words.findIndex((w) => w === "--arch" || w.startsWith("arch="));
  if (i < 0) return { arch: "hrm", rest: words };
  const value = words[i] === "--arch" ? words[i + 1] : words[i].slice("arch=".length);
  if (value !== "hrm" && value !== "trm")
    throw new RunConfigError(`--arch ${value ?? ""}: expected hrm or trm`);
  return { arch: value, rest: words.filter((_, j) => j !== i && !(words[i] === "--arch" && j === i + 1)) };
}

/** The words of `--paper data_path=<dir> [key=value ...]`: the paper's recipe on a dataset. */
export function paperWords(arch: "hrm" | "trm", rest: string[]): string[] {
  if (!rest.some((w) => w.startsWith("data_path=")))
    throw new RunConfigError(
      "--paper needs data_path=<dataset dir> (e.g. built with hrm build-dataset sudoku train_csv=...)",
    );
  return mergeWords(PAPER_SUDOKU, arch === "trm" ? ["arch.name=trm", "ema=true"] : [], rest);
}

export interface QuickstartReporter {
  say(line: string): void;
  progress?(label: string): (done: number, total: number) => void;
  training?: TrainReporter;
}

export interface SolvedExample {
  question: Uint8Array;
  answer: Int32Array;
  valid: boolean;
  segments: number;
}

export interface QuickstartResult {
  run: TrainResult;
  checkpointFile: string;
  /** Side of the grid, puzzles held out, and the segment limit training used. */
  size: number;
  puzzles: number;
  trainedSegments: number;
  sweep: { limit: number; exact: number }[];
  adaptive: { limit: number; exact: number; segments: number };
  examples: SolvedExample[];
}

/** Builds (if needed), trains and evaluates; null when training stopped before its first checkpoint. */
export async function quickstart(
  arch: "hrm" | "trm",
  overrides: string[],
  kernels: SelectedKernels,
  report: QuickstartReporter,
): Promise<QuickstartResult | null> {
  const data = QUICKSTART_DATA;
  if (!existsSync(join(data, "test", "dataset.json"))) {
    report.say(`1. building the dataset with the project's generator -> ${data}`);
    const o = parseOptions([...QUICKSTART.data, `output_dir=${data}`], SUDOKU_OPTIONS);
    buildSudokuDir(o, nodeBuildIO({ progress: report.progress })).forEach((l) => report.say(l));
  } else report.say(`1. dataset: ${data} (already built)`);
  report.say(
    "\n2. training (progress on stderr; metrics.jsonl, checkpoints and report in the run directory)",
  );
  const checkpointPath = `checkpoints/quickstart/${arch === "trm" ? "trm-" : ""}${runStamp()}`;
  const words = mergeWords(
    [`data_path=${data}`, `checkpoint_path=${checkpointPath}`],
    QUICKSTART.train,
    arch === "trm" ? QUICKSTART_TRM : [],
    overrides,
  );
  const run = await trainFromWords(words, kernels, report.training);
  if (!run.checkpoint) return null;
  report.say("\n3. evaluating the held-out puzzles");
  const checkpointFile = join(run.checkpoint, "model.safetensors");
  const params = decodeModelSafetensors(readBytes(checkpointFile), checkpointFile);
  const inner = new HRMInner(params, kernels);
  const test = readSplit(data, "test");
  const set = test.sets.get("all")!;
  const size = Math.round(Math.sqrt(test.metadata.seq_len));
  const L = size * size;
  const sweepAt = evaluateSweep(inner, set, test.metadata, 100, [1, 2, 4, 8]);
  const ad = evaluateAdaptive(inner, set, test.metadata, 100, 8);
  const box = boxShapeFor(size);
  const examples = [0, 1, 2].map((e) => {
    const question = set.inputs.subarray(e * L, (e + 1) * L);
    const answer = ad.predictions.preds.subarray(e * L, (e + 1) * L);
    const kept = Array.from(question).every((t, i) => t <= 1 || t === answer[i]);
    const valid =
      kept &&
      isValidBoxSolution(
        Array.from(answer, (t) => t - 1),
        box,
      );
    return { question, answer, valid, segments: ad.predictions.steps[e] };
  });
  return {
    run,
    checkpointFile,
    size,
    puzzles: set.inputs.length / L,
    trainedSegments: params.config.halt_max_steps,
    sweep: [1, 2, 4, 8].map((limit) => ({ limit, exact: sweepAt[`all/exact_accuracy@${limit}`] })),
    adaptive: { limit: 8, exact: ad.metrics["all/exact_accuracy"], segments: ad.metrics["all/steps"] },
    examples,
  };
}
