/**
 * The package's type entries match its runtime entries per condition: a TypeScript project on Node (nodenext)
 * sees the Node entry's types (getKernels among them); a bundler project (no "node" condition) sees the
 * platform-neutral entry's, which has no getKernels, as at run time; a browser bundler (the "browser" condition)
 * sees the browser entry's, with createKernels as in the Node entry. Compiled with the project's own tsc, against
 * "hrm-ts" resolved through the package's exports (the consumer lives inside the package: self-reference).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const TSC = fileURLToPath(new URL("../../node_modules/typescript/bin/tsc", import.meta.url));

function typecheck(dir: string, resolution: "nodenext" | "bundler", conditions: string[] = []): string {
  const options = {
    ...(conditions.length ? { customConditions: conditions } : {}),
    module: resolution === "nodenext" ? "nodenext" : "esnext",
    moduleResolution: resolution,
    target: "es2022",
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: options, files: ["use.ts"] }));
  const r = spawnSync(process.execPath, [TSC, "-p", join(dir, "tsconfig.json")], { encoding: "utf8" });
  return r.status === 0 ? "" : r.stdout + r.stderr;
}

test("the types entry follows the runtime entry: Node sees getKernels, a bundler sees the neutral entry", () => {
  const dir = fileURLToPath(new URL("./ts-consumer/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  try {
    writeFileSync(
      join(dir, "use.ts"),
      'import { getKernels, makeConfig } from "hrm-ts";\nexport const n = [getKernels().backendName, makeConfig({}).hidden_size];\n',
    );
    assert.equal(typecheck(dir, "nodenext"), "", "Node: getKernels is exported");
    assert.match(typecheck(dir, "bundler"), /TS2724: '"hrm-ts"' has no exported member named 'getKernels'/);
    writeFileSync(
      join(dir, "use.ts"),
      'import { makeConfig } from "hrm-ts";\nexport const c = makeConfig({});\n',
    );
    assert.equal(typecheck(dir, "bundler"), "", "bundler: the neutral entry's types");
    // The app API and createKernels by one name: the Node entry, and a browser bundler (the "browser" condition).
    writeFileSync(
      join(dir, "use.ts"),
      'import { createKernels, loadModel, solve } from "hrm-ts";\n' +
        "export const go = async (b: Uint8Array) => solve(await loadModel(b, { kernels: await createKernels() }), " +
        '{ kind: "sudoku", puzzle: "1..." }, { maxThinkSteps: 4, halting: "adaptive" });\n',
    );
    assert.equal(typecheck(dir, "nodenext"), "", "Node: createKernels, loadModel, solve");
    assert.equal(typecheck(dir, "bundler", ["browser"]), "", "browser bundler: the browser entry's types");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
