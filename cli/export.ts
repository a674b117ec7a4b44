/** `hrm export checkpoint=<ours.safetensors> format=pt output=<file.pt>`: src/platform/export-run.ts, printed. */
import type { ExportOptions } from "../src/platform/export-run.js";
import { exportCheckpoint } from "../src/platform/export-run.js";
import type { Options } from "./parse.js";

export { EXPORT_OPTIONS as EXPORT_SCHEMA } from "../src/platform/export-run.js";

/** `o`: what parseOptions made of the words with EXPORT_SCHEMA. */
export const runExport = (o: Options): string[] => exportCheckpoint(o as ExportOptions);
