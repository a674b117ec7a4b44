/**
 * The WASM backend in a browser: fetches and compiles the module (relaxed SIMD where the engine has it), and in
 * a cross-origin-isolated page (COOP/COEP headers: SharedArrayBuffer exists) starts a pool of Web Workers on
 * shared memory; elsewhere it runs on one thread and says why on the console. The workers are a few lines of
 * code from a Blob URL, so no bundler needs to know about a worker file.
 */
import type { SelectedKernels } from "../kernels/api.js";
import { selectKernels } from "../kernels/select.js";
import {
  makeWasmBackend,
  makeWasmMemory,
  relaxedSimdSupported,
  wasmFileName,
  workerMemory,
  type WasmBackend,
  type WasmExports,
} from "../kernels/wasm/index.js";

export interface WebKernelsOptions {
  /** "auto"/"wasm": the WASM kernels (auto falls back to ref if they cannot start); "ref": TypeScript. */
  backend?: "auto" | "wasm" | "ref";
  /** Kernel threads, the caller included (default: navigator.hardwareConcurrency, at most 8). */
  threads?: number;
  /** The folder holding the hrm-*.wasm files (default: the package's wasm/ folder next to dist/). */
  wasmBase?: string | URL;
  /** Use relaxed SIMD where the engine has it (default true). */
  relaxed?: boolean;
}

/** Where the .wasm files are, when no wasmBase is given: the package's own wasm/ folder when this module runs from
 * the package (node_modules/hrm-ts/dist/src/platform/), else (a bundle) beside the bundle, where its build copies
 * them. One place, not a search: each miss would be a 404 on the page's console. */
const DEFAULT_BASE = () =>
  /\/dist\/src\/platform\/wasm-web\.js$/.test(new URL(import.meta.url).pathname)
    ? new URL("../../../wasm/", import.meta.url)
    : new URL("./", import.meta.url);
const CHECK_IN_MS = 5000;

// A pool worker: instantiate the module on the shared memory, take its own stack, run the pool loop.
const WORKER_SOURCE = `onmessage = (e) => {
  const { module, memory, stackTop, tls } = e.data;
  const inst = new WebAssembly.Instance(module, { env: { memory } });
  inst.exports.__stack_pointer.value = stackTop;
  inst.exports.__wasm_init_tls(tls);
  try {
    inst.exports.hrm_wasm_worker();
  } catch (err) {
    Atomics.store(new Int32Array(memory.buffer), inst.exports.hrm_wasm_failed_flag() >> 2, 1);
    throw err;
  }
};`;

type G = typeof globalThis & { crossOriginIsolated?: boolean; navigator?: { hardwareConcurrency?: number } };

/** Why threads are off here, or null when a worker pool can run. */
export function threadsUnavailableReason(): string | null {
  const g = globalThis as G;
  if (typeof SharedArrayBuffer === "undefined" || !g.crossOriginIsolated)
    return "the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp), so SharedArrayBuffer is unavailable";
  if (typeof Worker === "undefined") return "Web Workers are unavailable here";
  return null;
}

async function compile(base: string | URL, relaxed: boolean, shared: boolean): Promise<WebAssembly.Module> {
  const url = new URL(
    wasmFileName(relaxed, shared),
    new URL(base, globalThis.location?.href ?? import.meta.url),
  );
  const res = await fetch(url);
  if (!res.ok)
    throw new Error(`${url}: HTTP ${res.status} (copy the package's wasm/*.wasm there, or pass wasmBase)`);
  return WebAssembly.compile(await res.arrayBuffer());
}

export async function loadWasmBackendWeb(opts: WebKernelsOptions = {}): Promise<WasmBackend> {
  const g = globalThis as G;
  let threads = Math.max(1, Math.floor(opts.threads ?? Math.min(8, g.navigator?.hardwareConcurrency ?? 1)));
  const why = threads > 1 ? threadsUnavailableReason() : null;
  if (why) {
    console.info(`hrm-ts: WASM kernels on 1 thread: ${why}`);
    threads = 1;
  }
  const relaxed = (opts.relaxed ?? true) && relaxedSimdSupported();
  const shared = threads > 1;
  const module = await compile(opts.wasmBase ?? DEFAULT_BASE(), relaxed, shared);
  const memory = makeWasmMemory(shared);
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const ex = instance.exports as unknown as WasmExports;
  if (shared) {
    const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
    for (let i = 1; i < threads; i++) {
      const mem = workerMemory(instance);
      if (!mem) break;
      new Worker(url).postMessage({ module, memory, ...mem });
    }
    const until = Date.now() + CHECK_IN_MS;
    while (ex.hrm_wasm_registered() < threads - 1 && Date.now() < until)
      await new Promise((r) => setTimeout(r, 2));
    URL.revokeObjectURL(url);
  }
  return makeWasmBackend(instance, memory, 1 + ex.hrm_wasm_close_registration());
}

/** The browser's kernels: WASM (threads where the page allows), or ref. */
export async function createKernels(opts: WebKernelsOptions = {}): Promise<SelectedKernels> {
  const backend = opts.backend ?? "auto";
  if (backend === "ref") return selectKernels(null);
  try {
    return selectKernels(await loadWasmBackendWeb(opts));
  } catch (e) {
    if (backend === "wasm") throw e;
    console.warn(`hrm-ts: WASM kernels unavailable (${(e as Error).message}); using the TypeScript kernels`);
    return selectKernels(null);
  }
}
