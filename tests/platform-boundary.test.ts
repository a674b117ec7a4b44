/**
 * The architecture's boundary, checked on the sources and the built modules: only src/platform/ (and the Node
 * entry, src/node.ts) touch node:* APIs, the process or CommonJS require; the platform-neutral entry
 * (package.json's "default" export, what a browser bundler takes) imports nothing else; model code imports no
 * backend. Broken, the browser build fails at bundle time or at run time in a user's page, far from the change
 * that broke it.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url)); // dist/tests -> the repository
const src = join(root, "src");

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** Module specifiers of static imports, re-exports and dynamic imports (type-only ones included). */
function specifiers(code: string): string[] {
  const re =
    /(?:import|export)\s[^;]*?from\s*["']([^"']+)["']|import\s*\(\s*["']([^"']+)["']\s*\)|import\s+["']([^"']+)["']/g;
  return [...code.matchAll(re)].map((m) => m[1] ?? m[2] ?? m[3]);
}

/** Comments out of the way, so that a comment naming process.env does not count. */
const stripComments = (code: string) =>
  code.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");

/** Packages with no platform code of their own, allowed anywhere (yaml: dependency-free, browser-safe). */
const NEUTRAL_PACKAGES = new Set(["yaml"]);
const foreign = (s: string) => !s.startsWith(".") && !NEUTRAL_PACKAGES.has(s);

const platformSide = (file: string) => {
  const rel = relative(src, file);
  return rel.startsWith("platform") || rel === "node.ts";
};

test("only src/platform and src/node.ts use node:* modules, process or require", () => {
  const offences: string[] = [];
  for (const file of tsFiles(src).filter((f) => !platformSide(f))) {
    const code = stripComments(readFileSync(file, "utf8"));
    for (const s of specifiers(code)) if (foreign(s)) offences.push(`${relative(root, file)} imports "${s}"`);
    if (/\bprocess\s*\.|\brequire\s*\(|\bBuffer\s*\./.test(code))
      offences.push(`${relative(root, file)} uses process, require or Buffer`);
  }
  assert.deepEqual(offences, []);
});

test("model code imports no backend, only the kernel contract", () => {
  const offences = tsFiles(join(src, "model")).flatMap((file) =>
    specifiers(readFileSync(file, "utf8"))
      .filter((s) => /kernels\/(ref|native)\//.test(s))
      .map((s) => `${relative(root, file)} imports ${s}`),
  );
  assert.deepEqual(offences, []);
});

test("the platform-neutral entry's whole import graph is relative modules outside src/platform (and yaml)", () => {
  const entry = resolve(root, "dist/src/index.js");
  const seen = new Set<string>();
  const offences: string[] = [];
  const walk = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const s of specifiers(readFileSync(file, "utf8"))) {
      if (foreign(s)) offences.push(`${relative(root, file)} imports "${s}"`);
      else if (s.startsWith(".")) walk(resolve(dirname(file), s));
    }
  };
  walk(entry);
  for (const f of seen) if (relative(root, f).startsWith("dist/src/platform")) offences.push(`reaches ${f}`);
  assert.deepEqual(offences, []);
  // The walk must actually follow the graph: the entry re-exports the model, the kernels and the I/O.
  for (const m of ["model/inner.js", "kernels/ref/index.js", "io/torch.js", "train/step.js"])
    assert.ok(seen.has(resolve(root, "dist/src", m)), `${m} not reached from the entry`);
});

test("the packages allowed beside src/platform import nothing but their own modules in their browser build", () => {
  for (const name of NEUTRAL_PACKAGES) {
    const pkg = join(root, "node_modules", name);
    const browser = (
      JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")) as {
        exports: { ".": { default: string } };
      }
    ).exports["."].default;
    const seen = new Set<string>();
    const offences: string[] = [];
    const walk = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const s of specifiers(stripComments(readFileSync(file, "utf8"))))
        if (!s.startsWith(".")) offences.push(`${relative(root, file)} imports "${s}"`);
        else walk(resolve(dirname(file), s));
    };
    walk(resolve(pkg, browser));
    assert.ok(seen.size > 10, `${name}: the walk found only ${seen.size} modules`);
    assert.deepEqual(offences, [], name);
  }
});
