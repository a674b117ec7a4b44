/**
 * YAML for configs: parsed by the `yaml` package (YAML 1.2, core schema: the field's standard parser, no
 * dependencies, browser-safe), with every error or warning turned into one line naming the file and line.
 * Keys must be unique; anchors, aliases and tags are refused (no config needs them; an alias can multiply
 * a small file, a tag such as !!python/object asks for what a config must not do). `dumpYaml` writes block
 * mappings with flow lists, which the official code's PyYAML reads back to the same values.
 */
import type { Document, LineCounter as LineCounterT, YAMLError } from "yaml";
import { isAlias, isNode, LineCounter, parseDocument, visit } from "yaml";

export type YamlValue = null | boolean | number | string | YamlValue[] | { [k: string]: YamlValue };

export class YamlError extends Error {}

/** The same message for the same mistake as the configs' readers always gave, else the parser's own. */
function describe(e: YAMLError, text: string): string {
  const first = e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
  switch (e.code) {
    case "DUPLICATE_KEY": {
      const key = /^\s*["']?([^"':\n]*)/.exec(text.slice(e.pos[0]))?.[1]?.trim() ?? "?";
      return `key "${key}" repeated`;
    }
    case "TAB_AS_INDENT":
      return "tab indentation";
    case "BAD_INDENT":
    case "BLOCK_AS_IMPLICIT_KEY":
    case "MULTILINE_IMPLICIT_KEY":
      return `unexpected indentation (${first})`;
    default:
      return first;
  }
}

function refuseAnchorsAndTags(doc: Document, lines: LineCounterT, file: string, text: string): void {
  visit(doc, (_key, node) => {
    if (!isNode(node)) return;
    const what = isAlias(node) ? `*${node.source}` : node.anchor ? `&${node.anchor}` : node.tag;
    if (what === undefined) return;
    const at = node.range?.[0] ?? 0;
    const line = text.slice(text.lastIndexOf("\n", at) + 1, text.indexOf("\n", at) >>> 0).trim();
    throw new YamlError(
      `${file}:${lines.linePos(at).line}: unsupported YAML construct "${what}" (anchors, aliases and tags are not read) in "${line}"`,
    );
  });
}

/** Parses one YAML document; any error or warning is a YamlError "file:line: what". */
export function parseYaml(text: string, file = "<yaml>"): YamlValue {
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    version: "1.2",
    schema: "core",
    uniqueKeys: true,
    merge: false,
    prettyErrors: false,
    lineCounter: lines,
  });
  const bad = doc.errors[0] ?? doc.warnings[0];
  if (bad) {
    // these two point at the value that goes on: the line wrongly indented is the next one
    const next = bad.code === "BLOCK_AS_IMPLICIT_KEY" || bad.code === "MULTILINE_IMPLICIT_KEY" ? 1 : 0;
    throw new YamlError(`${file}:${lines.linePos(bad.pos[0]).line + next}: ${describe(bad, text)}`);
  }
  refuseAnchorsAndTags(doc, lines, file, text);
  return doc.toJS() as YamlValue;
}

/** A plain scalar that reads back as itself (a string that YAML would not type as something else). */
function readsBackAsString(v: string): boolean {
  try {
    return parseYaml(v) === v;
  } catch {
    return false;
  }
}

function dumpScalar(v: YamlValue): string {
  if (v === null) return "null";
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : v > 0 ? ".inf" : "-.inf";
  if (typeof v === "boolean") return String(v);
  if (typeof v === "string") {
    // Quote anything that would read back as another type or break the line structure.
    const plain =
      v !== "" && readsBackAsString(v) && !/[:#\n,[\]{}]|^[!&*|>'"%@`]|^[-?](\s|$)|^\s|\s$/.test(v);
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
