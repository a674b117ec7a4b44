/**
 * `hrm export` on Node: our checkpoint as the state dict the official pretrain.py saves (torch.save zip,
 * "_orig_mod." names), plus the official all_config.yaml beside it (the run's own when the checkpoint sits in
 * a run directory, with the checkpoint's architecture), so that torch.load, load_state_dict(strict=True) and
 * the official evaluate.py take it.
 */
import { existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { encodeTorchCheckpoint } from "../io/torch-write.js";
import { decodeModelSafetensors, officialStateDict } from "../model/checkpoint.js";
import { nestConfig, resolveRunConfig, runConfigForModel } from "../train/config.js";
import type { OptionsOf, Schema } from "../util/options.js";
import { dumpYaml } from "../util/yaml.js";
import { readBytes, writeFileAtomic } from "./files.js";
import { ensureWritableDir, readText } from "./fs.js";

export class ExportError extends Error {}

export const EXPORT_OPTIONS = {
  checkpoint: { kind: "string", doc: "our .safetensors checkpoint (required)" },
  format: { kind: "string", default: "pt", doc: "pt: a torch.save state dict, as the official code writes" },
  output: { kind: "string", doc: "the .pt file to write (required); all_config.yaml goes beside it" },
} satisfies Schema;

export type ExportOptions = OptionsOf<typeof EXPORT_OPTIONS>;

/** Writes the .pt and all_config.yaml; returns what was written, one line each (and notes). */
export function exportCheckpoint(o: ExportOptions): string[] {
  const ck = o.checkpoint;
  const out = o.output;
  if (!ck || !out)
    throw new ExportError("hrm export needs checkpoint=<file.safetensors> and output=<file.pt>");
  if (o.format !== "pt") throw new ExportError(`format=${o.format}: only pt is supported`);
  if (!ck.endsWith(".safetensors"))
    throw new ExportError(`${ck}: hrm export reads our .safetensors checkpoints`);
  const params = decodeModelSafetensors(readBytes(ck), ck);
  const runCfgPath = join(dirname(ck), "all_config.yaml");
  const base = existsSync(runCfgPath) ? resolveRunConfig([], runCfgPath, readText) : undefined;
  const yaml = dumpYaml(nestConfig(runConfigForModel(params.config, base)));
  const cfgOut = join(dirname(out), "all_config.yaml");
  if (existsSync(cfgOut) && readText(cfgOut) !== yaml)
    throw new ExportError(`${cfgOut} exists with another config; export into a directory of its own`);
  ensureWritableDir(dirname(out));
  const archive = basename(out).replace(/\.[^.]*$/, "") || "archive";
  writeFileAtomic(out, encodeTorchCheckpoint(officialStateDict(params), archive));
  writeFileAtomic(cfgOut, yaml);
  const notes = [
    `${out}: ${params.specs.length} tensors, ${params.data.length.toLocaleString("en")} parameters`,
  ];
  notes.push(
    `${cfgOut}: the official run config${base ? ` (from ${runCfgPath})` : " (defaults: set data_path before evaluate.py)"}`,
  );
  if (params.config.puzzle_emb_ndim === 0 && params.config.architecture === "hrm")
    notes.push(
      "note: puzzle_emb_ndim is 0: the official HRM pretrain.py/evaluate.py cannot build such a model (its create_model needs a puzzle embedding); torch.load and load_state_dict read the file",
    );
  return notes;
}
