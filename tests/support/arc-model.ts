/**
 * A small random ARC model over the augmented variants of the first task of the in-repo ARC sample, with what
 * solving it needs: the task's JSON, its first test input and the dataset's identifiers (app and web tests).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  buildArcDataset,
  encodeModelSafetensors,
  HRMParams,
  makeConfig,
  parseTask,
  Rng,
} from "../../src/index.js";
import { ARC_SAMPLE } from "./fixtures.js";

export function arcModelCase() {
  const read = (f: string) =>
    JSON.parse(readFileSync(join(ARC_SAMPLE, f), "utf8")) as Record<string, unknown>;
  const challenges = read("arc-agi_training_challenges.json");
  const solutions = read("arc-agi_training_solutions.json") as Record<string, unknown[]>;
  const task = Object.keys(challenges)[0];
  const data = buildArcDataset(
    [parseTask(challenges[task], task, "training", "sample", solutions[task])],
    { numAug: 3, testSubsets: ["training"] },
    new Rng(3),
  );
  const config = makeConfig({
    seq_len: 900,
    vocab_size: 12,
    num_puzzle_identifiers: data.identifiers.length,
    hidden_size: 16,
    num_heads: 2,
    H_layers: 1,
    L_layers: 1,
    puzzle_emb_ndim: 16,
    halt_max_steps: 2,
    forward_dtype: "float32",
  });
  return {
    modelBytes: encodeModelSafetensors(HRMParams.init(config, 0)),
    task,
    taskJson: challenges[task],
    input: (challenges[task] as { test: { input: number[][] }[] }).test[0].input,
    identifiers: data.identifiers,
  };
}
