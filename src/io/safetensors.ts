/**
 * safetensors (Hugging Face's format): 8-byte little-endian header length, a JSON header mapping each tensor
 * name to {dtype, shape, data_offsets} plus optional "__metadata__" (string -> string), then the raw bytes.
 * Our checkpoints use it with the official state-dict key names so PyTorch users can load them directly.
 */
import type { DType, HostTensor } from "../tensor.js";
import { DTYPE_BYTES, numel, typedFromBytes } from "../tensor.js";
import { clip, describe, own } from "./limits.js";

export class SafetensorsError extends Error {}

const TO_ST: Record<DType, string> = {
  float64: "F64",
  float32: "F32",
  float16: "F16",
  bfloat16: "BF16",
  int64: "I64",
  int32: "I32",
  int16: "I16",
  int8: "I8",
  uint8: "U8",
  bool: "BOOL",
};
const FROM_ST: Record<string, DType> = Object.fromEntries(
  Object.entries(TO_ST).map(([k, v]) => [v, k as DType]),
);

/** Serialises tensors (in the given order) with string metadata; data aligned to 8 bytes. */
export function encodeSafetensors(
  tensors: Map<string, HostTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    const bytes = numel(t.shape) * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== bytes)
      throw new SafetensorsError(
        `tensor ${name}: data has ${t.data.byteLength} bytes, shape [${t.shape}] ${t.dtype} needs ${bytes}`,
      );
    header[name] = { dtype: TO_ST[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + json.length) % 8)) % 8); // data starts 8-byte aligned
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const t of tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

/** The format's own limit on the JSON header (the reference implementation refuses larger ones). */
export const SAFETENSORS_MAX_HEADER = 100_000_000;

/**
 * Parses and validates a safetensors file by the format's rules: a JSON object header (at most 100 MB) of tensors
 * with known dtypes, integer shapes and data_offsets matching their sizes; the data section exactly the tensors'
 * byte ranges, back to back with no gaps, overlaps or trailing bytes; metadata a map of strings.
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  file = "<safetensors>",
): { tensors: Map<string, HostTensor>; metadata: Record<string, string> } {
  const fail = (msg: string): never => {
    throw new SafetensorsError(`${file}: ${msg}`);
  };
  if (bytes.length < 8) fail("truncated (no header length)");
  const len = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (len > SAFETENSORS_MAX_HEADER) fail(`header length ${len} is over the format's 100 MB limit`);
  if (len > bytes.length - 8)
    fail(`truncated header (header says ${len} bytes, file has ${bytes.length - 8})`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + len)));
  } catch (e) {
    return fail(`header is not valid JSON (${clip((e as Error).message)})`);
  }
  if (!header || typeof header !== "object" || Array.isArray(header))
    return fail("header is not a JSON object");
  const entries = Object.entries(header as Record<string, unknown>);
  const dataStart = 8 + len;
  const dataLen = bytes.length - dataStart;
  const metadata = readMetadata((header as Record<string, unknown>).__metadata__, fail);
  const tensors = new Map<string, HostTensor>();
  const spans: [number, number, string][] = [];
  for (const [name, raw] of entries) {
    if (name === "__metadata__") continue;
    const what = `tensor ${clip(name)}`;
    if (!raw || typeof raw !== "object" || Array.isArray(raw)) fail(`${what}: not an object`);
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = typeof info.dtype === "string" ? own(FROM_ST, info.dtype) : undefined;
    if (!dtype)
      return fail(
        `${what}: unsupported dtype ${typeof info.dtype === "string" ? clip(info.dtype) : describe(info.dtype)}`,
      );
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      return fail(`${what}: shape ${describe(shape)} is not a list of non-negative integers`);
    const offs = Array.isArray(info.data_offsets) ? info.data_offsets : [];
    const [b, e] = offs as number[];
    if (
      offs.length !== 2 ||
      !(Number.isSafeInteger(b) && Number.isSafeInteger(e) && 0 <= b && b <= e && e <= dataLen)
    )
      fail(
        `${what}: data_offsets ${describe(info.data_offsets)} outside the ${dataLen} data bytes (truncated?)`,
      );
    const need = numel(shape) * DTYPE_BYTES[dtype];
    if (e - b !== need) fail(`${what}: ${e - b} bytes for shape [${shape}] ${info.dtype} (needs ${need})`);
    spans.push([b, e, name]);
    tensors.set(name, {
      dtype,
      shape,
      data: typedFromBytes(dtype, bytes.subarray(dataStart + b, dataStart + e)),
    });
  }
  spans.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let end = 0;
  for (const [b, e, name] of spans) {
    if (b < end)
      fail(`tensor ${clip(name)} overlaps the tensor before it (bytes ${b}..${e}, previous ends at ${end})`);
    if (b > end)
      fail(`${b - end} bytes before tensor ${clip(name)} belong to no tensor (a gap at byte ${end})`);
    end = e;
  }
  if (end !== dataLen) fail(`${dataLen - end} bytes after the last tensor belong to no tensor`);
  return { tensors, metadata };
}

function readMetadata(raw: unknown, fail: (msg: string) => never): Record<string, string> {
  if (raw === undefined) return {};
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return fail("__metadata__ is not an object");
  for (const [k, v] of Object.entries(raw))
    if (typeof v !== "string") fail(`__metadata__.${clip(k)} is ${describe(v)}, not a string`);
  return raw as Record<string, string>;
}
