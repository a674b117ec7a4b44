/**
 * npm run bench -- --only=serve [--quick]: `hrm serve` under load from autocannon on loopback, against offline
 * solving on the same machine. For the quick-start 4x4 model and the paper-size 9x9 model (random weights; a
 * fixed number of segments, so every request does the same work), at 1, 8 and 64 concurrent clients:
 * throughput and p50/p99 latency next to offline batch solving at the same batch size (solveRows, in this
 * process). Then a soak of 100,000 requests (10,000 with --quick), a quarter of them invalid: every answer is
 * checked against the offline one, every bad request must get its 400, and the server's RSS is sampled.
 * The server is the CLI in a child process; autocannon shares the machine's cores with it, so the table is
 * made with 1 kernel thread and, without --quick, 2 (contended). With 1 thread, where taskset exists, the
 * server is pinned to the last core and this process (autocannon, and the offline solves it is compared with)
 * to the first, so that neither's tail latency is the other's work.
 */
import type { ChildProcess } from "node:child_process";
import { execFileSync, spawn } from "node:child_process";
import { cpus } from "node:os";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import type { HRMModel } from "../src/app/model.js";
import { loadModel } from "../src/app/model.js";
import { solve } from "../src/app/solve.js";
import { getKernels, loadNativeAddon } from "../src/node.js";
import { solveRows } from "../src/eval/solve.js";
import { table, timeIt } from "./timing.js";
import { paperModel } from "./wasm.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const HRM = join(ROOT, "dist", "cli", "hrm.js");

interface Subject {
  name: string;
  file: string;
  puzzles: string[];
  steps: number;
  /** Seconds of load per concurrency. */
  seconds: number;
}

/** Sets the CPU affinity of every thread of process `pid` (taskset -a -cp); false where taskset is missing. */
function pin(pid: number, cpuList: string): boolean {
  try {
    execFileSync("taskset", ["-a", "-cp", cpuList, String(pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** With one kernel thread: the server on the last core, this process on the others (else every core each). */
function placement(threads: number): { server: string; bench: string } | null {
  const n = cpus().length;
  if (n < 2) return null;
  const all = `0-${n - 1}`;
  return threads === 1 ? { server: String(n - 1), bench: `0-${n - 2}` } : { server: all, bench: all };
}

async function startCli(file: string, threads: number): Promise<{ url: string; child: ChildProcess }> {
  const args = [
    HRM,
    "serve",
    `model.m=${file}`,
    "port=0",
    "max_batch=64",
    "max_queue=4096",
    "timeout_ms=600000",
  ];
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, HRM_NUM_THREADS: String(threads) },
  });
  const where = placement(threads);
  if (where && pin(child.pid!, where.server)) pin(process.pid, where.bench);
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d));
  child.stderr!.on("data", (d: Buffer) => (out += d));
  const start = Date.now();
  for (;;) {
    const m = /listening on (http:\/\/[^\s;]+)/.exec(out);
    if (m) return { url: m[1], child };
    if (child.exitCode !== null || Date.now() - start > 30_000) throw new Error(`hrm serve: ${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function stopCli(child: ChildProcess): Promise<number | null> {
  const done = new Promise<number | null>((r) => child.on("close", r));
  child.kill("SIGTERM");
  return done;
}

const body = (s: Subject, puzzle: string) =>
  JSON.stringify({ kind: "sudoku", puzzle, max_think_steps: s.steps, halting: "fixed" });

/** Offline: solveRows on B puzzles at once; puzzles per second and the time of one batch. */
async function offline(s: Subject, B: number, budgetMs: number, threads: number) {
  loadNativeAddon()?.setNumThreads(threads);
  const model = await modelOf(s.file);
  const inner = model.inner;
  const L = inner.config.seq_len;
  const inputs = new Int32Array(B * L);
  for (let b = 0; b < B; b++) {
    const p = s.puzzles[b % s.puzzles.length];
    for (let i = 0; i < L; i++) inputs[b * L + i] = p[i] === "." ? 1 : Number(p[i]) + 1;
  }
  const t = inner.frozen(() =>
    timeIt(
      () => solveRows(inner, inputs, new Int32Array(B), { maxSteps: s.steps, adaptive: false }),
      budgetMs,
      2,
    ),
  );
  return { perSecond: (1000 * B) / t.medianMs, batchMs: t.medianMs, batchP99Ms: t.p99Ms };
}

const models = new Map<string, Promise<HRMModel>>();
/** Each model file loaded once (the kernel thread count is the addon's, set per measurement). */
const modelOf = (file: string) => {
  if (!models.has(file)) models.set(file, loadModel(readFileSync(file), { kernels: getKernels() }));
  return models.get(file)!;
};

async function load(url: string, s: Subject, connections: number, seconds: number) {
  const r = await autocannon({
    url: `${url}/v1/solve`,
    connections,
    duration: seconds,
    timeout: 600,
    requests: s.puzzles.map((p) => ({
      method: "POST",
      path: "/v1/solve",
      headers: { "content-type": "application/json" },
      body: body(s, p),
    })),
  });
  if (r.errors || r.timeouts || r.non2xx)
    throw new Error(`load: ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx`);
  return {
    rps: r.requests.total / (r.duration || seconds),
    p50: r.latency.p50,
    p99: r.latency.p99,
    n: r.requests.total,
  };
}

/** Waits until the server has nothing queued or running (its /metrics gauges). */
async function idle(url: string): Promise<void> {
  const start = Date.now();
  for (;;) {
    const m = await (await fetch(`${url}/metrics`)).text();
    if (!/^hrm_(queue_depth|active_rows)\{[^}]*\} [1-9]/m.test(m)) return;
    if (Date.now() - start > 300_000) throw new Error("the server did not go idle");
    await new Promise((r) => setTimeout(r, 50));
  }
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

/** 100,000 requests, valid and invalid mixed; each answer checked; RSS sampled every second. */
async function soak(s: Subject, amount: number) {
  const model = await modelOf(s.file);
  const want = new Map<string, string>();
  for (const p of s.puzzles) {
    const a = await solve(model, { kind: "sudoku", puzzle: p }, { maxThinkSteps: s.steps, halting: "fixed" });
    want.set(p, JSON.stringify([a.answer, a.segments, a.qHalt]));
  }
  const invalid = [
    '{"kind":"sudoku","puzzle":',
    JSON.stringify({ kind: "sudoku", puzzle: "11" + ".".repeat(14) }),
    JSON.stringify({ kind: "sudoku", puzzle: s.puzzles[0], max_think_steps: 0 }),
    JSON.stringify({ kind: "maze", puzzle: s.puzzles[0] }),
  ];
  const { url, child } = await startCli(s.file, 2);
  let wrong = 0;
  let checked = 0;
  const requests = s.puzzles.flatMap((p, i) => {
    const good = {
      method: "POST" as const,
      path: "/v1/solve",
      headers: { "content-type": "application/json" },
      body: body(s, p),
      onResponse: (status: number, text: string) => {
        checked++;
        const a = status === 200 ? (JSON.parse(text) as Record<string, unknown>) : null;
        if (!a || JSON.stringify([a.answer, a.segments, a.q_halt]) !== want.get(p)) wrong++;
      },
    };
    const bad = {
      ...good,
      body: invalid[i % invalid.length],
      onResponse: (status: number) => {
        checked++;
        if (status !== 400) wrong++;
      },
    };
    return [good, good, good, bad];
  });
  const samples: number[] = [];
  const timer = setInterval(() => samples.push(rssKb(child.pid!)), 1000);
  const t0 = performance.now();
  const r = await autocannon({ url, connections: 64, amount, timeout: 60, requests });
  clearInterval(timer);
  const health = await fetch(`${url}/healthz`);
  const code = await stopCli(child);
  const warm = samples.slice(Math.floor(samples.length / 10));
  return {
    requests: r.requests.total,
    seconds: (performance.now() - t0) / 1000,
    wrong,
    checked,
    errors: r.errors + r.timeouts,
    alive: health.status === 200 && code === 0,
    rssStartMb: warm[0] / 1024,
    rssMaxMb: Math.max(...warm) / 1024,
    rssEndMb: warm[warm.length - 1] / 1024,
  };
}

export async function benchServe(quick: boolean, records: Record<string, unknown>[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "hrm-bench-serve-"));
  try {
    const small = join(ROOT, "web", "models", "sudoku-4x4.safetensors");
    const paper = join(dir, "paper.safetensors");
    writeFileSync(paper, paperModel());
    const csv = readFileSync(join(ROOT, "tests", "fixtures", "data", "sudoku", "puzzles.csv"), "utf8");
    const nines = csv
      .trim()
      .split("\n")
      .slice(1, 65)
      .map((l) => l.split(",")[1]);
    const fours = JSON.parse(readFileSync(join(ROOT, "web", "puzzles-4x4.json"), "utf8")) as string[];
    const subjects: Subject[] = [
      { name: "quick-start 4x4", file: small, puzzles: fours.slice(0, 64), steps: 8, seconds: quick ? 3 : 8 },
      { name: "paper-size 9x9", file: paper, puzzles: nines, steps: 4, seconds: quick ? 8 : 25 },
    ];
    const rows: (string | number)[][] = [];
    // Kernel threads of the server (and of the offline runs it is compared with): 1 leaves autocannon a core.
    for (const threads of quick ? [1] : [1, 2])
      for (const s of subjects) {
        const { url, child } = await startCli(s.file, threads);
        try {
          for (const c of [1, 8, 64]) {
            const o = await offline(s, c, quick ? 1000 : 3000, threads);
            await load(url, s, c, 1); // warm-up
            await idle(url); // autocannon leaves the warm-up's last requests behind; they must not queue ahead
            // At least 5 offline batches' time, so that the window holds several rounds of the batch.
            const l = await load(url, s, c, Math.max(s.seconds, Math.ceil((5 * o.batchMs) / 1000)));
            // One client: the served p99 against solving alone, its median and its own p99.
            const single =
              c === 1
                ? `p99 ${(l.p99 / o.batchMs).toFixed(2)}x solve median, ${(l.p99 / o.batchP99Ms).toFixed(2)}x solve p99 (${o.batchP99Ms.toFixed(1)} ms)`
                : "";
            rows.push([
              s.name,
              threads,
              c,
              l.n,
              l.rps.toFixed(1),
              l.p50.toFixed(1),
              l.p99.toFixed(1),
              o.perSecond.toFixed(1),
              o.batchMs.toFixed(1),
              `${((100 * l.rps) / o.perSecond).toFixed(0)}%`,
              single,
            ]);
            records.push({
              bench: "serve",
              model: s.name,
              threads,
              clients: c,
              segments: s.steps,
              ...l,
              offline: o,
            });
            console.log(rows[rows.length - 1].join("  "));
          }
        } finally {
          await stopCli(child);
        }
      }
    console.log(
      `\n${table(["model", "threads", "clients", "requests", "req/s", "p50 ms", "p99 ms", "offline/s", "offline batch ms", "served/offline", ""], rows)}\n`,
    );
    const amount = quick ? 10_000 : 100_000;
    const k = await soak(subjects[0], amount);
    records.push({ bench: "serve-soak", ...k });
    const growth = (100 * (k.rssMaxMb - k.rssStartMb)) / k.rssStartMb;
    console.log(
      `soak (quick-start model, 64 clients, 1 in 4 invalid): ${k.requests} requests in ${k.seconds.toFixed(1)} s, ` +
        `${k.checked} checked, ${k.wrong} wrong, ${k.errors} errors/timeouts, server ${k.alive ? "alive, exit 0" : "FAILED"}; ` +
        `RSS after warm-up ${k.rssStartMb.toFixed(0)} MB, max ${k.rssMaxMb.toFixed(0)} MB (+${growth.toFixed(1)}%), end ${k.rssEndMb.toFixed(0)} MB`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
