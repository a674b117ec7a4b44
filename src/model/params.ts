/**
 * The parameter table of HRM or TRM: every tensor with its official state-dict name (relative to model.inner) and shape,
 * held in one flat Float32Array with a named view each (llm.c style), plus the official initialisation.
 * `kind`: "param" is trained by AdamATan2, "sparse" (the puzzle embedding) by sign-SGD, "buffer" (H_init,
 * L_init) is not trained.
 */
import { allocFloat32 } from "../util/memory.js";
import { Rng, truncNormalInit } from "../util/rng.js";
import type { HRMConfig } from "./config.js";
import { derive } from "./config.js";

export interface ParamSpec {
  name: string;
  shape: number[];
  kind: "param" | "sparse" | "buffer";
  /** Official init: truncated normal with this std (0 = zeros), or a constant fill. */
  std?: number;
  fill?: number;
}

/** A SwiGLU's two weights (width W, inner size F), official names and init. */
function swigluSpecs(prefix: string, W: number, F: number): ParamSpec[] {
  return [
    { name: `${prefix}.gate_up_proj.weight`, shape: [2 * F, W], kind: "param", std: 1 / Math.sqrt(W) },
    { name: `${prefix}.down_proj.weight`, shape: [W, F], kind: "param", std: 1 / Math.sqrt(F) },
  ];
}

/**
 * Block weight names of one level, in official order: attention (or TRM's mlp_t, a SwiGLU of width S and inner
 * size FT over the sequence axis), then the MLP.
 */
function levelSpecs(
  level: "H" | "L",
  layers: number,
  D: number,
  F: number,
  mlpT?: { S: number; FT: number },
) {
  const out: ParamSpec[] = [];
  for (let i = 0; i < layers; i++) {
    const p = `${level}_level.layers.${i}`;
    if (mlpT) out.push(...swigluSpecs(`${p}.mlp_t`, mlpT.S, mlpT.FT));
    else
      out.push(
        { name: `${p}.self_attn.qkv_proj.weight`, shape: [3 * D, D], kind: "param", std: 1 / Math.sqrt(D) },
        { name: `${p}.self_attn.o_proj.weight`, shape: [D, D], kind: "param", std: 1 / Math.sqrt(D) },
      );
    out.push(...swigluSpecs(`${p}.mlp`, D, F));
  }
  return out;
}

/** All tensors in official state-dict order. */
export function paramSpecs(c: HRMConfig): ParamSpec[] {
  const D = c.hidden_size;
  const { inter, interT, seqTotal } = derive(c);
  const specs: ParamSpec[] = [
    { name: "H_init", shape: [D], kind: "buffer", std: 1 },
    { name: "L_init", shape: [D], kind: "buffer", std: 1 },
    { name: "embed_tokens.embedding_weight", shape: [c.vocab_size, D], kind: "param", std: 1 / Math.sqrt(D) },
    { name: "lm_head.weight", shape: [c.vocab_size, D], kind: "param", std: 1 / Math.sqrt(D) },
    { name: "q_head.weight", shape: [2, D], kind: "param", fill: 0 }, // "init Q to (almost) zero"
    { name: "q_head.bias", shape: [2], kind: "param", fill: -5 },
  ];
  if (c.puzzle_emb_ndim > 0)
    specs.push({
      name: "puzzle_emb.weights",
      shape: [c.num_puzzle_identifiers, c.puzzle_emb_ndim],
      kind: "sparse",
      fill: 0,
    });
  if (c.pos_encodings === "learned")
    specs.push({
      name: "embed_pos.embedding_weight",
      shape: [seqTotal, D],
      kind: "param",
      std: 1 / Math.sqrt(D),
    });
  // TRM has one network, L_level (its H_layers is ignored, as in the official code).
  if (c.architecture === "trm")
    return [
      ...specs,
      ...levelSpecs("L", c.L_layers, D, inter, c.mlp_t ? { S: seqTotal, FT: interT } : undefined),
    ];
  return [...specs, ...levelSpecs("H", c.H_layers, D, inter), ...levelSpecs("L", c.L_layers, D, inter)];
}

export class HRMParams {
  readonly specs: ParamSpec[];
  /** Every tensor, back to back in spec order. */
  readonly data: Float32Array;
  private readonly views = new Map<string, Float32Array>();

  constructor(readonly config: HRMConfig) {
    this.specs = paramSpecs(config);
    const total = this.specs.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
    this.data = allocFloat32(total);
    let at = 0;
    for (const p of this.specs) {
      const n = p.shape.reduce((a, b) => a * b, 1);
      this.views.set(p.name, this.data.subarray(at, at + n));
      at += n;
    }
  }

  /** The view of one tensor; throws for a name the config does not have. */
  get(name: string): Float32Array {
    const v = this.views.get(name);
    if (!v) throw new Error(`no parameter "${name}" in this config`);
    return v;
  }

  has(name: string): boolean {
    return this.views.has(name);
  }

  /** Number of trained values (params + the sparse puzzle embedding). */
  count(kind?: ParamSpec["kind"]): number {
    return this.specs
      .filter((p) => !kind || p.kind === kind)
      .reduce((s, p) => s + this.get(p.name).length, 0);
  }

  /** The official initialisation from a seeded RNG. */
  static init(config: HRMConfig, seed: number): HRMParams {
    const p = new HRMParams(config);
    const rng = new Rng(seed);
    for (const s of p.specs) {
      const v = p.get(s.name);
      if (s.fill !== undefined) v.fill(s.fill);
      else truncNormalInit(v, s.std ?? 0, rng);
    }
    return p;
  }
}
