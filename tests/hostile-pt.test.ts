/**
 * The hostile .pt corpus (tests/fixtures/hostile-pt): every file is refused with the error its manifest names,
 * naming the file, on one short line, quickly, and as the loader's own error class (never a TypeError or
 * RangeError from inside). The committed files are exactly what the corpus generator writes.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { CheckpointError, readTorchCheckpoint } from "../src/io/torch.js";
import { ZipError } from "../src/io/zip.js";
import { FIXTURES_ROOT } from "./support/fixtures.js";
import { HOSTILE } from "./support/hostile.js";

const DIR = join(FIXTURES_ROOT, "hostile-pt");
const manifest = JSON.parse(readFileSync(join(DIR, "manifest.json"), "utf8")) as Record<
  string,
  { category: string; expect: string }
>;

test("every hostile .pt is refused with its expected one-line error, naming the file, within a second", () => {
  const categories = new Set(Object.values(manifest).map((m) => m.category));
  assert.deepEqual([...categories].sort(), [
    "code execution",
    "denial of service",
    "dtype tricks",
    "offsets and shapes",
    "zip tampering",
  ]);
  for (const [name, { expect }] of Object.entries(manifest)) {
    const file = join(DIR, name);
    const bytes = readFileSync(file);
    const t0 = performance.now();
    let err: unknown = null;
    try {
      readTorchCheckpoint(bytes, file);
    } catch (e) {
      err = e;
    }
    const ms = performance.now() - t0;
    assert.ok(err instanceof CheckpointError || err instanceof ZipError, `${name}: ${String(err)}`);
    const msg = (err as Error).message;
    assert.ok(msg.startsWith(`${file}`), `${name}: the error does not start with the file: ${msg}`);
    assert.match(msg, new RegExp(expect), name);
    assert.ok(!msg.includes("\n") && msg.length < 400, `${name}: not one short line: ${msg.length} chars`);
    assert.ok(ms < 1000, `${name}: took ${ms.toFixed(0)} ms`);
  }
});

test("no hostile file under 1 MB makes the reader grow by more than 100 MB (peak RSS, own process)", () => {
  // One child loads every file under 1 MB in turn; its peak resident memory after start-up bounds the worst.
  const files = Object.keys(manifest).filter((n) => statSync(join(DIR, n)).size < 2 ** 20);
  const torch = new URL("../src/io/torch.js", import.meta.url).href;
  const script = `
    import { spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
    import { readTorchCheckpoint } from ${JSON.stringify(torch)};
    const files = ${JSON.stringify(files.map((n) => join(DIR, n)))};
    const before = process.resourceUsage().maxRSS;
    for (const f of files) { try { readTorchCheckpoint(readFileSync(f), f); } catch {} }
    console.log(JSON.stringify({ before, after: process.resourceUsage().maxRSS }));`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const { before, after } = JSON.parse(r.stdout) as { before: number; after: number };
  assert.ok(files.length >= 40, `${files.length} files`);
  assert.ok((after - before) / 1024 < 100, `peak RSS grew by ${((after - before) / 1024).toFixed(0)} MB`);
});

test("the committed corpus is what the generator writes (nothing drifted)", () => {
  assert.equal(Object.keys(manifest).length, HOSTILE.length);
  for (const c of HOSTILE) {
    assert.deepEqual(manifest[`${c.name}.pt`], { category: c.category, expect: c.expect }, c.name);
    assert.ok(Buffer.from(c.bytes()).equals(readFileSync(join(DIR, `${c.name}.pt`))), `${c.name}.pt differs`);
  }
});
