/**
 * The memory policy, in one place: what a block's activation record holds (BlockActs) and which of the
 * recomputable activations each record for the backward keeps within a byte budget (chooseSavedPerBlock),
 * the per-batch-size Workspace (the no-grad record, the backward's records, made at the first forward that
 * keeps them, and one region that the forward's temporaries and the backward's scratch take turns in), and
 * the backward's scratch, which borrows memory the forward also uses.
 */
import type { HRMConfig } from "./config.js";
import { derive, differentiatedBlocks } from "./config.js";
import type { Dims } from "./layers/linear.js";
import type { MlpTScratch } from "./layers/mlp-t.js";
import { carvedFloats, carveFloats, floatArena } from "../util/memory.js";

/**
 * Everything a block computes. The backward reads qkv (after RoPE), h1, rstd1, out, rstd2, and probs, att, gu
 * and act, which a record may keep (`saved`) or leave to buffers records share, into which the backward then
 * recomputes them: probs and att from qkv (attentionForward), gu from h1 (one gate_up matmul), act from gu.
 * The forward never writes the projections before their residual adds (one kernel each), nor gu into a
 * record that does not keep it (gate_up and SwiGLU are then one kernel).
 */
export interface BlockActs {
  qkv: Float32Array; // [T, 3D] (after RoPE in a record for the backward)
  probs: Float32Array; // [B, NH, S, S]
  att: Float32Array; // [T, D]
  h1: Float32Array; // [T, D]
  rstd1: Float32Array; // [T]
  gu: Float32Array; // [T, 2F]
  act: Float32Array; // [T, F]
  out: Float32Array; // [T, D] block output
  rstd2: Float32Array; // [T]
  /**
   * TRM mlp_t blocks (length 0 otherwise), on the transposed state [B, D, S]: xt = xᵀ and h1t = h1ᵀ (the
   * backward transposes them again), guT [B*D, 2FT] (a record for the backward keeps it), actT [B*D, FT] and
   * rstdT [B*D] (kept).
   */
  xt: Float32Array;
  guT: Float32Array;
  actT: Float32Array;
  h1t: Float32Array;
  rstdT: Float32Array;
  /** A record for the backward (null: the no-grad record, which keeps nothing), and what it keeps. */
  saved: SaveChoice | null;
}

/** Which recomputable activations a record for the backward keeps (its own copies). */
export interface SaveChoice {
  /** gate_up's output [T, 2F] (else recomputed: one matmul per block, the costliest to redo). */
  gu: boolean;
  /** The softmax probabilities and attention output (else recomputed by attentionForward from qkv). */
  attention: boolean;
  /** SwiGLU's output [T, F] (only with gu; else recomputed from gu, element-wise). */
  act: boolean;
}

/** Bytes one record spends on each recomputable activation it keeps (mlp_t blocks have no attention). */
export function saveCosts(d: Dims): Record<keyof SaveChoice, number> {
  const T = d.B * d.S;
  const attention = d.FT > 0 ? 0 : 4 * (d.B * d.NH * d.S * d.S + T * d.D);
  return { gu: 4 * T * 2 * d.F, attention, act: 4 * T * d.F };
}

/**
 * What each of `blocks` records keeps within maxBytes: items in order of time saved per byte (the paper's
 * model at batch 32: gu ~24 ms of matmul per 32 MB record, attention ~3.5 ms per 12 MB, act ~1.3 ms per 16 MB),
 * each for as many records as still fit. TRM's 14 records at batch 32 of its paper model keep gate_up's output
 * in 12 of them (448 MiB) where an all-or-nothing choice kept it in none. Only time and memory differ: a record
 * that does not keep an activation recomputes it into the same bits.
 */
export function chooseSavedPerBlock(d: Dims, blocks: number, maxBytes: number): SaveChoice[] {
  const cost = saveCosts(d);
  let left = maxBytes;
  const out = Array.from({ length: blocks }, () => ({ gu: false, attention: false, act: false }));
  const take = (key: keyof SaveChoice, ok: (c: SaveChoice) => boolean) => {
    for (const c of out)
      if (ok(c) && cost[key] <= left) {
        c[key] = true;
        left -= cost[key];
      }
  };
  take("gu", () => true);
  take("attention", () => true);
  take("act", (c) => c.gu);
  return out;
}

interface Own {
  probs: boolean;
  att: boolean;
  gu: boolean;
  act: boolean;
  out: boolean;
  /** mlp_t blocks: xt, h1t and actT (the no-grad record's; records for the backward share them), and guT. */
  tShared: boolean;
  guT: boolean;
}

/** A record's own buffers: everything but the recomputable ones `own` leaves out (length 0 there). */
function actBuffers(d: Dims, own: Own) {
  const T = d.B * d.S;
  const att = d.FT === 0;
  const TT = d.B * d.D; // rows of the transposed state
  const [qkv, probs, attOut, h1, rstd1, gu, act, out, rstd2, xt, guT, actT, h1t, rstdT] = floatArena([
    att ? 3 * T * d.D : 0,
    att && own.probs ? d.B * d.NH * d.S * d.S : 0,
    att && own.att ? T * d.D : 0,
    T * d.D,
    att ? T : 0,
    own.gu ? 2 * T * d.F : 0,
    own.act ? T * d.F : 0,
    own.out ? T * d.D : 0,
    T,
    !att && own.tShared ? TT * d.S : 0,
    !att && own.guT ? 2 * TT * d.FT : 0,
    !att && own.tShared ? TT * d.FT : 0,
    !att && own.tShared ? TT * d.S : 0,
    att ? 0 : TT,
  ]);
  return { qkv, probs, att: attOut, h1, rstd1, gu, act, out, rstd2, xt, guT, actT, h1t, rstdT };
}

/**
 * The no-grad record, which also holds the buffers the records for the backward share: what those keep
 * (`forSaved`) decides whether it needs room for recomputed probabilities and gu. gu is the largest
 * activation ([T, 2F], 32 MB per block for the paper's model at batch 32).
 */
export function allocNoGradActs(d: Dims, forSaved: SaveChoice): BlockActs {
  const own = { probs: !forSaved.attention, att: true, gu: !forSaved.gu, act: true, out: true };
  return { ...actBuffers(d, { ...own, tShared: true, guT: false }), saved: null };
}

/**
 * A record for the backward: its own copies of what `save` keeps, the no-grad record's buffers for the rest.
 * Without `ownOut` its `out` is empty until levelForward points it at the level's output (the last block's).
 */
export function allocSavedActs(d: Dims, shared: BlockActs, save: SaveChoice, ownOut = true): BlockActs {
  const a = actBuffers(d, {
    probs: save.attention,
    att: save.attention,
    gu: save.gu,
    act: save.act,
    out: ownOut,
    tShared: false,
    guT: true, // an mlp_t block's guT: 2FT/S of the state per block, small beside attention's probabilities
  });
  return {
    ...a,
    xt: shared.xt,
    actT: shared.actT,
    h1t: shared.h1t,
    probs: save.attention ? a.probs : shared.probs,
    att: save.attention ? a.att : shared.att,
    gu: save.gu ? a.gu : shared.gu,
    act: save.act ? a.act : shared.act,
    saved: save,
  };
}

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
 * record's qkv [T, 3D] (F <= 3D, as in the paper's model), which it then borrows (see BlockScratch).
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

export function makeWorkspace(c: HRMConfig, B: number, saveBudget: number | null): Workspace {
  const dims = modelDims(c, B);
  const T = B * dims.S;
  const trm = c.architecture === "trm";
  const blocks = differentiatedBlocks(c);
  const choices = chooseSavedPerBlock(dims, blocks, saveBudget ?? defaultSaveBudget(c));
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

/**
 * The backward's buffers, all memory a forward also uses: no forward runs during a backward, and none reads
 * what a backward left. dqkv, dh1 and dB are the no-grad record's qkv, h1 and out, which the backward's
 * recomputations leave free (they use that record's att, probs, gu, act): 21 MB at batch 32 of the paper's
 * model. dact lives from down_proj's backward to SwiGLU's and dqkv from attention's backward to qkv_proj's, so
 * dact borrows the same qkv buffer when it fits (backwardScratchLengths). The rest are carved from the
 * workspace's region, where the forward keeps its temporaries.
 */
export interface BlockScratch {
  dA: Float32Array; // [T, D] gradient flowing down the level (block outputs / inputs)
  dB: Float32Array; // [T, D]
  dh1: Float32Array; // [T, D]
  datt: Float32Array; // [T, D]
  dqkv: Float32Array; // [T, 3D]
  dact: Float32Array; // [T, F]
  /** TRM mlp_t blocks. */
  t: MlpTScratch;
}

export interface BackwardScratch extends BlockScratch {
  shared: BlockActs; // the workspace's no-grad record these alias
  dlogitsAll: Float32Array; // [T, V]
  /** TRM and bptt: the input embeddings' gradient, summed over the differentiated z_L calls [T, D]. */
  dx: Float32Array;
  /** bptt: d z_H and d z_L at the point the backward has reached [T, D] (empty otherwise). */
  dzH: Float32Array;
  dzL: Float32Array;
}

/** The backward's scratch for workspace ws of config c (see BlockScratch). */
export function backwardScratch(ws: Workspace, c: HRMConfig): BackwardScratch {
  const { dims: d, shared } = ws;
  const [dA, datt, dlogitsAll, ownDact] = carveFloats(ws.region, backwardScratchLengths(d, c.vocab_size));
  const { qkv: dqkv, h1: dh1, out: dB } = shared;
  const dact = ownDact ?? dqkv.subarray(0, d.B * d.S * d.F);
  const TD = d.B * d.S * d.D;
  const TT = d.FT > 0 ? d.B * d.D : 0;
  const [dx, dzH, dzL, dh1t, dactT, dxt] = floatArena([
    c.architecture === "trm" || c.bptt ? TD : 0,
    c.bptt ? TD : 0,
    c.bptt ? TD : 0,
    TT * d.S,
    TT * d.FT,
    TT * d.S,
  ]);
  return { shared, dA, dB, dh1, datt, dqkv, dact, dlogitsAll, dx, dzH, dzL, t: { dh1t, dactT, dxt } };
}
