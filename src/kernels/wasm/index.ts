/**
 * The WASM backend: the C kernels of csrc/ compiled to wasm32 (scripts/build-wasm.mjs), behind the kernel
 * contract. Platform-neutral: the platform code (src/platform/wasm-node.ts, wasm-web.ts) compiles the module,
 * makes the memory and starts any worker threads, then hands the instance here.
 *
 * Arguments: a typed array that is already a view of the module's memory is passed by address; any other is
 * copied into an argument arena in that memory (inputs before the call, outputs after it), exactly the
 * elements the dims need. Every length is checked against the dims and every index against its table before
 * the C code runs, as the native addon does, so a bad call throws and never reads or writes out of range.
 */
/* eslint-disable prefer-rest-params -- each kernel keeps the contract's named parameters (readable, typed) and hands
   the whole argument list to the marshaller, which checks every buffer against the dims. */
import type { Backend, KernelName, Kernels } from "../api.js";
import { KERNEL_NAMES } from "../api.js";

/** What the module exports (see EXPORTS in scripts/build-wasm.mjs); pointers and `long` are 32-bit. */
export interface WasmExports {
  malloc(bytes: number): number;
  free(ptr: number): void;
  hrm_gemm(...a: number[]): void;
  hrm_packed_b_bytes(K: number, N: number, bf16: number): number;
  hrm_pack_b(...a: number[]): void;
  hrm_gemm_prepacked(...a: number[]): void;
  hrm_linear_residual(...a: number[]): void;
  hrm_linear_swiglu(...a: number[]): void;
  hrm_embedding_fwd(...a: number[]): void;
  hrm_embedding_bwd(...a: number[]): void;
  hrm_rmsnorm_fwd(...a: number[]): void;
  hrm_rmsnorm_bwd(...a: number[]): void;
  hrm_rope(...a: number[]): void;
  hrm_attention_fwd(...a: number[]): void;
  hrm_attention_rope_fwd(...a: number[]): void;
  hrm_attention_bwd(...a: number[]): void;
  hrm_swiglu_fwd(...a: number[]): void;
  hrm_swiglu_bwd(...a: number[]): void;
  hrm_add(...a: number[]): void;
  hrm_add_bwd(...a: number[]): void;
  hrm_transpose_batched(...a: number[]): void;
  hrm_ce_fwd(...a: number[]): void;
  hrm_ce_bwd(...a: number[]): void;
  hrm_bce_fwd(...a: number[]): void;
  hrm_bce_bwd(...a: number[]): void;
  hrm_adam_atan2(...a: number[]): void;
  hrm_num_threads(): number;
  hrm_wasm_worker(): number;
  hrm_wasm_close_registration(): number;
  hrm_wasm_failed_flag(): number;
  hrm_wasm_registered(): number;
  hrm_wasm_kernel_name(): number;
}

/** The four builds: relaxed SIMD (fused multiply-add) or plain SIMD128, on shared memory (threads) or not. */
export function wasmFileName(relaxed: boolean, threads: boolean): string {
  return `hrm-${relaxed ? "relaxed" : "simd"}${threads ? "-mt" : ""}.wasm`;
}

/** Bytes of the smallest module using a relaxed-SIMD instruction (f32x4.relaxed_madd): the engine validates
 * it only if it has relaxed SIMD. */
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 19, 1, 17, 0, 65, 0, 253, 17, 65, 0,
  253, 17, 65, 0, 253, 17, 253, 133, 2, 11,
]);

/** Whether this engine runs relaxed SIMD (Chromium does; Node 20 only with --experimental-wasm-relaxed-simd). */
export function relaxedSimdSupported(): boolean {
  try {
    return WebAssembly.validate(RELAXED_PROBE);
  } catch {
    return false;
  }
}

/** Default size of the threaded build's memory (MiB): it cannot grow (csrc/wasm/runtime.c), and only pages
 * that are touched take real memory. */
export const SHARED_MEMORY_MIB = 1024;

/**
 * Memory for the module. Unshared (one thread): 4 MiB to start, growing to 4 GiB as needed. Shared (threads):
 * a fixed `mib` MiB (halved down to 128 MiB where the engine refuses the size).
 */
export function makeWasmMemory(shared: boolean, mib = SHARED_MEMORY_MIB): WebAssembly.Memory {
  if (!shared) return new WebAssembly.Memory({ initial: 64, maximum: 65536 });
  for (let m = mib; ; m = Math.floor(m / 2)) {
    const pages = m * 16;
    try {
      return new WebAssembly.Memory({
        initial: pages,
        maximum: pages,
        shared,
      } as WebAssembly.MemoryDescriptor);
    } catch (e) {
      if (m / 2 < 128) throw e;
    }
  }
}

/** What a pool worker runs around runWasmWorker's loop: when its code traps, the flag at `failedFlag` (in the
 * shared memory) makes the caller trap too rather than wait for it. */
export function markWorkerFailed(memory: WebAssembly.Memory, failedFlag: number): void {
  Atomics.store(new Int32Array(memory.buffer), failedFlag >> 2, 1);
}

/** Per worker: its stack (1 MiB, from the module's heap). */
export const WORKER_STACK_BYTES = 1 << 20;

/** A worker's stack and thread-local block, from the module's heap (on the caller, before the worker starts). */
export function workerMemory(instance: WebAssembly.Instance): { stackTop: number; tls: number } | null {
  const ex = instance.exports as unknown as WasmExports & {
    __tls_size: WebAssembly.Global;
    __tls_align: WebAssembly.Global;
  };
  const lo = ex.malloc(WORKER_STACK_BYTES);
  const align = Math.max(16, Number(ex.__tls_align.value));
  const raw = ex.malloc(Number(ex.__tls_size.value) + align);
  if (!lo || !raw) return null;
  return { stackTop: lo + WORKER_STACK_BYTES, tls: Math.ceil(raw / align) * align };
}

/** A worker's life inside the module: its own stack (growing down from stackTop) and TLS block, then the pool
 * loop, which does not return; it returns at once (false) when the pool had closed before this worker checked in.
 * Called on the worker thread with an instance of the same module on the same memory. */
export function runWasmWorker(
  instance: WebAssembly.Instance,
  memory: WebAssembly.Memory,
  stackTop: number,
  tls: number,
): boolean {
  const ex = instance.exports as unknown as WasmExports & {
    __stack_pointer: WebAssembly.Global;
    __wasm_init_tls(p: number): void;
  };
  ex.__stack_pointer.value = stackTop;
  ex.__wasm_init_tls(tls);
  try {
    return ex.hrm_wasm_worker() === 1;
  } catch (e) {
    markWorkerFailed(memory, ex.hrm_wasm_failed_flag());
    throw e;
  }
}

export interface WasmBackend extends Backend {
  readonly memory: WebAssembly.Memory;
  readonly exports: WasmExports;
  readonly kernelName: string;
  readonly threads: number;
}

type Arg = { i: number; kind: "f32" | "i32" | "loss" | "u8"; need: number; mode: "in" | "out" | "inout" };
const f = (i: number, need: number, mode: Arg["mode"] = "in"): Arg => ({ i, kind: "f32", need, mode });
const ids = (i: number, need: number): Arg => ({ i, kind: "i32", need, mode: "in" });
const loss = (i: number, need: number, mode: Arg["mode"]): Arg => ({ i, kind: "loss", need, mode });

const bf16Of = (name: string, p: unknown): number => {
  if (p === undefined || p === "float32") return 0;
  if (p === "bfloat16") return 1;
  throw new TypeError(`wasm ${name}: precision must be "float32" or "bfloat16", got ${String(p)}`);
};

/** The dims at `at` (named by the contract: matmul's M N K, ...), each a non-negative 32-bit integer. */
function dims(name: string, args: readonly unknown[], at: number[], names: string): number[] {
  const labels = names.split(" ");
  return at.map((i, j) => {
    const v = args[i];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 2147483647)
      throw new RangeError(
        `wasm ${name}: dimension ${labels[j]} must be a non-negative integer, got ${String(v)}`,
      );
    return v;
  });
}

/** Ids in [0, V) (or equal to `ignore`); the error names the first that is not. */
function checkIds(name: string, what: string, a: Int32Array, n: number, V: number, ignore?: number): void {
  for (let t = 0; t < n; t++) {
    const v = a[t];
    if (v === ignore) continue;
    if (v < 0 || v >= V) throw new RangeError(`wasm ${name}: ${what}[${t}] = ${v} is outside [0, ${V})`);
  }
}

/** Argument names per kernel (as in api.ts), for the errors. */
const ARG_NAMES: Partial<Record<KernelName, string[]>> = {
  matmul: ["C", "A", "B"],
  linearForward: ["out", "inp", "weight"],
  linearBackward: ["dinp", "dweight", "dout", "inp", "weight"],
  packLinear: ["packed", "weight"],
  linearForwardPacked: ["out", "inp"],
  linearResidualForward: ["out", "res", "inp", "weight"],
  linearResidualForwardPacked: ["out", "res", "inp"],
  linearResidualRmsnormForward: ["out", "rstd", "res", "inp", "weight"],
  linearResidualRmsnormForwardPacked: ["out", "rstd", "res", "inp"],
  linearSwigluForward: ["out", "inp", "weight"],
  linearSwigluForwardPacked: ["out", "inp"],
  linearGateUpSwigluForward: ["out", "gateUp", "inp", "weight"],
  embeddingForward: ["out", "ids", "table"],
  embeddingBackward: ["dtable", "dout", "ids"],
  rmsnormForward: ["out", "rstd", "inp"],
  rmsnormBackward: ["dinp", "dout", "out", "rstd"],
  ropeForward: ["out", "inp", "cos", "sin"],
  ropeBackward: ["dinp", "dout", "cos", "sin"],
  attentionForward: ["out", "probs", "qkv"],
  attentionRopeForward: ["out", "qkv", "cos", "sin"],
  attentionBackward: ["dqkv", "dout", "qkv", "probs"],
  swigluForward: ["out", "gateUp"],
  swigluBackward: ["dgateUp", "dout", "gateUp"],
  swigluActBackward: ["dgateUp", "act", "dout", "gateUp"],
  add: ["out", "a", "b"],
  addBackward: ["da", "db", "dout"],
  softmaxCrossEntropyForward: ["losses", "logits", "labels"],
  stablemaxCrossEntropyForward: ["losses", "logits", "labels"],
  softmaxCrossEntropyBackward: ["dlogits", "dlosses", "logits", "labels"],
  stablemaxCrossEntropyBackward: ["dlogits", "dlosses", "logits", "labels"],
  bceWithLogitsForward: ["losses", "logits", "targets"],
  bceWithLogitsBackward: ["dlogits", "dlosses", "logits", "targets"],
  adamAtan2: ["param", "grad", "m", "v"],
};
const argName = (kernel: string, i: number) => ARG_NAMES[kernel as KernelName]?.[i] ?? `argument ${i}`;

const PACK_MAGIC = 0x6d736177; // "wasm"
const PACK_HEADER_BYTES = 24;

export function makeWasmBackend(
  instance: WebAssembly.Instance,
  memory: WebAssembly.Memory,
  threads: number,
): WasmBackend {
  const ex = instance.exports as unknown as WasmExports;
  const token = (Math.random() * 2 ** 31) | 0; // packed bytes of another instance are refused
  let arena = 0;
  let arenaBytes = 0;
  const packs = new Map<number, { ptr: number; bytes: number }>();
  let nextPack = 1;
  const released =
    typeof FinalizationRegistry === "function"
      ? new FinalizationRegistry<number>((id) => {
          const p = packs.get(id);
          if (p) ex.free(p.ptr);
          packs.delete(id);
        })
      : null;

  const cString = (ptr: number): string => {
    const b = new Uint8Array(memory.buffer);
    let end = ptr;
    while (b[end] !== 0) end++;
    return new TextDecoder().decode(b.slice(ptr, end));
  };
  const kernelName = cString(ex.hrm_wasm_kernel_name());

  /** Marshals `spec`'s arrays: returns their addresses and a function copying the outputs back. */
  function marshal(
    name: string,
    args: readonly unknown[],
    spec: Arg[],
  ): { ptrs: number[]; done: () => void } {
    const views: (ArrayBufferView & { length: number })[] = [];
    let total = 0;
    const place: number[] = [];
    for (const a of spec) {
      const v = args[a.i];
      const ok =
        (a.kind === "f32" && v instanceof Float32Array) ||
        (a.kind === "i32" && v instanceof Int32Array) ||
        (a.kind === "u8" && v instanceof Uint8Array) ||
        (a.kind === "loss" && (v instanceof Float32Array || v instanceof Float64Array));
      if (!ok) {
        const want = {
          f32: "a Float32Array",
          i32: "an Int32Array",
          u8: "a Uint8Array",
          loss: "a Float32Array",
        };
        throw new TypeError(`wasm ${name}: ${argName(name, a.i)} must be ${want[a.kind]}`);
      }
      const view = v as Float32Array;
      if (view.length < a.need)
        throw new RangeError(
          `wasm ${name}: ${argName(name, a.i)} has ${view.length} elements, the dims need ${a.need}`,
        );
      views.push(view);
      if (view.buffer === memory.buffer) place.push(-1);
      else {
        place.push(total);
        total += (a.need * view.BYTES_PER_ELEMENT + 63) & ~63;
      }
    }
    if (total > arenaBytes) {
      if (arena) ex.free(arena);
      arenaBytes = Math.max(total, arenaBytes * 2);
      arena = ex.malloc(arenaBytes);
      if (!arena) {
        arenaBytes = 0;
        throw new RangeError(`wasm ${name}: out of memory for ${total} bytes of arguments`);
      }
    }
    const ptrs = spec.map((a, k) => (place[k] < 0 ? views[k].byteOffset : arena + place[k]));
    const region = (k: number) => {
      const v = views[k];
      const Ctor = v.constructor as new (b: ArrayBufferLike, o: number, n: number) => Float32Array;
      return new Ctor(memory.buffer, ptrs[k], spec[k].need);
    };
    spec.forEach((a, k) => {
      if (place[k] >= 0 && a.mode !== "out" && a.need > 0)
        region(k).set((views[k] as Float32Array).subarray(0, a.need));
    });
    const done = () =>
      spec.forEach((a, k) => {
        if (place[k] >= 0 && a.mode !== "in" && a.need > 0) (views[k] as Float32Array).set(region(k));
      });
    return { ptrs, done };
  }

  let broken: string | null = null;
  function call(name: string, args: readonly unknown[], spec: Arg[], body: (p: number[]) => void): void {
    if (broken) throw new Error(`wasm ${name}: the backend stopped after an earlier failure (${broken})`);
    const { ptrs, done } = marshal(name, args, spec);
    try {
      body(ptrs);
    } catch (e) {
      if (!(e instanceof WebAssembly.RuntimeError)) throw e; // a bad argument found before the C code ran
      // A trap leaves the pool and the heap in an unknown state: this backend is done.
      broken = `${e.message}; a kernel ran out of the module's memory or a worker failed`;
      throw new Error(`wasm ${name}: ${broken}`);
    }
    done();
  }

  function packed(name: string, pk: unknown, I: number, O: number, bf16: number): number {
    if (!(pk instanceof Uint8Array) || pk.length < PACK_HEADER_BYTES)
      throw new TypeError(`wasm ${name}: packed must be a Uint8Array of linearPackedBytes(I, O) bytes`);
    const h = new Int32Array(pk.buffer.slice(pk.byteOffset, pk.byteOffset + PACK_HEADER_BYTES));
    const p = packs.get(h[2]);
    if (h[0] !== PACK_MAGIC || h[1] !== token || !p || h[3] !== I || h[4] !== O || h[5] !== bf16)
      throw new TypeError(
        `wasm ${name}: packed was not made by this backend's packLinear with these I, O and precision`,
      );
    return p.ptr;
  }

  const k: Partial<Kernels> = {
    matmul(C, A, B, M, N, K, tA, tB, acc, prec) {
      const a = arguments as unknown as unknown[];
      [M, N, K] = dims("matmul", a, [3, 4, 5], "M N K");
      const bf = bf16Of("matmul", prec);
      call("matmul", a, [f(0, M * N, acc ? "inout" : "out"), f(1, M * K), f(2, K * N)], (p) =>
        ex.hrm_gemm(+!!tA, +!!tB, M, N, K, p[1], p[2], p[0], +!!acc, bf),
      );
    },
    linearForward(out, inp, w, T, I, O, prec) {
      const a = arguments as unknown as unknown[];
      [T, I, O] = dims("linearForward", a, [3, 4, 5], "T I O");
      const bf = bf16Of("linearForward", prec);
      call("linearForward", a, [f(0, T * O, "out"), f(1, T * I), f(2, O * I)], (p) =>
        ex.hrm_gemm(0, 1, T, O, I, p[1], p[2], p[0], 0, bf),
      );
    },
    linearBackward(dinp, dw, dout, inp, w, T, I, O, prec) {
      const a = arguments as unknown as unknown[];
      [T, I, O] = dims("linearBackward", a, [5, 6, 7], "T I O");
      const bf = bf16Of("linearBackward", prec);
      const spec = [f(0, T * I, "out"), f(1, O * I, "inout"), f(2, T * O), f(3, T * I), f(4, O * I)];
      call("linearBackward", a, spec, (p) => {
        ex.hrm_gemm(0, 0, T, I, O, p[2], p[4], p[0], 0, bf);
        ex.hrm_gemm(1, 0, O, I, T, p[2], p[3], p[1], 1, bf);
      });
    },
    linearPackedBytes() {
      return PACK_HEADER_BYTES;
    },
    packLinear(pk, w, I, O, prec) {
      const a = arguments as unknown as unknown[];
      [I, O] = dims("packLinear", a, [2, 3], "I O");
      const bf = bf16Of("packLinear", prec);
      if (!(pk instanceof Uint8Array) || pk.length < PACK_HEADER_BYTES)
        throw new TypeError(`wasm packLinear: packed must be a Uint8Array of linearPackedBytes(I, O) bytes`);
      const h = new Int32Array(pk.buffer.slice(pk.byteOffset, pk.byteOffset + PACK_HEADER_BYTES));
      const id = h[0] === PACK_MAGIC && h[1] === token && packs.has(h[2]) ? h[2] : nextPack++;
      const bytes = ex.hrm_packed_b_bytes(I, O, bf) >>> 0;
      let slot = packs.get(id);
      if (!slot || slot.bytes < bytes) {
        if (slot) ex.free(slot.ptr);
        const ptr = ex.malloc(bytes);
        if (!ptr) throw new RangeError(`wasm packLinear: out of memory for ${bytes} bytes`);
        if (!slot) released?.register(pk, id);
        slot = { ptr, bytes };
        packs.set(id, slot);
      }
      const dst = slot.ptr;
      call("packLinear", a, [f(1, O * I)], (p) => ex.hrm_pack_b(dst, 1, I, O, p[0], bf));
      new Uint8Array(pk.buffer, pk.byteOffset, PACK_HEADER_BYTES).set(
        new Uint8Array(new Int32Array([PACK_MAGIC, token, id, I, O, bf]).buffer),
      );
    },
    linearForwardPacked(out, inp, pk, T, I, O, prec) {
      const a = arguments as unknown as unknown[];
      [T, I, O] = dims("linearForwardPacked", a, [3, 4, 5], "T I O");
      const bf = bf16Of("linearForwardPacked", prec);
      const w = packed("linearForwardPacked", pk, I, O, bf);
      call("linearForwardPacked", a, [f(0, T * O, "out"), f(1, T * I)], (p) =>
        ex.hrm_gemm_prepacked(T, O, I, p[1], w, p[0], bf),
      );
    },
    linearResidualForward(out, res, inp, w, T, I, O, prec) {
      const a = arguments as unknown as unknown[];
      [T, I, O] = dims("linearResidualForward", a, [4, 5, 6], "T I O");
      const bf = bf16Of("linearResidualForward", prec);
      const spec = [f(0, T * O, "out"), f(1, T * O), f(2, T * I), f(3, O * I)];
      call("linearResidualForward", a, spec, (p) =>
        ex.hrm_linear_residual(T, O, I, p[2], p[3], 0, p[1], p[0], bf, 0, 0),
      );
    },
    linearResidualForwardPacked(out, res, inp, pk, T, I, O, prec) {
      const a = arguments as unknown as unknown[];
      [T, I, O] = dims("linearResidualForwardPacked", a, [4, 5, 6], "T I O");
      const bf = bf16Of("linearResidualForwardPacked", prec);
      const w = packed("linearResidualForwardPacked", pk, I, O, bf);
      const spec = [f(0, T * O, "out"), f(1, T * O), f(2, T * I)];
      call("linearResidualForwardPacked", a, spec, (p) =>
        ex.hrm_linear_residual(T, O, I, p[2], 0, w, p[1], p[0], bf, 0, 0),
      );
    },
    linearResidualRmsnormForward(out, rstd, res, inp, w, T, I, O, eps, prec) {
      const a = arguments as unknown as unknown[];
      [T, I, O] = dims("linearResidualRmsnormForward", a, [5, 6, 7], "T I O");
      const bf = bf16Of("linearResidualRmsnormForward", prec);
      const spec = [f(0, T * O, "out"), f(1, T, "out"), f(2, T * O), f(3, T * I), f(4, O * I)];
      call("linearResidualRmsnormForward", a, spec, (p) =>
        ex.hrm_linear_residual(T, O, I, p[3], p[4], 0, p[2], p[0], bf, p[1], eps),
      );
    },
    linearResidualRmsnormForwardPacked(out, rstd, res, inp, pk, T, I, O, eps, prec) {
      const a = arguments as unknown as unknown[];
      [T, I, O] = dims("linearResidualRmsnormForwardPacked", a, [5, 6, 7], "T I O");
      const bf = bf16Of("linearResidualRmsnormForwardPacked", prec);
      const w = packed("linearResidualRmsnormForwardPacked", pk, I, O, bf);
      const spec = [f(0, T * O, "out"), f(1, T, "out"), f(2, T * O), f(3, T * I)];
      call("linearResidualRmsnormForwardPacked", a, spec, (p) =>
        ex.hrm_linear_residual(T, O, I, p[3], 0, w, p[2], p[0], bf, p[1], eps),
      );
    },
    linearSwigluForward(out, inp, w, T, I, F, prec) {
      const a = arguments as unknown as unknown[];
      [T, I, F] = dims("linearSwigluForward", a, [3, 4, 5], "T I F");
      const bf = bf16Of("linearSwigluForward", prec);
      call("linearSwigluForward", a, [f(0, T * F, "out"), f(1, T * I), f(2, 2 * F * I)], (p) =>
        ex.hrm_linear_swiglu(T, F, I, p[1], p[2], 0, p[0], 0, bf),
      );
    },
    linearGateUpSwigluForward(out, gu, inp, w, T, I, F, prec) {
      const a = arguments as unknown as unknown[];
      [T, I, F] = dims("linearGateUpSwigluForward", a, [4, 5, 6], "T I F");
      const bf = bf16Of("linearGateUpSwigluForward", prec);
      const spec = [f(0, T * F, "out"), f(1, 2 * T * F, "out"), f(2, T * I), f(3, 2 * F * I)];
      call("linearGateUpSwigluForward", a, spec, (p) =>
        ex.hrm_linear_swiglu(T, F, I, p[2], p[3], 0, p[0], p[1], bf),
      );
    },
    linearSwigluForwardPacked(out, inp, pk, T, I, F, prec) {
      const a = arguments as unknown as unknown[];
      [T, I, F] = dims("linearSwigluForwardPacked", a, [3, 4, 5], "T I F");
      const bf = bf16Of("linearSwigluForwardPacked", prec);
      const w = packed("linearSwigluForwardPacked", pk, I, 2 * F, bf);
      call("linearSwigluForwardPacked", a, [f(0, T * F, "out"), f(1, T * I)], (p) =>
        ex.hrm_linear_swiglu(T, F, I, p[1], 0, w, p[0], 0, bf),
      );
    },
    embeddingForward(out, idx, table, T, D, V) {
      const a = arguments as unknown as unknown[];
      [T, D, V] = dims("embeddingForward", a, [3, 4, 5], "T D V");
      call("embeddingForward", a, [f(0, T * D, "out"), ids(1, T), f(2, V * D)], (p) => {
        checkIds("embeddingForward", "ids", idx, T, V);
        ex.hrm_embedding_fwd(p[0], p[1], p[2], T, D);
      });
    },
    embeddingBackward(dtable, dout, idx, T, D, V) {
      const a = arguments as unknown as unknown[];
      [T, D, V] = dims("embeddingBackward", a, [3, 4, 5], "T D V");
      call("embeddingBackward", a, [f(0, V * D, "inout"), f(1, T * D), ids(2, T)], (p) => {
        checkIds("embeddingBackward", "ids", idx, T, V);
        ex.hrm_embedding_bwd(p[0], p[1], p[2], T, D);
      });
    },
    rmsnormForward(out, rstd, inp, T, D, eps) {
      const a = arguments as unknown as unknown[];
      [T, D] = dims("rmsnormForward", a, [3, 4], "T D");
      call("rmsnormForward", a, [f(0, T * D, "out"), f(1, T, "out"), f(2, T * D)], (p) =>
        ex.hrm_rmsnorm_fwd(p[0], p[1], p[2], T, D, eps),
      );
    },
    rmsnormBackward(dinp, dout, out, rstd, T, D) {
      const a = arguments as unknown as unknown[];
      [T, D] = dims("rmsnormBackward", a, [4, 5], "T D");
      call("rmsnormBackward", a, [f(0, T * D, "out"), f(1, T * D), f(2, T * D), f(3, T)], (p) =>
        ex.hrm_rmsnorm_bwd(p[0], p[1], p[2], p[3], T, D),
      );
    },
    ropeForward(...args) {
      rope("ropeForward", args, 1);
    },
    ropeBackward(...args) {
      rope("ropeBackward", args, -1);
    },
    attentionForward(out, probs, qkv, B, S, NH, HD) {
      const a = arguments as unknown as unknown[];
      [B, S, NH, HD] = dims("attentionForward", a, [3, 4, 5, 6], "B S NH HD");
      const keep = probs instanceof Float32Array && probs.length > 0;
      const spec = [
        f(0, B * S * NH * HD, "out"),
        f(2, B * S * 3 * NH * HD),
        ...(keep ? [f(1, B * NH * S * S, "out")] : []),
      ];
      call("attentionForward", a, spec, (p) =>
        ex.hrm_attention_fwd(p[0], keep ? p[2] : 0, p[1], B, S, NH, HD),
      );
    },
    attentionRopeForward(out, qkv, cos, sin, B, S, NH, HD) {
      const a = arguments as unknown as unknown[];
      [B, S, NH, HD] = dims("attentionRopeForward", a, [4, 5, 6, 7], "B S NH HD");
      const spec = [f(0, B * S * NH * HD, "out"), f(1, B * S * 3 * NH * HD), f(2, S * HD), f(3, S * HD)];
      call("attentionRopeForward", a, spec, (p) =>
        ex.hrm_attention_rope_fwd(p[0], p[1], p[2], p[3], B, S, NH, HD),
      );
    },
    attentionBackward(dqkv, dout, qkv, probs, B, S, NH, HD) {
      const a = arguments as unknown as unknown[];
      [B, S, NH, HD] = dims("attentionBackward", a, [4, 5, 6, 7], "B S NH HD");
      const n = B * S * NH * HD;
      const spec = [f(0, 3 * n, "out"), f(1, n), f(2, 3 * n), f(3, B * NH * S * S)];
      call("attentionBackward", a, spec, (p) => ex.hrm_attention_bwd(p[0], p[1], p[2], p[3], B, S, NH, HD));
    },
    swigluForward(out, gu, T, F) {
      const a = arguments as unknown as unknown[];
      [T, F] = dims("swigluForward", a, [2, 3], "T F");
      call("swigluForward", a, [f(0, T * F, "out"), f(1, 2 * T * F)], (p) =>
        ex.hrm_swiglu_fwd(p[0], p[1], T, F),
      );
    },
    swigluBackward(dgu, dout, gu, T, F) {
      const a = arguments as unknown as unknown[];
      [T, F] = dims("swigluBackward", a, [3, 4], "T F");
      call("swigluBackward", a, [f(0, 2 * T * F, "out"), f(1, T * F), f(2, 2 * T * F)], (p) =>
        ex.hrm_swiglu_bwd(p[0], 0, p[1], p[2], T, F),
      );
    },
    swigluActBackward(dgu, act, dout, gu, T, F) {
      const a = arguments as unknown as unknown[];
      [T, F] = dims("swigluActBackward", a, [4, 5], "T F");
      const spec = [f(0, 2 * T * F, "out"), f(1, T * F, "out"), f(2, T * F), f(3, 2 * T * F)];
      call("swigluActBackward", a, spec, (p) => ex.hrm_swiglu_bwd(p[0], p[1], p[2], p[3], T, F));
    },
    add(out, x, y, alpha, beta, n) {
      const a = arguments as unknown as unknown[];
      [n] = dims("add", a, [5], "n");
      call("add", a, [f(0, n, "out"), f(1, n), f(2, n)], (p) => ex.hrm_add(p[0], p[1], p[2], alpha, beta, n));
    },
    addBackward(da, db, dout, alpha, beta, n) {
      const a = arguments as unknown as unknown[];
      [n] = dims("addBackward", a, [5], "n");
      call("addBackward", a, [f(0, n, "out"), f(1, n, "out"), f(2, n)], (p) =>
        ex.hrm_add_bwd(p[0], p[1], p[2], alpha, beta, n),
      );
    },
    transpose(out, inp, B, R, C) {
      const a = arguments as unknown as unknown[];
      [B, R, C] = dims("transpose", a, [2, 3, 4], "B R C");
      const n = B * R * C;
      call("transpose", a, [f(0, n, "out"), f(1, n)], (p) => ex.hrm_transpose_batched(p[0], p[1], B, R, C));
    },
    softmaxCrossEntropyForward: (...args) => ceForward("softmaxCrossEntropyForward", args, 0),
    stablemaxCrossEntropyForward: (...args) => ceForward("stablemaxCrossEntropyForward", args, 1),
    softmaxCrossEntropyBackward: (...args) => ceBackward("softmaxCrossEntropyBackward", args, 0),
    stablemaxCrossEntropyBackward: (...args) => ceBackward("stablemaxCrossEntropyBackward", args, 1),
    bceWithLogitsForward(losses, x, y, n) {
      const a = arguments as unknown as unknown[];
      [n] = dims("bceWithLogitsForward", a, [3], "n");
      call("bceWithLogitsForward", a, [f(0, n, "out"), f(1, n), f(2, n)], (p) =>
        ex.hrm_bce_fwd(p[0], p[1], p[2], n),
      );
    },
    bceWithLogitsBackward(dx, dl, x, y, n) {
      const a = arguments as unknown as unknown[];
      [n] = dims("bceWithLogitsBackward", a, [4], "n");
      call("bceWithLogitsBackward", a, [f(0, n, "out"), f(1, n), f(2, n), f(3, n)], (p) =>
        ex.hrm_bce_bwd(p[0], p[1], p[2], p[3], n),
      );
    },
    adamAtan2(param, grad, m, v, n, lr, b1, b2, wd, step, bc2) {
      const a = arguments as unknown as unknown[];
      [n] = dims("adamAtan2", a, [4], "n");
      const spec = [f(0, n, "inout"), f(1, n), f(2, n, "inout"), f(3, n, "inout")];
      call("adamAtan2", a, spec, (p) =>
        ex.hrm_adam_atan2(p[0], p[1], p[2], p[3], n, lr, b1, b2, wd, step, bc2),
      );
    },
  };

  function rope(name: string, a: unknown[], sign: number): void {
    const [T, W, S, NR, HD] = dims(name, a, [4, 5, 6, 7, 8], "T W S NR HD");
    if (NR * HD > W) throw new RangeError(`wasm ${name}: NR*HD = ${NR * HD} exceeds the row width W = ${W}`);
    if (T > 0 && S === 0) throw new RangeError(`wasm ${name}: S must be positive`);
    call(name, a, [f(0, T * W, "out"), f(1, T * W), f(2, S * HD), f(3, S * HD)], (p) =>
      ex.hrm_rope(p[0], p[1], p[2], p[3], T, W, S, NR, HD, sign),
    );
  }
  function ceForward(name: string, a: unknown[], kind: number): void {
    const [T, V] = dims(name, a, [3, 4], "T V");
    const ignore = a[5] as number;
    const l64 = a[0] instanceof Float64Array ? 1 : 0;
    call(name, a, [loss(0, T, "out"), f(1, T * V), ids(2, T)], (p) => {
      checkIds(name, "labels", a[2] as Int32Array, T, V, ignore);
      ex.hrm_ce_fwd(kind, p[0], l64, p[1], p[2], T, V, ignore);
    });
  }
  function ceBackward(name: string, a: unknown[], kind: number): void {
    const [T, V] = dims(name, a, [4, 5], "T V");
    const ignore = a[6] as number;
    const l64 = a[1] instanceof Float64Array ? 1 : 0;
    call(name, a, [f(0, T * V, "out"), loss(1, T, "in"), f(2, T * V), ids(3, T)], (p) => {
      checkIds(name, "labels", a[3] as Int32Array, T, V, ignore);
      ex.hrm_ce_bwd(kind, p[0], p[1], l64, p[2], p[3], T, V, ignore);
    });
  }

  const F64_ARG: Partial<Record<KernelName, number>> = {
    softmaxCrossEntropyForward: 0,
    stablemaxCrossEntropyForward: 0,
    softmaxCrossEntropyBackward: 1,
    stablemaxCrossEntropyBackward: 1,
  };
  for (const name of KERNEL_NAMES) if (!k[name]) throw new Error(`wasm backend lacks ${name}`);
  return {
    ...k,
    name: `wasm (${kernelName}, ${threads} thread${threads === 1 ? "" : "s"})`,
    memory,
    exports: ex,
    kernelName,
    threads,
    supports(kernel: KernelName, args: readonly unknown[]): boolean {
      const ok64 = F64_ARG[kernel];
      for (let i = 0; i < args.length; i++) if (args[i] instanceof Float64Array && i !== ok64) return false;
      return true;
    },
  };
}
