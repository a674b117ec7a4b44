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
import { levelForward } from "./block.js";
import type { Rope } from "./layers/attention.js";
import type { BlockWeights, Dims } from "./layers/linear.js";
import { allocPackedBlock, packBlockWeights } from "./layers/linear.js";
import type { Workspace } from "./workspace.js";
import { makeWorkspace } from "./workspace.js";
import type { Derived, HRMConfig } from "./config.js";
import { derive } from "./config.js";
import type { HRMParams } from "./params.js";
import { ropeTables } from "./rope.js";
import type { Region } from "../util/memory.js";
import { arenaBytes, carveArenas, reserveRegion } from "../util/memory.js";

/** Official constant for the learned-position scaling (1/sqrt(2) to keep the forward variance). */
export const LEARNED_POS_SCALE = 0.707106781;
/** Default largest B*S for which a forward pre-packs its level weights (see HRMInner.levels). */
export const PREPACK_MAX_TOKENS = 1024;
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
      if (!v)
        r.views.set(
          B,
          (v = carveArenas(r.region, () => makeWorkspace(this.config, B, this.saveRecomputableMaxBytes))),
        );
      return v;
    }
    if (this.ws?.B !== B) this.ws = makeWorkspace(this.config, B, this.saveRecomputableMaxBytes);
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
    const bytes = arenaBytes(() => makeWorkspace(this.config, capacity, this.saveRecomputableMaxBytes));
    this.reserved = { capacity, region: reserveRegion(bytes), views: new Map() };
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
