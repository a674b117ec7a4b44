/**
 * README's "Library" example runs as it is: the code block is written inside the package and imports "hrm-ts",
 * which Node resolves through the package's own exports (the Node entry), exactly as a user's project would. The
 * trained model must beat its own untrained accuracy on held-out puzzles.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const README = fileURLToPath(new URL("../../README.md", import.meta.url));

test("README's Library example trains a small HRM from code through the package entry", () => {
  const text = readFileSync(README, "utf8");
  const section = text.slice(text.indexOf("## Library"));
  const code = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(
    code && code.includes('from "hrm-ts"'),
    "README has a Library section with a js block importing hrm-ts",
  );
  // Inside the package, so that "hrm-ts" resolves by the package's self-reference (its exports), not a path.
  const file = fileURLToPath(new URL("./library-example.mjs", import.meta.url));
  writeFileSync(file, code);
  try {
    const r = spawnSync(process.execPath, [file], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const m = /held-out cell accuracy (\d\.\d+) -> (\d\.\d+) after (\d+) steps/.exec(r.stdout);
    assert.ok(m, r.stdout);
    const [before, after, steps] = [Number(m[1]), Number(m[2]), Number(m[3])];
    assert.equal(steps, 93, "the official count: int(3 epochs x 2,000 groups x 1 example / batch 64)");
    assert.ok(after > before + 0.1, `accuracy ${before} -> ${after}`);
  } finally {
    rmSync(file, { force: true });
  }
});
