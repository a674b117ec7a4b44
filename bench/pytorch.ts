/**
 * `npm run bench -- --only=pytorch` (or `--pytorch` with the rest): hrm-ts against the official training step
 * and evaluation in PyTorch on this CPU (bench/pytorch/hrm_step.py, checked against the official fixtures
 * there), the two alternating case by case in their own processes, best of each compared. Needs a python3
 * with torch (see python(); Debian: apt install python3-torch libopenblas0-pthread, and the script's header
 * for OPENBLAS_CORETYPE). The ratio is this machine's and that torch build's: a torch on MKL, or a newer one,
 * may run faster than Debian's on OpenBLAS.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { runCase } from "./model.js";
import type { ModelCase } from "./model-worker.js";
import { table } from "./timing.js";

/** The PyTorch side: the official step, and its --check against the fixtures. */
export const SCRIPT = fileURLToPath(new URL("../../bench/pytorch/hrm_step.py", import.meta.url));

interface TorchRun {
  seconds: number;
  setup: string;
}

/** HRM_PYTHON, else the first of python3 and /usr/bin/python3 (Debian's, where apt puts torch) that imports
 * `modules` ("torch", or "torch, numpy" for --check); null with each candidate's failure when none does. */
export function findPython(modules: string): { python: string | null; failures: string[] } {
  const candidates = process.env.HRM_PYTHON ? [process.env.HRM_PYTHON] : ["python3", "/usr/bin/python3"];
  const failures: string[] = [];
  for (const py of candidates) {
    const r = spawnSync(py, ["-c", `import ${modules}`], { encoding: "utf8" });
    if (!r.error && r.status === 0) return { python: py, failures };
    failures.push(`${py}: ${r.error?.message ?? r.stderr.trim().split("\n").pop()}`);
  }
  return { python: null, failures };
}

let interpreter: string | null = null;

function python(): string {
  if (interpreter) return interpreter;
  const found = findPython("torch");
  if (found.python) return (interpreter = found.python);
  throw new Error(
    `--pytorch needs a python3 with torch (${found.failures.join("; ")}). Debian: apt install python3-torch ` +
      "libopenblas0-pthread; HRM_PYTHON names the interpreter.",
  );
}

function runTorch(cs: ModelCase): TorchRun {
  const r = spawnSync(python(), [SCRIPT, JSON.stringify(cs)], { encoding: "utf8" });
  if (r.error || r.status !== 0)
    throw new Error(
      `PyTorch case ${JSON.stringify(cs)} failed (${python()} ${SCRIPT}):\n${r.error ?? r.stderr}`,
    );
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { seconds: number };
  return { seconds: out.seconds, setup: r.stderr.trim().split("\n")[0] ?? "" };
}

export function benchPytorch(quick: boolean, records: Record<string, unknown>[]): void {
  python(); // fails early, with what to install
  const rounds = quick ? 1 : 3;
  const cases: ModelCase[] = [
    { config: "full", mode: "train", batch: 32, reps: 1 },
    { config: "small", mode: "train", batch: 32, reps: 3, minSeconds: quick ? 0 : 4 },
    { config: "full", mode: "eval", batch: 1, reps: 3, minSeconds: quick ? 0 : 4 },
    { config: "full", mode: "eval", batch: 32, reps: 1 },
  ];
  let setup = "";
  const rows = cases.map((cs) => {
    const what = `${cs.config} ${cs.mode} batch ${cs.batch}`;
    if (process.stdout.isTTY) process.stdout.write(`  running ${what}, hrm-ts and PyTorch ...\x1b[K\r`);
    else console.log(`  running ${what}, hrm-ts and PyTorch`);
    let ours = Infinity,
      theirs = Infinity;
    for (let r = 0; r < rounds; r++) {
      ours = Math.min(ours, runCase(cs).seconds);
      const t = runTorch(cs);
      theirs = Math.min(theirs, t.seconds);
      setup = t.setup;
    }
    records.push({
      bench: "pytorch_ratio",
      ...cs,
      hrm_ts_s: ours,
      pytorch_s: theirs,
      ratio: theirs / ours,
      setup,
    });
    const unit = cs.mode === "eval" ? "s/run (16 seg)" : "s/step";
    return [what, unit, ours.toFixed(3), theirs.toFixed(3), `${(theirs / ours).toFixed(2)}x`];
  });
  console.log(`PyTorch: ${setup}`);
  console.log(
    table(["case (float32)", "unit", "hrm-ts", "PyTorch", "hrm-ts speed-up"], rows) +
      `\n(best of ${rounds} alternating run${rounds > 1 ? "s" : ""} each)`,
  );
}
