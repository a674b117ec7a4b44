/** The backend selector: gaps and unsupported calls fall back to ref, supported calls go to the backend. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Backend } from "../src/kernels/api.js";
import { selectKernels } from "../src/kernels/select.js";
import { compare } from "./helpers.js";

test("per-kernel fallback to ref", () => {
  const calls: string[] = [];
  const fake: Backend = {
    name: "fake",
    add: (out) => {
      calls.push("fake.add");
      out.fill(42);
    },
    supports: (_k, args) => !args.some((a) => a instanceof Float64Array),
  };
  const k = selectKernels(fake);
  assert.equal(k.backendName, "fake");
  const o32 = new Float32Array(2);
  k.add(o32, Float32Array.of(1, 2), Float32Array.of(3, 4), 1, 1, 2);
  assert.deepEqual([...o32], [42, 42]);
  const o64 = new Float64Array(2);
  k.add(o64, Float64Array.of(1, 2), Float64Array.of(3, 4), 1, 1, 2); // unsupported: ref
  assert.deepEqual([...o64], [4, 6]);
  const r = new Float32Array(1);
  k.rmsnormForward(r, new Float32Array(1), Float32Array.of(2), 1, 1, 0); // missing kernel: ref
  assert.deepEqual([...r], [1]);
  assert.deepEqual(calls, ["fake.add"]);
  assert.equal(selectKernels(null).backendName, "ref");
});

test("compare() fails on NaN and reports the first bad pairs", () => {
  assert.equal(compare([1, NaN], [1, 2], 1, 1).ok, false);
  const r = compare([1, 2.5], [1, 2], 0.1, 0);
  assert.equal(r.ok, false);
  assert.match(r.report, /\[1\] got 2.5 want 2/);
  assert.equal(compare([1, 2.05], [1, 2], 0.1, 0).ok, true);
});
