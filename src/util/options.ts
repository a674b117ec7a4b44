/**
 * Typed options, the one spec format for every `key=value` setting: the training run's config (RUN_SPEC,
 * src/train/config.ts) and every command's options (cli/). A spec gives a key's kind, default, doc and bounds;
 * `OptionsOf<typeof spec>` is the type of the values it parses to, so code reads `o.lr` as a number without a
 * cast. Values come from command-line text (`fromText`) or from YAML (`fromYaml`); every error names the key.
 */
import type { YamlValue } from "./yaml.js";

export type OptionKind = "int" | "float" | "bool" | "string" | "list" | "int?" | "string?";

export interface OptionSpec<K extends OptionKind = OptionKind> {
  kind: K;
  /** Left out: the key has no default (undefined until given). */
  default?: YamlValue;
  doc: string;
  /** Bounds for numbers, inclusive; a value outside is an error naming the range. */
  min?: number;
  max?: number;
}

export type Schema = Record<string, OptionSpec>;

/** The value type of a kind. */
export type OptionValue<K extends OptionKind> = K extends "int" | "float"
  ? number
  : K extends "bool"
    ? boolean
    : K extends "string"
      ? string
      : K extends "list"
        ? YamlValue[]
        : K extends "int?"
          ? number | null
          : string | null;

/** What a schema parses to: each key's kind's type (with `| undefined` where the key has no default). */
export type OptionsOf<S extends Schema> = {
  [K in keyof S]: S[K] extends { default: YamlValue }
    ? OptionValue<S[K]["kind"]>
    : OptionValue<S[K]["kind"]> | undefined;
};

export class OptionError extends Error {}

/** A spec entry with a default: opt("int", 768, "examples per step", { min: 1 }). */
export function opt<K extends OptionKind>(
  kind: K,
  def: YamlValue,
  doc: string,
  bounds: { min?: number; max?: number } = {},
): OptionSpec<K> & { default: YamlValue } {
  return { kind, default: def, doc, ...bounds };
}

function range(s: OptionSpec): string {
  if (s.min !== undefined && s.max !== undefined) return `from ${s.min} to ${s.max}`;
  return s.min !== undefined ? `of at least ${s.min}` : `of at most ${s.max}`;
}

function checkBounds(v: number, spec: OptionSpec, bad: (what: string) => never): number {
  if ((spec.min !== undefined && v < spec.min) || (spec.max !== undefined && v > spec.max))
    bad(`${spec.kind.startsWith("int") ? "an integer" : "a number"} ${range(spec)}`);
  return v;
}

/**
 * A value from YAML (a config file, or a `key=value` override read as YAML) checked against its kind; "${...}"
 * references pass through, resolved later. `where` names the file or "command line".
 */
export function fromYaml(key: string, v: YamlValue, spec: OptionSpec, where: string): YamlValue {
  if (typeof v === "string" && v.startsWith("${")) return v;
  const bad = (what: string): never => {
    throw new OptionError(`${where}: ${key}=${JSON.stringify(v)}: expected ${what}`);
  };
  switch (spec.kind) {
    case "int?":
    case "int":
      if (v === null && spec.kind === "int?") return v;
      if (typeof v !== "number" || !Number.isSafeInteger(v)) return bad("an integer");
      return checkBounds(v + 0, spec, bad); // + 0: -0 is 0
    case "float":
      if (typeof v !== "number") return bad("a number");
      if (!Number.isFinite(v)) return bad("a number (this one is infinite or NaN)");
      return checkBounds(v + 0, spec, bad);
    case "bool":
      return typeof v === "boolean" ? v : bad("true or false");
    case "string?":
    case "string":
      if (v === null && spec.kind === "string?") return v;
      return typeof v === "string" ? v : typeof v === "number" ? String(v) : bad("a string");
    case "list":
      if (Array.isArray(v)) return v;
      if (typeof v === "string") return v === "" ? [] : v.split(",").map((x) => x.trim());
      return v === null ? [] : bad("a list");
  }
}

/** A command-line value (`key=raw`) as its kind: numbers as written, true/1/yes and false/0/no, lists a,b. */
export function fromText(key: string, raw: string, spec: OptionSpec): YamlValue {
  const bad = (what: string): never => {
    throw new OptionError(`${key}=${raw}: expected ${what}`);
  };
  if ((spec.kind === "int?" || spec.kind === "string?") && raw === "null") return null;
  switch (spec.kind) {
    case "int":
    case "int?":
    case "float": {
      const v = Number(raw);
      const int = spec.kind !== "float";
      if (raw.trim() === "" || !(int ? Number.isSafeInteger(v) : Number.isFinite(v)))
        bad(int ? "an integer" : "a number");
      return checkBounds(v + 0, spec, bad);
    }
    case "bool":
      if (["true", "1", "yes"].includes(raw)) return true;
      if (["false", "0", "no"].includes(raw)) return false;
      return bad("true or false");
    case "string":
    case "string?":
      return raw;
    case "list":
      return raw === "" ? [] : raw.split(",").map((x) => x.trim());
  }
}

/** Parses `key=value` words; unknown keys, repeated keys and malformed words are errors. */
export function parseOptions<S extends Schema>(words: string[], schema: S): OptionsOf<S> {
  const out: Record<string, YamlValue | undefined> = {};
  for (const [k, s] of Object.entries(schema)) out[k] = s.default;
  const given = new Set<string>();
  const known = Object.keys(schema).join(", ");
  for (const w of words) {
    const eq = w.indexOf("=");
    if (eq <= 0) throw new OptionError(`"${w}": options are written key=value (known keys: ${known})`);
    const key = w.slice(0, eq);
    if (!Object.prototype.hasOwnProperty.call(schema, key))
      throw new OptionError(`unknown option "${key}" (known: ${known})`);
    if (given.has(key)) throw new OptionError(`option "${key}" given twice`);
    given.add(key);
    out[key] = fromText(key, w.slice(eq + 1), schema[key]);
  }
  return out as OptionsOf<S>;
}

/** key=value word lists joined: a later word overrides an earlier one with the same key. */
export function mergeWords(...lists: string[][]): string[] {
  const m = new Map<string, string>();
  for (const w of lists.flat()) m.set(w.slice(0, w.indexOf("=")), w);
  return [...m.values()];
}
