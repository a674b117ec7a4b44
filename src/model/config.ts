/**
 * The model config with the official names and defaults: HRM's HierarchicalReasoningModel_ACTV1Config, TRM's
 * TinyRecursiveReasoningModel_ACTV1Config (`architecture: "trm"`: its three extra keys and its trm.yaml
 * defaults), plus the loss type; validation with clear errors, and the sizes derived from it.
 */

export type Architecture = "hrm" | "trm";

export interface HRMConfig {
  /** "hrm" (two levels, the 1-step gradient) or "trm" (one network, backprop through the last full cycle). */
  architecture: Architecture;
  batch_size: number;
  seq_len: number;
  /** Width of the per-puzzle embedding; 0 disables it. Occupies ceil(puzzle_emb_ndim / hidden_size) positions. */
  puzzle_emb_ndim: number;
  num_puzzle_identifiers: number;
  vocab_size: number;
  H_cycles: number;
  L_cycles: number;
  H_layers: number;
  L_layers: number;
  hidden_size: number;
  /** SwiGLU width factor; the inner size is round(expansion * hidden * 2/3) rounded up to a multiple of 256. */
  expansion: number;
  num_heads: number;
  /** "none" only for TRM (its mlp_t configs). */
  pos_encodings: "rope" | "learned" | "none";
  rms_norm_eps: number;
  rope_theta: number;
  halt_max_steps: number;
  halt_exploration_prob: number;
  /** "bfloat16" (official default) or "float32"; see the model docs for how bfloat16 is computed here. */
  forward_dtype: "bfloat16" | "float32";
  loss_type: "stablemax_cross_entropy" | "softmax_cross_entropy";
  /** TRM: positions for the puzzle embedding; 0 = ceil(puzzle_emb_ndim / hidden_size), HRM's rule (HRM: 0). */
  puzzle_emb_len: number;
  /** TRM: each block mixes positions with a SwiGLU over the sequence axis instead of attention (HRM: false). */
  mlp_t: boolean;
  /** TRM: halt when q_halt > 0, with no Q-continue target or loss; false = HRM's rule (HRM: false). */
  no_ACT_continue: boolean;
  /**
   * HRM, an hrm-ts option (not the official code's): exact backpropagation through every cycle of a segment
   * instead of the 1-step gradient, so training memory grows with H_cycles x L_cycles (for comparisons).
   */
  bptt: boolean;
}

/** Official defaults where the official config has them (hrm_v1.yaml for the architecture sizes). */
export const DEFAULT_CONFIG: HRMConfig = {
  batch_size: 768,
  seq_len: 81,
  puzzle_emb_ndim: 512,
  num_puzzle_identifiers: 1,
  vocab_size: 11,
  H_cycles: 2,
  L_cycles: 2,
  H_layers: 4,
  L_layers: 4,
  hidden_size: 512,
  expansion: 4,
  num_heads: 8,
  pos_encodings: "rope",
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  halt_max_steps: 16,
  halt_exploration_prob: 0.1,
  forward_dtype: "bfloat16",
  loss_type: "stablemax_cross_entropy",
  architecture: "hrm",
  puzzle_emb_len: 0,
  mlp_t: false,
  no_ACT_continue: false,
  bptt: false,
};

/** TRM's defaults: the official arch/trm.yaml over the shared ones. */
export const TRM_DEFAULT_CONFIG: HRMConfig = {
  ...DEFAULT_CONFIG,
  architecture: "trm",
  H_cycles: 3,
  L_cycles: 6,
  H_layers: 0,
  L_layers: 2,
  puzzle_emb_len: 16,
  mlp_t: false,
  no_ACT_continue: true,
};

/** The defaults of an architecture. */
export function defaultConfig(architecture: Architecture = "hrm"): HRMConfig {
  return architecture === "trm" ? TRM_DEFAULT_CONFIG : DEFAULT_CONFIG;
}

export class ConfigError extends Error {}

/**
 * Block applications a training step differentiates (and keeps records of): HRM's last L and H calls (the
 * 1-step gradient), with bptt every call of the segment; TRM the last full cycle's L_cycles + 1 calls.
 */
export function differentiatedBlocks(c: HRMConfig): number {
  if (c.architecture === "trm") return (c.L_cycles + 1) * c.L_layers;
  return c.bptt ? c.H_cycles * (c.L_cycles * c.L_layers + c.H_layers) : c.L_layers + c.H_layers;
}

export interface Derived {
  headDim: number;
  /** Positions taken by the puzzle embedding (official puzzle_emb_len). */
  puzzleEmbLen: number;
  /** Positions per sequence the recurrence runs on: puzzle positions + seq_len. */
  seqTotal: number;
  /** SwiGLU inner size. */
  inter: number;
  /** TRM mlp_t: the sequence-axis SwiGLU's inner size (0 without mlp_t). */
  interT: number;
}

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The official SwiGLU inner size for a width: round(expansion * width * 2/3), up to a multiple of 256. */
export function swigluInter(expansion: number, width: number): number {
  return Math.ceil(roundHalfEven((expansion * width * 2) / 3) / 256) * 256;
}

/** Positions the puzzle embedding takes: TRM's explicit puzzle_emb_len, else ceil(puzzle_emb_ndim / hidden_size). */
export function puzzlePositions(
  c: Pick<HRMConfig, "puzzle_emb_len" | "puzzle_emb_ndim" | "hidden_size">,
): number {
  return c.puzzle_emb_len > 0 ? c.puzzle_emb_len : Math.ceil(c.puzzle_emb_ndim / c.hidden_size);
}

export function derive(c: HRMConfig): Derived {
  const puzzleEmbLen = puzzlePositions(c);
  const seqTotal = c.seq_len + puzzleEmbLen;
  return {
    headDim: c.hidden_size / c.num_heads,
    puzzleEmbLen,
    seqTotal,
    inter: swigluInter(c.expansion, c.hidden_size),
    interT: c.mlp_t ? swigluInter(c.expansion, seqTotal) : 0,
  };
}

const INT_KEYS = [
  "batch_size",
  "seq_len",
  "puzzle_emb_ndim",
  "num_puzzle_identifiers",
  "vocab_size",
  "H_cycles",
  "L_cycles",
  "H_layers",
  "L_layers",
  "hidden_size",
  "num_heads",
  "halt_max_steps",
  "puzzle_emb_len",
] as const;

/**
 * Upper bounds, far above any published configuration, so that a typo (halt_max_steps=1000000000) is an error
 * instead of a run that never ends or an allocation that fails deep inside. halt_max_steps: each segment is a full
 * forward pass (the paper uses 16). Cycles and layers: each is a block application per segment. Sizes: they set
 * memory (attention is quadratic in seq_len), and 2^31 parameters is 8 GB of float32 before optimiser state.
 */
export const MAX_HALT_STEPS = 1024;
export const CONFIG_LIMITS: Partial<Record<keyof HRMConfig, number>> = {
  batch_size: 65536,
  seq_len: 65536,
  puzzle_emb_ndim: 65536,
  num_puzzle_identifiers: 1 << 24,
  vocab_size: 1 << 20,
  H_cycles: 256,
  L_cycles: 256,
  H_layers: 256,
  L_layers: 256,
  hidden_size: 65536,
  expansion: 64,
  num_heads: 4096,
  halt_max_steps: MAX_HALT_STEPS,
  puzzle_emb_len: 65536,
};

/**
 * Merges `partial` over the defaults of its architecture (HRM's unless it says "trm") and validates; every
 * error names the key and the value.
 */
export function makeConfig(partial: Partial<HRMConfig> = {}): HRMConfig {
  for (const k of Object.keys(partial))
    if (!(k in DEFAULT_CONFIG))
      throw new ConfigError(`unknown config key "${k}" (known: ${Object.keys(DEFAULT_CONFIG).join(", ")})`);
  if (partial.architecture !== undefined && partial.architecture !== "hrm" && partial.architecture !== "trm")
    throw new ConfigError(
      `config architecture = ${JSON.stringify(partial.architecture)}: must be "hrm" or "trm"`,
    );
  const c = { ...defaultConfig(partial.architecture), ...partial };
  const bad = (k: string, why: string): never => {
    throw new ConfigError(
      `config ${k} = ${JSON.stringify((c as unknown as Record<string, unknown>)[k])}: ${why}`,
    );
  };
  for (const k of INT_KEYS) if (!Number.isInteger(c[k]) || c[k] < 0) bad(k, "must be a non-negative integer");
  for (const [k, max] of Object.entries(CONFIG_LIMITS) as [keyof HRMConfig, number][])
    if ((c[k] as number) > max) bad(k, `must be at most ${max} (see CONFIG_LIMITS in src/model/config.ts)`);
  for (const k of [
    "batch_size",
    "seq_len",
    "vocab_size",
    "H_cycles",
    "L_cycles",
    "hidden_size",
    "num_heads",
    "halt_max_steps",
  ] as const)
    if (c[k] < 1) bad(k, "must be at least 1");
  if (c.hidden_size % c.num_heads !== 0)
    bad("hidden_size", `must be divisible by num_heads (${c.num_heads})`);
  if ((c.hidden_size / c.num_heads) % 2 !== 0 && c.pos_encodings === "rope")
    bad("num_heads", "RoPE needs an even head dim");
  if (!(c.expansion > 0)) bad("expansion", "must be positive");
  if (!(c.rms_norm_eps > 0)) bad("rms_norm_eps", "must be positive");
  if (!(c.rope_theta > 0)) bad("rope_theta", "must be positive");
  if (!(c.halt_exploration_prob >= 0 && c.halt_exploration_prob <= 1))
    bad("halt_exploration_prob", "must be in [0, 1]");
  checkArchitectureKeys(c, bad);
  if (c.forward_dtype !== "bfloat16" && c.forward_dtype !== "float32")
    bad("forward_dtype", 'must be "bfloat16" or "float32"');
  if (c.loss_type !== "stablemax_cross_entropy" && c.loss_type !== "softmax_cross_entropy")
    bad("loss_type", 'must be "stablemax_cross_entropy" or "softmax_cross_entropy"');
  if (c.puzzle_emb_ndim > 0 && c.num_puzzle_identifiers < 1)
    bad("num_puzzle_identifiers", "must be at least 1 with a puzzle embedding");
  return c;
}

/** The keys whose meaning depends on the architecture. */
function checkArchitectureKeys(c: HRMConfig, bad: (k: string, why: string) => never): void {
  const pos = c.architecture === "trm" ? ["rope", "learned", "none"] : ["rope", "learned"];
  if (!pos.includes(c.pos_encodings))
    bad("pos_encodings", `must be ${pos.map((p) => `"${p}"`).join(" or ")}`);
  for (const k of ["mlp_t", "no_ACT_continue", "bptt"] as const)
    if (typeof c[k] !== "boolean") bad(k, "must be true or false");
  if (c.architecture === "trm" && c.bptt)
    bad("bptt", "is an HRM option (TRM backpropagates through its last full cycle)");
  if (c.architecture === "hrm") {
    for (const k of ["mlp_t", "no_ACT_continue"] as const)
      if (c[k]) bad(k, "is a TRM option (architecture trm)");
    if (c.puzzle_emb_len !== 0)
      bad("puzzle_emb_len", "is a TRM option (HRM uses ceil(puzzle_emb_ndim / hidden_size))");
  } else {
    if (c.L_layers < 1) bad("L_layers", "must be at least 1 (TRM's one network)");
    // The official code reserves the positions but concatenates nothing without an embedding: shapes clash.
    if (c.puzzle_emb_ndim === 0 && c.puzzle_emb_len > 0)
      bad("puzzle_emb_len", "must be 0 without a puzzle embedding (puzzle_emb_ndim = 0)");
    if (c.puzzle_emb_ndim > c.puzzle_emb_len * c.hidden_size && c.puzzle_emb_len > 0)
      bad(
        "puzzle_emb_len",
        `must hold puzzle_emb_ndim (${c.puzzle_emb_ndim}): at least ${Math.ceil(c.puzzle_emb_ndim / c.hidden_size)} positions`,
      );
  }
}
