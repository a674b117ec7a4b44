/**
 * The training run's configuration with the official structure and names (cfg_pretrain.yaml at the top level,
 * arch/hrm_v1.yaml under `arch`), resolved in layers: official defaults, then a YAML file (its hydra-style
 * `defaults: [arch: <name>]` pulls in arch/<name>.yaml next to it), then `key=value` / `arch.key=value`
 * overrides. `${.key}` / `${key}` interpolations resolve at the end. Every key is typed; unknown keys and bad
 * values are errors that name the key and where it came from. Pure: files are read through a callback.
 */
import type { Architecture, HRMConfig } from "../model/config.js";
import { ConfigError, DEFAULT_CONFIG, defaultConfig, makeConfig } from "../model/config.js";
import type { OptionKind, OptionSpec, OptionsOf, Schema } from "../util/options.js";
import { fromYaml, opt, OptionError } from "../util/options.js";
import type { YamlValue } from "../util/yaml.js";
import { parseYaml } from "../util/yaml.js";
import { clip, describe } from "../io/limits.js";
import { OUTPUT_KEYS } from "../eval/outputs.js";
import type { TrainConfig } from "./trainer.js";

/** A run config error: one line naming the key and where its value came from (file, command line). */
export class RunConfigError extends OptionError {}

/** The config while it is being resolved: dotted keys, YAML values (RunConfig once checked). */
type Flat = Record<string, YamlValue>;
const flatOf = (cfg: RunConfig): Flat => cfg as unknown as Flat;

/** What arch.<key> means; kinds and defaults come from the model config (DEFAULT_CONFIG), the one source. */
const ARCH_DOCS = {
  halt_exploration_prob: "ACT exploration probability",
  halt_max_steps: "ACT segment limit",
  H_cycles: "high-level cycles per segment",
  L_cycles: "low-level steps per high-level cycle",
  H_layers: "transformer blocks in H",
  L_layers: "transformer blocks in L",
  hidden_size: "model width",
  num_heads: "attention heads",
  expansion: "SwiGLU expansion",
  puzzle_emb_ndim: "puzzle embedding width (0 disables)",
  pos_encodings: "rope | learned",
  rms_norm_eps: "RMSNorm epsilon",
  rope_theta: "RoPE base",
  forward_dtype: "bfloat16 (matmul inputs rounded to bfloat16, float32 accumulation) | float32",
  puzzle_emb_len: "TRM: positions of the puzzle embedding (0: ceil(puzzle_emb_ndim / hidden_size))",
  mlp_t: "TRM: mix positions with a SwiGLU over the sequence instead of attention",
  no_ACT_continue: "TRM: halt when q_halt > 0, no Q-continue target (false: HRM's rule)",
  bptt: "HRM: backpropagate through every cycle of a segment, not the 1-step gradient (hrm-ts option)",
} satisfies Partial<Record<keyof HRMConfig, string>>;
type ArchKey = keyof typeof ARCH_DOCS;
const ARCH_FLOATS = new Set(["halt_exploration_prob", "expansion", "rms_norm_eps", "rope_theta"]);
/** Keys only TRM has: an HRM run's all_config.yaml leaves them out, as the official HRM config does. */
const TRM_ONLY_KEYS = ["puzzle_emb_len", "mlp_t", "no_ACT_continue"];

/** The official model class names (arch.name) and the short names hrm-ts also takes. */
export const ARCH_NAMES: Record<Architecture, string> = {
  hrm: "hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1",
  trm: "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1",
};

/** The architecture an arch.name names: "hrm", "trm" or an official class name (either code base's). */
export function architectureOf(name: string): Architecture | null {
  if (name === "hrm" || name === "trm") return name;
  if (/@HierarchicalReasoningModel_ACTV1$/.test(name)) return "hrm";
  if (/@TinyRecursiveReasoningModel_ACTV1$/.test(name)) return "trm";
  return null;
}

/** The kind of model config key k, from its default value (DEFAULT_CONFIG, the one source). */
function archKind(k: ArchKey): OptionKind {
  const v = DEFAULT_CONFIG[k];
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "bool";
  return ARCH_FLOATS.has(k) ? "float" : "int";
}

function archSpecs(): Schema {
  const out: Schema = {};
  for (const [k, doc] of Object.entries(ARCH_DOCS) as [ArchKey, string][])
    // hrm_v1.yaml ties the puzzle embedding width to the model width.
    out[`arch.${k}`] = opt(archKind(k), k === "puzzle_emb_ndim" ? "${.hidden_size}" : DEFAULT_CONFIG[k], doc);
  return out;
}

/**
 * The model's arch.* keys as options without defaults (set only where given), for commands that take a model
 * config on the command line (hrm eval); arch.loss_type is the model config's name for arch.loss.loss_type.
 */
export function archOptionSpecs(): Schema {
  const out: Schema = {};
  for (const [k, spec] of Object.entries(archSpecs()))
    out[k] = { kind: spec.kind, doc: `architecture: ${spec.doc}` };
  out["arch.loss_type"] = {
    kind: "string",
    doc: "architecture: stablemax_cross_entropy | softmax_cross_entropy",
  };
  return out;
}

/** The keys of cfg_pretrain.yaml (and hrm-ts's own), with the official defaults. */
const TOP_SPEC = {
  data_path: opt("string?", null, "dataset directory (official layout) (required)"),
  global_batch_size: opt("int", 768, "examples per optimiser step"),
  epochs: opt("int", 100000, "passes over the training groups"),
  eval_interval: opt("int?", 10000, "epochs per train/eval iteration; must divide epochs"),
  checkpoint_every_eval: opt("bool", true, "write a checkpoint at every evaluation"),
  checkpoint_every_steps: opt("int?", null, "hrm-ts: also write a checkpoint every N steps"),
  keep_last: opt(
    "int?",
    null,
    "hrm-ts: keep only the newest N checkpoints (default null: all, as the official code)",
  ),
  lr: opt("float", 1e-4, "AdamATan2 learning rate (peak)"),
  lr_min_ratio: opt("float", 1.0, "cosine decay floor, as a fraction of lr"),
  lr_warmup_steps: opt("int", 2000, "linear warm-up steps"),
  beta1: opt("float", 0.9, "AdamATan2 beta1"),
  beta2: opt("float", 0.95, "AdamATan2 beta2"),
  weight_decay: opt("float", 0.1, "AdamATan2 decoupled weight decay"),
  puzzle_emb_weight_decay: opt("float", 0.1, "sign-SGD weight decay for puzzle embeddings"),
  puzzle_emb_lr: opt("float", 1e-2, "sign-SGD learning rate for puzzle embeddings"),
  project_name: opt("string?", null, "run group name (default: from data_path)"),
  run_name: opt("string?", null, "run name (default: hrm-<date>-<time>)"),
  checkpoint_path: opt("string?", null, "run directory (default: checkpoints/<project_name>/<run_name>)"),
  init_from: opt(
    "string?",
    null,
    "hrm-ts: start from these weights (.pt or ours), with fresh optimiser state",
  ),
  seed: opt("int", 0, "random seed (init, data order, exploration)"),
  eval_save_outputs: opt("list", [], "outputs saved at evaluation as .npy (e.g. [logits, q_halt_logits])"),
  data_paths: opt("list", [], "TRM's cfg_pretrain.yaml: dataset directories (hrm-ts: one, as data_path)"),
  data_paths_test: opt(
    "list",
    [],
    "TRM's cfg_pretrain.yaml: separate test directories (hrm-ts: none; [] only)",
  ),
  evaluators: opt("list", [], "TRM's cfg_pretrain.yaml: evaluator names (hrm-ts: ARC voting is hrm eval's)"),
  min_eval_interval: opt("int", 0, "first train/eval iteration that evaluates (TRM's cfg_pretrain.yaml)"),
  freeze_weights: opt(
    "bool",
    false,
    "TRM's cfg_pretrain.yaml: train only the puzzle embeddings (hrm-ts: false only)",
  ),
  supervision_curriculum: opt("bool", false, "TRM's cfg_pretrain.yaml (hrm-ts: false only)"),
  curriculum_min_depth: opt("int", 2, "TRM's cfg_pretrain.yaml, used only with supervision_curriculum"),
  curriculum_max_depth: opt("int", 16, "TRM's cfg_pretrain.yaml, used only with supervision_curriculum"),
  curriculum_warmup_epochs: opt("int", 1, "TRM's cfg_pretrain.yaml, used only with supervision_curriculum"),
  ema: opt(
    "bool",
    false,
    "evaluate and checkpoint an exponential moving average of the weights (TRM's runs: true)",
  ),
  ema_rate: opt("float", 0.999, "EMA rate mu: shadow = (1 - mu) * weights + mu * shadow after every step"),
  "arch.name": opt("string", ARCH_NAMES.hrm, "model class: hrm or trm, or the official class name"),
  "arch.loss.name": opt("string", "losses@ACTLossHead", "loss head (official name)"),
  "arch.loss.loss_type": opt(
    "string",
    DEFAULT_CONFIG.loss_type,
    "stablemax_cross_entropy | softmax_cross_entropy",
  ),
};

/** Every key, dotted, with the official default (cfg_pretrain.yaml + arch/hrm_v1.yaml). */
export const RUN_SPEC: Schema = { ...TOP_SPEC, ...archSpecs() };

/** The resolved run config: every key of RUN_SPEC with its type (arch.* typed as the model config's). */
export type RunConfig = OptionsOf<typeof TOP_SPEC> & { [K in ArchKey as `arch.${K}`]: HRMConfig[K] };

/** Flattens a nested mapping into dotted keys ("arch.loss.name"). */
function flatten(v: { [k: string]: YamlValue }, prefix = "", out: Flat = {}): Flat {
  for (const [k, x] of Object.entries(v)) {
    const key = prefix + k;
    if (x !== null && typeof x === "object" && !Array.isArray(x) && !(key in RUN_SPEC))
      flatten(x, `${key}.`, out);
    else out[key] = x;
  }
  return out;
}

function check(key: string, v: YamlValue, where: string): YamlValue {
  const spec: OptionSpec | undefined = RUN_SPEC[key];
  if (!spec) {
    const near = Object.keys(RUN_SPEC).filter((k) => k.endsWith(`.${key}`) || key.endsWith(`.${k}`));
    throw new RunConfigError(
      `${where}: unknown key "${key}"${near.length ? ` (did you mean ${near.join(", ")}?)` : ""}`,
    );
  }
  try {
    return fromYaml(key, v, spec, where);
  } catch (e) {
    throw e instanceof OptionError && !(e instanceof RunConfigError) ? new RunConfigError(e.message) : e;
  }
}

/** Where each key's value came from (a file, "command line"); keys not in it have their default. */
type Origins = Map<string, string>;

/** Reads a YAML file's keys into the config; `defaults: [arch: name]` loads arch/<name>.yaml first. */
function applyFile(
  cfg: Flat,
  origin: Origins,
  path: string,
  read: (path: string) => string,
  asArch = false,
): void {
  const doc = parseYaml(read(path), path);
  if (doc === null) return;
  if (typeof doc !== "object" || Array.isArray(doc)) throw new RunConfigError(`${path}: expected a mapping`);
  const { defaults, hydra: _hydra, ...rest } = doc;
  if (defaults !== undefined) {
    if (!Array.isArray(defaults)) throw new RunConfigError(`${path}: defaults must be a list`);
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/") + 1) : "";
    for (const d of defaults) {
      if (d === "_self_") continue;
      const arch = d !== null && typeof d === "object" && !Array.isArray(d) ? d.arch : undefined;
      if (typeof arch !== "string")
        throw new RunConfigError(`${path}: unsupported defaults entry ${JSON.stringify(d)}`);
      const archPath = `${dir}arch/${arch}.yaml`;
      try {
        applyFile(cfg, origin, archPath, read, true);
      } catch (e) {
        if ((e as Error).message.startsWith(`${path}:`)) throw e;
        throw new RunConfigError(
          `${path}: defaults entry "arch: ${clip(arch)}": ${clip((e as Error).message, 200)}`,
        );
      }
    }
  }
  const flat = flatten(asArch ? { arch: rest } : rest);
  for (const [k, v] of Object.entries(flat)) {
    cfg[k] = check(k, v, path);
    origin.set(k, path);
  }
}

/**
 * arch.name picks the architecture, and with it the defaults of the arch.* keys nothing set: TRM's are its
 * official arch/trm.yaml. An unknown name is an error that lists the known ones.
 */
function applyArchDefaults(cfg: Flat, origin: Origins): void {
  const name = cfg["arch.name"] as string;
  const arch = architectureOf(name);
  if (!arch)
    throw new RunConfigError(
      `${origin.get("arch.name") ?? "defaults"}: arch.name=${describe(name)}: unknown model (known: hrm, trm, ${ARCH_NAMES.hrm}, ${ARCH_NAMES.trm})`,
    );
  if (name === arch) cfg["arch.name"] = ARCH_NAMES[arch]; // all_config.yaml names the official class
  if (arch === "hrm") return;
  const trm = defaultConfig("trm");
  for (const k of Object.keys(ARCH_DOCS) as ArchKey[])
    if (!origin.has(`arch.${k}`) && k !== "puzzle_emb_ndim") cfg[`arch.${k}`] = trm[k];
}

/** Resolves `${.key}` (same section) and `${key}` (top level) references. */
function interpolate(cfg: Flat, origin: Origins): void {
  for (const [k, v] of Object.entries(cfg)) {
    if (typeof v !== "string" || !v.startsWith("${")) continue;
    const m = /^\$\{(\.?)([\w.]+)\}$/.exec(v);
    const section = k.includes(".") ? k.slice(0, k.lastIndexOf(".") + 1) : "";
    const target = m ? (m[1] ? section : "") + m[2] : "";
    const where = origin.get(k) ?? "defaults";
    if (!m || !Object.prototype.hasOwnProperty.call(cfg, target))
      throw new RunConfigError(`${where}: ${k}=${clip(v)}: cannot resolve the reference`);
    cfg[k] = check(k, cfg[target], `${where}: ${k}=${v}`);
  }
}

/**
 * Official defaults <- YAML file (optional) <- `key=value` overrides (values read as YAML scalars, lists as
 * `a,b` or `[a, b]`). Returns the flat, typed, dotted config.
 */
export function resolveRunConfig(
  overrides: string[],
  configFile?: string,
  read?: (path: string) => string,
): RunConfig {
  const cfg = defaults();
  const origin: Origins = new Map();
  if (configFile) {
    if (!read) throw new RunConfigError("a config file needs a reader");
    applyFile(cfg, origin, configFile, read);
  }
  const seen = new Set<string>();
  for (const w of overrides) {
    const eq = w.indexOf("=");
    if (eq <= 0) throw new RunConfigError(`"${w}": overrides are written key=value (e.g. arch.L_cycles=4)`);
    const key = w.slice(0, eq);
    if (seen.has(key)) throw new RunConfigError(`override "${key}" given twice`);
    seen.add(key);
    const raw = w.slice(eq + 1);
    const spec = RUN_SPEC[key];
    const value =
      spec && (spec.kind === "string" || spec.kind === "string?") && raw !== "null" ? raw : parseYaml(raw);
    cfg[key] = check(key, value, "command line");
    origin.set(key, "command line");
  }
  return finish(cfg, origin);
}

/** Every key at its official default. */
const defaults = (): Flat =>
  Object.fromEntries(Object.entries(RUN_SPEC).map(([k, v]) => [k, v.default ?? null]));

/** The layers applied: architecture defaults, references, then every check; the config is now typed. */
function finish(cfg: Flat, origin: Origins): RunConfig {
  applyArchDefaults(cfg, origin);
  interpolate(cfg, origin);
  validate(cfg, origin);
  return cfg as unknown as RunConfig;
}

/**
 * The run config from values with the official names, over the official defaults: nested as in
 * all_config.yaml (`{ lr: 1e-3, arch: { L_cycles: 4 } }`) or dotted (`{ "arch.L_cycles": 4 }`). Checked as
 * resolveRunConfig checks a file; errors name the key.
 */
export function makeRunConfig(values: { [k: string]: YamlValue } = {}): RunConfig {
  const cfg = defaults();
  const origin: Origins = new Map();
  for (const [k, v] of Object.entries(flatten(values))) {
    cfg[k] = check(k, v, "config");
    origin.set(k, "config");
  }
  return finish(cfg, origin);
}

/** Checks values against each other and their ranges; errors name where the value was set. */
function validate(cfg: Flat, origin: Origins): void {
  const num = (k: string) => cfg[k] as number;
  const need = (ok: boolean, k: string, what: string) => {
    if (!ok) throw new RunConfigError(`${origin.get(k) ?? "defaults"}: ${k}=${describe(cfg[k])}: ${what}`);
  };
  need(num("global_batch_size") >= 1, "global_batch_size", "must be at least 1");
  need(num("epochs") >= 1, "epochs", "must be at least 1");
  const ei = cfg.eval_interval as number | null;
  if (ei !== null) {
    need(ei >= 1, "eval_interval", "must be at least 1");
    need(
      num("epochs") % ei === 0,
      "eval_interval",
      `must divide epochs (${num("epochs")}) from ${origin.get("epochs") ?? "defaults"}, as in the official code`,
    );
  }
  need(num("lr") >= 0, "lr", "must be non-negative");
  need(num("lr_min_ratio") >= 0 && num("lr_min_ratio") <= 1, "lr_min_ratio", "must be in [0, 1]");
  need(num("lr_warmup_steps") >= 0, "lr_warmup_steps", "must be non-negative");
  need(num("beta1") >= 0 && num("beta1") < 1, "beta1", "must be in [0, 1)");
  need(num("beta2") >= 0 && num("beta2") < 1, "beta2", "must be in [0, 1)");
  need(num("ema_rate") >= 0 && num("ema_rate") <= 1, "ema_rate", "must be in [0, 1]");
  need(num("min_eval_interval") >= 0, "min_eval_interval", "must be non-negative");
  need(cfg.freeze_weights === false, "freeze_weights", "is not supported by hrm-ts (only false)");
  need(
    cfg.supervision_curriculum === false,
    "supervision_curriculum",
    "is not supported by hrm-ts (only false)",
  );
  need(
    (cfg.data_paths_test as YamlValue[]).length === 0,
    "data_paths_test",
    "is not supported: hrm-ts evaluates data_path's test split",
  );
  dataPaths(cfg, origin);
  const ce = cfg.checkpoint_every_steps as number | null;
  need(ce === null || ce >= 1, "checkpoint_every_steps", "must be at least 1 (or null)");
  const kl = cfg.keep_last as number | null;
  need(kl === null || kl >= 1, "keep_last", "must be at least 1 (or null to keep every checkpoint)");
  const outs: readonly string[] = OUTPUT_KEYS;
  for (const o of cfg.eval_save_outputs as string[])
    if (!outs.includes(o))
      throw new RunConfigError(
        `${origin.get("eval_save_outputs") ?? "defaults"}: eval_save_outputs: unknown output ${describe(o)} (available: ${outs.join(", ")})`,
      );
  need(
    ["stablemax_cross_entropy", "softmax_cross_entropy"].includes(cfg["arch.loss.loss_type"] as string),
    "arch.loss.loss_type",
    "must be stablemax_cross_entropy or softmax_cross_entropy",
  );
  checkArch(cfg, origin);
}

/** TRM's data_paths: one directory, which is data_path (given both, they must agree). */
function dataPaths(cfg: Flat, origin: Origins): void {
  const paths = cfg.data_paths as YamlValue[];
  if (paths.length === 0) return;
  const where = origin.get("data_paths") ?? "defaults";
  if (paths.length > 1 || typeof paths[0] !== "string")
    throw new RunConfigError(
      `${where}: data_paths=${describe(paths)}: hrm-ts trains on one dataset directory`,
    );
  const dp = cfg.data_path as string | null;
  if (dp !== null && dp !== paths[0])
    throw new RunConfigError(
      `${where}: data_paths=${describe(paths)} disagrees with data_path=${describe(dp)}`,
    );
  cfg.data_path = paths[0];
  cfg.data_paths = [];
}

/** Model config keys that the run config names otherwise. */
const RUN_KEY_OF_ARCH: Record<string, string> = {
  batch_size: "global_batch_size",
  loss_type: "arch.loss.loss_type",
};

/** The arch.* values checked now, as the model will (dataset sizes as placeholders), naming where each was set. */
function checkArch(cfg: Flat, origin: Origins): void {
  try {
    archConfig(cfg as unknown as RunConfig, { seq_len: 1, vocab_size: 2, num_puzzle_identifiers: 1 });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const key = /^config (\w+) =/.exec(e.message)?.[1] ?? "";
    const name = RUN_KEY_OF_ARCH[key] ?? `arch.${key}`;
    throw new RunConfigError(
      `${origin.get(name) ?? "defaults"}: ${name}${e.message.replace(/^config \w+/, "")}`,
    );
  }
}

/**
 * A run config whose arch.* are exactly a model's (the weights define the architecture): `base` (a run's
 * all_config.yaml, or the official defaults) with every architecture key set from `c`.
 */
export function runConfigForModel(c: HRMConfig, base?: RunConfig): RunConfig {
  const cfg: Flat = base ? { ...flatOf(base) } : defaults();
  for (const k of Object.keys(ARCH_DOCS) as ArchKey[]) cfg[`arch.${k}`] = c[k];
  cfg["arch.loss.loss_type"] = c.loss_type;
  if (architectureOf(cfg["arch.name"] as string) !== c.architecture)
    cfg["arch.name"] = ARCH_NAMES[c.architecture];
  return cfg as unknown as RunConfig;
}

/** The model config for a dataset: arch.* plus the sizes the dataset fixes (as create_model does). */
export function archConfig(
  cfg: RunConfig,
  meta: { seq_len: number; vocab_size: number; num_puzzle_identifiers: number },
): HRMConfig {
  const flat = flatOf(cfg);
  const arch = Object.fromEntries(
    Object.keys(ARCH_DOCS).map((k) => [k, flat[`arch.${k}`]]),
  ) as Partial<HRMConfig>;
  return makeConfig({
    ...arch,
    architecture: architectureOf(cfg["arch.name"]) ?? undefined,
    batch_size: cfg.global_batch_size,
    seq_len: meta.seq_len,
    vocab_size: meta.vocab_size,
    num_puzzle_identifiers: meta.num_puzzle_identifiers,
    loss_type: cfg["arch.loss.loss_type"] as HRMConfig["loss_type"],
  });
}

export function trainConfig(cfg: RunConfig): TrainConfig {
  return {
    global_batch_size: cfg.global_batch_size,
    epochs: cfg.epochs,
    eval_interval: cfg.eval_interval ?? undefined,
    lr: cfg.lr,
    lr_min_ratio: cfg.lr_min_ratio,
    lr_warmup_steps: cfg.lr_warmup_steps,
    weight_decay: cfg.weight_decay,
    beta1: cfg.beta1,
    beta2: cfg.beta2,
    puzzle_emb_lr: cfg.puzzle_emb_lr,
    puzzle_emb_weight_decay: cfg.puzzle_emb_weight_decay,
    seed: cfg.seed,
    ema: cfg.ema,
    ema_rate: cfg.ema_rate,
  };
}

/** The config as nested YAML-ready data (all_config.yaml), in the official shape. */
export function nestConfig(cfg: RunConfig): { [k: string]: YamlValue } {
  const out: { [k: string]: YamlValue } = {};
  const hrm = architectureOf(cfg["arch.name"]) === "hrm";
  for (const [k, v] of Object.entries(flatOf(cfg))) {
    if (hrm && TRM_ONLY_KEYS.some((t) => k === `arch.${t}`)) continue;
    if (k === "arch.bptt" && v !== true) continue; // not an official key: written only when set
    const parts = k.split(".");
    let node = out;
    for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as { [k: string]: YamlValue };
    node[parts[parts.length - 1]] = v;
  }
  return out;
}
