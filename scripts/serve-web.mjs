// npm run web: builds the web app and serves it on http://127.0.0.1:8080 (PORT=...) for development, cross-origin
// isolated (COOP/COEP headers), so the WASM kernels run on a pool of Web Workers. serveStatic is also the browser
// tests' server (tests/support/browser.ts).
import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { buildWeb } from "./build-web.mjs";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".wasm": "application/wasm",
  ".png": "image/png",
};

/** Serves the files of `dir` on host:port (port 0: any free one); `isolated` adds the COOP/COEP headers. */
export function serveStatic(dir, { port = 0, host = "127.0.0.1", isolated = true } = {}) {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)).replace(
      /^(\.\.[/\\])+/,
      "",
    );
    let file = join(dir, path);
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, "index.html");
    if (!file.startsWith(dir) || !existsSync(file)) return res.writeHead(404).end("not found");
    const headers = { "content-type": TYPES[extname(file)] ?? "application/octet-stream" };
    if (isolated) {
      headers["cross-origin-opener-policy"] = "same-origin";
      headers["cross-origin-embedder-policy"] = "require-corp";
    }
    res.writeHead(200, headers).end(readFileSync(file));
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.env.PORT ?? 8080);
  await serveStatic(await buildWeb(), { port });
  console.log(`hrm-ts web app: http://127.0.0.1:${port}/ (Ctrl-C stops)`);
}
