/**
 * `hrm serve checkpoint=<file> | model.<name>=<file> ... [host=] [port=] [token=] [key=value ...]`: the
 * library's server (src/platform/serve-run.ts) on the best kernels here, until SIGTERM or SIGINT drains it.
 */
import { getKernels } from "../src/node.js";
import { serveFromWords } from "../src/platform/serve-run.js";

export { parseServeWords, SERVE_HELP, SERVE_OPTIONS as SERVE_SCHEMA } from "../src/platform/serve-run.js";

export const runServe = (words: string[]): Promise<void> =>
  serveFromWords(words, getKernels(), (line) => console.log(line));
