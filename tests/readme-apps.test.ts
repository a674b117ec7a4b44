/**
 * README's "Apps" snippets run as they are: the browser one bundled by esbuild through the package's own
 * exports (the "browser" entry) and run in Chromium, in a cross-origin-isolated page (the WASM worker pool) and
 * in a plain one (one thread); the Node one through the Node entry. All solve the same puzzle with the shipped
 * 4x4 checkpoint (web/models) and must agree on the answer, the segments and validity.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { browserSkip, launchChromium, serveDir } from "./support/browser.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MODEL = join(ROOT, "web", "models", "sudoku-4x4.safetensors");

function snippets(): { browser: string; node: string } {
  const text = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = text.slice(text.indexOf("## Apps"));
  const blocks = [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(
    blocks.length >= 2 && blocks.every((b) => b.includes('from "hrm-ts"')),
    "README's Apps section has two js blocks",
  );
  return { browser: blocks[0], node: blocks[1] };
}

/** The snippet's result line (answer, segments, valid); the onSegment lines also end in a boolean. */
function isResult(line: string): boolean {
  return !line.startsWith("segment ") && /(true|false)$/.test(line.trim());
}

/** The last line the snippet logs: answer, segments, valid. */
function summary(lines: string[]): string {
  const last = lines.filter(isResult).pop();
  assert.ok(last, `no result line in:\n${lines.join("\n")}`);
  return last.trim();
}

// Inside the package, so that "hrm-ts" resolves through its own exports, as in a user's project.
const work = join(ROOT, "dist", "tests", "readme-apps-tmp");

test("README's Node snippet solves the puzzle through the Node entry", () => {
  const { node } = snippets();
  mkdirSync(work, { recursive: true });
  copyFileSync(MODEL, join(work, "model.safetensors"));
  writeFileSync(join(work, "node-snippet.mjs"), node);
  const r = spawnSync(process.execPath, ["node-snippet.mjs"], { cwd: work, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(summary(r.stdout.split("\n")), /\] \d+ true$/);
});

test(
  "README's browser snippet, bundled with esbuild, runs in Chromium with the same answer",
  { skip: browserSkip() },
  async () => {
    const { browser, node } = snippets();
    mkdirSync(work, { recursive: true });
    copyFileSync(MODEL, join(work, "model.safetensors"));
    writeFileSync(join(work, "browser-snippet.mjs"), browser);
    writeFileSync(join(work, "node-snippet.mjs"), node);
    await build({
      entryPoints: [join(work, "browser-snippet.mjs")],
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      outfile: join(work, "app.js"),
      logLevel: "error",
    });
    const bundle = readFileSync(join(work, "app.js"), "utf8");
    // A built-in is a "node:..." module specifier or a require() call (a key named node, as in yaml's
    // `{ node: null }`, is neither).
    assert.ok(!/["'`]node:|\brequire\(/.test(bundle), "the browser bundle pulls in no Node built-ins");
    for (const f of ["hrm-simd.wasm", "hrm-relaxed.wasm", "hrm-simd-mt.wasm", "hrm-relaxed-mt.wasm"])
      copyFileSync(join(ROOT, "wasm", f), join(work, f));
    writeFileSync(
      join(work, "index.html"),
      '<!doctype html><title>snippet</title><link rel="icon" href="data:,"><script type="module" src="app.js"></script>',
    );
    const want = spawnSync(process.execPath, ["node-snippet.mjs"], { cwd: work, encoding: "utf8" });
    assert.equal(want.status, 0, want.stderr);
    const browserApp = await launchChromium();
    try {
      for (const isolated of [true, false]) {
        const server = await serveDir(work, isolated);
        const page = await browserApp.newPage();
        const lines: string[] = [];
        const errors: string[] = [];
        page.on("console", (m) => (m.type() === "error" ? errors : lines).push(m.text()));
        page.on("pageerror", (e) => errors.push(e.message));
        try {
          await page.goto(server.url);
          const deadline = Date.now() + 60_000;
          while (!lines.some(isResult) && !errors.length && Date.now() < deadline)
            await new Promise((r) => setTimeout(r, 50));
          assert.deepEqual(errors, [], "no console errors");
          const threads = await page.evaluate(
            () => (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated,
          );
          assert.equal(threads, isolated);
          // Arrays print as "Array(4)" in the page's console: compare the segments and validity, and the segment lines.
          const tail = (s: string) => s.split(" ").slice(-2).join(" ");
          assert.equal(tail(summary(lines)), tail(summary(want.stdout.split("\n"))), `isolated=${isolated}`);
          const logged = lines.filter((l) => l.startsWith("segment ")).length;
          assert.equal(
            logged,
            Number(summary(lines).split(" ").slice(-2)[0]),
            "one onSegment line per segment",
          );
        } finally {
          await page.close();
          await server.close();
        }
      }
    } finally {
      await browserApp.close();
      rmSync(work, { recursive: true, force: true });
    }
  },
);
