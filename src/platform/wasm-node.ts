/**
 * The WASM backend in Node: reads the committed module from wasm/ (no compiler needed), picks the relaxed-SIMD
 * build where the engine validates it, and runs a pool of worker_threads on shared memory. Synchronous, so
 * getKernels() stays synchronous: the caller waits (Atomics.wait, at most a few seconds) until the workers have
 * checked in. Used with HRM_BACKEND=wasm, and where the native addon cannot load.
 */
import { readFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import {
  makeWasmBackend,
  makeWasmMemory,
  relaxedSimdSupported,
  wasmFileName,
  workerMemory,
  type WasmBackend,
  type WasmExports,
} from "../kernels/wasm/index.js";

const WASM_DIR = new URL("../../../wasm/", import.meta.url); // dist/src/platform -> the package root
const WORKER = new URL("./wasm-node-worker.js", import.meta.url);
const CHECK_IN_MS = 10_000;

export interface NodeWasmOptions {
  /** Kernel threads, the caller included (1: no workers, memory not shared). */
  threads: number;
  /** Use relaxed SIMD when the engine has it (default true). */
  relaxed?: boolean;
}

/** The module bytes of one build, from the package's wasm/ folder. */
export function readWasmModule(relaxed: boolean, threads: boolean): Uint8Array<ArrayBuffer> {
  const path = fileURLToPath(new URL(wasmFileName(relaxed, threads), WASM_DIR));
  return new Uint8Array(readFileSync(path));
}

export function loadWasmBackendSync(opts: NodeWasmOptions): WasmBackend {
  const threads = Math.max(1, Math.floor(opts.threads));
  const relaxed = (opts.relaxed ?? true) && relaxedSimdSupported();
  const shared = threads > 1;
  // Node 20's V8 (11.3): with worker threads on shared memory, code from its baseline compiler (Liftoff) gave
  // wrong products and attention (rows of tiles, heads) where the same module compiled by TurboFan alone is
  // exact; so the pool's module is compiled with --no-liftoff (a process-wide V8 flag: other WebAssembly in
  // this process then also compiles with TurboFan only, more slowly at start).
  if (shared) setFlagsFromString("--no-liftoff");
  const module = new WebAssembly.Module(readWasmModule(relaxed, shared));
  const memory = makeWasmMemory(shared);
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const ex = instance.exports as unknown as WasmExports;
  for (let i = 1; i < threads; i++) {
    const mem = workerMemory(instance);
    if (!mem) break;
    // execArgv []: the worker runs a file, and must not inherit --input-type or --eval from the parent.
    const w = new Worker(fileURLToPath(WORKER), { workerData: { module, memory, ...mem }, execArgv: [] });
    w.unref(); // the pool never keeps the process alive
    w.on("error", (e) => {
      // A worker that fails before checking in is left out of the pool (the caller waits CHECK_IN_MS for it).
      console.warn(`hrm-ts: a WASM kernel thread failed: ${e.message}`);
    });
  }
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const until = Date.now() + CHECK_IN_MS;
  while (ex.hrm_wasm_registered() < threads - 1 && Date.now() < until) Atomics.wait(nap, 0, 0, 1);
  const started = 1 + ex.hrm_wasm_close_registration();
  return makeWasmBackend(instance, memory, started);
}
