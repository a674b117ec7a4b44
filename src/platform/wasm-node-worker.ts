/**
 * A worker thread of the WASM backend's pool in Node (worker_threads): instantiates the module on the shared
 * memory it is handed and runs the pool loop until the backend shuts down (src/platform/wasm-node.ts).
 */
import { workerData } from "node:worker_threads";
import { runWasmWorker } from "../kernels/wasm/index.js";

const { module, memory, stackTop, tls } = workerData as {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  stackTop: number;
  tls: number;
};
runWasmWorker(new WebAssembly.Instance(module, { env: { memory } }), memory, stackTop, tls);
