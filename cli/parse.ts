/**
 * The CLI's option parsing: the library's typed options (src/util/options.ts, the spec format of the run
 * config too) plus what only a command line has: the usage text and CliError.
 */
import type { OptionSpec, Schema } from "../src/util/options.js";
import type { YamlValue } from "../src/util/yaml.js";

export type { OptionsOf, Schema } from "../src/util/options.js";
export { mergeWords, OptionError, parseOptions } from "../src/util/options.js";

export type Options = Record<string, YamlValue | undefined>;
export type { OptionSpec };

export class CliError extends Error {}

export function usage(command: string, schema: Schema): string {
  const width = Math.max(...Object.keys(schema).map((k) => k.length));
  return [
    `usage: hrm ${command} [key=value ...]`,
    ...Object.entries(schema).map(
      ([k, s]) => `  ${k.padEnd(width)}  ${s.doc}${s.default !== undefined ? ` (default ${s.default})` : ""}`,
    ),
  ].join("\n");
}
