// npm run web: builds the web app and serves it on http://127.0.0.1:8080 (PORT=...) for development, cross-origin
// isolated (COOP/COEP headers), so the WASM kernels run on a pool of Web Workers.
import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize } from "node:path";
import { buildWeb } from "./build-web.mjs";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".css": "text/css",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".map": "application/json",
};
const dir = await buildWeb();
const port = Number(process.env.PORT ?? 8080);
createServer((req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)).replace(
    /^(\.\.[/\\])+/,
    "",
  );
  let file = join(dir, path);
  if (existsSync(file) && statSync(file).isDirectory()) file = join(file, "index.html");
  if (!file.startsWith(dir) || !existsSync(file)) return res.writeHead(404).end("not found");
  res.writeHead(200, {
    "content-type": TYPES[extname(file)] ?? "application/octet-stream",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-embedder-policy": "require-corp",
  });
  res.end(readFileSync(file));
}).listen(port, "127.0.0.1", () => console.log(`hrm-ts web app: http://127.0.0.1:${port}/ (Ctrl-C stops)`));
