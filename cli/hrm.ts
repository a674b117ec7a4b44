#!/usr/bin/env node
/** The `hrm` command: dispatches to the subcommands. Parsing lives in parse.ts, work in the library. */
import { buildSudoku, SUDOKU_SCHEMA } from "./build-dataset.js";
import { CliError, parseOptions, usage } from "./parse.js";

const HELP = `usage: hrm <command> ...
  build-dataset sudoku [key=value ...]   build an official-format Sudoku dataset (CSV or generated)
run "hrm <command> --help" for its options`;

function main(argv: string[]): void {
  const [cmd, kind, ...rest] = argv;
  if (!cmd || cmd === "--help" || cmd === "-h") return console.log(HELP);
  if (cmd === "build-dataset") {
    if (kind !== "sudoku")
      throw new CliError(`build-dataset: unknown kind "${kind ?? ""}" (available: sudoku)`);
    if (rest.includes("--help")) return console.log(usage("build-dataset sudoku", SUDOKU_SCHEMA));
    return buildSudoku(parseOptions(rest, SUDOKU_SCHEMA));
  }
  throw new CliError(`unknown command "${cmd}"\n${HELP}`);
}

try {
  main(process.argv.slice(2));
} catch (e) {
  // Expected failures (bad options, bad input files) print one line; anything else keeps its stack.
  const known =
    e instanceof CliError ||
    (e instanceof Error && /Error$/.test(e.constructor.name) && e.constructor.name !== "Error");
  console.error(known ? `hrm: ${(e as Error).message}` : e);
  process.exitCode = 1;
}
