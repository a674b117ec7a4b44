/**
 * Model checkpoints: official PyTorch state dicts (keys "model.inner.<name>", optionally "_orig_mod."-prefixed)
 * and our safetensors files with the same keys and the config in the metadata. Loading validates names and
 * shapes against the config and says exactly what does not match.
 */
import { decodeSafetensors, encodeSafetensors } from "../io/safetensors.js";
import type { HostTensor } from "../tensor.js";
import { toFloat32 } from "../tensor.js";
import type { HRMConfig } from "./config.js";
import { makeConfig } from "./config.js";
import { HRMParams } from "./params.js";

export class ModelCheckpointError extends Error {}

/** The prefix official checkpoints use (ACTLossHead(model).model.inner under torch.compile). */
export const OFFICIAL_PREFIX = "_orig_mod.model.inner.";

/** Strips "_orig_mod." and "model.inner." so official, uncompiled and our names compare equal. */
export function canonicalName(key: string): string {
  let k = key.startsWith("_orig_mod.") ? key.slice("_orig_mod.".length) : key;
  if (k.startsWith("model.inner.")) k = k.slice("model.inner.".length);
  return k;
}

/** Copies a state dict into params, checking every name and shape; `file` names the source in errors. */
export function loadStateDict(params: HRMParams, tensors: Map<string, HostTensor>, file: string): void {
  const seen = new Set<string>();
  const unexpected: string[] = [];
  for (const [key, t] of tensors) {
    const name = canonicalName(key);
    if (!params.has(name)) {
      unexpected.push(key);
      continue;
    }
    const spec = params.specs.find((s) => s.name === name)!;
    if (t.shape.length !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i])) {
      let hint = "";
      if (name === "puzzle_emb.weights" && t.shape[1] === spec.shape[1])
        hint = ` (the checkpoint has ${t.shape[0]} puzzle embeddings, the config ${spec.shape[0]}: the dataset's puzzle count differs; set num_puzzle_identifiers=${t.shape[0]} or use the checkpoint's dataset)`;
      throw new ModelCheckpointError(
        `${file}: ${key} has shape [${t.shape}], the config needs [${spec.shape}]${hint}`,
      );
    }
    params.get(name).set(toFloat32(t, `${file}: ${key}`));
    seen.add(name);
  }
  const missing = params.specs.map((s) => s.name).filter((n) => !seen.has(n));
  if (unexpected.length || missing.length)
    throw new ModelCheckpointError(
      `${file}: state dict does not match the config:` +
        (missing.length ? ` missing ${missing.join(", ")};` : "") +
        (unexpected.length ? ` unexpected ${unexpected.join(", ")}` : ""),
    );
}

/** Our checkpoint: safetensors with the official key names; the config as JSON in the metadata. */
export function encodeModelSafetensors(params: HRMParams, extra: Record<string, string> = {}): Uint8Array {
  const tensors = new Map<string, HostTensor>();
  for (const s of params.specs)
    tensors.set(OFFICIAL_PREFIX + s.name, { dtype: "float32", shape: s.shape, data: params.get(s.name) });
  return encodeSafetensors(tensors, { format: "hrm-ts", config: JSON.stringify(params.config), ...extra });
}

/** Reads our safetensors checkpoint: the config from its metadata, then the tensors. */
export function decodeModelSafetensors(bytes: Uint8Array, file: string): HRMParams {
  const { tensors, metadata } = decodeSafetensors(bytes, file);
  if (!metadata.config)
    throw new ModelCheckpointError(
      `${file}: no config in the safetensors metadata (not an hrm-ts checkpoint?)`,
    );
  const params = new HRMParams(makeConfig(JSON.parse(metadata.config) as Partial<HRMConfig>));
  loadStateDict(params, tensors, file);
  return params;
}
