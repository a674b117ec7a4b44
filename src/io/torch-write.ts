/**
 * Writes a state dict as torch.save does (the zip format of PyTorch >= 1.6): <archive>/data.pkl, a protocol-2
 * pickle of an OrderedDict of torch._utils._rebuild_tensor_v2 over typed storages (FloatStorage,
 * BFloat16Storage, ...), one storage per tensor in <archive>/data/<key>, 64-byte aligned as torch aligns them, plus
 * the <archive>/version and <archive>/byteorder records. torch.load(f, map_location="cpu") reads it, and so does
 * our restricted reader (readTorchCheckpoint), bit for bit.
 */
import type { DType, HostTensor } from "../tensor.js";
import { numel } from "../tensor.js";
import { crc32 } from "./zip.js";

export class TorchWriteError extends Error {}

const STORAGE_OF: Record<DType, string> = {
  float64: "DoubleStorage",
  float32: "FloatStorage",
  float16: "HalfStorage",
  bfloat16: "BFloat16Storage",
  int64: "LongStorage",
  int32: "IntStorage",
  int16: "ShortStorage",
  int8: "CharStorage",
  uint8: "ByteStorage",
  bool: "BoolStorage",
};

const enc = new TextEncoder();

/** A tiny protocol-2 pickler for exactly what a state dict needs. */
class Pickle {
  private parts: Uint8Array[] = [Uint8Array.of(0x80, 2)];
  op(...b: number[]): this {
    this.parts.push(Uint8Array.of(...b));
    return this;
  }
  global(module: string, name: string): this {
    this.parts.push(enc.encode(`c${module}\n${name}\n`));
    return this;
  }
  str(s: string): this {
    const b = enc.encode(s);
    const n = new Uint8Array(5);
    n[0] = 0x58; // BINUNICODE
    new DataView(n.buffer).setUint32(1, b.length, true);
    this.parts.push(n, b);
    return this;
  }
  int(v: number): this {
    if (!Number.isSafeInteger(v)) throw new TorchWriteError(`cannot pickle ${v} as an integer`);
    if (v >= -(2 ** 31) && v < 2 ** 31) {
      const b = new Uint8Array(5);
      b[0] = 0x4a; // BININT
      new DataView(b.buffer).setInt32(1, v, true);
      this.parts.push(b);
    } else {
      const b = new Uint8Array(10);
      b.set([0x8a, 8]); // LONG1, 8 bytes
      new DataView(b.buffer).setBigInt64(2, BigInt(v), true);
      this.parts.push(b);
    }
    return this;
  }
  tuple(items: (() => void)[]): this {
    this.op(0x28); // MARK
    for (const f of items) f();
    return this.op(0x74); // TUPLE
  }
  bytes(): Uint8Array {
    this.op(0x2e); // STOP
    return concat(this.parts);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The pickle of OrderedDict({name: _rebuild_tensor_v2(storage, 0, shape, C-order stride, False, OrderedDict())}). */
function statePickle(tensors: Map<string, HostTensor>): Uint8Array {
  const p = new Pickle();
  p.global("collections", "OrderedDict").op(0x29, 0x52); // OrderedDict()
  let key = 0;
  for (const [name, t] of tensors) {
    const stride = t.shape.map((_, d) => numel(t.shape.slice(d + 1)));
    const storageKey = String(key++);
    p.str(name).global("torch._utils", "_rebuild_tensor_v2");
    p.tuple([
      () => {
        p.tuple([
          () => p.str("storage"),
          () => p.global("torch", STORAGE_OF[t.dtype]),
          () => p.str(storageKey),
          () => p.str("cpu"),
          () => p.int(t.data.length),
        ]).op(0x51); // BINPERSID
      },
      () => p.int(0),
      () => p.tuple(t.shape.map((d) => () => p.int(d))),
      () => p.tuple(stride.map((s) => () => p.int(s))),
      () => p.op(0x89), // requires_grad=False
      () => p.global("collections", "OrderedDict").op(0x29, 0x52),
    ]);
    p.op(0x52, 0x73); // REDUCE, SETITEM
  }
  return p.bytes();
}

/** A stored zip with each entry's data 64-byte aligned (padding in the local extra field, as torch does). */
function storedZip(files: [string, Uint8Array][]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of files) {
    if (data.length >= 0xffffffff || offset >= 0xffffffff)
      throw new TorchWriteError(`${name}: entries over 4 GB need ZIP64, which this writer does not produce`);
    const n = enc.encode(name);
    const pad = (64 - ((offset + 30 + n.length + 4) % 64)) % 64;
    const extra = new Uint8Array(4 + pad);
    new DataView(extra.buffer).setUint16(0, 0x4246, true); // "FB", torch's padding field
    new DataView(extra.buffer).setUint16(2, pad, true);
    const crc = crc32(data);
    const local = new Uint8Array(30);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, data.length, true);
    lv.setUint32(22, data.length, true);
    lv.setUint16(26, n.length, true);
    lv.setUint16(28, extra.length, true);
    const cd = new Uint8Array(46);
    const cv = new DataView(cd.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, data.length, true);
    cv.setUint32(24, data.length, true);
    cv.setUint16(28, n.length, true);
    cv.setUint32(42, offset, true);
    parts.push(local, n, extra, data);
    central.push(cd, n);
    offset += 30 + n.length + extra.length + data.length;
  }
  const cdSize = central.reduce((s, c) => s + c.length, 0);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, files.length, true);
  ev.setUint16(10, files.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  return concat([...parts, ...central, eocd]);
}

/** torch.save(state_dict, f) as bytes; `archive` is the top folder inside the zip (torch uses the file's stem). */
export function encodeTorchCheckpoint(tensors: Map<string, HostTensor>, archive = "archive"): Uint8Array {
  const files: [string, Uint8Array][] = [[`${archive}/data.pkl`, statePickle(tensors)]];
  files.push([`${archive}/byteorder`, enc.encode("little")]);
  let key = 0;
  for (const t of tensors.values())
    files.push([
      `${archive}/data/${key++}`,
      new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
    ]);
  files.push([`${archive}/version`, enc.encode("3\n")]);
  return storedZip(files);
}
