// Builds the web app (web/) into static files any static host can serve: dist/web/ (or the folder given).
//   app.js, solver-worker.js   the page and the model thread, bundled by esbuild from web/*.ts and the package
//   chunk-*.js                 code both load on demand (the run-config reader and YAML parser)
//   wasm/*.wasm                the WASM kernels;  models/, puzzles-4x4.json, index.html, style.css as they are
// Threads need the page served cross-origin isolated: Cross-Origin-Opener-Policy: same-origin and
// Cross-Origin-Embedder-Policy: require-corp (npm run web sets both); without them it runs on one thread.
import { cpSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

export async function buildWeb(out = join(ROOT, "dist", "web")) {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, "wasm"), { recursive: true });
  await build({
    entryPoints: [join(ROOT, "web", "app.ts"), join(ROOT, "web", "solver-worker.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    outdir: out,
    splitting: true, // the YAML parser (only for .pt files with their all_config.yaml) loads on demand
    minify: true,
    sourcemap: true,
    logLevel: "warning",
  });
  for (const f of readdirSync(join(ROOT, "wasm")).filter((f) => f.endsWith(".wasm")))
    cpSync(join(ROOT, "wasm", f), join(out, "wasm", f));
  for (const f of ["index.html", "style.css", "puzzles-4x4.json", "models"])
    cpSync(join(ROOT, "web", f), join(out, f), { recursive: true });
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = await buildWeb(process.argv[2]);
  console.log(`web app built in ${out}`);
}
