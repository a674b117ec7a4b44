/**
 * NumPy .npy files (format versions 1.0, 2.0 and 3.0), little-endian, C order: the dataset arrays and the
 * official fixtures. Encode/decode bytes only; reading files is the platform's job.
 */
import type { DType, HostTensor, TypedArray } from "../tensor.js";
import { DTYPE_BYTES, numel, typedFromBytes } from "../tensor.js";
import { clip, own, quote } from "./limits.js";

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const DESCR_TO_DTYPE: Record<string, DType> = {
  "<f8": "float64",
  "<f4": "float32",
  "<f2": "float16",
  "<i8": "int64",
  "<i4": "int32",
  "<i2": "int16",
  "|i1": "int8",
  "<i1": "int8",
  "|u1": "uint8",
  "<u1": "uint8",
  "|b1": "bool",
};
const DTYPE_TO_DESCR: Partial<Record<DType, string>> = {
  float64: "<f8",
  float32: "<f4",
  float16: "<f2",
  int64: "<i8",
  int32: "<i4",
  int16: "<i2",
  int8: "|i1",
  uint8: "|u1",
  bool: "|b1",
};

export class NpyError extends Error {}

function fail(name: string, msg: string): never {
  throw new NpyError(`${name}: ${msg}`);
}

/** Parses the header dict, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (4, 81), }. */
function parseHeader(text: string, name: string): { descr: string; fortran: boolean; shape: number[] } {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    fail(name, `malformed .npy header ${quote(text.trim())}`);
  const shape = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const v = Number(s.replace(/L$/, ""));
      if (!Number.isSafeInteger(v) || v < 0)
        fail(name, `bad dimension ${quote(s)} in shape (${clip(shapeText)})`);
      return v;
    });
  return { descr, fortran: fortran === "True", shape };
}

/** Decodes a .npy file. `name` (the file path) is used in every error message. */
export function decodeNpy(bytes: Uint8Array, name = "<npy>"): HostTensor {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) fail(name, "not a .npy file (bad magic)");
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) [headerLen, start] = [view.getUint16(8, true), 10];
  else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail(name, "truncated header");
    [headerLen, start] = [view.getUint32(8, true), 12];
  } else fail(name, `unsupported .npy format version ${major}.${bytes[7]}`);
  if (start + headerLen > bytes.length)
    fail(name, `truncated header (needs ${start + headerLen} bytes, file has ${bytes.length})`);
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(
    bytes.subarray(start, start + headerLen),
  );
  const { descr, fortran, shape } = parseHeader(header, name);
  if (fortran) fail(name, "fortran_order arrays are not supported (save with np.ascontiguousarray)");
  const dtype = own(DESCR_TO_DTYPE, descr);
  if (!dtype)
    fail(name, `unsupported dtype '${clip(descr)}' (supported: ${Object.keys(DESCR_TO_DTYPE).join(" ")})`);
  const dataStart = start + headerLen;
  const need = numel(shape) * DTYPE_BYTES[dtype];
  if (bytes.length - dataStart < need)
    fail(
      name,
      `truncated data: shape (${shape.join(", ")}) ${descr} needs ${need} bytes, file has ${bytes.length - dataStart}`,
    );
  if (bytes.length - dataStart > need)
    fail(name, `${bytes.length - dataStart - need} unexpected bytes after the array data`);
  return { dtype, shape, data: typedFromBytes(dtype, bytes.subarray(dataStart, dataStart + need)) };
}

/**
 * The .npy header for an array (version 1.0, or 2.0 when it would not fit), padded so the data starts on a
 * 64-byte boundary, or to exactly `size` bytes when given (streaming writers reserve a fixed header and
 * rewrite it with the final shape).
 */
export function encodeNpyHeader(dtype: DType, shape: number[], size?: number): Uint8Array {
  const descr = DTYPE_TO_DESCR[dtype];
  if (!descr) throw new NpyError(`.npy cannot store dtype ${dtype}`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  let pre = 10;
  let total = size ?? Math.ceil((pre + dict.length + 1) / 64) * 64;
  if (total - pre > 0xffff) {
    pre = 12; // version 2.0: a 4-byte header length
    total = size ?? Math.ceil((pre + dict.length + 1) / 64) * 64;
  }
  if (pre + dict.length + 1 > total)
    throw new NpyError(`.npy header for shape (${shape}) needs more than ${total} bytes`);
  dict += " ".repeat(total - pre - dict.length - 1) + "\n";
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  out[6] = pre === 10 ? 1 : 2;
  const view = new DataView(out.buffer);
  if (pre === 10) view.setUint16(8, dict.length, true);
  else view.setUint32(8, dict.length, true);
  for (let i = 0; i < dict.length; i++) out[pre + i] = dict.charCodeAt(i);
  return out;
}

/** Encodes as .npy (see encodeNpyHeader). */
export function encodeNpy(t: HostTensor): Uint8Array {
  const n = numel(t.shape);
  if (t.data.length !== n)
    throw new NpyError(`data has ${t.data.length} elements, shape (${t.shape.join(", ")}) needs ${n}`);
  const head = encodeNpyHeader(t.dtype, t.shape);
  const body = new Uint8Array((t.data as TypedArray).buffer, t.data.byteOffset, t.data.byteLength);
  const out = new Uint8Array(head.length + body.length);
  out.set(head, 0);
  out.set(body, head.length);
  return out;
}
