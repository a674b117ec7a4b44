/**
 * Browser tests' tools: Debian's Chromium driven by playwright-core (never a downloaded browser), a static file
 * server on 127.0.0.1 (optionally cross-origin isolated: COOP/COEP headers, so SharedArrayBuffer and the WASM
 * worker pool exist), and an esbuild bundle for the browser. Without Chromium the tests skip and print the
 * install command; with CI=true a missing browser is a failure.
 */
import { existsSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
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

type Server = import("node:http").Server;
const SCRIPTS = fileURLToPath(new URL("../../../scripts/", import.meta.url)); // dist/tests/support -> scripts

/** Serves `dir` on an ephemeral loopback port with the app's own server (scripts/serve-web.mjs); `isolated` adds
 * the COOP/COEP headers. */
export async function serveDir(
  dir: string,
  isolated: boolean,
): Promise<{ url: string; close: () => Promise<void> }> {
  const { serveStatic } = (await import(join(SCRIPTS, "serve-web.mjs"))) as {
    serveStatic(d: string, o: { isolated: boolean }): Promise<Server>;
  };
  const server = await serveStatic(dir, { isolated });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
