/**
 * Browser tests' tools: Debian's Chromium driven by playwright-core (never a downloaded browser), a static file
 * server on 127.0.0.1 (optionally cross-origin isolated: COOP/COEP headers, so SharedArrayBuffer and the WASM
 * worker pool exist), and an esbuild bundle for the browser. Without Chromium the tests skip and print the
 * install command; with CI=true a missing browser is a failure.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize } from "node:path";
import { chromium, type Browser } from "playwright-core";

const CANDIDATES = [process.env.HRM_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"].filter(
  Boolean,
);
export const CHROMIUM = CANDIDATES.find((p) => existsSync(p as string)) as string | undefined;
const INSTALL = "apt-get install -y chromium";

/** false when Chromium is here; else the skip message (and under CI=true, an error: the tests must run). */
export function browserSkip(): false | string {
  if (CHROMIUM) return false;
  if (process.env.CI) throw new Error(`CI needs Chromium for the browser tests (${INSTALL})`);
  return `Chromium not found: ${INSTALL} (or set HRM_CHROMIUM)`;
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

/** Serves `dir` on an ephemeral loopback port. `isolated` adds the COOP/COEP headers. */
export async function serveDir(
  dir: string,
  isolated: boolean,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)).replace(
      /^(\.\.[/\\])+/,
      "",
    );
    let file = join(dir, path);
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, "index.html");
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404).end("not found");
      return;
    }
    const headers: Record<string, string> = {
      "content-type": TYPES[extname(file)] ?? "application/octet-stream",
    };
    if (isolated) {
      headers["cross-origin-opener-policy"] = "same-origin";
      headers["cross-origin-embedder-policy"] = "require-corp";
    }
    res.writeHead(200, headers).end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
