/** Node entry point: the public API plus the kernels chosen for this machine (native addon, else ref). */
import type { SelectedKernels } from "./kernels/api.js";
import { makeNativeBackend } from "./kernels/native/index.js";
import { selectKernels } from "./kernels/select.js";
import { setDefaultKernelsFactory } from "./app/model.js";
import {
  backendMode,
  hugePagesWanted,
  loadNativeAddon,
  loadWasmBackend,
  wantedKernelThreads,
} from "./platform/node.js";
import { loadWasmBackendSync } from "./platform/wasm-node.js";
import { setHugePageAdvisor } from "./util/memory.js";

export * from "./index.js";
export {
  backendMode,
  bfloat16Note,
  kernelThreadsNote,
  loadNativeAddon,
  loadWasmBackend,
} from "./platform/node.js";
export { loadWasmBackendSync } from "./platform/wasm-node.js";
export type { HrmServer, ServeHandler, ServerOptions } from "./platform/http-server.js";
export { createServeHandler, startServer } from "./platform/http-server.js";
export { nodeBuildIO, readArcTasks } from "./platform/datasets.js";
export {
  nodeDatasetFs,
  readIdentifiers,
  readSplit,
  writeFileAtomic,
  writeIdentifiers,
  writeSplit,
} from "./platform/files.js";
export type { StepProgress, TrainReporter, TrainResult } from "./platform/train-session.js";
export { trainConfigOf, trainFromWords } from "./platform/train-session.js";
export type { EvalOptions } from "./platform/eval-run.js";
export { EVAL_OPTIONS, EvalError, runEval } from "./platform/eval-run.js";
export type { SolveContext, SolveOptions } from "./platform/solve-run.js";
export { SOLVE_OPTIONS, SolveError, solveFromWords } from "./platform/solve-run.js";
export type { ServeOptions } from "./platform/serve-run.js";
export { parseServeWords, SERVE_OPTIONS, ServeError, serveFromWords } from "./platform/serve-run.js";
export type { ExportOptions } from "./platform/export-run.js";
export { EXPORT_OPTIONS, exportCheckpoint, ExportError } from "./platform/export-run.js";
export type { ExperimentArgs, ExperimentReporter } from "./platform/experiment-run.js";
export { experimentArgs, runExperiment } from "./platform/experiment-run.js";
export type { QuickstartReporter, QuickstartResult } from "./platform/quickstart.js";
export { PAPER_SUDOKU, QUICKSTART, QUICKSTART_TRM, quickstart } from "./platform/quickstart.js";
export type { RunDir } from "./platform/train-run.js";
export {
  openRunDir,
  RunDirError,
  runDirHooks,
  saveOutputs,
  saveRunCheckpoint,
  writeReport,
} from "./platform/train-run.js";

let cached: SelectedKernels | null = null;

/* Model buffers on 2 MB pages where the addon can advise them (Linux; see util/memory.ts). The addon is loaded
 * at the first large allocation, not at import; without it (HRM_BACKEND=ref) or with HRM_HUGE_PAGES=0 arrays
 * stay plain. */
let advise: ((buffer: ArrayBuffer, bytes: number) => number) | null | undefined;
if (hugePagesWanted())
  setHugePageAdvisor((buffer, bytes) => {
    if (advise === undefined) {
      const addon = loadNativeAddon();
      advise =
        addon && typeof addon.adviseHugePages === "function" ? addon.adviseHugePages.bind(addon) : null;
    }
    return advise ? advise(buffer, bytes) : -1;
  });

export interface NodeKernelsOptions {
  /** "auto" (default: HRM_BACKEND, else native, else WASM, else ref), or one backend. */
  backend?: "auto" | "native" | "wasm" | "ref";
  /** WASM kernel threads (default: HRM_NUM_THREADS, else one per physical core). */
  threads?: number;
}

/**
 * The kernels to run on, by the same name as in the browser entry. "auto" is getKernels(); the others make
 * that backend (an error when it cannot start).
 */
export async function createKernels(opts: NodeKernelsOptions = {}): Promise<SelectedKernels> {
  const backend = opts.backend ?? "auto";
  if (backend === "auto" && opts.threads === undefined) return getKernels();
  if (backend === "ref") return selectKernels(null);
  if (backend === "native" || (backend === "auto" && loadNativeAddon())) {
    const addon = loadNativeAddon();
    if (!addon) throw new Error("createKernels: the native addon is not available (npm run build:native)");
    if (opts.threads !== undefined) addon.setNumThreads(opts.threads);
    return selectKernels(makeNativeBackend(addon));
  }
  return selectKernels(loadWasmBackendSync({ threads: opts.threads ?? wantedKernelThreads() }));
}

setDefaultKernelsFactory(() => getKernels());

/** The best kernels available here, selected once per process: the native addon, else WASM, else ref
 * (HRM_BACKEND=native|wasm|ref chooses one). */
export function getKernels(): SelectedKernels {
  if (!cached) {
    const mode = backendMode();
    const addon = mode === "auto" || mode === "native" ? loadNativeAddon() : null;
    if (addon) cached = selectKernels(makeNativeBackend(addon));
    else cached = selectKernels(mode === "ref" ? null : loadWasmBackend());
  }
  return cached;
}
