/**
 * Discovery and loading of official-code fixture folders: every folder with a config.json and model.pt under
 * tests/fixtures/hrm-official/ (and $HRM_FIXTURES when set), or for TRM tests/fixtures/trm-official/ (and
 * $TRM_FIXTURES), so a new folder dropped in either place is tested with no code change. Also the paths of
 * the in-repository data samples.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeNpy } from "../../src/io/npy.js";
import { readTorchCheckpoint } from "../../src/io/torch.js";
import { loadStateDict } from "../../src/model/checkpoint.js";
import type { Batch } from "../../src/model/act.js";
import type { Architecture, HRMConfig } from "../../src/model/config.js";
import { DEFAULT_CONFIG, makeConfig } from "../../src/model/config.js";
import { HRMParams } from "../../src/model/params.js";
import type { HostTensor } from "../../src/tensor.js";

/** tests/fixtures/ in the repository (this file runs as dist/tests/support/fixtures.js). */
export const FIXTURES_ROOT = fileURLToPath(new URL("../../../tests/fixtures/", import.meta.url));
export const OFFICIAL_FIXTURES = join(FIXTURES_ROOT, "hrm-official/");
export const TRM_OFFICIAL_FIXTURES = join(FIXTURES_ROOT, "trm-official/");
/** The ARC sample (Kaggle combined layout) and the Sudoku sample CSV; see tests/fixtures/README.md. */
export const ARC_SAMPLE = join(FIXTURES_ROOT, "data/arc/");
export const SUDOKU_SAMPLE = join(FIXTURES_ROOT, "data/sudoku/puzzles.csv");

export function fixtureDirs(architecture: Architecture = "hrm"): string[] {
  const [root, env] =
    architecture === "trm"
      ? [TRM_OFFICIAL_FIXTURES, process.env.TRM_FIXTURES]
      : [OFFICIAL_FIXTURES, process.env.HRM_FIXTURES];
  const roots = [root, ...(env ? [env] : [])];
  const dirs: string[] = [];
  for (const root of roots) {
    if (!existsSync(root)) throw new Error(`fixture root ${root} does not exist`);
    for (const name of readdirSync(root).sort()) {
      const dir = join(root, name);
      if (
        statSync(dir).isDirectory() &&
        existsSync(join(dir, "config.json")) &&
        existsSync(join(dir, "model.pt"))
      )
        dirs.push(dir);
    }
  }
  return dirs;
}

export class Fixture {
  readonly config: HRMConfig;
  readonly raw: Record<string, unknown>;
  constructor(
    readonly dir: string,
    readonly architecture: Architecture = "hrm",
  ) {
    this.raw = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    // Only the architecture keys; the fixture also records seeds, sizes and notes.
    const arch = Object.fromEntries(
      Object.entries(this.raw).filter(([k]) => k in DEFAULT_CONFIG),
    ) as Partial<HRMConfig>;
    // Every expected output was computed in float32 (bf16-buffers: by a float32 twin of its bfloat16 model).
    this.config = makeConfig({ ...arch, architecture, forward_dtype: "float32" });
  }
  has(rel: string): boolean {
    return existsSync(join(this.dir, rel));
  }
  npy(rel: string): HostTensor {
    return decodeNpy(readFileSync(join(this.dir, rel)), join(this.dir, rel));
  }
  f32(rel: string): Float32Array {
    return this.npy(rel).data as Float32Array;
  }
  i32(rel: string): Int32Array {
    const t = this.npy(rel);
    if (t.dtype === "int64") return Int32Array.from(t.data as BigInt64Array, Number);
    return t.data as Int32Array;
  }
  json(rel: string): Record<string, unknown> {
    return JSON.parse(readFileSync(join(this.dir, rel), "utf8"));
  }
  /** The fixture's batch/ folder as a model batch. */
  batch(): Batch {
    return {
      inputs: this.i32("batch/inputs.npy"),
      labels: this.i32("batch/labels.npy"),
      puzzle_identifiers: this.i32("batch/puzzle_identifiers.npy"),
    };
  }
  params(file = "model.pt", arch: Partial<HRMConfig> = {}): HRMParams {
    const p = new HRMParams({ ...this.config, ...arch });
    loadStateDict(p, readTorchCheckpoint(readFileSync(join(this.dir, file)), join(this.dir, file)), file);
    return p;
  }
  checkpoints(): string[] {
    return ["model.pt", "model_cuda_location.pt"].filter((f) => this.has(f));
  }
}
