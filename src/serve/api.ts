/**
 * The `hrm serve` HTTP API without the HTTP server: routes, auth, limits, timeouts and the JSON and streamed
 * replies, over a platform-neutral request (src/platform/http-server.ts binds it to node:http). Endpoints:
 * POST /v1/solve, POST /v1/solve/batch, GET /v1/models, GET /healthz, GET /metrics. Errors are
 * {"error", "field"} with the status that names the problem (400, 401, 403, 404, 405, 413, 503, 504).
 */
import type { HRMModel } from "../app/model.js";
import type { EncodedPuzzle } from "../app/puzzles.js";
import { MAX_HALT_STEPS } from "../model/config.js";
import { now } from "../util/clock.js";
import { ServeMetrics } from "./metrics.js";
import { ApiError, parseJsonBody, parseSolveRequest } from "./protocol.js";
import type { Job, SegmentReport, SolveResult } from "./scheduler.js";
import { ModelScheduler, QueueFullError } from "./scheduler.js";

export interface ServeConfig {
  /** Required bearer token (none: no auth). */
  token?: string;
  /** Most puzzles in one forward batch. */
  maxBatch: number;
  /** How long a batch with free rows waits for puzzles to fill them (see ModelScheduler.fill). */
  maxWaitMs: number;
  /** Most puzzles waiting per model; past it, 503. */
  maxQueue: number;
  maxBodyBytes: number;
  /** Per request, queueing included; past it, 504. */
  timeoutMs: number;
  /** The largest max_think_steps a request may ask for (at least each model's halt_max_steps). */
  maxThinkSteps: number;
}

export const DEFAULT_SERVE_CONFIG: ServeConfig = {
  maxBatch: 64,
  maxWaitMs: 5,
  maxQueue: 1024,
  maxBodyBytes: 1 << 20,
  timeoutMs: 60_000,
  maxThinkSteps: 64,
};

export interface ApiRequest {
  method: string;
  /** Path and query, as in the request line. */
  url: string;
  /** Lower-case names. */
  headers: Record<string, string | string[] | undefined>;
  /** The body as text; rejects with a 413 ApiError past `limit` bytes. */
  readBody(limit: number): Promise<string>;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
}

export type ApiReply = { status: number; headers: Record<string, string> } & (
  { body: string } | { stream: AsyncIterable<string> }
);

const JSON_TYPE = "application/json; charset=utf-8";
const json = (status: number, v: unknown, headers: Record<string, string> = {}): ApiReply => ({
  status,
  headers: { "content-type": JSON_TYPE, ...headers },
  body: `${JSON.stringify(v)}\n`,
});
const ROUTES: Record<string, string> = {
  "/v1/solve": "POST",
  "/v1/solve/batch": "POST",
  "/v1/models": "GET",
  "/healthz": "GET",
  "/metrics": "GET",
};

/** Compares without an early exit, so the time taken does not tell how much of a guess was right. */
function sameSecret(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++)
    diff |= (a.charCodeAt(i % (a.length || 1)) | 0) ^ (b.charCodeAt(i % (b.length || 1)) | 0);
  return diff === 0;
}

export class ServeApi {
  readonly metrics = new ServeMetrics();
  readonly config: ServeConfig;
  private readonly schedulers = new Map<string, ModelScheduler>();
  private draining = false;
  /** Solve requests being read and checked, not yet queued. */
  private arriving = 0;

  constructor(
    readonly models: ReadonlyMap<string, HRMModel>,
    config: Partial<ServeConfig> = {},
  ) {
    this.config = { ...DEFAULT_SERVE_CONFIG, ...config };
    const c = this.config;
    for (const [k, v] of Object.entries(c))
      if (k !== "token" && (!Number.isInteger(v) || v < (k === "maxWaitMs" ? 0 : 1)))
        throw new RangeError(
          `serve: ${k} must be a ${k === "maxWaitMs" ? "non-negative" : "positive"} integer, got ${v}`,
        );
    if (c.maxThinkSteps > MAX_HALT_STEPS)
      throw new RangeError(`serve: maxThinkSteps must be at most ${MAX_HALT_STEPS}, got ${c.maxThinkSteps}`);
    if (models.size === 0) throw new RangeError("serve: no models to serve");
    for (const [name, m] of models) this.schedulers.set(name, new ModelScheduler(name, m, c, this.metrics));
  }

  /** The metrics label of a request: its route, or "other" (keeps the label set small). */
  endpoint(url: string): string {
    const path = url.split("?")[0];
    return path in ROUTES ? path : "other";
  }

  /** Refuses new requests from now on; resolves when every queued and running puzzle is answered. */
  async drain(): Promise<void> {
    this.draining = true;
    await Promise.all([...this.schedulers.values()].map((s) => s.idle()));
    for (const s of this.schedulers.values()) s.release();
  }

  get isDraining(): boolean {
    return this.draining;
  }

  async handle(req: ApiRequest): Promise<ApiReply> {
    try {
      return await this.route(req);
    } catch (e) {
      if (e instanceof ApiError) return json(e.status, { error: e.message, field: e.field }, e.headers);
      return json(500, { error: `internal error: ${(e as Error)?.message ?? String(e)}`, field: null });
    }
  }

  private async route(req: ApiRequest): Promise<ApiReply> {
    const path = req.url.split("?")[0];
    if (this.draining)
      throw new ApiError(503, null, "the server is shutting down", {
        "retry-after": "1",
        connection: "close",
      });
    this.authorize(req);
    const method = ROUTES[path];
    if (!method) throw new ApiError(404, null, `no route ${req.method} ${path}`);
    if (req.method !== method)
      throw new ApiError(405, null, `${path} takes ${method}, not ${req.method}`, { allow: method });
    if (path === "/healthz") return json(200, { status: "ok", models: [...this.models.keys()] });
    if (path === "/metrics")
      return {
        status: 200,
        headers: { "content-type": "text/plain; version=0.0.4" },
        body: this.metrics.render(),
      };
    if (path === "/v1/models") return json(200, { models: this.describeModels() });
    // From here until its puzzles are queued (or it fails) the request is arriving: see ModelScheduler.
    const start = now();
    this.arriving++;
    try {
      const body = parseJsonBody(await req.readBody(this.config.maxBodyBytes));
      return this.solve(req, body, path === "/v1/solve/batch", start);
    } finally {
      this.arriving--;
    }
  }

  private authorize(req: ApiRequest): void {
    const token = this.config.token;
    if (!token) return;
    const h = req.headers.authorization;
    const got = typeof h === "string" ? /^Bearer\s+(.+)$/i.exec(h.trim())?.[1] : undefined;
    if (got === undefined)
      throw new ApiError(401, "authorization", "this server needs Authorization: Bearer <token>", {
        "www-authenticate": "Bearer",
      });
    if (!sameSecret(got, token)) throw new ApiError(403, "authorization", "wrong token");
  }

  private describeModels() {
    return [...this.models].map(([name, m]) => ({
      name,
      architecture: m.config.architecture,
      parameters: m.parameters,
      kinds: m.kinds,
      seq_len: m.config.seq_len,
      vocab_size: m.config.vocab_size,
      default_think_steps: m.config.halt_max_steps,
      max_think_steps: Math.max(this.config.maxThinkSteps, m.config.halt_max_steps),
      hidden_size: m.config.hidden_size,
      H_cycles: m.config.H_cycles,
      L_cycles: m.config.L_cycles,
      H_layers: m.config.H_layers,
      L_layers: m.config.L_layers,
      backend: m.backendName,
    }));
  }

  private async solve(
    req: ApiRequest,
    body: Record<string, unknown>,
    batch: boolean,
    start: number,
  ): Promise<ApiReply> {
    const r = parseSolveRequest(
      body,
      this.models,
      { maxThinkSteps: this.config.maxThinkSteps, maxPuzzles: this.config.maxQueue },
      batch,
    );
    const sched = this.schedulers.get(r.model)!;
    const run = new Run(sched, r.puzzles, r.maxSteps, r.adaptive, this.config.timeoutMs, req.signal, r.trace);
    if (r.trace) return this.traced(run, r.model, start, req);
    run.start();
    const results = await run.finished;
    const elapsed_ms = now() - start;
    if (batch) return json(200, { model: r.model, results, elapsed_ms });
    return json(200, { model: r.model, ...results[0], elapsed_ms });
  }

  /** One event per segment, then the answer: Server-Sent Events when asked for, else NDJSON. */
  private traced(run: Run, model: string, start: number, req: ApiRequest): ApiReply {
    const accept = String(req.headers.accept ?? "");
    const sse = accept.includes("text/event-stream");
    const frame = (event: string, data: object) =>
      sse ? `event: ${event}\ndata: ${JSON.stringify(data)}\n\n` : `${JSON.stringify({ event, ...data })}\n`;
    const events = new Channel<string>();
    run.onSegment = (s) => events.push(frame("segment", s));
    run.start(); // before the reply: a full queue is still a 503
    run.finished.then(
      ([answer]) => events.push(frame("answer", { model, ...answer, elapsed_ms: now() - start })),
      (e: unknown) => {
        const err = e instanceof ApiError ? e : new ApiError(500, null, String(e));
        events.push(frame("error", { error: err.message, field: err.field, status: err.status }));
      },
    );
    run.finished.finally(() => events.close()).catch(() => undefined);
    return {
      status: 200,
      headers: {
        "content-type": sse ? "text/event-stream" : "application/x-ndjson",
        "cache-control": "no-cache",
      },
      stream: events,
    };
  }
}

/** The puzzles of one request in a model's queue, with its timeout and its client's abort signal. */
class Run {
  onSegment?: (s: SegmentReport) => void;
  readonly finished: Promise<SolveResult[]>;
  private resolve!: (r: SolveResult[]) => void;
  private reject!: (e: unknown) => void;
  private readonly jobs: Job[];
  private readonly results: SolveResult[];
  private left: number;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly sched: ModelScheduler,
    puzzles: EncodedPuzzle[],
    maxSteps: number,
    adaptive: boolean,
    private readonly timeoutMs: number,
    private readonly signal: AbortSignal,
    traced: boolean,
  ) {
    this.finished = new Promise((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    this.finished.catch(() => undefined); // a client that left awaits nothing
    this.results = new Array<SolveResult>(puzzles.length);
    this.left = puzzles.length;
    this.jobs = puzzles.map((p, i) => ({
      puzzle: p,
      tokens: p.tokens,
      puzzleId: p.puzzleId,
      maxSteps,
      adaptive,
      qHalts: [],
      trace: traced ? (s: SegmentReport) => this.onSegment?.(s) : undefined,
      done: (r: SolveResult) => this.doneOne(i, r),
      fail: (e: Error) => this.end(new ApiError(500, null, `the model failed: ${e.message}`)),
    }));
  }

  /** Queues the puzzles; a 503 ApiError when the queue has no room for all of them. */
  start(): void {
    try {
      this.sched.submit(this.jobs);
    } catch (e) {
      if (e instanceof QueueFullError) throw new ApiError(503, null, e.message, { "retry-after": "1" });
      throw e;
    }
    // The scheduler runs its first segment after this tick at the earliest, so nothing ends before this.
    this.timer = setTimeout(
      () =>
        this.end(
          new ApiError(504, null, `no answer within timeout_ms=${this.timeoutMs}; the request was cancelled`),
        ),
      this.timeoutMs,
    );
    const gone = () => this.end(new ApiError(499, null, "the client went away"));
    if (this.signal.aborted) gone();
    else this.signal.addEventListener("abort", gone, { once: true });
  }

  private doneOne(i: number, r: SolveResult): void {
    this.results[i] = r;
    if (--this.left === 0) this.end(null);
  }

  private end(err: ApiError | null): void {
    if (this.timer === null) return; // already ended
    clearTimeout(this.timer);
    this.timer = null;
    if (err) {
      for (const j of this.jobs) this.sched.cancel(j);
      this.reject(err);
    } else this.resolve(this.results);
  }
}

/** A push-to-pull queue: the scheduler pushes frames, the HTTP layer iterates them. */
class Channel<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private closed = false;
  private wake: (() => void) | null = null;
  push(x: T): void {
    this.items.push(x);
    this.wake?.();
  }
  close(): void {
    this.closed = true;
    this.wake?.();
  }
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      while (this.items.length > 0) yield this.items.shift()!;
      if (this.closed) return;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = null;
    }
  }
}
