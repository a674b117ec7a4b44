/**
 * safetensors (Hugging Face's format): 8-byte little-endian header length, a JSON header mapping each tensor
 * name to {dtype, shape, data_offsets} plus optional "__metadata__" (string -> string), then the raw bytes.
 * Our checkpoints use it with the official state-dict key names so PyTorch users can load them directly.
 */
import type { DType, HostTensor } from "../tensor.js";
import { DTYPE_BYTES, numel, typedFromBytes } from "../tensor.js";

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

/** Parses and validates a safetensors file: every tensor in bounds, sizes matching shapes, no overlaps. */
export function decodeSafetensors(
  bytes: Uint8Array,
  file = "<safetensors>",
): { tensors: Map<string, HostTensor>; metadata: Record<string, string> } {
  const fail = (msg: string): never => {
    throw new SafetensorsError(`${file}: ${msg}`);
  };
  if (bytes.length < 8) fail("truncated (no header length)");
  const len = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (len > bytes.length - 8)
    fail(`truncated header (header says ${len} bytes, file has ${bytes.length - 8})`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len)));
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`);
  }
  const dataStart = 8 + len;
  const dataLen = bytes.length - dataStart;
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const tensors = new Map<string, HostTensor>();
  const spans: [number, number, string][] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const info = raw as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    const dtype = FROM_ST[info.dtype ?? ""];
    if (!dtype) fail(`tensor ${name}: unsupported dtype ${info.dtype}`);
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
      fail(`tensor ${name}: bad shape`);
    const [b, e] = info.data_offsets ?? [-1, -1];
    if (!(Number.isInteger(b) && Number.isInteger(e) && 0 <= b && b <= e && e <= dataLen))
      fail(`tensor ${name}: data_offsets [${b}, ${e}] outside the ${dataLen} data bytes (truncated?)`);
    if (e - b !== numel(shape!) * DTYPE_BYTES[dtype])
      fail(
        `tensor ${name}: ${e - b} bytes for shape [${shape}] ${info.dtype} (needs ${numel(shape!) * DTYPE_BYTES[dtype]})`,
      );
    spans.push([b, e, name]);
    tensors.set(name, {
      dtype,
      shape: shape!,
      data: typedFromBytes(dtype, bytes.subarray(dataStart + b, dataStart + e)),
    });
  }
  spans.sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < spans.length; i++)
    if (spans[i][0] < spans[i - 1][1]) fail(`tensors ${spans[i - 1][2]} and ${spans[i][2]} overlap`);
  return { tensors, metadata };
}
