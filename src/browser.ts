/**
 * Browser entry point (the package's "browser" export condition): the public API, with the WASM kernels as the
 * default for loadModel and createKernels() to choose them explicitly (see src/platform/wasm-web.ts).
 */
import { setDefaultKernelsFactory } from "./app/model.js";
import { createKernels } from "./platform/wasm-web.js";

export * from "./index.js";
export { createKernels, loadWasmBackendWeb, threadsUnavailableReason } from "./platform/wasm-web.js";
export type { WebKernelsOptions } from "./platform/wasm-web.js";

setDefaultKernelsFactory(() => createKernels());
