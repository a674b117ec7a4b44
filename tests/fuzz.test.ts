/**
 * Property tests over every loader (fast-check): for mutated valid files, each load is either a clean error
 * (the loader's own class, naming the file, one short line) or a value that re-serializes to the same values;
 * never a crash, a hang or a silent acceptance. A bounded number of cases here (FUZZ_RUNS, default 1000 per
 * format); `npm run fuzz` runs 100,000 per format and prints the table.
 */
import { test } from "node:test";
import fc from "fast-check";
import { classify } from "./fuzz/run.js";
import { TARGETS } from "./fuzz/targets.js";

const runs = Number(process.env.FUZZ_RUNS ?? 1000);

for (const t of TARGETS)
  test(`fuzz ${t.name}: clean errors or faithful round trips (${runs} mutated inputs)`, () => {
    fc.assert(
      fc.property(t.inputs(), (input) => {
        const v = classify(t, input);
        if (v.outcome !== "accepted" && v.outcome !== "clean") throw new Error(`${v.outcome}: ${v.detail}`);
      }),
      { numRuns: runs, seed: Number(process.env.FUZZ_SEED ?? 7) },
    );
  });
