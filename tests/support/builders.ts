/**
 * Test-side builders for hand-made files: a stored (uncompressed) zip writer and a tiny pickle assembler,
 * so malicious and corrupt checkpoints can be made without Python.
 */

import { crc32 } from "../../src/io/zip.js";

const enc = new TextEncoder();

/** A zip archive of stored entries (what torch.save writes). */
export function makeZip(files: [string, Uint8Array][]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of files) {
    const n = enc.encode(name);
    const local = new Uint8Array(30 + n.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint32(14, crc32(data), true);
    lv.setUint32(18, data.length, true);
    lv.setUint32(22, data.length, true);
    lv.setUint16(26, n.length, true);
    local.set(n, 30);
    const cd = new Uint8Array(46 + n.length);
    const cv = new DataView(cd.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint32(16, crc32(data), true);
    cv.setUint32(20, data.length, true);
    cv.setUint32(24, data.length, true);
    cv.setUint16(28, n.length, true);
    cv.setUint32(42, offset, true);
    cd.set(n, 46);
    parts.push(local, data);
    central.push(cd);
    offset += local.length + data.length;
  }
  const cdSize = central.reduce((s, c) => s + c.length, 0);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, files.length, true);
  ev.setUint16(10, files.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  const all = [...parts, ...central, eocd];
  const out = new Uint8Array(all.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of all) out.set(p, (at += p.length) - p.length);
  return out;
}

/** Pickle assembler: each helper returns the bytes of one opcode; `pickle(...)` joins and adds PROTO/STOP. */
export const P = {
  global: (module: string, name: string) => enc.encode(`c${module}\n${name}\n`),
  stackGlobal: (module: string, name: string) => concat(P.str(module), P.str(name), Uint8Array.of(0x93)),
  str: (s: string) => {
    const b = enc.encode(s);
    const h = new Uint8Array(5);
    h[0] = 0x58;
    new DataView(h.buffer).setUint32(1, b.length, true);
    return concat(h, b);
  },
  int: (v: number) => Uint8Array.of(0x4a, v & 255, (v >> 8) & 255, (v >> 16) & 255, (v >> 24) & 255),
  mark: () => Uint8Array.of(0x28),
  tuple: () => Uint8Array.of(0x74),
  emptyTuple: () => Uint8Array.of(0x29),
  emptyDict: () => Uint8Array.of(0x7d),
  reduce: () => Uint8Array.of(0x52),
  setitem: () => Uint8Array.of(0x73),
  persid: () => Uint8Array.of(0x51),
  false: () => Uint8Array.of(0x89),
};

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

export function pickle(...ops: Uint8Array[]): Uint8Array {
  return concat(Uint8Array.of(0x80, 2), ...ops, Uint8Array.of(0x2e));
}

/** OrderedDict() -> {name: _rebuild_tensor_v2(storage(key, FloatStorage, n), offset, size, stride, False, OrderedDict())}. */
export function stateDictPickle(
  name: string,
  key: string,
  n: number,
  offset: number,
  size: number[],
  stride: number[],
): Uint8Array {
  const tupleOf = (xs: number[]) => concat(P.mark(), ...xs.map(P.int), P.tuple());
  return pickle(
    P.global("collections", "OrderedDict"),
    P.emptyTuple(),
    P.reduce(),
    P.str(name),
    P.global("torch._utils", "_rebuild_tensor_v2"),
    P.mark(),
    P.mark(),
    P.str("storage"),
    P.global("torch", "FloatStorage"),
    P.str(key),
    P.str("cuda:0"),
    P.int(n),
    P.tuple(),
    P.persid(),
    P.int(offset),
    tupleOf(size),
    tupleOf(stride),
    P.false(),
    P.global("collections", "OrderedDict"),
    P.emptyTuple(),
    P.reduce(),
    P.tuple(),
    P.reduce(),
    P.setitem(),
  );
}
