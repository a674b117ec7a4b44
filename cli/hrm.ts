#!/usr/bin/env node
/** The `hrm` command: dispatches to the subcommands (each parses its words, calls the library and prints). */
import { fileURLToPath } from "node:url";
import { readJson } from "../src/platform/fs.js";
import { writeReport } from "../src/platform/train-run.js";
import { ARC_SCHEMA, buildArc, buildMaze, buildSudoku, MAZE_SCHEMA, SUDOKU_SCHEMA } from "./build-dataset.js";
import { EVAL_SCHEMA, runEval } from "./eval.js";
import { runExperiment } from "./experiment.js";
import { EXPORT_SCHEMA, runExport } from "./export.js";
import type { Options, Schema } from "./parse.js";
import { CliError, parseOptions, usage } from "./parse.js";
import { runQuickstart } from "./quickstart.js";
import { parseServeWords, runServe, SERVE_HELP, SERVE_SCHEMA } from "./serve.js";
import { runSolve, SOLVE_HELP } from "./solve.js";
import { runTrain, trainConfigYaml, trainUsage } from "./train.js";

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

/** The options a command line resolves to, one key=value per line (for --dry-run). */
const showOptions = (o: Options): string =>
  Object.entries(o)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`)
    .join("\n");

const KINDS = `usage: hrm build-dataset <${Object.keys(BUILDERS).join("|")}> [key=value ...]`;

function builder(words: string[]): [Schema, (o: Options) => void] {
  const b = BUILDERS[words[0] ?? ""];
  if (b) return b;
  const kinds = Object.keys(BUILDERS).join(", ");
  throw new CliError(`build-dataset: unknown kind "${words[0] ?? ""}" (available: ${kinds})`);
}

interface Command {
  help(words: string[]): string;
  /** The resolved config for --dry-run (commands without one refuse --dry-run). */
  dryRun?(words: string[]): string;
  run(words: string[]): unknown;
}

const COMMANDS: Record<string, Command> = {
  quickstart: { help: () => HELP, run: runQuickstart },
  "build-dataset": {
    help: (w) => (w[0] === "--help" ? KINDS : usage(`build-dataset ${w[0]}`, builder(w)[0])),
    dryRun: (w) => showOptions(parseOptions(w.slice(1), builder(w)[0])),
    run: (w) => builder(w)[1](parseOptions(w.slice(1), builder(w)[0])),
  },
  train: { help: trainUsage, dryRun: trainConfigYaml, run: (w) => runTrain(w) },
  eval: {
    help: () => usage("eval", EVAL_SCHEMA),
    dryRun: (w) => showOptions(parseOptions(w, EVAL_SCHEMA)),
    run: (w) => runEval(parseOptions(w, EVAL_SCHEMA)),
  },
  report: { help: () => "usage: hrm report <run dir>", run: (w) => console.log(writeReport(w[0] ?? "")) },
  export: {
    help: () => usage("export", EXPORT_SCHEMA),
    run: (w) => runExport(parseOptions(w, EXPORT_SCHEMA)).forEach((l) => console.log(l)),
  },
  solve: { help: () => SOLVE_HELP, run: runSolve },
  serve: {
    help: () => `${SERVE_HELP}\n${usage("serve", SERVE_SCHEMA)}`,
    dryRun: (w) => {
      const { models, o } = parseServeWords(w);
      const shown = { ...o, checkpoint: undefined, token: o.token ? "(set)" : undefined };
      return [...[...models].map(([name, file]) => `model.${name}=${file}`), showOptions(shown)].join("\n");
    },
    run: runServe,
  },
  experiment: { help: () => HELP, run: runExperiment },
};

async function main(raw: string[]): Promise<void> {
  const dryRun = raw.includes("--dry-run");
  // -h is --help, --key=value is key=value (a flag such as --trace or --paper stays)
  const argv = raw
    .filter((w) => w !== "--dry-run")
    .map((w) => (w === "-h" ? "--help" : /^--[\w.]+=/.test(w) ? w.slice(2) : w));
  const [cmd, ...words] = argv;
  if (cmd === "--version" || cmd === "-V") {
    const pkg = readJson(fileURLToPath(new URL("../../package.json", import.meta.url))) as {
      version: string;
    };
    return console.log(`hrm-ts ${pkg.version}`);
  }
  if (!cmd || cmd === "--help") return console.log(HELP);
  const c = COMMANDS[cmd];
  if (!c) throw new CliError(`unknown command "${cmd}" (hrm --help lists the commands)`);
  const withDry = Object.keys(COMMANDS).filter((k) => COMMANDS[k].dryRun);
  if (dryRun && !c.dryRun)
    throw new CliError(`--dry-run: "${cmd}" has no config to show (${withDry.join(", ")} have)`);
  if (words.includes("--help") || (cmd === "solve" && !words[0]) || (cmd === "report" && !words[0]))
    return console.log(c.help(words));
  if (dryRun) return void process.stdout.write(`${c.dryRun!(words).replace(/\n?$/, "\n")}`);
  await c.run(words);
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
