/**
 * A restricted Python unpickler: it only builds data (numbers, strings, bytes, tuples, lists, dicts) and
 * resolves globals through the caller's allow-list. Nothing in the pickle can run code: a GLOBAL that the
 * allow-list does not know (e.g. os.system, builtins.eval) is rejected before anything is called, and
 * REDUCE/NEWOBJ/BUILD only apply allow-listed functions. Protocols 0-5, the opcodes state dicts use.
 */

export class PickleError extends Error {}

/** A Python tuple (frozen array), kept distinct so callers can tell tuples from lists if they need to. */
export type PyTuple = readonly unknown[];

export interface UnpickleHooks {
  /** Returns the value a GLOBAL names, or throws (the allow-list). */
  findGlobal(module: string, name: string): unknown;
  /** Resolves a persistent id (torch: the storage of a tensor). */
  persistentLoad(pid: unknown): unknown;
}

const MARK = Symbol("mark");

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
  line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) this.fail("pickle data truncated (unterminated text line)");
    const s = latin1(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }
}

/** Little-endian two's-complement integer of any width (LONG1/LONG4); a Number when exact. */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function apply(fn: unknown, args: unknown, r: Reader, what: string): unknown {
  if (typeof fn !== "function") r.fail(`${what} of a value that is not an allowed callable`);
  if (!Array.isArray(args)) r.fail(`${what} arguments are not a tuple`);
  return (fn as (...a: unknown[]) => unknown)(...(args as unknown[]));
}

export function unpickle(bytes: Uint8Array, hooks: UnpickleHooks, file = "<pickle>"): unknown {
  const r: Reader = new Reader(bytes, file); // explicit type: lets r.fail() narrow types (never-returning)
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  const pop = (): unknown => {
    if (stack.length === 0) r.fail("pickle stack underflow");
    return stack.pop();
  };
  const popMark = (): unknown[] => {
    const at = stack.lastIndexOf(MARK);
    if (at < 0) r.fail("pickle MARK missing");
    const items = stack.splice(at);
    return items.slice(1);
  };
  const top = (): unknown => (stack.length ? stack[stack.length - 1] : r.fail("pickle stack underflow"));
  const setItems = (d: unknown, kv: unknown[]) => {
    if (!(d instanceof Map)) r.fail("SETITEM on a value that is not a dict");
    for (let i = 0; i + 1 < kv.length; i += 2) d.set(kv[i], kv[i + 1]);
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
      case 0x2e:
        return pop(); // STOP
      case 0x28:
        stack.push(MARK);
        break; // (
      case 0x7d:
        stack.push(new Map());
        break; // }
      case 0x5d:
        stack.push([]);
        break; // ]
      case 0x29:
        stack.push(Object.freeze([]));
        break; // )
      case 0x4e:
        stack.push(null);
        break; // N
      case 0x88:
        stack.push(true);
        break;
      case 0x89:
        stack.push(false);
        break;
      case 0x4b:
        stack.push(r.u8());
        break; // BININT1
      case 0x4d:
        stack.push(r.view(2).getUint16(0, true));
        break; // BININT2
      case 0x4a:
        stack.push(r.view(4).getInt32(0, true));
        break; // BININT
      case 0x8a:
        stack.push(decodeLong(r.take(r.u8())));
        break; // LONG1
      case 0x8b:
        stack.push(decodeLong(r.take(r.view(4).getUint32(0, true))));
        break; // LONG4
      case 0x47:
        stack.push(r.view(8).getFloat64(0, false));
        break; // BINFLOAT (big-endian)
      case 0x58:
        stack.push(new TextDecoder().decode(r.take(r.view(4).getUint32(0, true))));
        break; // BINUNICODE
      case 0x8c:
        stack.push(new TextDecoder().decode(r.take(r.u8())));
        break; // SHORT_BINUNICODE
      case 0x8d:
        stack.push(new TextDecoder().decode(r.take(Number(r.view(8).getBigUint64(0, true)))));
        break;
      case 0x55:
        stack.push(latin1(r.take(r.u8())));
        break; // SHORT_BINSTRING
      case 0x54:
        stack.push(latin1(r.take(r.view(4).getUint32(0, true))));
        break;
      case 0x43:
        stack.push(r.take(r.u8()).slice());
        break; // SHORT_BINBYTES
      case 0x42:
        stack.push(r.take(r.view(4).getUint32(0, true)).slice());
        break; // BINBYTES
      case 0x71:
        memo.set(r.u8(), top());
        break; // BINPUT
      case 0x72:
        memo.set(r.view(4).getUint32(0, true), top());
        break; // LONG_BINPUT
      case 0x94:
        memo.set(memo.size, top());
        break; // MEMOIZE
      case 0x68:
      case 0x6a: {
        // BINGET, LONG_BINGET
        const k = op === 0x68 ? r.u8() : r.view(4).getUint32(0, true);
        if (!memo.has(k)) r.fail(`memo key ${k} missing`);
        stack.push(memo.get(k));
        break;
      }
      case 0x63:
        stack.push(hooks.findGlobal(r.line(), r.line()));
        break; // GLOBAL
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") r.fail("STACK_GLOBAL needs two strings");
        stack.push(hooks.findGlobal(module, name));
        break;
      }
      case 0x74:
        stack.push(Object.freeze(popMark()));
        break; // TUPLE
      case 0x85:
        stack.push(Object.freeze([pop()]));
        break;
      case 0x86: {
        const b = pop();
        stack.push(Object.freeze([pop(), b]));
        break;
      }
      case 0x87: {
        const c = pop();
        const b = pop();
        stack.push(Object.freeze([pop(), b, c]));
        break;
      }
      case 0x6c:
        stack.push(popMark());
        break; // LIST
      case 0x64: {
        const kv = popMark();
        const d = new Map();
        setItems(d, kv);
        stack.push(d);
        break;
      } // DICT
      case 0x61: {
        const v = pop();
        const l = top();
        if (!Array.isArray(l)) r.fail("APPEND to a non-list");
        l.push(v);
        break;
      }
      case 0x65: {
        const vs = popMark();
        const l = top();
        if (!Array.isArray(l)) r.fail("APPENDS to a non-list");
        l.push(...vs);
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
        stack.push(hooks.persistentLoad(pop()));
        break; // BINPERSID
      case 0x52: {
        const args = pop();
        stack.push(apply(pop(), args, r, "REDUCE"));
        break;
      }
      case 0x81: {
        const args = pop();
        stack.push(apply(pop(), args, r, "NEWOBJ"));
        break;
      }
      case 0x62: {
        // BUILD: only dicts (OrderedDict state such as torch's _metadata) accept state, and ignore it
        pop();
        if (!(top() instanceof Map)) r.fail("BUILD on a value that is not a dict");
        break;
      }
      default:
        r.pos--;
        r.fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, "0")}`);
    }
  }
}
