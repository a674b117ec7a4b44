/**
 * The YAML subset that training configs use (the official config/*.yaml files parse with it): block
 * mappings and sequences by indentation, `- key: value` items, flow lists `[a, b]`, comments, and plain,
 * single- or double-quoted scalars typed as YAML 1.2 core does (null, true/false in any case, ints, floats
 * such as 1e-4). Anchors, tags, multi-line strings and flow mappings with content are rejected with the line
 * number rather than misread. `dumpYaml` writes the same subset back.
 */

export type YamlValue = null | boolean | number | string | YamlValue[] | { [k: string]: YamlValue };

export class YamlError extends Error {}

interface Line {
  indent: number;
  text: string; // without indentation and comment
  no: number; // 1-based line number
}

function stripComment(s: string): string {
  let quote = "";
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (quote) {
      if (ch === quote) quote = "";
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === "#" && (i === 0 || /\s/.test(s[i - 1]))) return s.slice(0, i);
  }
  return s;
}

function scalar(raw: string, where: string): YamlValue {
  const s = raw.trim();
  if (s === "" || s === "~" || /^null$/i.test(s)) return null;
  if (/^true$/i.test(s)) return true;
  if (/^false$/i.test(s)) return false;
  if (/^[-+]?\d+$/.test(s)) return Number(s);
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return Number(s);
  if (/^[-+]?\.inf$/i.test(s)) return s.startsWith("-") ? -Infinity : Infinity;
  if (s.startsWith("'")) {
    if (!s.endsWith("'") || s.length < 2) throw new YamlError(`${where}: unterminated '-string`);
    return s.slice(1, -1).replace(/''/g, "'");
  }
  if (s.startsWith('"')) {
    if (!s.endsWith('"') || s.length < 2) throw new YamlError(`${where}: unterminated "-string`);
    try {
      return JSON.parse(s) as string;
    } catch (e) {
      throw new YamlError(`${where}: bad "-string (${(e as Error).message.slice(0, 80)})`);
    }
  }
  if (s.startsWith("[")) {
    if (!s.endsWith("]")) throw new YamlError(`${where}: flow list must close on the same line`);
    const body = s.slice(1, -1).trim();
    return body === "" ? [] : body.split(",").map((x) => scalar(x, where));
  }
  if (s === "{}") return {};
  if (/^[&*!|>{]/.test(s)) throw new YamlError(`${where}: unsupported YAML construct "${s}"`);
  return s;
}

/** Splits "key: rest" (a mapping entry) or returns null; the colon must be followed by a space or the end. */
function splitKey(text: string): [string, string] | null {
  let quote = "";
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote) {
      if (ch === quote) quote = "";
    } else if ((ch === '"' || ch === "'") && i === 0) quote = ch;
    else if (ch === ":" && (i + 1 === text.length || text[i + 1] === " ")) {
      const k = text.slice(0, i).trim();
      if (k === "" || k.startsWith("[") || k.startsWith("{")) return null;
      const unq = /^(".*"|'.*')$/.test(k) ? k.slice(1, -1) : k;
      return [unq, text.slice(i + 1).trim()];
    }
  }
  return null;
}

class Parser {
  i = 0;
  constructor(
    readonly lines: Line[],
    readonly file: string,
  ) {}

  where(l: Line): string {
    return `${this.file}:${l.no}`;
  }

  block(indent: number): YamlValue {
    const l = this.lines[this.i];
    if (!l || l.indent < indent) return null;
    return l.text.startsWith("- ") || l.text === "-" ? this.seq(l.indent) : this.map(l.indent);
  }

  /** A nested block under a "key:" or "-" at `parent` indentation, if the next line is deeper. */
  child(parent: number): YamlValue {
    const next = this.lines[this.i];
    return next && next.indent > parent ? this.block(next.indent) : null;
  }

  map(indent: number): { [k: string]: YamlValue } {
    const out: { [k: string]: YamlValue } = {};
    while (this.i < this.lines.length) {
      const l = this.lines[this.i];
      if (l.indent < indent) break;
      if (l.indent > indent) throw new YamlError(`${this.where(l)}: unexpected indentation`);
      const kv = splitKey(l.text);
      if (!kv) throw new YamlError(`${this.where(l)}: expected "key: value", got "${l.text}"`);
      const [k, rest] = kv;
      if (Object.prototype.hasOwnProperty.call(out, k))
        throw new YamlError(`${this.where(l)}: key "${k}" repeated`);
      this.i++;
      // defineProperty: a key named __proto__ is a key, not the object's prototype.
      const value = rest.trim() === "" ? this.child(indent) : scalar(rest, this.where(l));
      Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }

  seq(indent: number): YamlValue[] {
    const out: YamlValue[] = [];
    while (this.i < this.lines.length) {
      const l = this.lines[this.i];
      if (l.indent < indent) break;
      if (l.indent > indent || !(l.text.startsWith("- ") || l.text === "-"))
        throw new YamlError(`${this.where(l)}: expected a "- item" at this indentation`);
      const item = l.text.slice(1).trim();
      const kv = splitKey(item);
      if (item === "") {
        this.i++;
        out.push(this.child(indent));
      } else if (kv) {
        // "- key: value" starts a mapping whose other keys are indented to the key's column
        const col = indent + l.text.indexOf(item);
        this.lines[this.i] = { indent: col, text: item, no: l.no };
        out.push(this.map(col));
      } else {
        this.i++;
        out.push(scalar(item, this.where(l)));
      }
    }
    return out;
  }
}

export function parseYaml(text: string, file = "<yaml>"): YamlValue {
  const lines: Line[] = [];
  text.split(/\r?\n/).forEach((raw, n) => {
    if (raw.includes("\t") && /^\s*\t/.test(raw)) throw new YamlError(`${file}:${n + 1}: tab indentation`);
    const body = stripComment(raw).trimEnd();
    if (body.trim() === "" || body.trim() === "---") return;
    const indent = body.length - body.trimStart().length;
    lines.push({ indent, text: body.trim(), no: n + 1 });
  });
  if (lines.length === 0) return null;
  const first = lines[0].text;
  if (lines.length === 1 && !first.startsWith("- ") && !splitKey(first))
    return scalar(first, `${file}:${lines[0].no}`);
  const p = new Parser(lines, file);
  const v = p.block(lines[0].indent);
  if (p.i < lines.length) throw new YamlError(`${p.where(lines[p.i])}: unexpected content`);
  return v;
}

function dumpScalar(v: YamlValue): string {
  if (v === null) return "null";
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : v > 0 ? ".inf" : "-.inf";
  if (typeof v === "boolean") return String(v);
  if (typeof v === "string") {
    // Quote anything that would read back as another type or break the line structure.
    const plain = scalar(v, "") === v && !/[:#\n]|^\s|\s$/.test(v) && v !== "";
    return plain ? v : JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map(dumpScalar).join(", ")}]`;
  return "{}";
}

/** Writes a mapping as block YAML; nested mappings indent by two; lists are written inline. */
export function dumpYaml(v: { [k: string]: YamlValue }, indent = 0): string {
  let out = "";
  for (const [k, x] of Object.entries(v)) {
    const pad = " ".repeat(indent);
    if (x !== null && typeof x === "object" && !Array.isArray(x) && Object.keys(x).length > 0)
      out += `${pad}${k}:\n${dumpYaml(x, indent + 2)}`;
    else out += `${pad}${k}: ${dumpScalar(x)}\n`;
  }
  return out;
}
