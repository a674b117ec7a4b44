/**
 * A restricted Python unpickler: it only builds data (numbers, strings, bytes, tuples, lists, dicts) and
 * resolves globals through the caller's allow-list. Nothing in the pickle can run code: a GLOBAL that the
 * allow-list does not know (e.g. os.system, builtins.eval) is rejected before anything is called, and
 * REDUCE/NEWOBJ/BUILD only apply allow-listed functions. Protocols 0-5, the opcodes state dicts use.
 * Its cost is bounded by the input's size: integers, container nesting, the memo and call arguments have
 * limits (PICKLE_LIMITS), nothing recurses over decoded values, and every error is one line naming the file.
 */
import { describe } from "./limits.js";

export class PickleError extends Error {}

/** A Python tuple (frozen array), kept distinct so callers can tell tuples from lists if they need to. */
export type PyTuple = readonly unknown[];

/** A Python float, boxed so that a float is never mistaken for an int (a shape of 2.0 is not a shape). */
export class PyFloat {
  constructor(readonly value: number) {}
  toString(): string {
    return `${this.value} (a float)`;
  }
}

export interface UnpickleHooks {
  /** Returns the value a GLOBAL names, or throws (the allow-list). */
  findGlobal(module: string, name: string): unknown;
  /** Resolves a persistent id (torch: the storage of a tensor). */
  persistentLoad(pid: unknown): unknown;
}

/** Far above what a state dict needs (8-byte ints, depth 4, a few memo entries per tensor, 6 arguments). */
export const PICKLE_LIMITS = { intBytes: 16, depth: 64, memo: 1 << 20, callArgs: 16 };

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Python latin-1: one char per byte. (TextDecoder("latin1") is windows-1252, which differs at 0x80-0x9f.) */
function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

class Reader {
  pos = 0;
  constructor(
    readonly bytes: Uint8Array,
    readonly file: string,
  ) {}
  fail(msg: string): never {
    throw new PickleError(`${this.file}: ${msg} (at byte ${this.pos})`);
  }
  need(n: number): void {
    if (this.pos + n > this.bytes.length) this.fail("pickle data truncated");
  }
  u8(): number {
    this.need(1);
    return this.bytes[this.pos++];
  }
  take(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  view(n: number): DataView {
    const b = this.take(n);
    return new DataView(b.buffer, b.byteOffset, n);
  }
  u32(): number {
    return this.view(4).getUint32(0, true);
  }
  line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) this.fail("pickle data truncated (unterminated text line)");
    const s = latin1(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }
  text(n: number): string {
    const b = this.take(n);
    try {
      return utf8.decode(b);
    } catch {
      return this.fail(`a string of ${n} bytes is not valid UTF-8`);
    }
  }
  /** LONG1/LONG4: little-endian two's complement, at most PICKLE_LIMITS.intBytes bytes; a Number when exact. */
  long(n: number): number | bigint {
    if (n > PICKLE_LIMITS.intBytes)
      this.fail(`an integer of ${n} bytes (the limit is ${PICKLE_LIMITS.intBytes}; a state dict needs 8)`);
    const b = this.take(n);
    if (n === 0) return 0;
    let hex = "";
    for (let i = n - 1; i >= 0; i--) hex += b[i].toString(16).padStart(2, "0");
    let v = BigInt(`0x${hex}`);
    if (b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
}

function apply(fn: unknown, args: unknown, r: Reader, what: string): unknown {
  if (typeof fn !== "function") r.fail(`${what} of ${describe(fn)}, which is not an allowed callable`);
  if (!Array.isArray(args)) r.fail(`${what} arguments are ${describe(args)}, not a tuple`);
  if (args.length > PICKLE_LIMITS.callArgs) r.fail(`${what} with ${args.length} arguments`);
  return (fn as (...a: unknown[]) => unknown)(...(args as unknown[]));
}

/** Lists, tuples and dicts: the values that contain others. */
function children(v: unknown): unknown[] | null {
  if (Array.isArray(v)) return v;
  if (v instanceof Map) return [...v.keys(), ...v.values()];
  return null;
}

/**
 * Refuses a result that contains itself or nests containers deeper than the limit, so no consumer recursing over
 * it can overflow. Iterative, each container visited once: linear in the result's size (bounded by the input's).
 */
function checkNesting(root: unknown, r: Reader): void {
  const height = new Map<object, number>(); // containers finished, by their nesting height (1 = no containers inside)
  const path = new Set<object>();
  const stack: { v: object; items: unknown[]; next: number; inner: number }[] = [];
  const deep = () => r.fail(`containers nested deeper than ${PICKLE_LIMITS.depth}`);
  const enter = (v: unknown): number => {
    const items = children(v);
    if (!items) return 0;
    const h = height.get(v as object);
    if (h !== undefined) return h;
    if (path.has(v as object)) r.fail("a value contains itself (a cycle; a state dict never has one)");
    if (stack.length >= PICKLE_LIMITS.depth) deep();
    path.add(v as object);
    stack.push({ v: v as object, items, next: 0, inner: 0 });
    return -1; // pending
  };
  enter(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    if (top.next < top.items.length) {
      const h = enter(top.items[top.next++]);
      if (h > 0 && stack.length + h > PICKLE_LIMITS.depth) deep(); // a finished subtree reached again, deeper
      top.inner = Math.max(top.inner, h);
      continue;
    }
    stack.pop();
    path.delete(top.v);
    height.set(top.v, top.inner + 1);
    if (stack.length) stack[stack.length - 1].inner = Math.max(stack[stack.length - 1].inner, top.inner + 1);
  }
}

export function unpickle(bytes: Uint8Array, hooks: UnpickleHooks, file = "<pickle>"): unknown {
  const r: Reader = new Reader(bytes, file); // explicit type: lets r.fail() narrow types (never-returning)
  const stack: unknown[] = [];
  const marks: number[] = []; // stack positions of the open MARKs (Python's metastack)
  const memo = new Map<number, unknown>();
  const floor = (): number => (marks.length ? marks[marks.length - 1] : 0);
  const pop = (): unknown => {
    if (stack.length <= floor()) r.fail("pickle stack underflow");
    return stack.pop();
  };
  const top = (): unknown =>
    stack.length > floor() ? stack[stack.length - 1] : r.fail("pickle stack underflow");
  const popMark = (): unknown[] => {
    if (!marks.length) r.fail("pickle MARK missing");
    return stack.splice(marks.pop()!);
  };
  const push = (v: unknown): void => void stack.push(v);
  const list = (what: string): unknown[] => {
    const l = top();
    if (!Array.isArray(l) || Object.isFrozen(l)) r.fail(`${what} to ${describe(l)}, which is not a list`);
    return l;
  };
  const setItems = (d: unknown, kv: unknown[]) => {
    if (!(d instanceof Map)) r.fail(`SETITEM on ${describe(d)}, which is not a dict`);
    if (kv.length % 2) r.fail("SETITEMS with an odd number of items");
    for (let i = 0; i + 1 < kv.length; i += 2) d.set(kv[i], kv[i + 1]);
  };
  const memoPut = (k: number): void => {
    if (memo.size >= PICKLE_LIMITS.memo && !memo.has(k))
      r.fail(`more than ${PICKLE_LIMITS.memo} memo entries`);
    memo.set(k, top());
  };
  for (;;) {
    const op = r.u8();
    switch (op) {
      case 0x80:
        r.u8();
        break; // PROTO
      case 0x95:
        r.take(8);
        break; // FRAME
      case 0x2e: {
        if (marks.length) r.fail("STOP inside an open MARK");
        const root = pop();
        if (stack.length) r.fail(`STOP with ${stack.length} more values on the stack`);
        if (r.pos !== bytes.length) r.fail(`${bytes.length - r.pos} bytes after STOP`);
        checkNesting(root, r);
        return root; // STOP
      }
      case 0x28:
        marks.push(stack.length); // the MARK itself is not on the stack: nothing can pop or memoize it
        break; // (
      case 0x7d:
        push(new Map());
        break; // }
      case 0x5d:
        push([]);
        break; // ]
      case 0x29:
        push(Object.freeze([]));
        break; // )
      case 0x4e:
        push(null);
        break; // N
      case 0x88:
        push(true);
        break;
      case 0x89:
        push(false);
        break;
      case 0x4b:
        push(r.u8());
        break; // BININT1
      case 0x4d:
        push(r.view(2).getUint16(0, true));
        break; // BININT2
      case 0x4a:
        push(r.view(4).getInt32(0, true));
        break; // BININT
      case 0x8a:
        push(r.long(r.u8()));
        break; // LONG1
      case 0x8b:
        push(r.long(r.u32()));
        break; // LONG4
      case 0x47:
        push(new PyFloat(r.view(8).getFloat64(0, false)));
        break; // BINFLOAT (big-endian)
      case 0x58:
        push(r.text(r.u32()));
        break; // BINUNICODE
      case 0x8c:
        push(r.text(r.u8()));
        break; // SHORT_BINUNICODE
      case 0x8d: {
        const n = r.view(8).getBigUint64(0, true);
        if (n > BigInt(bytes.length)) r.fail(`a string of ${n} bytes in a ${bytes.length}-byte pickle`);
        push(r.text(Number(n)));
        break; // BINUNICODE8
      }
      case 0x55:
        push(latin1(r.take(r.u8())));
        break; // SHORT_BINSTRING
      case 0x54:
        push(latin1(r.take(r.u32())));
        break;
      case 0x43:
        push(new Uint8Array(r.take(r.u8()))); // a copy, and a plain Uint8Array even when the input is a Buffer
        break; // SHORT_BINBYTES
      case 0x42:
        push(new Uint8Array(r.take(r.u32())));
        break; // BINBYTES
      case 0x71:
        memoPut(r.u8());
        break; // BINPUT
      case 0x72:
        memoPut(r.u32());
        break; // LONG_BINPUT
      case 0x94:
        memoPut(memo.size);
        break; // MEMOIZE
      case 0x68:
      case 0x6a: {
        // BINGET, LONG_BINGET
        const k = op === 0x68 ? r.u8() : r.u32();
        if (!memo.has(k)) r.fail(`memo key ${k} missing`);
        push(memo.get(k));
        break;
      }
      case 0x63:
        push(hooks.findGlobal(r.line(), r.line()));
        break; // GLOBAL
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string")
          r.fail(`STACK_GLOBAL needs two strings, got ${describe(module)} and ${describe(name)}`);
        push(hooks.findGlobal(module, name));
        break;
      }
      case 0x74: {
        const items = popMark();
        push(Object.freeze(items));
        break; // TUPLE
      }
      case 0x85:
      case 0x86:
      case 0x87: {
        // TUPLE1, TUPLE2, TUPLE3
        const items = Array.from({ length: op - 0x84 }, pop).reverse();
        push(Object.freeze(items));
        break;
      }
      case 0x6c: {
        const items = popMark();
        push(items);
        break; // LIST
      }
      case 0x64: {
        const kv = popMark();
        const d = new Map();
        setItems(d, kv);
        push(d);
        break;
      } // DICT
      case 0x61: {
        const v = pop();
        const l = list("APPEND");
        l.push(v);
        break;
      }
      case 0x65: {
        const vs = popMark();
        const l = list("APPENDS");
        for (const v of vs) l.push(v); // not push(...vs): a long spread overflows the call stack
        break;
      }
      case 0x73: {
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      } // SETITEM
      case 0x75: {
        const kv = popMark();
        setItems(top(), kv);
        break;
      } // SETITEMS
      case 0x51:
        push(hooks.persistentLoad(pop()));
        break; // BINPERSID
      case 0x52: {
        const args = pop();
        push(apply(pop(), args, r, "REDUCE"));
        break;
      }
      case 0x81: {
        const args = pop();
        push(apply(pop(), args, r, "NEWOBJ"));
        break;
      }
      case 0x62: {
        // BUILD: only dicts (OrderedDict state such as torch's _metadata) accept state, and ignore it
        pop();
        if (!(top() instanceof Map)) r.fail(`BUILD on ${describe(top())}, which is not a dict`);
        break;
      }
      default:
        r.pos--;
        r.fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, "0")}`);
    }
  }
}
