/**
 * Reads PyTorch checkpoints (torch.save zip format) into host tensors, without Python and without running
 * anything from the file: the pickle goes through the restricted unpickler with an allow-list of exactly
 * what a state dict needs (OrderedDict, tensor/parameter rebuild functions, typed storage classes). Storage
 * location tags (cpu, cuda:0, ...) are ignored. Tensors are materialised contiguous in C order.
 */
import type { DType, HostTensor } from "../tensor.js";
import { DTYPE_BYTES, numel, typedFromBytes } from "../tensor.js";
import { clip, describe } from "./limits.js";
import { PickleError, unpickle } from "./pickle.js";
import { readZipDirectory, zipEntryBytes } from "./zip.js";

export class CheckpointError extends Error {}

const STORAGE_DTYPES = new Map<string, DType>([
  ["DoubleStorage", "float64"],
  ["FloatStorage", "float32"],
  ["HalfStorage", "float16"],
  ["BFloat16Storage", "bfloat16"],
  ["LongStorage", "int64"],
  ["IntStorage", "int32"],
  ["ShortStorage", "int16"],
  ["CharStorage", "int8"],
  ["ByteStorage", "uint8"],
  ["BoolStorage", "bool"],
]);

/**
 * The tensors' views may add up to at most this many times the file's size (plus 1 MB): a state dict stores each
 * tensor once, and without a bound a small file could name one storage thousands of times.
 */
export const VIEW_BYTES_PER_FILE_BYTE = 4;
const MAX_RANK = 32;

class StorageClass {
  constructor(readonly dtype: DType) {}
  toString(): string {
    return `the ${this.dtype} storage type`;
  }
}
class Storage {
  constructor(
    readonly key: string,
    readonly dtype: DType,
    readonly count: number,
    readonly bytes: Uint8Array,
  ) {}
  toString(): string {
    return `storage ${clip(this.key, 20)} (${this.count} ${this.dtype})`;
  }
}

function intList(v: unknown, what: string, file: string): number[] {
  if (!Array.isArray(v) || v.length > MAX_RANK || !v.every((x) => Number.isSafeInteger(x) && x >= 0))
    throw new CheckpointError(
      `${file}: tensor ${what} ${describe(v)} is not a tuple of at most ${MAX_RANK} non-negative integers`,
    );
  return v as number[];
}

/**
 * Copies a strided view of a storage into a contiguous array of the view's shape, after checking it; `reserve`
 * is told the bytes before they are allocated (it throws past the file's budget).
 */
function materialize(
  st: Storage,
  offset: unknown,
  shape: number[],
  stride: number[],
  file: string,
  reserve: (bytes: number) => void,
): HostTensor {
  const fail = (msg: string): never => {
    throw new CheckpointError(`${file}: a tensor over storage ${clip(st.key)}: ${msg}`);
  };
  if (!Number.isSafeInteger(offset) || (offset as number) < 0)
    fail(`storage offset ${describe(offset)} is not a non-negative integer`);
  const off = offset as number;
  if (shape.length !== stride.length) fail(`size has ${shape.length} dimensions, stride ${stride.length}`);
  const n = numel(shape);
  // Any view with more elements than its storage repeats elements (stride 0 or overlapping): never a state dict's.
  if (n > st.count) fail(`shape [${shape}] has ${n} elements, more than its storage's ${st.count}`);
  let maxIndex = off;
  for (let d = 0; d < shape.length; d++) if (shape[d] > 0) maxIndex += (shape[d] - 1) * stride[d];
  if (n > 0 && maxIndex >= st.count)
    fail(`shape [${shape}] stride [${stride}] offset ${off} reaches element ${maxIndex} of ${st.count}`);
  const esize = DTYPE_BYTES[st.dtype];
  reserve(n * esize);
  const contiguous = shape.every((_, d) => stride[d] === numel(shape.slice(d + 1)) || shape[d] === 1);
  if (contiguous)
    return {
      dtype: st.dtype,
      shape,
      data: typedFromBytes(st.dtype, st.bytes.subarray(off * esize, (off + n) * esize)),
    };
  const out = new Uint8Array(n * esize);
  const idx = new Array(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    let src = off;
    for (let d = 0; d < shape.length; d++) src += idx[d] * stride[d];
    out.set(st.bytes.subarray(src * esize, src * esize + esize), i * esize);
    for (let d = shape.length - 1; d >= 0 && ++idx[d] === shape[d]; d--) idx[d] = 0;
  }
  return { dtype: st.dtype, shape, data: typedFromBytes(st.dtype, out) };
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
  const tensors = new WeakSet<HostTensor>(); // every tensor the allow-listed rebuild functions made
  let viewBytes = 0;
  const viewBudget = VIEW_BYTES_PER_FILE_BYTE * bytes.length + 2 ** 20;

  const rebuildTensor = (st: unknown, offset: unknown, size: unknown, stride: unknown): HostTensor => {
    if (!(st instanceof Storage))
      throw new CheckpointError(`${file}: _rebuild_tensor_v2 of ${describe(st)}, which is not a storage`);
    const reserve = (n: number): void => {
      viewBytes += n;
      if (viewBytes > viewBudget)
        throw new CheckpointError(
          `${file}: the tensors' views add up to more than ${VIEW_BYTES_PER_FILE_BYTE}x the file's ${bytes.length} bytes ` +
            "(a storage named again and again); refused to bound memory",
        );
    };
    const t = materialize(
      st,
      offset,
      intList(size, "size", file),
      intList(stride, "stride", file),
      file,
      reserve,
    );
    tensors.add(t);
    return t;
  };
  const rebuildParameter = (data: unknown): HostTensor => {
    if (!tensors.has(data as HostTensor))
      throw new CheckpointError(`${file}: _rebuild_parameter of ${describe(data)}, which is not a tensor`);
    return data as HostTensor;
  };

  const findGlobal = (module: string, name: string): unknown => {
    const qual = `${module}.${name}`;
    if (qual === "collections.OrderedDict") return () => new Map();
    const dtype = module === "torch" ? STORAGE_DTYPES.get(name) : undefined;
    if (dtype) return new StorageClass(dtype);
    if (qual === "torch._utils._rebuild_tensor_v2") return rebuildTensor;
    if (qual === "torch._utils._rebuild_parameter" || qual === "torch._utils._rebuild_parameter_with_state")
      return rebuildParameter;
    throw new CheckpointError(
      `${file}: refusing to load: the pickle references ${clip(qual)}, which a state dict never needs ` +
        "(only OrderedDict, tensor rebuild functions and storage types are allowed; nothing was executed)",
    );
  };

  const persistentLoad = (pid: unknown): Storage => {
    const [tag, cls, key, location, count] = (Array.isArray(pid) ? pid : []) as unknown[];
    if (
      !Array.isArray(pid) ||
      pid.length !== 5 ||
      tag !== "storage" ||
      !(cls instanceof StorageClass) ||
      typeof key !== "string" ||
      typeof location !== "string" ||
      !Number.isSafeInteger(count) ||
      (count as number) < 0
    )
      throw new CheckpointError(
        `${file}: unexpected persistent id ${describe(pid)} (expected ("storage", a storage type, key, location, count))`,
      );
    const cached = storages.get(key);
    if (cached) {
      if (cached.dtype !== cls.dtype || cached.count !== count)
        throw new CheckpointError(
          `${file}: storage ${clip(key)} is named as ${count} ${cls.dtype} and as ${cached.count} ${cached.dtype}`,
        );
      return cached;
    }
    const entry = entries.get(`${prefix}data/${key}`);
    if (!entry)
      throw new CheckpointError(`${file}: storage ${clip(key)} is missing from the archive (truncated?)`);
    const need = (count as number) * DTYPE_BYTES[cls.dtype];
    if (entry.size !== need)
      throw new CheckpointError(
        `${file}: storage ${clip(key)} has ${entry.size} bytes, ${count} ${cls.dtype} need ${need}`,
      );
    const st = new Storage(key, cls.dtype, count as number, zipEntryBytes(bytes, entry, file));
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
    throw new CheckpointError(
      `${file}: the checkpoint is ${describe(root)}, not a state dict (a dict of tensors)`,
    );
  const out = new Map<string, HostTensor>();
  for (const [k, v] of root) {
    if (typeof k !== "string")
      throw new CheckpointError(`${file}: state dict key ${describe(k)} is not a string`);
    if (!tensors.has(v as HostTensor))
      throw new CheckpointError(`${file}: state dict entry ${clip(k)} is ${describe(v)}, not a tensor`);
    out.set(k, v as HostTensor);
  }
  return out;
}
