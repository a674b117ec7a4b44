/** The streaming set writer produces byte-identical files to the in-memory encoder. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { encodeSet, SetBuilder } from "../src/data/format.js";
import { readSplit, StreamingSetWriter } from "../src/platform/files.js";
import { sudokuMetadata } from "../src/data/sudoku.js";
import { Rng } from "../src/util/rng.js";

test("streamed .npy files equal in-memory ones, and large files cross chunk boundaries intact", () => {
  const dir = mkdtempSync(join(tmpdir(), "hrm-stream-"));
  try {
    const rng = new Rng(1);
    const mem = new SetBuilder(81);
    const disk = new StreamingSetWriter(dir, "train", 81);
    const rows = 60000; // 4.9 MB per file: more than one 4 MB write chunk
    for (let i = 0; i < rows; i++) {
      const x = Uint8Array.from({ length: 81 }, () => rng.int(0, 11));
      const y = Uint8Array.from({ length: 81 }, () => rng.int(0, 11));
      for (const w of [mem, disk]) w.addExample(x, y);
      if (i % 3 === 2) for (const w of [mem, disk]) w.endPuzzle(0);
      if (i % 30 === 29) for (const w of [mem, disk]) w.endGroup();
    }
    const meta = { ...sudokuMetadata(mem.groups), mean_puzzle_examples: 3 }; // 3 examples per puzzle above
    disk.finish(meta);
    const want = encodeSet("all", mem.build(), 81);
    // Headers may differ in padding (the stream reserves a fixed size); the data after them must not.
    const body = (b: Uint8Array) => b.subarray(b.indexOf(0x0a) + 1);
    for (const [name, bytes] of want)
      assert.deepEqual(body(readFileSync(join(dir, "train", name))), Buffer.from(body(bytes)), name);
    assert.deepEqual(readSplit(dir, "train").sets.get("all"), mem.build());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
