/**
 * Pure command-line parsing: `key=value` options checked against a typed schema (official option names),
 * with errors that name the key. No I/O here, so every case is a one-line test.
 */

export type OptionType = "int" | "float" | "string" | "bool";

export interface OptionSpec {
  type: OptionType;
  default?: string | number | boolean;
  doc: string;
  /** Bounds for numbers, inclusive; a value outside is an error naming the range. */
  min?: number;
  max?: number;
}

export type Schema = Record<string, OptionSpec>;
export type Options = Record<string, string | number | boolean | undefined>;

export class CliError extends Error {}

/** key=value word lists joined: a later word overrides an earlier one with the same key. */
export function mergeWords(...lists: string[][]): string[] {
  const m = new Map<string, string>();
  for (const w of lists.flat()) m.set(w.slice(0, w.indexOf("=")), w);
  return [...m.values()];
}

function convert(key: string, raw: string, spec: OptionSpec): string | number | boolean {
  const bad = (what: string): never => {
    throw new CliError(`${key}=${raw}: expected ${what}`);
  };
  switch (spec.type) {
    case "int":
    case "float": {
      const v = Number(raw);
      const int = spec.type === "int";
      if (raw.trim() === "" || !(int ? Number.isSafeInteger(v) : Number.isFinite(v)))
        bad(int ? "an integer" : "a number");
      if ((spec.min !== undefined && v < spec.min) || (spec.max !== undefined && v > spec.max))
        bad(`${int ? "an integer" : "a number"} ${range(spec)}`);
      return v;
    }
    case "bool":
      if (["true", "1", "yes"].includes(raw)) return true;
      if (["false", "0", "no"].includes(raw)) return false;
      return bad("true or false");
    case "string":
      return raw;
  }
}

function range(s: OptionSpec): string {
  if (s.min !== undefined && s.max !== undefined) return `from ${s.min} to ${s.max}`;
  return s.min !== undefined ? `of at least ${s.min}` : `of at most ${s.max}`;
}

/** Parses `key=value` words; unknown keys, repeated keys and malformed words are errors. */
export function parseOptions(words: string[], schema: Schema): Options {
  const out: Options = {};
  for (const [k, s] of Object.entries(schema)) out[k] = s.default;
  const given = new Set<string>();
  for (const w of words) {
    const eq = w.indexOf("=");
    if (eq <= 0)
      throw new CliError(
        `"${w}": options are written key=value (known keys: ${Object.keys(schema).join(", ")})`,
      );
    const key = w.slice(0, eq);
    const spec = schema[key];
    if (!spec) throw new CliError(`unknown option "${key}" (known: ${Object.keys(schema).join(", ")})`);
    if (given.has(key)) throw new CliError(`option "${key}" given twice`);
    given.add(key);
    out[key] = convert(key, w.slice(eq + 1), spec);
  }
  return out;
}

export function usage(command: string, schema: Schema): string {
  const width = Math.max(...Object.keys(schema).map((k) => k.length));
  return [
    `usage: hrm ${command} [key=value ...]`,
    ...Object.entries(schema).map(
      ([k, s]) => `  ${k.padEnd(width)}  ${s.doc}${s.default !== undefined ? ` (default ${s.default})` : ""}`,
    ),
  ].join("\n");
}
