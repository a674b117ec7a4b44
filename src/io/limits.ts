/**
 * Helpers every loader shares so that its errors stay one bounded line: clipped quotes of untrusted text, and a
 * description of any decoded value that never recurses deeply, never follows cycles and never throws (no
 * JSON.stringify on what a file built: BigInt and circular values break it).
 */

/** At most `max` characters of `s`, control characters as "?", with the length when clipped: one short line. */
export function clip(s: string, max = 80): string {
  // eslint-disable-next-line no-control-regex
  const line = (s.length > max ? s.slice(0, max) : s).replace(/[\u0000-\u001f\u007f]/g, "?");
  return s.length > max ? `${line}... (${s.length} characters)` : line;
}

/** At most `max` characters of `s`, quoted (control characters escaped), with the length when clipped. */
export function quote(s: string, max = 80): string {
  const one = JSON.stringify(s.length > max ? s.slice(0, max) : s);
  return s.length > max ? `${one}... (${s.length} characters)` : one;
}

/** A short description of a value decoded from a file, for error messages (depth 2, 4 items per level). */
export function describe(v: unknown, depth = 2): string {
  if (v === null || v === undefined) return String(v);
  if (typeof v === "string") return quote(v, 40);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (typeof v === "bigint")
    return v.toString().length > 24 ? `a ${v.toString(16).length * 4}-bit integer` : `${v}`;
  if (typeof v === "function") return "a callable";
  if (v instanceof Uint8Array) return `bytes[${v.length}]`;
  const items = Array.isArray(v) ? v : v instanceof Map ? [...v.keys()] : null;
  if (!items) {
    // Decoded values with a toString of their own (a float, a storage) say what they are.
    const own = (v as { toString?: unknown }).toString;
    if (typeof own === "function" && own !== Object.prototype.toString) return clip(String(v), 60);
    return `an object (${Object.prototype.toString.call(v).slice(8, -1)})`;
  }
  // Python tuples are frozen arrays (the unpickler's), lists and JSON arrays are not.
  const [open, close] = !Array.isArray(v) ? ["{", "}"] : Object.isFrozen(v) ? ["(", ")"] : ["[", "]"];
  if (depth <= 0) return `${open}${items.length} items${close}`;
  const shown = items.slice(0, 4).map((x) => describe(x, depth - 1));
  return `${open}${shown.join(", ")}${items.length > 4 ? `, ... ${items.length} items` : ""}${close}`;
}

/** JSON.parse whose error names the file and stays one short line. */
export function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new JsonError(`${clip(file, 200)}: not valid JSON (${clip((e as Error).message, 120)})`);
  }
}

export class JsonError extends Error {}

/** Own-property lookup: a name such as "constructor" or "toString" must not find Object.prototype's. */
export function own<T>(table: Record<string, T>, key: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined;
}
