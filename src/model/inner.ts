/**
 * The inner model (official HierarchicalReasoningModel_ACTV1_Inner, or TRM's TinyRecursiveReasoningModel_
 * ACTV1_Inner): input embedding, the recursion with input injection, and the output heads.
 * HRM, two levels and the 1-step gradient:
 *   no-grad:  for h < H_cycles, l < L_cycles, except the very last (h, l):  z_L = L(z_L, z_H + x)
 *             and for every h but the last:                                  z_H = H(z_H, z_L)
 *   grad:     z_L = L(z_L, z_H + x);  z_H = H(z_H, z_L)   (activations kept, see Workspace.saved*)
 * TRM, one network L for both states, the last full cycle differentiated:
 *   no-grad:  H_cycles - 1 times { L_cycles times z_L = L(z_L, z_H + x);  z_H = L(z_H, z_L) }
 *   grad:     L_cycles times z_L = L(z_L, z_H + x);  z_H = L(z_H, z_L)   (Workspace.savedT, one per call)
 * HRM with bptt (an hrm-ts option): the same calls, every one differentiated (Workspace.savedB, one per call).
 * outputs:    logits = lm_head(z_H)[:, P:],  (q_halt, q_continue) = q_head(z_H[:, 0])
 * Buffers are allocated once per batch size and reused; only the returned outputs are fresh arrays.
 */
import type { Kernels } from "../kernels/api.js";
import type { BlockActs, BlockWeights, Dims, Rope, SaveChoice } from "./block.js";
import {
  allocNoGradActs,
  allocPackedBlock,
  allocSavedActs,
  chooseSavedPerBlock,
  levelForward,
  packBlockWeights,
} from "./block.js";
import type { Derived, HRMConfig } from "./config.js";
import { derive, differentiatedBlocks } from "./config.js";
import type { HRMParams } from "./params.js";
import { ropeTables } from "./rope.js";
import type { Region } from "../util/memory.js";
import {
  arenaBytes,
  carveArenas,
  carvedFloats,
  carveFloats,
  floatArena,
  reserveRegion,
} from "../util/memory.js";

/** Official constant for the learned-position scaling (1/sqrt(2) to keep the forward variance). */
export const LEARNED_POS_SCALE = 0.707106781;
/** Default largest B*S for which a forward pre-packs its level weights (see HRMInner.levels). */
export const PREPACK_MAX_TOKENS = 1024;
/**
 * Default saveRecomputableMaxBytes: 256 MiB, what keeps a training step of the paper's model at batch 32 under
 * 1 GB. There it buys gate_up's outputs (246 MiB: 5% of the step's FLOPs not redone) and not the attention
 * probabilities (94 MiB more, ~1% of the step); batch 8 and the small model keep everything, ARC (901 tokens)
 * keeps gate_up's output in 6 of its 8 records at batch 4 (its probabilities alone would be 850 MiB). See
 * chooseSavedPerBlock.
 */
export const SAVE_RECOMPUTABLE_MAX_BYTES = 256 * 2 ** 20;

/**
 * The default saveRecomputableMaxBytes of a config: HRM's SAVE_RECOMPUTABLE_MAX_BYTES, for its paper model's 8
 * differentiated blocks; TRM the same 32 MiB per differentiated block, (L_cycles + 1) * L_layers of them (448
 * MiB for its paper model: gate_up's output kept in 12 of 14 records at batch 32, peak RSS 1.23 GB, where
 * keeping nothing takes 0.79 GB and 9% more work: 4.45-4.64 s per step against 4.76-4.81, 3 alternations).
 */
export function defaultSaveBudget(c: HRMConfig): number {
  if (c.architecture !== "trm" && !c.bptt) return SAVE_RECOMPUTABLE_MAX_BYTES;
  return (SAVE_RECOMPUTABLE_MAX_BYTES / 8) * differentiatedBlocks(c);
}

/** The block dimensions of config c at batch size B. */
export function modelDims(c: HRMConfig, B: number): Dims {
  const derived = derive(c);
  return {
    B,
    S: derived.seqTotal,
    D: c.hidden_size,
    NH: c.num_heads,
    HD: derived.headDim,
    F: derived.inter,
    eps: c.rms_norm_eps,
    precision: c.forward_dtype,
    FT: derived.interT,
  };
}

export interface SavedLevel {
  levelIn: Float32Array; // [T, D] z + injection
  acts: BlockActs[];
  /** The last block keeps its own output (TRM: later calls overwrite the carry); else it is the carry. */
  ownOut?: boolean;
}

/**
 * Float lengths of the backward's scratch at dims d (vocabulary V), in the order HRMBackward carves them from
 * Workspace.region: dA and datt [T, D], dlogitsAll [T, V], then dact [T, F] unless it fits in the no-grad
 * record's qkv [T, 3D] (F <= 3D, as in the paper's model), which it then borrows (see HRMBackward's Scratch).
 */
export function backwardScratchLengths(d: Dims, V: number): number[] {
  const T = d.B * d.S;
  const lengths = [T * d.D, T * d.D, T * V];
  // An mlp_t block has no qkv to borrow.
  return d.F <= 3 * d.D && d.FT === 0 ? lengths : [...lengths, T * d.F];
}

export interface Workspace {
  B: number;
  dims: Dims;
  /**
   * Memory that the forward's temporaries (emb, inj, zHNext, zLNext: views of it) and the backward's scratch
   * (backwardScratchLengths) take turns in. Neither reads what the other left: a forward recomputes emb from
   * the batch, and the backward needs only the records and the batch. At batch 32 of the paper's model it is the
   * forward's 21 MB, where the two took 48 MB side by side.
   */
  region: Float32Array;
  emb: Float32Array; // [T, D] input embeddings
  inj: Float32Array; // [T, D] z_H + emb for the L level
  shared: BlockActs;
  readonly savedL: SavedLevel;
  readonly savedH: SavedLevel;
  /** TRM: one record per differentiated call of the last cycle: L_cycles z_L updates, then the z_H update. */
  readonly savedT: SavedLevel[];
  /** HRM with bptt: one record per call of the segment, in call order (each cycle's L calls, then its H call). */
  readonly savedB: SavedLevel[];
  logitsAll: Float32Array; // [T, V] lm_head over every position (puzzle positions dropped after)
  qIn: Float32Array; // [B, D] z_H at position 0
  qOut: Float32Array; // [B, 2]
  zHNext: Float32Array; // [T, D] carry copies for the training-mode Q-target forward (its carry is discarded)
  zLNext: Float32Array;
}

export interface InnerOutputs {
  logits: Float32Array; // [B, seq_len, V] (empty from a qOnly forward)
  qHalt: Float32Array; // [B]
  qContinue: Float32Array; // [B]
}

export class HRMInner {
  readonly config: HRMConfig;
  readonly derived: Derived;
  readonly rope: Rope | null;
  readonly H: BlockWeights[];
  readonly L: BlockWeights[];
  /** The workspace of the last batch size used outside the reserved ones. */
  private ws: Workspace | null = null;
  /** See reserveWorkspaces. */
  private reserved: { capacity: number; region: Region; views: Map<number, Workspace> } | null = null;
  /** H and L with pre-packed weight copies (packed at the start of a small-batch forward; inside frozen(), once). */
  private packed: { H: BlockWeights[]; L: BlockWeights[] } | null = null;
  /** Largest B*S for which a forward outside frozen() pre-packs its level weights (inside, any B*S); 0: never. */
  prepackMaxTokens = PREPACK_MAX_TOKENS;
  /** Most bytes the saved records may spend on activations the backward could recompute (gate_up's output,
   * attention's, SwiGLU's; see chooseSavedPerBlock); read when a batch size's workspace is built. */
  saveRecomputableMaxBytes: number | null = null; // null: defaultSaveBudget(config)
  private frozenDepth = 0;
  private packedValid = false;

  constructor(
    readonly params: HRMParams,
    readonly k: Kernels,
  ) {
    this.config = params.config;
    this.derived = derive(this.config);
    const c = this.config;
    this.rope =
      c.pos_encodings === "rope"
        ? ropeTables(this.derived.seqTotal, this.derived.headDim, c.rope_theta)
        : null;
    const none = new Float32Array(0);
    const level = (name: string, n: number): BlockWeights[] =>
      Array.from({ length: n }, (_, i) => {
        const p = `${name}.layers.${i}`;
        const mlp = {
          gateUp: params.get(`${p}.mlp.gate_up_proj.weight`),
          down: params.get(`${p}.mlp.down_proj.weight`),
        };
        if (c.mlp_t)
          return {
            qkv: none,
            o: none,
            tGateUp: params.get(`${p}.mlp_t.gate_up_proj.weight`),
            tDown: params.get(`${p}.mlp_t.down_proj.weight`),
            ...mlp,
          };
        return {
          qkv: params.get(`${p}.self_attn.qkv_proj.weight`),
          o: params.get(`${p}.self_attn.o_proj.weight`),
          ...mlp,
        };
      });
    // TRM has no H level: its one network is L_level.
    this.H = c.architecture === "trm" ? [] : level("H_level", c.H_layers);
    this.L = level("L_level", c.L_layers);
  }

  /** The buffers for batch size B (allocated on first use, then reused; see reserveWorkspaces). */
  workspace(B: number): Workspace {
    const r = this.reserved;
    if (r && B <= r.capacity) {
      let v = r.views.get(B);
      if (!v) r.views.set(B, (v = carveArenas(r.region, () => this.makeWorkspace(B))));
      return v;
    }
    if (this.ws?.B !== B) this.ws = this.makeWorkspace(B);
    return this.ws;
  }

  /**
   * Serves every batch size up to `capacity` from one region, the size of capacity's workspace: a batch size's
   * workspace is views of it, made once. For a caller whose batch size changes from forward to forward (a
   * server's continuous batching): no allocation per change, and the memory of one workspace, not of one
   * per size. Sound because one inner runs one forward at a time and a forward reads nothing a previous one
   * left in the workspace. The backward's records (see makeWorkspace) are still allocated apart.
   */
  reserveWorkspaces(capacity: number): void {
    if (this.reserved && this.reserved.capacity >= capacity) return;
    const bytes = arenaBytes(() => this.makeWorkspace(capacity));
    this.reserved = { capacity, region: reserveRegion(bytes), views: new Map() };
  }

  private makeWorkspace(B: number): Workspace {
    const c = this.config;
    const dims = modelDims(c, B);
    const T = B * dims.S;
    const trm = c.architecture === "trm";
    const blocks = differentiatedBlocks(c);
    const choices = chooseSavedPerBlock(dims, blocks, this.saveRecomputableMaxBytes ?? defaultSaveBudget(c));
    // The no-grad record holds what any record recomputes.
    const every = (k: keyof SaveChoice) => choices.every((x) => x[k]);
    const shared = allocNoGradActs(dims, {
      gu: every("gu"),
      attention: every("attention"),
      act: every("act"),
    });
    const TD = T * dims.D;
    const temps = [TD, TD, TD, TD];
    const regionFloats = Math.max(
      carvedFloats(temps),
      carvedFloats(backwardScratchLengths(dims, c.vocab_size)),
    );
    const [region, levelInL, levelInH, logitsAll, qIn, qOut] = floatArena([
      regionFloats,
      TD,
      TD,
      T * c.vocab_size,
      B * dims.D,
      B * 2,
    ]);
    const [emb, inj, zHNext, zLNext] = carveFloats(region, temps);
    // A level's records take choices[first, first + layers): HRM's L level then H level, TRM's calls in order.
    const saved = (levelIn: Float32Array, layers: number, first: number, ownOut = false): SavedLevel => ({
      levelIn,
      acts: Array.from({ length: layers }, (_, i) =>
        allocSavedActs(dims, shared, choices[first + i], ownOut || i < layers - 1),
      ),
      ownOut,
    });
    // The backward's records are made at the first forward that keeps them: inference never does (at batch
    // 64 of the paper's model they are 3/4 of the workspace).
    let savedL: SavedLevel | null = null;
    let savedH: SavedLevel | null = null;
    let savedT: SavedLevel[] | null = null;
    let savedB: SavedLevel[] | null = null;
    const bpttRecords = () => {
      const out: SavedLevel[] = [];
      let first = 0; // the record's first block in choices
      for (let h = 0; h < c.H_cycles; h++)
        for (let l = 0; l <= c.L_cycles; l++) {
          const layers = l < c.L_cycles ? c.L_layers : c.H_layers;
          out.push(saved(floatArena([TD])[0], layers, first, true));
          first += layers;
        }
      return out;
    };
    const trmRecords = () =>
      Array.from({ length: c.L_cycles + 1 }, (_, i) =>
        saved(
          i === 0 ? levelInL : i === c.L_cycles ? levelInH : floatArena([TD])[0],
          c.L_layers,
          i * c.L_layers,
          true,
        ),
      );
    return {
      B,
      dims,
      region,
      emb,
      inj,
      shared,
      get savedL() {
        return (savedL ??= saved(levelInL, trm ? 0 : c.L_layers, 0)); // TRM's records are savedT
      },
      get savedH() {
        return (savedH ??= saved(levelInH, trm ? 0 : c.H_layers, c.L_layers));
      },
      get savedT() {
        return (savedT ??= trm ? trmRecords() : []);
      },
      get savedB() {
        return (savedB ??= c.bptt ? bpttRecords() : []);
      },
      logitsAll,
      qIn,
      qOut,
      zHNext,
      zLNext,
    };
  }

  /** emb[B, S, D] = embed_scale * (puzzle rows | token rows) (+ learned positions, scaled by 1/sqrt 2). */
  inputEmbeddings(emb: Float32Array, inputs: Int32Array, puzzleIds: Int32Array, B: number): void {
    const c = this.config;
    const { seqTotal: S, puzzleEmbLen: P } = this.derived;
    const D = c.hidden_size;
    const table = this.params.get("embed_tokens.embedding_weight");
    for (let b = 0; b < B; b++) {
      const row = emb.subarray((b * S + P) * D, (b + 1) * S * D);
      this.k.embeddingForward(
        row,
        inputs.subarray(b * c.seq_len, (b + 1) * c.seq_len),
        table,
        c.seq_len,
        D,
        c.vocab_size,
      );
    }
    if (P > 0) {
      const w = this.params.get("puzzle_emb.weights");
      const nd = c.puzzle_emb_ndim;
      for (let b = 0; b < B; b++) {
        const id = puzzleIds[b];
        if (!(id >= 0 && id < c.num_puzzle_identifiers))
          throw new RangeError(
            `puzzle_identifiers[${b}] = ${id} is outside [0, ${c.num_puzzle_identifiers})`,
          );
        const dst = emb.subarray(b * S * D, (b * S + P) * D);
        dst.fill(0); // zero padding past puzzle_emb_ndim, as the official F.pad
        dst.set(w.subarray(id * nd, (id + 1) * nd));
      }
    }
    const n = B * S * D;
    if (c.pos_encodings === "learned") {
      const pos = this.params.get("embed_pos.embedding_weight");
      for (let b = 0; b < B; b++) {
        const row = emb.subarray(b * S * D, (b + 1) * S * D);
        this.k.add(row, row, pos, LEARNED_POS_SCALE, LEARNED_POS_SCALE, S * D);
      }
    }
    this.k.add(emb, emb, emb, Math.fround(Math.sqrt(D)), 0, n);
  }

  /**
   * One inner forward on carry (zH, zL) [B, S, D], updated in place. With `grad`, the last L and H calls
   * keep their activations in the workspace for backward(). With `qOnly` (no grad), only the Q values are
   * wanted (training's bootstrapped Q target): the last block updates only z_H[:, 0], the rest of zH's rows
   * are left stale, and no logits are computed.
   */
  forward(
    zH: Float32Array,
    zL: Float32Array,
    inputs: Int32Array,
    puzzleIds: Int32Array,
    B: number,
    grad: boolean,
    qOnly = false,
  ): InnerOutputs {
    if (grad && qOnly)
      throw new Error("HRMInner.forward: qOnly leaves zH stale, so it cannot keep a backward");
    const c = this.config;
    const ws = this.workspace(B);
    const d = ws.dims;
    const n = B * d.S * d.D;
    const k = this.k;
    const { H, L } = this.levels(d);
    this.inputEmbeddings(ws.emb, inputs, puzzleIds, B);
    if (c.architecture === "trm") {
      this.trmRecursion(zH, zL, L, ws, grad, qOnly);
      return this.heads(zH, ws, qOnly);
    }
    if (grad && c.bptt) {
      const rec = ws.savedB;
      let r = 0;
      for (let h = 0; h < c.H_cycles; h++) {
        k.add(ws.inj, zH, ws.emb, 1, 1, n); // z_H holds through the cycle's L calls
        for (let l = 0; l < c.L_cycles; l++)
          levelForward(k, L, zL, ws.inj, d, this.rope, ws.shared, rec[r++]);
        levelForward(k, H, zH, zL, d, this.rope, ws.shared, rec[r++]);
      }
      return this.heads(zH, ws, qOnly);
    }
    for (let h = 0; h < c.H_cycles; h++) {
      for (let l = 0; l < c.L_cycles; l++) {
        if (h === c.H_cycles - 1 && l === c.L_cycles - 1) continue;
        k.add(ws.inj, zH, ws.emb, 1, 1, n);
        levelForward(k, L, zL, ws.inj, d, this.rope, ws.shared);
      }
      if (h !== c.H_cycles - 1) levelForward(k, H, zH, zL, d, this.rope, ws.shared);
    }
    // The 1-step gradient: only these two calls are differentiated.
    k.add(ws.inj, zH, ws.emb, 1, 1, n);
    levelForward(k, L, zL, ws.inj, d, this.rope, ws.shared, grad ? ws.savedL : undefined);
    levelForward(k, H, zH, zL, d, this.rope, ws.shared, grad ? ws.savedH : undefined, qOnly);
    return this.heads(zH, ws, qOnly);
  }

  /**
   * TRM's cycles with its one network: z_H stays fixed through a cycle's L_cycles z_L updates, so their
   * injection z_H + x is formed once per cycle. With `grad` the last cycle's L_cycles + 1 calls keep their
   * activations (ws.savedT); with `qOnly` the very last call updates only z_H[:, 0] (attention blocks).
   */
  private trmRecursion(
    zH: Float32Array,
    zL: Float32Array,
    L: BlockWeights[],
    ws: Workspace,
    grad: boolean,
    qOnly: boolean,
  ): void {
    const c = this.config;
    const d = ws.dims;
    const n = d.B * d.S * d.D;
    const rope = this.rope;
    for (let h = 0; h < c.H_cycles; h++) {
      const rec = grad && h === c.H_cycles - 1 ? ws.savedT : null;
      this.k.add(ws.inj, zH, ws.emb, 1, 1, n);
      for (let l = 0; l < c.L_cycles; l++) levelForward(this.k, L, zL, ws.inj, d, rope, ws.shared, rec?.[l]);
      const last = h === c.H_cycles - 1;
      levelForward(this.k, L, zH, zL, d, rope, ws.shared, rec?.[c.L_cycles], qOnly && last);
    }
  }

  /**
   * Runs fn with the weights declared unchanging (evaluation, solving): the pre-packed weight copies are then
   * made once and kept across forwards until fn returns, instead of once per forward. fn must not change
   * the parameters.
   */
  frozen<T>(fn: () => T): T {
    const thaw = this.freeze();
    try {
      return fn();
    } finally {
      thaw();
    }
  }

  /** frozen() for holders that span awaits (a server, for as long as it serves): returns the release. */
  freeze(): () => void {
    this.frozenDepth++;
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      if (--this.frozenDepth === 0) this.packedValid = false;
    };
  }

  /**
   * The level weights for one forward. Each L weight is used H_cycles*L_cycles times and each H weight
   * H_cycles times per forward, and a matmul packs its weight on every call: with few tokens (one puzzle:
   * T = 82) that packing costs as much as the product, so small batches pack every weight once here, at
   * the start of the forward. Inside frozen() the copies serve every forward until it returns, so there
   * they pay at any batch size (the paper's model, batch 32, 4 segments: faster in 6 of 6 alternations, best
   * 6.19 -> 6.02 s; same bits). Large training batches skip it: packing is a few percent of a step there,
   * redone every step as the weights change, and the copies would cost ~4 bytes per parameter.
   */
  private levels(d: Dims): { H: BlockWeights[]; L: BlockWeights[] } {
    const c = this.config;
    const small = d.B * d.S <= this.prepackMaxTokens && c.H_cycles * c.L_cycles >= 2;
    if (this.prepackMaxTokens <= 0 || !(small || this.frozenDepth > 0)) return { H: this.H, L: this.L };
    // Packed sizes depend on D, F and the precision, fixed by the config: allocate once.
    this.packed ??= {
      H: this.H.map((w) => ({ ...w, packed: allocPackedBlock(this.k, d) })),
      L: this.L.map((w) => ({ ...w, packed: allocPackedBlock(this.k, d) })),
    };
    if (!this.packedValid) {
      for (const w of [...this.packed.H, ...this.packed.L]) packBlockWeights(this.k, w, w.packed!, d);
      this.packedValid = this.frozenDepth > 0;
    }
    return this.packed;
  }

  private heads(zH: Float32Array, ws: Workspace, qOnly: boolean): InnerOutputs {
    const c = this.config;
    const { B, S, D } = ws.dims;
    const P = this.derived.puzzleEmbLen;
    const V = c.vocab_size;
    const logits = new Float32Array(qOnly ? 0 : B * c.seq_len * V);
    if (!qOnly) {
      this.k.linearForward(ws.logitsAll, zH, this.params.get("lm_head.weight"), B * S, D, V, c.forward_dtype);
      for (let b = 0; b < B; b++)
        logits.set(ws.logitsAll.subarray((b * S + P) * V, (b + 1) * S * V), b * c.seq_len * V);
    }
    for (let b = 0; b < B; b++) ws.qIn.set(zH.subarray(b * S * D, b * S * D + D), b * D);
    this.k.linearForward(ws.qOut, ws.qIn, this.params.get("q_head.weight"), B, D, 2, c.forward_dtype);
    const bias = this.params.get("q_head.bias");
    const qHalt = new Float32Array(B);
    const qContinue = new Float32Array(B);
    for (let b = 0; b < B; b++) {
      qHalt[b] = ws.qOut[2 * b] + bias[0];
      qContinue[b] = ws.qOut[2 * b + 1] + bias[1];
    }
    return { logits, qHalt, qContinue };
  }
}
