/**
 * Writers the fuzz targets re-serialize accepted inputs with, and a structural equality to compare the values:
 * a pickler for plain pickle data (memoizing lists and dicts, so shared values survive), a
 * torch.save zip of a state dict (the production writer), and `same` (Maps, tuples vs lists,
 * typed arrays by bytes, floats with Object.is, cycles).
 */
import { PyFloat } from "../../src/io/pickle.js";
import type { HostTensor } from "../../src/tensor.js";
import { encodeTorchCheckpoint } from "../../src/io/torch-write.js";
import { concat } from "../support/builders.js";

const enc = new TextEncoder();

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

/** Two's-complement little-endian bytes of a BigInt, minimal length (LONG1). */
function longBytes(v: bigint): Uint8Array {
  const out: number[] = [];
  for (;;) {
    out.push(Number(v & 0xffn));
    const next = v >> 8n;
    const sign = out[out.length - 1] & 0x80;
    if ((next === 0n && !sign) || (next === -1n && sign)) break;
    v = next;
  }
  return Uint8Array.from(out);
}

/** Pickles plain data: null, booleans, numbers, BigInts, PyFloat, strings, bytes, tuples, lists, Maps. */
export function pickleValue(root: unknown, globals = new Map<unknown, [string, string]>()): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.of(0x80, 2)];
  const memo = new Map<object, number>();
  const put = (o: object) => {
    memo.set(o, memo.size);
    parts.push(Uint8Array.of(0x94));
  };
  const emit = (v: unknown): void => {
    if (v !== null && typeof v === "object" && memo.has(v))
      return void parts.push(Uint8Array.of(0x6a), u32(memo.get(v)!));
    if (v === null) parts.push(Uint8Array.of(0x4e));
    else if (v === true || v === false) parts.push(Uint8Array.of(v ? 0x88 : 0x89));
    else if (typeof v === "number" && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31) {
      const b = new Uint8Array(5);
      b[0] = 0x4a;
      new DataView(b.buffer).setInt32(1, v, true);
      parts.push(b);
    } else if (typeof v === "number" || typeof v === "bigint") {
      const l = longBytes(BigInt(v));
      parts.push(Uint8Array.of(0x8a, l.length), l);
    } else if (v instanceof PyFloat) {
      const b = new Uint8Array(9);
      b[0] = 0x47;
      new DataView(b.buffer).setFloat64(1, v.value, false);
      parts.push(b);
    } else if (typeof v === "string") {
      const b = enc.encode(v);
      parts.push(Uint8Array.of(0x58), u32(b.length), b);
    } else if (v instanceof Uint8Array) parts.push(Uint8Array.of(0x42), u32(v.length), v);
    else if (globals.has(v)) {
      const [m, n] = globals.get(v)!;
      parts.push(enc.encode(`c${m}\n${n}\n`));
    } else if (Array.isArray(v) && Object.isFrozen(v)) {
      parts.push(Uint8Array.of(0x28));
      v.forEach(emit);
      parts.push(Uint8Array.of(0x74));
    } else if (Array.isArray(v)) {
      parts.push(Uint8Array.of(0x5d));
      put(v);
      parts.push(Uint8Array.of(0x28));
      v.forEach(emit);
      parts.push(Uint8Array.of(0x65));
    } else if (v instanceof Map) {
      parts.push(Uint8Array.of(0x7d));
      put(v);
      parts.push(Uint8Array.of(0x28));
      for (const [k, x] of v) {
        emit(k);
        emit(x);
      }
      parts.push(Uint8Array.of(0x75));
    } else throw new Error(`cannot pickle ${Object.prototype.toString.call(v)}`);
  };
  emit(root);
  parts.push(Uint8Array.of(0x2e));
  return concat(...parts);
}

/** A torch.save zip of a state dict, by the production writer (which torch.load is tested to read). */
export function writeStateDict(tensors: Map<string, HostTensor>): Uint8Array {
  return encodeTorchCheckpoint(tensors, "archive");
}

/** Structural equality of decoded values (cycle-safe). */
export function same(
  a: unknown,
  b: unknown,
  seen = new Set<string>(),
  ids = new Map<object, number>(),
): boolean {
  if (typeof a === "number" || typeof a === "bigint" || typeof a !== "object" || a === null)
    return Object.is(a, b);
  if (typeof b !== "object" || b === null) return false;
  const id = (o: object) => ids.get(o) ?? (ids.set(o, ids.size), ids.size - 1);
  const pair = `${id(a)},${id(b)}`;
  if (seen.has(pair)) return true;
  seen.add(pair);
  if (a instanceof PyFloat) return b instanceof PyFloat && Object.is(a.value, b.value);
  if (ArrayBuffer.isView(a)) {
    const tag = (x: object) => Object.prototype.toString.call(x); // a Buffer is a Uint8Array here
    if (!ArrayBuffer.isView(b) || tag(a) !== tag(b) || a.byteLength !== b.byteLength) return false;
    return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    );
  }
  if (Array.isArray(a))
    return (
      Array.isArray(b) &&
      Object.isFrozen(a) === Object.isFrozen(b) &&
      a.length === b.length &&
      a.every((x, i) => same(x, b[i], seen, ids))
    );
  if (a instanceof Map) {
    if (!(b instanceof Map) || a.size !== b.size) return false;
    const ka = [...a.entries()];
    const kb = [...b.entries()];
    return ka.every(([k, v], i) => same(k, kb[i][0], seen, ids) && same(v, kb[i][1], seen, ids));
  }
  if (Array.isArray(b) || b instanceof Map) return false;
  const ea = Object.entries(a);
  const eb = Object.entries(b as object);
  return ea.length === eb.length && ea.every(([k, v], i) => eb[i][0] === k && same(v, eb[i][1], seen, ids));
}
