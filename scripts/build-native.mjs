// Builds the native addon with node-gyp during `npm install`. A failed build is not an install failure:
// the package then runs on the TypeScript kernels and says so once at load. `--strict` makes it fatal.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

const strict = process.argv.includes("--strict");
if (process.env.HRM_SKIP_NATIVE === "1") {
  console.log("hrm-ts: HRM_SKIP_NATIVE=1, not building the native addon (TypeScript kernels will be used)");
  process.exit(0);
}
// npm sets npm_config_node_gyp inside lifecycle scripts; run by hand, use the node-gyp bundled with npm.
const bundled = join(
  dirname(process.execPath),
  "..",
  "lib",
  "node_modules",
  "npm",
  "node_modules",
  "node-gyp",
  "bin",
  "node-gyp.js",
);
const script = process.env.npm_config_node_gyp || (existsSync(bundled) ? bundled : null);
const gyp = script ? [process.execPath, script] : ["node-gyp"];
const res = spawnSync(gyp[0], [...gyp.slice(1), "rebuild", "--release"], {
  stdio: "inherit",
  shell: gyp.length === 1,
});
if (res.status !== 0) {
  const why = res.error ? res.error.message : `node-gyp exited with ${res.status}`;
  console.warn(
    `hrm-ts: WARNING: native addon build failed (${why}); the TypeScript kernels will be used (slower).`,
  );
  process.exit(strict ? 1 : 0);
}
