/**
 * Reads PyTorch checkpoints (torch.save zip format) into host tensors, without Python and without running
 * anything from the file: the pickle goes through the restricted unpickler with an allow-list of exactly
 * what a state dict needs (OrderedDict, tensor/parameter rebuild functions, typed storage classes). Storage
 * location tags (cpu, cuda:0, ...) are ignored. Tensors are materialised contiguous in C order.
 */
import type { DType, HostTensor } from "../tensor.js";
import { DTYPE_BYTES, numel, typedFromBytes } from "../tensor.js";
import { PickleError, unpickle } from "./pickle.js";
import { readZipDirectory, zipEntryBytes } from "./zip.js";

export class CheckpointError extends Error {}

const STORAGE_DTYPES: Record<string, DType> = {
  DoubleStorage: "float64",
  FloatStorage: "float32",
  HalfStorage: "float16",
  BFloat16Storage: "bfloat16",
  LongStorage: "int64",
  IntStorage: "int32",
  ShortStorage: "int16",
  CharStorage: "int8",
  ByteStorage: "uint8",
  BoolStorage: "bool",
};

interface StorageClass {
  storageDtype: DType;
}
interface Storage {
  dtype: DType;
  bytes: Uint8Array;
}

/** Copies a strided view of a storage into a contiguous array of the view's shape. */
function materialize(
  st: Storage,
  offset: number,
  shape: number[],
  stride: number[],
  file: string,
): HostTensor {
  const n = numel(shape);
  const esize = DTYPE_BYTES[st.dtype];
  let maxIndex = offset;
  for (let d = 0; d < shape.length; d++) if (shape[d] > 0) maxIndex += (shape[d] - 1) * stride[d];
  if (n > 0 && (maxIndex + 1) * esize > st.bytes.length)
    throw new CheckpointError(`${file}: a tensor view reaches past the end of its storage (file corrupt?)`);
  const contiguous = shape.every((_, d) => stride[d] === numel(shape.slice(d + 1)) || shape[d] === 1);
  if (contiguous)
    return {
      dtype: st.dtype,
      shape,
      data: typedFromBytes(st.dtype, st.bytes.subarray(offset * esize, (offset + n) * esize)),
    };
  const out = new Uint8Array(n * esize);
  const idx = new Array(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    let src = offset;
    for (let d = 0; d < shape.length; d++) src += idx[d] * stride[d];
    out.set(st.bytes.subarray(src * esize, src * esize + esize), i * esize);
    for (let d = shape.length - 1; d >= 0 && ++idx[d] === shape[d]; d--) idx[d] = 0;
  }
  return { dtype: st.dtype, shape, data: typedFromBytes(st.dtype, out) };
}

function intList(v: unknown, what: string, file: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x) && x >= 0))
    throw new CheckpointError(`${file}: tensor ${what} is not a tuple of non-negative integers`);
  return v as number[];
}

/**
 * Parses a torch.save zip archive holding a state dict (possibly nested one level, e.g. {"model": {...}}
 * is not followed: pass the state dict itself). Returns name -> tensor in file order.
 */
export function readTorchCheckpoint(bytes: Uint8Array, file = "<checkpoint>"): Map<string, HostTensor> {
  const entries = readZipDirectory(bytes, file);
  const pkl = [...entries.keys()].find((n) => n.endsWith("/data.pkl") || n === "data.pkl");
  if (!pkl)
    throw new CheckpointError(`${file}: no data.pkl in the archive (not a torch.save zip checkpoint)`);
  const prefix = pkl.slice(0, pkl.length - "data.pkl".length);
  const storages = new Map<string, Storage>();

  const findGlobal = (module: string, name: string): unknown => {
    const qual = `${module}.${name}`;
    if (qual === "collections.OrderedDict") return () => new Map();
    if (module === "torch" && name in STORAGE_DTYPES)
      return { storageDtype: STORAGE_DTYPES[name] } as StorageClass;
    if (qual === "torch._utils._rebuild_tensor_v2")
      return (st: Storage, offset: number, size: unknown, stride: unknown) =>
        materialize(st, offset, intList(size, "size", file), intList(stride, "stride", file), file);
    if (qual === "torch._utils._rebuild_parameter" || qual === "torch._utils._rebuild_parameter_with_state")
      return (data: HostTensor) => data;
    throw new CheckpointError(
      `${file}: refusing to load: the pickle references ${qual}, which a state dict never needs ` +
        "(only OrderedDict, tensor rebuild functions and storage types are allowed; nothing was executed)",
    );
  };

  const persistentLoad = (pid: unknown): Storage => {
    const [tag, cls, key, , count] = (Array.isArray(pid) ? pid : []) as [
      unknown,
      StorageClass,
      unknown,
      unknown,
      unknown,
    ];
    if (tag !== "storage" || !cls?.storageDtype || typeof key !== "string" || typeof count !== "number")
      throw new CheckpointError(`${file}: unexpected persistent id ${JSON.stringify(pid)}`);
    const cached = storages.get(key);
    if (cached) return cached;
    const entry = entries.get(`${prefix}data/${key}`);
    if (!entry) throw new CheckpointError(`${file}: storage ${key} is missing from the archive (truncated?)`);
    const data = zipEntryBytes(bytes, entry, file);
    if (data.length < count * DTYPE_BYTES[cls.storageDtype])
      throw new CheckpointError(
        `${file}: storage ${key} has ${data.length} bytes, ${count} ${cls.storageDtype} need more`,
      );
    const st = { dtype: cls.storageDtype, bytes: data };
    storages.set(key, st);
    return st;
  };

  let root: unknown;
  try {
    root = unpickle(
      zipEntryBytes(bytes, entries.get(pkl)!, file),
      { findGlobal, persistentLoad },
      `${file}:${pkl}`,
    );
  } catch (e) {
    if (e instanceof PickleError) throw new CheckpointError(e.message);
    throw e;
  }
  if (!(root instanceof Map))
    throw new CheckpointError(`${file}: the checkpoint is not a state dict (a dict of tensors)`);
  const out = new Map<string, HostTensor>();
  for (const [k, v] of root) {
    if (typeof k !== "string" || !v || typeof v !== "object" || !("dtype" in v))
      throw new CheckpointError(`${file}: state dict entry ${String(k)} is not a tensor`);
    out.set(k, v as HostTensor);
  }
  return out;
}
