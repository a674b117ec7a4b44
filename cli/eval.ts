/**
 * `hrm eval checkpoint=<file> data_path=<dir>`: official evaluation of an official .pt checkpoint or ours
 * (.safetensors) on a dataset's test split; `sweep_steps=1,2,4,8,16` reports each segment limit in one pass.
 * For .pt files the architecture is the official default overridden by arch.* options, with vocab, seq_len and
 * puzzle count taken from the dataset (as pretrain.py does).
 */
import { basename } from "node:path";
import { HRMInner } from "../src/model/inner.js";
import type { HRMConfig } from "../src/model/config.js";
import { DEFAULT_CONFIG, makeConfig } from "../src/model/config.js";
import { decodeModelSafetensors, loadStateDict } from "../src/model/checkpoint.js";
import { HRMParams } from "../src/model/params.js";
import { readTorchCheckpoint } from "../src/io/torch.js";
import { getKernels } from "../src/node.js";
import { readBytes, readSplit } from "../src/platform/files.js";
import { evaluate, evaluateSweep } from "../src/train/trainer.js";
import type { Options, Schema } from "./parse.js";
import { CliError } from "./parse.js";

export const EVAL_SCHEMA: Schema = {
  checkpoint: { type: "string", doc: "official .pt state dict or our .safetensors checkpoint (required)" },
  data_path: { type: "string", doc: "dataset directory with a test/ split (required)" },
  global_batch_size: { type: "int", default: 64, doc: "evaluation batch size" },
  sweep_steps: {
    type: "string",
    doc: "comma-separated segment limits to report in one pass, e.g. 1,2,4,8,16",
  },
  ...(Object.fromEntries(
    Object.entries(DEFAULT_CONFIG)
      .filter(([k]) => !["batch_size", "seq_len", "vocab_size", "num_puzzle_identifiers"].includes(k))
      .map(([k, v]) => [
        `arch.${k}`,
        {
          type: typeof v === "number" ? (Number.isInteger(v) ? "int" : "float") : "string",
          doc: `architecture: ${k}`,
          default: undefined,
        },
      ]),
  ) as Schema),
};

export function runEval(o: Options): void {
  if (!o.checkpoint || !o.data_path)
    throw new CliError("hrm eval needs checkpoint=<file> and data_path=<dir>");
  const ck = o.checkpoint as string;
  const test = readSplit(o.data_path as string, "test");
  const B = o.global_batch_size as number;
  const arch: Partial<HRMConfig> = {};
  for (const [k, v] of Object.entries(o))
    if (k.startsWith("arch.") && v !== undefined) (arch as Record<string, unknown>)[k.slice(5)] = v;
  let params: HRMParams;
  if (ck.endsWith(".safetensors")) {
    const p = decodeModelSafetensors(readBytes(ck), ck);
    params = new HRMParams(makeConfig({ ...p.config, ...arch, batch_size: B }));
    params.data.set(p.data);
  } else {
    const m = test.metadata;
    params = new HRMParams(
      makeConfig({
        ...arch,
        batch_size: B,
        seq_len: m.seq_len,
        vocab_size: m.vocab_size,
        num_puzzle_identifiers: m.num_puzzle_identifiers,
      }),
    );
    loadStateDict(params, readTorchCheckpoint(readBytes(ck), ck), ck);
  }
  if (params.config.forward_dtype === "bfloat16")
    console.warn("forward_dtype bfloat16: computed in float32 for now");
  const inner = new HRMInner(params, getKernels());
  const t0 = performance.now();
  const results: Record<string, number> = {};
  for (const [name, set] of test.sets) {
    const limits = o.sweep_steps ? (o.sweep_steps as string).split(",").map(Number) : null;
    if (limits && limits.some((s) => !Number.isInteger(s) || s < 1))
      throw new CliError(`sweep_steps=${o.sweep_steps}: expected positive integers`);
    Object.assign(
      results,
      limits
        ? evaluateSweep(inner, set, test.metadata, B, limits, name)
        : evaluate(inner, set, test.metadata, B, name),
    );
  }
  console.log(
    `${basename(ck)} on ${o.data_path}/test (${getKernels().backendName}, ${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
  for (const [k, v] of Object.entries(results)) console.log(`  ${k.padEnd(28)} ${v.toFixed(4)}`);
}
