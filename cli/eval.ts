/**
 * `hrm eval checkpoint=<file> data_path=<dir> [sweep_steps=1,2,4,8,16] [halting=adaptive] ...`: the library's
 * official evaluation (src/platform/eval-run.ts) on the best kernels here, its messages and metrics printed.
 */
import { getKernels } from "../src/node.js";
import type { EvalOptions } from "../src/platform/eval-run.js";
import { EVAL_OPTIONS, runEval as evalRun } from "../src/platform/eval-run.js";
import type { Reduced } from "../src/train/metrics.js";
import type { Options } from "./parse.js";

export { EVAL_OPTIONS as EVAL_SCHEMA };

/** `o`: what parseOptions made of the words with EVAL_SCHEMA. */
export const runEval = (o: Options): Reduced =>
  evalRun(o as EvalOptions, getKernels(), (line) => console.log(line));
