/** Writes collected evaluation outputs as one .npy per key (NumPy reads them directly). */
import { join } from "node:path";
import { encodeNpy } from "../src/io/npy.js";
import { writeFileAtomic } from "../src/platform/files.js";
import type { OutputCollector } from "../src/eval/outputs.js";

export function saveOutputs(dir: string, collect: OutputCollector): string[] {
  const files: string[] = [];
  for (const [k, t] of collect.tensors()) {
    const f = join(dir, `${k}.npy`);
    writeFileAtomic(f, encodeNpy(t));
    files.push(f);
  }
  return files;
}
