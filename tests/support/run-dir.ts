/** Reading a training run directory in tests: its metrics.jsonl records and the step of its latest checkpoint. */
import { readFileSync } from "node:fs";
import { join } from "node:path";

export type Rec = Record<string, number>;

export const records = (run: string): Rec[] =>
  readFileSync(join(run, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Rec);

export const latestStep = (run: string): number =>
  Number(readFileSync(join(run, "latest"), "utf8").trim().replace("step_", ""));
