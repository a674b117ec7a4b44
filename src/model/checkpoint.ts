/**
 * Model checkpoints: official PyTorch state dicts (keys "model.inner.<name>", optionally "_orig_mod."-prefixed)
 * and our safetensors files with the same keys and the config in the metadata. Loading validates names and
 * shapes against the config and says exactly what does not match.
 */
import { decodeSafetensors, encodeSafetensors } from "../io/safetensors.js";
import type { HostTensor } from "../tensor.js";
import { toBfloat16Bits, toFloat32 } from "../tensor.js";
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

/** Config keys that change how a trained model runs, not what its weights mean: free to override at load. */
export const RUNTIME_KEYS: readonly (keyof HRMConfig)[] = [
  "batch_size",
  "H_cycles",
  "L_cycles",
  "halt_max_steps",
  "halt_exploration_prob",
  "forward_dtype",
  "loss_type",
];

/** The dtypes a stored tensor may have: float32, and for H_init/L_init the bfloat16 the official code keeps. */
function allowedDtypes(name: string): readonly string[] {
  return name === "H_init" || name === "L_init" ? ["float32", "bfloat16"] : ["float32"];
}

/** At most `max` names, then a count: error lines stay one bounded line. */
export function nameList(names: string[], max = 5): string {
  return names.length <= max
    ? names.join(", ")
    : `${names.slice(0, max).join(", ")} and ${names.length - max} more`;
}

/**
 * Copies a state dict into params, checking every tensor's name, shape and dtype against the model; the error
 * names the first mismatch. `file` names the source in errors.
 */
export function loadStateDict(params: HRMParams, tensors: Map<string, HostTensor>, file: string): void {
  const seen = new Set<string>();
  const unexpected: string[] = [];
  for (const [key, t] of tensors) {
    const name = canonicalName(key);
    if (!params.has(name)) {
      unexpected.push(key);
      continue;
    }
    if (seen.has(name)) throw new ModelCheckpointError(`${file}: ${key} appears twice (as ${name})`);
    const spec = params.specs.find((s) => s.name === name)!;
    if (t.shape.length !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i])) {
      let hint = "";
      if (name === "puzzle_emb.weights" && t.shape[1] === spec.shape[1])
        hint = ` (the checkpoint has ${t.shape[0]} puzzle embeddings, the config ${spec.shape[0]}: the dataset's puzzle count differs; set num_puzzle_identifiers=${t.shape[0]} or use the checkpoint's dataset)`;
      throw new ModelCheckpointError(
        `${file}: ${key} has shape [${t.shape}], the config needs [${spec.shape}]${hint}`,
      );
    }
    if (!allowedDtypes(name).includes(t.dtype))
      throw new ModelCheckpointError(
        `${file}: ${key} is ${t.dtype}, the model needs ${allowedDtypes(name).join(" or ")}`,
      );
    params.get(name).set(toFloat32(t, `${file}: ${key}`));
    seen.add(name);
  }
  const missing = params.specs.map((s) => s.name).filter((n) => !seen.has(n));
  if (unexpected.length || missing.length)
    throw new ModelCheckpointError(
      `${file}: state dict does not match the config:` +
        (missing.length ? ` missing ${nameList(missing)};` : "") +
        (unexpected.length ? ` unexpected ${nameList(unexpected)}` : ""),
    );
}

/**
 * The state dict the official pretrain.py would save for this model: "_orig_mod.model.inner." names, float32
 * weights, and H_init / L_init in the forward dtype (bfloat16 by default), as the official buffers are.
 */
export function officialStateDict(params: HRMParams): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  const bf16 = params.config.forward_dtype === "bfloat16";
  for (const s of params.specs) {
    const data = params.get(s.name);
    const init = s.name === "H_init" || s.name === "L_init";
    out.set(
      OFFICIAL_PREFIX + s.name,
      init && bf16
        ? { dtype: "bfloat16", shape: s.shape, data: toBfloat16Bits(data) }
        : { dtype: "float32", shape: s.shape, data },
    );
  }
  return out;
}

/** Our checkpoint: safetensors with the official key names; the config as JSON in the metadata. */
export function encodeModelSafetensors(params: HRMParams, extra: Record<string, string> = {}): Uint8Array {
  const tensors = new Map<string, HostTensor>();
  for (const s of params.specs)
    tensors.set(OFFICIAL_PREFIX + s.name, { dtype: "float32", shape: s.shape, data: params.get(s.name) });
  return encodeSafetensors(tensors, { format: "hrm-ts", config: JSON.stringify(params.config), ...extra });
}

/** The config stored in our checkpoint's metadata, validated. */
function storedConfig(metadata: Record<string, string>, file: string): HRMConfig {
  if (typeof metadata.config !== "string")
    throw new ModelCheckpointError(
      `${file}: no config in the safetensors metadata (not an hrm-ts checkpoint?)`,
    );
  let raw: unknown;
  try {
    raw = JSON.parse(metadata.config);
  } catch (e) {
    throw new ModelCheckpointError(`${file}: metadata.config is not valid JSON (${(e as Error).message})`);
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw))
    throw new ModelCheckpointError(`${file}: metadata.config is not a JSON object`);
  try {
    return makeConfig(raw as Partial<HRMConfig>);
  } catch (e) {
    throw new ModelCheckpointError(`${file}: metadata.config: ${(e as Error).message}`);
  }
}

/**
 * Reads our safetensors checkpoint: the architecture from its own config, with `overrides` applied. Overrides of
 * RUNTIME_KEYS are free; any other override must equal the checkpoint's value (the weights were trained with it),
 * else the error names the key and both values. Every tensor is then checked by name, shape and dtype.
 */
export function decodeModelSafetensors(
  bytes: Uint8Array,
  file: string,
  overrides: Partial<HRMConfig> = {},
): HRMParams {
  const { tensors, metadata } = decodeSafetensors(bytes, file);
  const stored = storedConfig(metadata, file);
  for (const [k, v] of Object.entries(overrides) as [keyof HRMConfig, unknown][])
    if (!RUNTIME_KEYS.includes(k) && k in stored && stored[k] !== v)
      throw new ModelCheckpointError(
        `${file}: ${k}=${JSON.stringify(v)} contradicts the checkpoint's ${k}=${JSON.stringify(stored[k])} ` +
          `(its weights were trained with it; only ${RUNTIME_KEYS.join(", ")} may change at load)`,
      );
  const params = new HRMParams(makeConfig({ ...stored, ...overrides }));
  loadStateDict(params, tensors, file);
  return params;
}
