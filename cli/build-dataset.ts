/**
 * `hrm build-dataset sudoku|maze|arc key=value...`: the library's dataset recipes (src/data/recipes.ts) on
 * Node's files, with progress bars; prints one line per split written.
 */
import type { ArcOptions, MazeOptions, SudokuOptions } from "../src/data/recipes.js";
import {
  ARC_OPTIONS,
  buildArcDir,
  buildMazeDir,
  buildSudokuDir,
  MAZE_OPTIONS,
  SUDOKU_OPTIONS,
} from "../src/data/recipes.js";
import { nodeBuildIO } from "../src/platform/datasets.js";
import type { Options } from "./parse.js";
import { progress } from "./progress.js";

export { ARC_OPTIONS as ARC_SCHEMA, MAZE_OPTIONS as MAZE_SCHEMA, SUDOKU_OPTIONS as SUDOKU_SCHEMA };

const print = (lines: string[]) => lines.forEach((l) => console.log(l));

// Each takes what parseOptions made of the words with the matching schema.
export const buildSudoku = (o: Options) =>
  print(buildSudokuDir(o as SudokuOptions, nodeBuildIO({ progress })));
export const buildMaze = (o: Options) => print(buildMazeDir(o as MazeOptions, nodeBuildIO({ progress })));
export const buildArc = (o: Options) => print(buildArcDir(o as ArcOptions, nodeBuildIO({ progress })));
