/**
 * fast-check arbitraries that mutate valid seed files: bit flips, bytes and 32-bit integers set to edge values,
 * insertions, deletions, truncations, duplicated ranges and splices with other seeds; positions are uniform over
 * the file or near its head or tail, where headers and directories live. Text formats also get token swaps
 * (a number, literal or quoted string replaced by an edge value).
 */
import fc from "fast-check";

type Pos = { u: number } | { head: number } | { tail: number };
export type Mutation =
  | { kind: "flip"; at: Pos; bit: number }
  | { kind: "set"; at: Pos; value: number }
  | { kind: "u32"; at: Pos; value: number }
  | { kind: "insert"; at: Pos; bytes: Uint8Array }
  | { kind: "delete"; at: Pos; len: number }
  | { kind: "truncate"; at: Pos }
  | { kind: "duplicate"; at: Pos; len: number }
  | { kind: "splice"; at: Pos; other: number; from: number; len: number }
  | { kind: "token"; which: number; value: string };

const pos: fc.Arbitrary<Pos> = fc.oneof(
  fc.record({ u: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }) }),
  fc.record({ head: fc.nat(255) }),
  fc.record({ tail: fc.nat(511) }),
);
const EDGE_BYTES = [0, 1, 0x7f, 0x80, 0xff, 0x28, 0x29, 0x2e, 0x5d, 0x7d, 0x22, 0x2c, 0x0a, 0x3a];
const EDGE_U32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xffff, 0x10000, 0xfffffffe];
const EDGE_TOKENS = [
  "-1",
  "0",
  "1",
  "1.5",
  "1e999",
  "-1e999",
  "NaN",
  "null",
  "true",
  "[]",
  "{}",
  '""',
  '"x"',
  "99999999999999999999",
  "4294967296",
  "__proto__",
  "constructor",
  '"constructor"',
  '"__proto__"',
  "${.x}",
  "[1, 2]",
  "-0",
  "0x10",
];

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: pos, bit: fc.nat(7) }),
  fc.record({
    kind: fc.constant("set" as const),
    at: pos,
    value: fc.oneof(fc.constantFrom(...EDGE_BYTES), fc.nat(255)),
  }),
  fc.record({ kind: fc.constant("u32" as const), at: pos, value: fc.constantFrom(...EDGE_U32) }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: pos,
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  }),
  fc.record({ kind: fc.constant("delete" as const), at: pos, len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant("truncate" as const), at: pos }),
  fc.record({ kind: fc.constant("duplicate" as const), at: pos, len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({
    kind: fc.constant("splice" as const),
    at: pos,
    other: fc.nat(),
    from: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
    len: fc.integer({ min: 1, max: 256 }),
  }),
);
export const textMutation: fc.Arbitrary<Mutation> = fc.oneof(
  mutation,
  fc.record({ kind: fc.constant("token" as const), which: fc.nat(), value: fc.constantFrom(...EDGE_TOKENS) }),
);

function index(p: Pos, n: number): number {
  if (n === 0) return 0;
  if ("u" in p) return Math.floor(p.u * n);
  if ("head" in p) return Math.min(p.head, n - 1);
  return Math.max(0, n - 1 - p.tail);
}

const TOKEN = /-?\d+(\.\d+)?(e[+-]?\d+)?|true|false|null|True|False|"[^"\n]*"/g;

/** Applies one mutation; `seeds` are the other files a splice may copy from. */
export function apply(b: Uint8Array, m: Mutation, seeds: readonly Uint8Array[]): Uint8Array {
  if (m.kind === "token") {
    const text = Buffer.from(b).toString("latin1");
    const spans = [...text.matchAll(TOKEN)];
    if (!spans.length) return b;
    const s = spans[m.which % spans.length];
    return Buffer.from(text.slice(0, s.index) + m.value + text.slice(s.index! + s[0].length), "latin1");
  }
  const at = index(m.at, b.length);
  const out = (...parts: Uint8Array[]) => Buffer.concat(parts);
  switch (m.kind) {
    case "flip":
    case "set": {
      if (!b.length) return b;
      const c = b.slice();
      c[at] = m.kind === "flip" ? c[at] ^ (1 << m.bit) : m.value;
      return c;
    }
    case "u32": {
      if (b.length < 4) return b;
      const c = b.slice();
      new DataView(c.buffer, c.byteOffset).setUint32(Math.min(at, b.length - 4), m.value, true);
      return c;
    }
    case "insert":
      return out(b.subarray(0, at), m.bytes, b.subarray(at));
    case "delete":
      return out(b.subarray(0, at), b.subarray(at + m.len));
    case "truncate":
      return b.subarray(0, at);
    case "duplicate":
      return out(b.subarray(0, at + m.len), b.subarray(at));
    case "splice": {
      const o = seeds[m.other % seeds.length];
      const from = Math.floor(m.from * o.length);
      return out(b.subarray(0, at), o.subarray(from, from + m.len), b.subarray(at + m.len));
    }
  }
}

/** A seed with 1 to 4 mutations applied. */
export function mutated(seeds: readonly Uint8Array[], text = false): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.nat(seeds.length - 1), fc.array(text ? textMutation : mutation, { minLength: 1, maxLength: 4 }))
    .map(([i, ms]) => ms.reduce((b, m) => apply(b, m, seeds), seeds[i]));
}
