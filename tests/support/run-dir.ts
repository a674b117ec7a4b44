/**
 * Training runs in tests: the `hrm` command, a run directory's metrics.jsonl records and the step of its latest
 * checkpoint.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export type Rec = Record<string, number>;

export const records = (run: string): Rec[] =>
  readFileSync(join(run, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Rec);

export const latestStep = (run: string): number =>
  Number(readFileSync(join(run, "latest"), "utf8").trim().replace("step_", ""));

/** The built `hrm` command (dist/cli/hrm.js), run to completion. */
export const HRM_CLI = fileURLToPath(new URL("../../cli/hrm.js", import.meta.url));
export const hrm = (...args: string[]) =>
  spawnSync(process.execPath, [HRM_CLI, ...args], { encoding: "utf8" });
