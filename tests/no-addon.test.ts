/**
 * The package must import and run with the native addon absent: simulated by pointing HRM_NATIVE_ADDON at a
 * missing file in a child process. Expect the WASM backend (the portable fallback), correct results, and exactly
 * one warning line; HRM_BACKEND chooses a backend explicitly.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const entry = fileURLToPath(new URL("../src/node.js", import.meta.url));

test("runs on the WASM kernels with one warning when the addon is missing", () => {
  const code = `
    const m = await import(${JSON.stringify(entry)});
    const k = m.getKernels();
    m.loadNativeAddon(); // a second load attempt must not warn again
    const C = new Float32Array(4);
    k.matmul(C, Float32Array.of(1, 2, 3, 4), Float32Array.of(5, 6, 7, 8), 2, 2, 2, false, false, false);
    console.log(k.backendName, Array.from(C).join(","));
  `;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], {
    env: { ...process.env, HRM_NATIVE_ADDON: "/nonexistent/hrm_native.node", HRM_BACKEND: "" },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout.trim(), /^wasm \(wasm-\S+, \d+ threads?\) 19,22,43,50$/);
  const warnings = r.stderr.split("\n").filter((l) => l.includes("WARNING"));
  assert.equal(warnings.length, 1, r.stderr);
  assert.match(warnings[0], /native addon unavailable .*using the WASM kernels/);
});

test("HRM_BACKEND=native makes a missing addon an error", () => {
  const code = `const m = await import(${JSON.stringify(entry)}); m.getKernels();`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], {
    env: { ...process.env, HRM_NATIVE_ADDON: "/nonexistent/hrm_native.node", HRM_BACKEND: "native" },
    encoding: "utf8",
  });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /HRM_BACKEND=native but the native addon failed to load/);
});

test("HRM_BACKEND=wasm selects the WASM kernels silently, with the addon present", () => {
  const code = `const m = await import(${JSON.stringify(entry)}); const k = m.getKernels();
    const C = new Float32Array(4);
    k.matmul(C, Float32Array.of(1, 2, 3, 4), Float32Array.of(5, 6, 7, 8), 2, 2, 2, false, false, false);
    console.log(k.backendName, Array.from(C).join(","));`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], {
    env: { ...process.env, HRM_BACKEND: "wasm", HRM_NUM_THREADS: "2" },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout.trim(), /^wasm \(wasm-\S+, 2 threads\) 19,22,43,50$/);
  assert.equal(r.stderr, "");
});

test("HRM_BACKEND=ref selects ref silently", () => {
  const code = `const m = await import(${JSON.stringify(entry)}); console.log(m.getKernels().backendName);`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], {
    env: { ...process.env, HRM_BACKEND: "ref" },
    encoding: "utf8",
  });
  assert.equal(r.stdout.trim(), "ref");
  assert.equal(r.stderr, "");
});
