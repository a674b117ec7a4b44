/**
 * `hrm solve sudoku <puzzle> | maze <file> | arc <task.json>  checkpoint=<file> [--trace | --json]`: the
 * library's solve (src/platform/solve-run.ts) on the best kernels here, printed.
 */
import { getKernels } from "../src/node.js";
import { solveFromWords } from "../src/platform/solve-run.js";

export { SOLVE_HELP, SOLVE_OPTIONS as SOLVE_SCHEMA } from "../src/platform/solve-run.js";

export const runSolve = (words: string[]): Promise<boolean> =>
  solveFromWords(words, getKernels(), (text) => console.log(text));
