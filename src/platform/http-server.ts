/**
 * `hrm serve` on node:http: the ServeApi (src/serve/api.ts) as a request handler a Node app can mount, and a
 * server that listens on it and drains on close (stop accepting, answer what is in flight, then end).
 * node:http rather than a framework: the five routes need no router, the checks that matter (puzzle alphabet
 * and size, Sudoku clashes, the model's limits) are the app API's and name their field already, and the body
 * limit and streaming need the raw request and response anyway.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { HRMModel } from "../app/model.js";
import type { ApiReply, ApiRequest, ServeConfig } from "../serve/api.js";
import { ServeApi } from "../serve/api.js";
import { ApiError } from "../serve/protocol.js";

export interface ServeHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  readonly api: ServeApi;
  /** Responses not yet finished. */
  readonly inflight: () => number;
}

/** The body as UTF-8 text, refused with 413 past `limit` bytes (by Content-Length before reading any). */
function bodyReader(req: IncomingMessage): (limit: number) => Promise<string> {
  return async (limit) => {
    const tooBig = () =>
      new ApiError(413, "body", `the request body is over max_body_bytes=${limit}`, { connection: "close" });
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limit) throw tooBig();
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      n += chunk.length;
      if (n > limit) throw tooBig();
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString("utf8");
  };
}

async function writeReply(res: ServerResponse, reply: ApiReply): Promise<void> {
  if (res.destroyed) return;
  res.writeHead(reply.status, reply.headers);
  if ("body" in reply) {
    res.end(reply.body);
    return;
  }
  res.flushHeaders();
  for await (const chunk of reply.stream) {
    if (res.destroyed) break;
    res.write(chunk);
  }
  res.end();
}

/** A (req, res) handler serving the models; mount it in any node:http server (or a framework that passes them). */
export function createServeHandler(
  models: ReadonlyMap<string, HRMModel> | Record<string, HRMModel>,
  config: Partial<ServeConfig> = {},
): ServeHandler {
  const map = models instanceof Map ? models : new Map(Object.entries(models));
  const api = new ServeApi(map, config);
  let inflight = 0;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const t0 = performance.now();
    const endpoint = api.endpoint(req.url ?? "/");
    const ac = new AbortController();
    inflight++;
    let counted = false;
    const finish = () => {
      if (counted) return;
      counted = true;
      inflight--;
      if (!res.writableFinished) ac.abort(); // the client left: its puzzles leave the batch
      // 499 (as nginx logs it): the client closed the connection before the reply was sent.
      const status = res.headersSent ? String(res.statusCode) : "499";
      api.metrics.requests.inc({ endpoint, status });
      api.metrics.latency.observe((performance.now() - t0) / 1000, { endpoint });
    };
    res.on("close", finish);
    const request: ApiRequest = {
      method: req.method ?? "GET",
      url: req.url ?? "/",
      headers: req.headers,
      readBody: bodyReader(req),
      signal: ac.signal,
    };
    api
      .handle(request)
      .then((reply) => writeReply(res, reply))
      .catch((e: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: `internal error: ${(e as Error)?.message}`, field: null }));
      });
  };
  return Object.assign(handler, { api, inflight: () => inflight });
}

export interface ServerOptions extends Partial<ServeConfig> {
  host?: string;
  /** 0: an ephemeral port. */
  port?: number;
}

export interface HrmServer {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  readonly api: ServeApi;
  /** Stops accepting, answers every request in flight, closes the connections; resolves then. */
  close(): Promise<void>;
}

/** Listens on host:port (default 127.0.0.1:8080) and serves the models. */
export async function startServer(
  models: ReadonlyMap<string, HRMModel> | Record<string, HRMModel>,
  opts: ServerOptions = {},
): Promise<HrmServer> {
  const { host = "127.0.0.1", port = 8080, ...config } = opts;
  const handler = createServeHandler(models, config);
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      await handler.api.drain();
      while (handler.inflight() > 0) await new Promise((r) => setTimeout(r, 5));
      server.closeIdleConnections();
      await closed;
    })());
  const shown = host.includes(":") ? `[${host}]` : host;
  return { url: `http://${shown}:${bound}`, port: bound, server, api: handler.api, close };
}
