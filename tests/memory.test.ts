/**
 * Arenas (src/util/memory.ts) and the addon's huge-page advice: layout (aligned, disjoint, zeroed views that
 * start where the advisor says), the small-arena and no-advisor paths, and the native call's checks.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";

import { loadNativeAddon } from "../src/platform/node.js";
import "../src/node.js"; // installs the addon's advisor, as an application importing the package does
import { byteArena, carvedFloats, carveFloats, floatArena, setHugePageAdvisor } from "../src/util/memory.js";

const MB = 1 << 20;
const addon = loadNativeAddon();

function disjointAligned(views: ArrayBufferView[], lengths: number[], start: number): void {
  let end = start;
  views.forEach((v, i) => {
    assert.equal(v.byteLength, lengths[i] * (v instanceof Float32Array ? 4 : 1));
    assert.equal(v.byteOffset % 64, 0, `view ${i} at ${v.byteOffset} is not 64-byte aligned`);
    assert.ok(v.byteOffset >= end, `view ${i} overlaps the one before`);
    end = v.byteOffset + v.byteLength;
    assert.ok(end <= v.buffer.byteLength);
  });
}

test("arenas: one buffer from the advisor's offset, views aligned, disjoint and zeroed", () => {
  const calls: [number, number][] = [];
  setHugePageAdvisor((buffer, bytes) => {
    calls.push([buffer.byteLength, bytes]);
    return 4032;
  });
  try {
    const lengths = [3 * MB, 5, 1, MB + 3];
    const views = floatArena(lengths);
    assert.equal(calls.length, 1);
    assert.ok(
      views.every((v) => v.buffer === views[0].buffer),
      "one shared buffer",
    );
    assert.equal(views[0].byteOffset, 4032);
    disjointAligned(views, lengths, 4032);
    assert.ok(calls[0][1] >= 4 * lengths.reduce((a, b) => a + b, 0) && calls[0][0] >= calls[0][1] + 4032);
    for (const v of views) assert.ok(v.every((x) => x === 0));
    views[1].fill(7); // writes stay in their own view
    assert.ok(views[0].every((x) => x === 0) && views[2].every((x) => x === 0));

    const bytes = byteArena([5 * MB, 100]);
    assert.equal(calls.length, 2);
    disjointAligned(bytes, [5 * MB, 100], 4032);
  } finally {
    setHugePageAdvisor(null);
  }
});

test("arenas: small ones and refusals", () => {
  let called = 0;
  setHugePageAdvisor(() => {
    called++;
    return -1;
  });
  try {
    const small = floatArena([1000, 2000]); // 12 KB: not worth a huge page
    assert.equal(called, 0);
    assert.notEqual(small[0].buffer, small[1].buffer);
    const refused = floatArena([2 * MB]); // 8 MB, advisor says no: still one usable arena from offset 0
    assert.equal(called, 1);
    assert.equal(refused[0].byteOffset, 0);
    assert.equal(refused[0].length, 2 * MB);
  } finally {
    setHugePageAdvisor(null);
  }
  const plain = floatArena([3 * MB, 7]); // no advisor: plain arrays
  assert.equal(plain[0].byteOffset, 0);
  assert.notEqual(plain[0].buffer, plain[1].buffer);
  assert.throws(() => floatArena([-1]), /bad byte length/);
});

test("carveFloats: aligned disjoint views in a region, and a clear error when they do not fit", () => {
  const lengths = [5, 16, 1, 33];
  assert.equal(carvedFloats(lengths), 16 + 16 + 16 + 48);
  const region = floatArena([carvedFloats(lengths)])[0];
  const views = carveFloats(region, lengths);
  disjointAligned(views, lengths, 0);
  assert.ok(views.every((v) => v.buffer === region.buffer));
  views[2].fill(3);
  assert.ok(views[1].every((x) => x === 0) && views[3].every((x) => x === 0));
  assert.deepEqual(
    carveFloats(region, [carvedFloats(lengths)]).map((v) => v.length),
    [96],
  );
  assert.throws(() => carveFloats(region, [...lengths, 1]), /5\+16\+1\+33\+1 floats do not fit in 96/);
});

test(
  "native adviseHugePages: offset to a 2 MB boundary, argument checks",
  { skip: !addon && "no addon" },
  () => {
    const a = addon!;
    const buffer = new ArrayBuffer(20 * MB);
    const off = a.adviseHugePages(buffer, 16 * MB);
    // Linux with THP in the kernel (any setting, "never" included) takes the advice; elsewhere it is refused.
    const thpPath = "/sys/kernel/mm/transparent_hugepage/enabled";
    const thp = process.platform === "linux" && existsSync(thpPath) ? readFileSync(thpPath, "utf8") : null;
    if (thp !== null) assert.ok(off >= 0 && off < 2 * MB, `offset ${off}`);
    else assert.equal(off, -1);
    assert.equal(a.adviseHugePages(new ArrayBuffer(MB), MB), -1, "no 2 MB page fits");
    assert.throws(
      () => a.adviseHugePages(new Float32Array(4) as unknown as ArrayBuffer, 1),
      /must be an ArrayBuffer/,
    );
    assert.throws(() => a.adviseHugePages(buffer, 21 * MB), /outside \[0, 20971520\]/);
    if (thp !== null && !thp.includes("[never]") && existsSync("/proc/self/smaps_rollup")) {
      // Where THP is enabled ("always" or "madvise"), touching the advised pages makes them huge.
      const huge = () =>
        Number(/AnonHugePages:\s+(\d+)/.exec(readFileSync("/proc/self/smaps_rollup", "utf8"))![1]);
      const before = huge();
      new Uint8Array(buffer, off, 16 * MB).fill(1);
      assert.ok(huge() - before >= 2 * 1024, `AnonHugePages grew by ${huge() - before} kB`);
    }
  },
);

test("HRM_HUGE_PAGES=0 leaves the model's buffers plain", { skip: !addon && "no addon" }, () => {
  const entry = new URL("../src/node.js", import.meta.url).href;
  const memory = new URL("../src/util/memory.js", import.meta.url).href;
  const code =
    `await import(${JSON.stringify(entry)});` +
    `const { allocFloat32 } = await import(${JSON.stringify(memory)});` +
    "console.log(allocFloat32(2 ** 21).buffer.byteLength);";
  const run = (env: Record<string, string>) => {
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], {
      env: { ...process.env, ...env },
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    return Number(r.stdout.trim());
  };
  assert.equal(run({ HRM_HUGE_PAGES: "0" }), 8 * MB, "a plain 8 MB array");
  assert.equal(run({ HRM_HUGE_PAGES: "1" }), 10 * MB, "an arena with room to align to 2 MB");
});
