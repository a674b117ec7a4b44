#!/usr/bin/env node
/** The `hrm` command: dispatches to the subcommands. Parsing lives in parse.ts, work in the library. */
import { ARC_SCHEMA, buildArc, buildMaze, buildSudoku, MAZE_SCHEMA, SUDOKU_SCHEMA } from "./build-dataset.js";
import { EVAL_SCHEMA, runEval } from "./eval.js";
import { EXPORT_SCHEMA, runExport } from "./export.js";
import { writeReport } from "../src/platform/train-run.js";
import { parseServeWords, runServe, SERVE_HELP, SERVE_SCHEMA } from "./serve.js";
import { runSolve, SOLVE_HELP } from "./solve.js";
import { runExperiment } from "./experiment.js";
import { runQuickstart } from "./quickstart.js";
import { runTrain, trainConfigYaml, trainUsage } from "./train.js";
import { fileURLToPath } from "node:url";
import { readJson } from "../src/platform/fs.js";
import type { Options, Schema } from "./parse.js";
import { CliError, parseOptions, usage } from "./parse.js";

const HELP = `usage: hrm <command> ...     (hrm --version; options as key=value or --key=value; --dry-run shows the config)
  quickstart [--arch trm] [--paper data_path=<dir>] [key=value ...]   the main job (npm start): 4x4 Sudoku, train, evaluate, solve
  build-dataset sudoku [key=value ...]   build an official-format Sudoku dataset (CSV or generated)
  build-dataset maze [key=value ...]     build an official-format maze dataset (CSV or generated)
  build-dataset arc [key=value ...]      build the augmented ARC dataset (streams to disk)
  train [config=<file.yaml>] [key=value ...]  train HRM (official config names; arch.key=value for the model)
  train resume=<run dir>                 continue a run from its latest checkpoint
  eval checkpoint=<file> data_path=<dir> [sweep_steps=1,2,4 ...]   evaluate a checkpoint (.pt or .safetensors)
  report <run dir>                       training curves (SVG) and report.html for a run
  export checkpoint=<ours> output=<file.pt>   our checkpoint as the official .pt (+ all_config.yaml beside it)
  solve sudoku|maze|arc <puzzle> checkpoint=<file> [--trace]   solve one puzzle, check the answer
  serve checkpoint=<file> [port=8080 token=...]   the HTTP inference API (dynamic batching, /metrics)
  experiment <name> [models=a,b seeds=0,1]   run experiments/<name>.yaml, write docs/results/<name>/ (resumes)
run "hrm <command> <kind> --help" (or -h) for the options`;

const BUILDERS: Record<string, [Schema, (o: Options) => void]> = {
  sudoku: [SUDOKU_SCHEMA, buildSudoku],
  maze: [MAZE_SCHEMA, buildMaze],
  arc: [ARC_SCHEMA, buildArc],
};

/** The package's version, from package.json next to dist/ (one directory above dist/cli/). */
function version(): string {
  return (readJson(fileURLToPath(new URL("../../package.json", import.meta.url))) as { version: string })
    .version;
}

/** Common spellings: -h is --help, --key=value is key=value (a flag such as --trace or --paper stays). */
function normalize(argv: string[]): string[] {
  return argv.map((w) => (w === "-h" ? "--help" : /^--[\w.]+=/.test(w) ? w.slice(2) : w));
}

/** The options a command line resolves to, one key=value per line (for --dry-run). */
function showOptions(o: Options): string {
  return Object.entries(o)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`)
    .join("\n");
}

/** hrm serve's models and options, resolved (for --dry-run). */
function showServe(words: string[]): string {
  const { models, o } = parseServeWords(words);
  const lines = [...models].map(([name, file]) => `model.${name}=${file}`);
  return [...lines, showOptions({ ...o, checkpoint: undefined, token: o.token ? "(set)" : undefined })].join(
    "\n",
  );
}

async function main(raw: string[]): Promise<void> {
  const dryRun = raw.includes("--dry-run");
  const argv = normalize(raw.filter((w) => w !== "--dry-run"));
  const [cmd, kind, ...rest] = argv;
  if (cmd === "--version" || cmd === "-V") return console.log(`hrm-ts ${version()}`);
  if (!cmd || cmd === "--help") return console.log(HELP);
  if (dryRun && !["build-dataset", "train", "eval", "serve"].includes(cmd))
    throw new CliError(
      `--dry-run: "${cmd}" has no config to show (build-dataset, train, eval and serve have)`,
    );
  if (cmd === "build-dataset") {
    if (kind === "--help")
      return console.log(`usage: hrm build-dataset <${Object.keys(BUILDERS).join("|")}> [key=value ...]`);
    const builder = kind ? BUILDERS[kind] : undefined;
    if (!builder)
      throw new CliError(
        `build-dataset: unknown kind "${kind ?? ""}" (available: ${Object.keys(BUILDERS).join(", ")})`,
      );
    const [schema, build] = builder;
    if (rest.includes("--help")) return console.log(usage(`build-dataset ${kind}`, schema));
    const o = parseOptions(rest, schema);
    return dryRun ? console.log(showOptions(o)) : build(o);
  }
  if (cmd === "train") {
    const words = [kind, ...rest].filter((w): w is string => w !== undefined);
    if (words.includes("--help")) return console.log(trainUsage());
    if (dryRun) return void process.stdout.write(trainConfigYaml(words));
    await runTrain(words);
    return;
  }
  if (cmd === "quickstart") {
    await runQuickstart([kind, ...rest].filter((w): w is string => w !== undefined));
    return;
  }
  if (cmd === "experiment") {
    await runExperiment([kind, ...rest].filter((w): w is string => w !== undefined));
    return;
  }
  if (cmd === "solve") {
    if (!kind || kind === "--help" || rest.includes("--help")) return console.log(SOLVE_HELP);
    await runSolve([kind, ...rest]);
    return;
  }
  if (cmd === "serve") {
    const words = [kind, ...rest].filter((w): w is string => w !== undefined);
    if (words.includes("--help")) return console.log(`${SERVE_HELP}\n${usage("serve", SERVE_SCHEMA)}`);
    if (dryRun) return console.log(showServe(words));
    return runServe(words);
  }
  if (cmd === "report") {
    if (!kind || kind === "--help") return console.log("usage: hrm report <run dir>");
    return console.log(writeReport(kind));
  }
  if (cmd === "export") {
    const words = [kind, ...rest].filter((w): w is string => w !== undefined);
    if (words.includes("--help")) return console.log(usage("export", EXPORT_SCHEMA));
    for (const line of runExport(parseOptions(words, EXPORT_SCHEMA))) console.log(line);
    return;
  }
  if (cmd === "eval") {
    const words = [kind, ...rest].filter((w): w is string => w !== undefined);
    if (words.includes("--help")) return console.log(usage("eval", EVAL_SCHEMA));
    const o = parseOptions(words, EVAL_SCHEMA);
    if (dryRun) return console.log(showOptions(o));
    runEval(o);
    return;
  }
  throw new CliError(`unknown command "${cmd}" (hrm --help lists the commands)`);
}

/** Longest error line printed: an input can make a message long (a name, a quoted value), never the screen. */
const MAX_ERROR_LINE = 2000;

main(process.argv.slice(2)).catch((e: unknown) => {
  // Every failure is one line (no stack for bad input); HRM_DEBUG=1 shows the stack of anything.
  if (process.env.HRM_DEBUG === "1") console.error(e);
  else {
    const msg = (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, " ");
    // Our loaders' and the CLI's errors have classes of their own, fs errors a code; the rest is a bug of ours.
    const plain =
      e instanceof Error &&
      /^(Error|TypeError|RangeError|ReferenceError|SyntaxError)$/.test(e.constructor.name);
    const internal = plain && typeof (e as NodeJS.ErrnoException).code !== "string";
    const line = internal ? `internal error: ${msg} (HRM_DEBUG=1 shows where; please report it)` : msg;
    console.error(`hrm: ${line.length > MAX_ERROR_LINE ? `${line.slice(0, MAX_ERROR_LINE)}...` : line}`);
  }
  process.exitCode = 1;
});
