/**
 * hrm serve end to end on loopback (ephemeral ports): Sudoku with the committed 4x4 model and a 5x5 maze model,
 * NDJSON and SSE traces, every bad input's status, field and message, 32 concurrent clients (with bad requests
 * among them) each answered exactly as the offline `hrm solve --json` answers its puzzle, auth, the queue
 * and the timeout, and the CLI draining on SIGTERM.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { loadModel } from "../src/app/model.js";
import type { HRMModel } from "../src/app/model.js";
import { encodeModelSafetensors } from "../src/model/checkpoint.js";
import { makeConfig } from "../src/model/config.js";
import { HRMParams } from "../src/model/params.js";
import { getKernels } from "../src/node.js";
import type { HrmServer } from "../src/node.js";
import { startServer } from "../src/node.js";
import { Rng } from "../src/util/rng.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const HRM = join(ROOT, "dist", "cli", "hrm.js");
const SUDOKU = join(ROOT, "web", "models", "sudoku-4x4.safetensors");
const PUZZLES = JSON.parse(readFileSync(join(ROOT, "web", "puzzles-4x4.json"), "utf8")) as string[];
const MAZE = "S   #\n### #\n#   #\n# ###\n#   G";

let dir = "";
let mazeFile = "";
let models: Map<string, HRMModel>;
let srv: HrmServer;

/** A random 5x5 maze model, a TRM (the server runs both architectures), whose Q-head stops rows at different
 * segments. */
function mazeModel(): Uint8Array {
  const c = makeConfig({
    architecture: "trm",
    seq_len: 25,
    vocab_size: 6,
    hidden_size: 32,
    num_heads: 2,
    H_layers: 0,
    L_layers: 1,
    H_cycles: 1,
    L_cycles: 2,
    puzzle_emb_len: 0,
    halt_max_steps: 6,
    puzzle_emb_ndim: 0,
    batch_size: 4,
  });
  const p = HRMParams.init(c, 4);
  const rng = new Rng(7);
  const w = p.get("q_head.weight");
  for (let i = 0; i < w.length; i++) w[i] = rng.normal() * 0.5;
  return encodeModelSafetensors(p);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "hrm-serve-"));
  mazeFile = join(dir, "maze.safetensors");
  writeFileSync(mazeFile, mazeModel());
  const kernels = getKernels();
  models = new Map([
    ["sudoku", await loadModel(readFileSync(SUDOKU), { kernels })],
    ["maze", await loadModel(readFileSync(mazeFile), { kernels })],
  ]);
  srv = await startServer(models, { port: 0, maxBodyBytes: 4096, maxThinkSteps: 32 });
});
after(async () => {
  await srv?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The offline answer: `hrm solve ... --json` in its own process. */
async function offline(args: string[]): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, [HRM, "solve", ...args, "--json"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d));
  child.stderr.on("data", (d: Buffer) => (err += d));
  const code = await new Promise<number | null>((r) => child.on("close", r));
  assert.equal(code, 0, err);
  return JSON.parse(out) as Record<string, unknown>;
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}, url = srv.url) {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    json: () => JSON.parse(text) as Record<string, unknown>,
  };
}

test("serve: Sudoku and a maze are solved and checked; models, health and metrics", async () => {
  const r = await post("/v1/solve", {
    model: "sudoku",
    kind: "sudoku",
    puzzle: PUZZLES[0],
    max_think_steps: 8,
  });
  assert.equal(r.status, 200, r.text);
  const a = r.json();
  assert.equal(a.valid, true, "the trained 4x4 model solves this puzzle");
  assert.equal((a.answer as number[][]).length, 4);
  assert.equal((a.q_halt as number[]).length, a.segments);
  assert.ok((a.elapsed_ms as number) > 0);
  const m = await post("/v1/solve", { model: "maze", kind: "maze", puzzle: MAZE.split("\n") });
  assert.equal(m.status, 200, m.text);
  const mazeFileText = join(dir, "maze.txt");
  writeFileSync(mazeFileText, `${MAZE}\n`);
  const { elapsed_ms: _, model: __, ...served } = m.json();
  assert.deepEqual(served, await offline(["maze", mazeFileText, `checkpoint=${mazeFile}`]));
  const list = (await (await fetch(`${srv.url}/v1/models`)).json()) as { models: Record<string, unknown>[] };
  assert.deepEqual(
    list.models.map((x) => [x.name, x.architecture, x.kinds, x.seq_len, x.max_think_steps]),
    [
      ["sudoku", "hrm", ["sudoku"], 16, 32],
      ["maze", "trm", ["maze"], 25, 32],
    ],
  );
  assert.equal(list.models[0].parameters, models.get("sudoku")!.parameters);
  assert.deepEqual(await (await fetch(`${srv.url}/healthz`)).json(), {
    status: "ok",
    models: ["sudoku", "maze"],
  });
  const metrics = await (await fetch(`${srv.url}/metrics`)).text();
  assert.match(metrics, /^hrm_requests_total\{endpoint="\/v1\/solve",status="200"\} \d+$/m);
  assert.match(metrics, /^hrm_request_duration_seconds_bucket\{endpoint="\/v1\/solve",le="\+Inf"\} \d+$/m);
  assert.match(metrics, /^hrm_batch_rows_count\{model="sudoku"\} \d+$/m);
  assert.match(metrics, /^hrm_segments_used_count\{model="maze"\} 1$/m);
  assert.match(metrics, /^hrm_queue_depth\{model="sudoku"\} 0$/m);
});

test("serve: a trace streams every segment, as NDJSON or as Server-Sent Events, then the answer", async () => {
  const req = { model: "sudoku", kind: "sudoku", puzzle: PUZZLES[1], max_think_steps: 5, halting: "fixed" };
  const plain = (await post("/v1/solve", req)).json();
  const nd = await post("/v1/solve", { ...req, trace: true });
  assert.equal(nd.status, 200);
  assert.match(nd.headers.get("content-type") ?? "", /application\/x-ndjson/);
  const events = nd.text
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(
    events.map((e) => e.event),
    ["segment", "segment", "segment", "segment", "segment", "answer"],
  );
  assert.deepEqual(
    events.slice(0, 5).map((e) => e.segment),
    [1, 2, 3, 4, 5],
  );
  assert.deepEqual(
    events.slice(0, 5).map((e) => e.halted),
    [false, false, false, false, true],
  );
  assert.deepEqual(
    events.slice(0, 5).map((e) => e.q_halt),
    plain.q_halt,
  );
  const { event: _e, elapsed_ms: _a, ...last } = events[5];
  const { elapsed_ms: _b, ...want } = plain;
  assert.deepEqual(last, want);
  assert.deepEqual(events[4].answer, plain.answer);
  const sse = await post("/v1/solve", { ...req, trace: true }, { accept: "text/event-stream" });
  assert.match(sse.headers.get("content-type") ?? "", /text\/event-stream/);
  const frames = sse.text.trim().split("\n\n");
  assert.equal(frames.length, 6);
  assert.match(frames[0], /^event: segment\ndata: \{"segment":1,/);
  assert.match(frames[5], /^event: answer\ndata: \{/);
  assert.deepEqual(JSON.parse(frames[5].split("data: ")[1]).answer, plain.answer);
});

test("serve: each bad request gets its status, the field at fault and a message that names the problem", async () => {
  const ok = { model: "sudoku", kind: "sudoku", puzzle: PUZZLES[2] };
  const cases: [string, unknown, number, string | null, RegExp][] = [
    ["malformed JSON", '{"kind": "sudoku",', 400, "body", /malformed JSON/],
    ["not an object", "[1, 2]", 400, "body", /must be a JSON object, got an array/],
    ["kind of a wrong type", { ...ok, kind: 4 }, 400, "kind", /kind must be a string/],
    ["unknown kind", { ...ok, kind: "chess" }, 400, "kind", /unknown puzzle kind chess/],
    [
      "kind the model does not solve",
      { ...ok, kind: "maze", puzzle: MAZE },
      400,
      "kind",
      /solves sudoku, not maze/,
    ],
    [
      "unknown model",
      { ...ok, model: "go" },
      400,
      "model",
      /unknown model "go": this server has sudoku, maze/,
    ],
    [
      "model omitted with two loaded",
      { kind: "sudoku", puzzle: PUZZLES[2] },
      400,
      "model",
      /2 models are loaded/,
    ],
    ["unknown field", { ...ok, max_steps: 3 }, 400, "max_steps", /unknown field "max_steps"/],
    ["puzzle of the wrong size", { ...ok, puzzle: "1234" }, 400, "puzzle", /4 cells, expected 16, 36 or 81/],
    [
      "a 6x6 puzzle for the 4x4 model",
      { ...ok, puzzle: ".".repeat(36) },
      400,
      "puzzle",
      /has 36 cells, the model takes 16/,
    ],
    [
      "character outside the alphabet",
      { ...ok, puzzle: "x" + PUZZLES[2].slice(1) },
      400,
      "puzzle",
      /character "x" at cell 0/,
    ],
    [
      "digit too large",
      { ...ok, puzzle: "7" + ".".repeat(15) },
      400,
      "puzzle",
      /digit 7 at cell 0 is larger than 4/,
    ],
    [
      "givens that clash",
      { ...ok, puzzle: "11" + ".".repeat(14) },
      400,
      "puzzle",
      /givens break the rules: digit 1 twice in row 1/,
    ],
    [
      "maze with a bad character",
      { model: "maze", kind: "maze", puzzle: MAZE.replace("G", "X") },
      400,
      "puzzle",
      /maze/,
    ],
    [
      "puzzle of a wrong type",
      { ...ok, puzzle: 12 },
      400,
      "puzzle",
      /must be a string or an array, got number/,
    ],
    ["max_think_steps 0", { ...ok, max_think_steps: 0 }, 400, "max_think_steps", /in 1\.\.32, got 0/],
    [
      "max_think_steps negative",
      { ...ok, max_think_steps: -2 },
      400,
      "max_think_steps",
      /in 1\.\.32, got -2/,
    ],
    [
      "max_think_steps above the maximum",
      { ...ok, max_think_steps: 33 },
      400,
      "max_think_steps",
      /in 1\.\.32, got 33/,
    ],
    [
      "max_think_steps not an integer",
      { ...ok, max_think_steps: 2.5 },
      400,
      "max_think_steps",
      /must be an integer, got number/,
    ],
    [
      "max_think_steps as a string",
      { ...ok, max_think_steps: "8" },
      400,
      "max_think_steps",
      /must be an integer, got "8"/,
    ],
    ["halting unknown", { ...ok, halting: "never" }, 400, "halting", /"adaptive" or "fixed", got "never"/],
    ["trace not a boolean", { ...ok, trace: "yes" }, 400, "trace", /true or false/],
    ["negative puzzle_id", { ...ok, puzzle_id: -1 }, 400, "puzzle_id", /non-negative integer/],
    [
      "batch with an empty list",
      { ...ok, puzzle: undefined, puzzles: [] },
      400,
      "puzzles",
      /non-empty array/,
    ],
    ["body over max_body_bytes", { ...ok, pad: "x".repeat(5000) }, 413, "body", /over max_body_bytes=4096/],
  ];
  for (const [name, body, status, field, message] of cases) {
    const path = name.startsWith("batch") ? "/v1/solve/batch" : "/v1/solve";
    const r = await post(path, body);
    assert.equal(r.status, status, `${name}: ${r.text}`);
    assert.match(r.headers.get("content-type") ?? "", /application\/json/, name);
    const e = r.json();
    assert.equal(e.field, field, `${name}: field`);
    assert.match(String(e.error), message, `${name}: message`);
  }
  const batch = await post("/v1/solve/batch", {
    model: "sudoku",
    kind: "sudoku",
    puzzles: [PUZZLES[0], "11.."],
  });
  assert.equal(batch.status, 400);
  assert.equal(batch.json().field, "puzzles[1]");
  const get = await fetch(`${srv.url}/v1/solve`);
  assert.equal(get.status, 405);
  assert.equal(get.headers.get("allow"), "POST");
  assert.equal((await fetch(`${srv.url}/v2/solve`)).status, 404);
  // Still serving, and counted.
  assert.equal((await post("/v1/solve", ok)).status, 200);
  const metrics = await (await fetch(`${srv.url}/metrics`)).text();
  assert.match(metrics, /^hrm_requests_total\{endpoint="\/v1\/solve",status="413"\} 1$/m);
});

test("serve: 32 concurrent clients, bad requests among them, each answered exactly as offline hrm solve", async () => {
  const reqs = PUZZLES.slice(0, 32).map((puzzle, i) => ({
    model: "sudoku",
    kind: "sudoku",
    puzzle,
    max_think_steps: 1 + (i % 8),
    halting: i % 3 === 0 ? "fixed" : "adaptive",
  }));
  assert.equal(new Set(reqs.map((r) => r.puzzle)).size, 32);
  const bad = Array.from({ length: 16 }, (_, i) => ({ ...reqs[i], puzzle: "x".repeat(16) }));
  const answers = await Promise.all([
    ...reqs.map((r) => post("/v1/solve", r)),
    ...bad.map((r) => post("/v1/solve", r)),
  ]);
  assert.ok(answers.slice(32).every((r) => r.status === 400));
  // Offline, four processes at a time.
  const want: Record<string, unknown>[] = [];
  for (let i = 0; i < 32; i += 4)
    want.push(
      ...(await Promise.all(
        reqs
          .slice(i, i + 4)
          .map((r) =>
            offline([
              "sudoku",
              r.puzzle,
              `checkpoint=${SUDOKU}`,
              `max_steps=${r.max_think_steps}`,
              `halting=${r.halting}`,
            ]),
          ),
      )),
    );
  const segments = new Set<number>();
  reqs.forEach((r, i) => {
    assert.equal(answers[i].status, 200, answers[i].text);
    const { elapsed_ms: _, model: __, ...got } = answers[i].json();
    assert.deepEqual(got, want[i], `client ${i} (max_think_steps ${r.max_think_steps}, ${r.halting})`);
    segments.add(got.segments as number);
  });
  assert.ok(segments.size >= 4, `segment counts should vary: ${[...segments]}`);
  const metrics = await (await fetch(`${srv.url}/metrics`)).text();
  const batches = Number(/^hrm_batch_rows_count\{model="sudoku"\} (\d+)$/m.exec(metrics)?.[1]);
  const rows = Number(/^hrm_batch_rows_sum\{model="sudoku"\} (\d+)$/m.exec(metrics)?.[1]);
  assert.ok(rows / batches > 1.5, `requests should share batches: ${rows} rows in ${batches} segments`);
});

test("serve: the batch endpoint answers every puzzle, in order, as single requests do", async () => {
  const puzzles = PUZZLES.slice(40, 46);
  const r = await post("/v1/solve/batch", { model: "sudoku", kind: "sudoku", puzzles, max_think_steps: 4 });
  assert.equal(r.status, 200, r.text);
  const results = r.json().results as Record<string, unknown>[];
  assert.equal(results.length, 6);
  for (let i = 0; i < 6; i++) {
    const {
      elapsed_ms: _,
      model: __,
      ...one
    } = (
      await post("/v1/solve", { model: "sudoku", kind: "sudoku", puzzle: puzzles[i], max_think_steps: 4 })
    ).json();
    assert.deepEqual(results[i], one, `puzzle ${i}`);
  }
});

test("serve: a bearer token; a full queue answers 503 with Retry-After; a slow request 504", async () => {
  const one = new Map([["sudoku", models.get("sudoku")!]]);
  const s = await startServer(one, {
    port: 0,
    token: "s3cret",
    maxBatch: 1,
    maxQueue: 1,
    maxThinkSteps: 1024,
  });
  try {
    const slow = { kind: "sudoku", puzzle: PUZZLES[3], max_think_steps: 1024, halting: "fixed" };
    const missing = await post("/v1/solve", slow, {}, s.url);
    assert.equal(missing.status, 401);
    assert.equal(missing.headers.get("www-authenticate"), "Bearer");
    assert.equal((await post("/v1/solve", slow, { authorization: "Bearer s3cre" }, s.url)).status, 403);
    assert.equal((await fetch(`${s.url}/metrics`)).status, 401);
    const auth = { authorization: "Bearer s3cret" };
    const running = post("/v1/solve", slow, auth, s.url); // takes the one row
    await new Promise((r) => setTimeout(r, 50));
    const queued = post("/v1/solve", slow, auth, s.url); // takes the one queue place
    await new Promise((r) => setTimeout(r, 50));
    const full = await post("/v1/solve", slow, auth, s.url);
    assert.equal(full.status, 503, full.text);
    assert.equal(full.headers.get("retry-after"), "1");
    assert.match(String(full.json().error), /queue of model "sudoku" is full/);
    assert.equal((await running).json().segments, 1024);
    assert.equal((await queued).json().segments, 1024);
  } finally {
    await s.close();
  }
  const t = await startServer(one, { port: 0, timeoutMs: 30, maxThinkSteps: 1024 });
  try {
    const r = await post(
      "/v1/solve",
      { kind: "sudoku", puzzle: PUZZLES[3], max_think_steps: 1024, halting: "fixed" },
      {},
      t.url,
    );
    assert.equal(r.status, 504, r.text);
    assert.match(String(r.json().error), /no answer within timeout_ms=30/);
    const quick = await post(
      "/v1/solve",
      { kind: "sudoku", puzzle: PUZZLES[3], max_think_steps: 1 },
      {},
      t.url,
    );
    assert.equal(quick.status, 200, "the next request is served");
  } finally {
    await t.close();
  }
});

test("hrm serve drains on SIGTERM: the request in flight is answered, new ones are refused, exit 0", async () => {
  const child = spawn(
    process.execPath,
    [HRM, "serve", `model.sudoku=${SUDOKU}`, "port=0", "max_think_steps=1024"],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, HRM_TOKEN: "t0k" },
    },
  );
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d));
  child.stderr.on("data", (d: Buffer) => (out += d));
  const exited = new Promise<number | null>((r) => child.on("close", r));
  const started = Date.now();
  const LISTENING = /listening on (http:\/\/[^\s;]+)/;
  while (!LISTENING.test(out)) {
    assert.ok(child.exitCode === null && Date.now() - started < 20_000, `hrm serve did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const url = LISTENING.exec(out)![1];
  assert.match(out, /bearer token required/);
  const auth = { authorization: "Bearer t0k" };
  const long = post(
    "/v1/solve",
    { kind: "sudoku", puzzle: PUZZLES[5], max_think_steps: 1024, halting: "fixed" },
    auth,
    url,
  );
  await new Promise((r) => setTimeout(r, 150));
  child.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 50));
  await assert.rejects(fetch(`${url}/healthz`, { headers: auth }), "no new connections while draining");
  const r = await long;
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json().segments, 1024);
  assert.equal(await exited, 0, out);
  assert.match(out, /SIGTERM: refusing new requests, answering the ones in flight\nstopped\n$/);
});

test("hrm serve: command-line errors are one line; --dry-run shows the resolved options", () => {
  const run = (...a: string[]) => spawnSync(process.execPath, [HRM, "serve", ...a], { encoding: "utf8" });
  assert.match(run().stderr, /^hrm: hrm serve needs checkpoint=<file> or model.<name>=<file>\n$/);
  assert.match(
    run(`checkpoint=${SUDOKU}`, "port=70000").stderr,
    /port=70000: expected an integer from 0 to 65535/,
  );
  assert.match(
    run(`checkpoint=${join(dir, "none.safetensors")}`, "port=0").stderr,
    /none.safetensors: cannot read/,
  );
  const d = run(`model.a=${SUDOKU}`, "--max_batch=8", "token=x", "--dry-run");
  assert.equal(d.status, 0, d.stderr);
  assert.match(d.stdout, /^model\.a=.*sudoku-4x4\.safetensors$/m);
  assert.match(d.stdout, /^max_batch=8$/m);
  assert.match(d.stdout, /^token=\(set\)$/m);
});

test("createServeHandler mounts in an app's own node:http server", async () => {
  const { createServer } = await import("node:http");
  const { createServeHandler } = await import("../src/node.js");
  const handler = createServeHandler({ sudoku: models.get("sudoku")! });
  const app = createServer((req, res) => {
    if (req.url?.startsWith("/hrm/")) {
      req.url = req.url.slice(4); // the API under /hrm
      handler(req, res);
    } else res.end("the app's own page");
  });
  await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(app.address() as { port: number }).port}`;
  try {
    assert.equal(await (await fetch(`${url}/`)).text(), "the app's own page");
    const r = await post("/hrm/v1/solve", { kind: "sudoku", puzzle: PUZZLES[7] }, {}, url);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json().model, "sudoku");
    assert.equal(handler.api.metrics.requests.get({ endpoint: "/v1/solve", status: "200" }), 1);
  } finally {
    app.closeAllConnections();
    await new Promise((r) => app.close(r));
  }
});

test("serve: a client that goes away takes its puzzle out of the batch", async () => {
  const ac = new AbortController();
  const req = fetch(`${srv.url}/v1/solve`, {
    method: "POST",
    body: JSON.stringify({
      model: "sudoku",
      kind: "sudoku",
      puzzle: PUZZLES[9],
      max_think_steps: 32,
      halting: "fixed",
    }),
    signal: ac.signal,
  });
  const gauge = async () =>
    Number(
      /^hrm_active_rows\{model="sudoku"\} (\d+)$/m.exec(
        await (await fetch(`${srv.url}/metrics`)).text(),
      )?.[1],
    );
  for (let i = 0; i < 100 && (await gauge()) === 0; i++) await new Promise((r) => setTimeout(r, 1));
  ac.abort();
  await assert.rejects(req);
  for (let i = 0; i < 200 && (await gauge()) !== 0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(await gauge(), 0);
  const metrics = await (await fetch(`${srv.url}/metrics`)).text();
  assert.match(metrics, /^hrm_requests_total\{endpoint="\/v1\/solve",status="499"\} 1$/m);
});
