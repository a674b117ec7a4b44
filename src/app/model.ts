/**
 * loadModel: a runnable model from the bytes of a checkpoint (the browser has no paths): our safetensors
 * (which carry their config) or an official PyTorch `.pt` state dict (which does not: its sizes are read off
 * the tensors, the rest comes from the run's all_config.yaml text or a config object). Kernels default to the
 * fastest the platform entry registered (native or WASM in Node, WASM in a browser), else ref.
 */
import type { SelectedKernels } from "../kernels/api.js";
import { selectKernels } from "../kernels/select.js";
import { readTorchCheckpoint } from "../io/torch.js";
import {
  canonicalName,
  decodeModelSafetensors,
  loadStateDict,
  ModelCheckpointError,
} from "../model/checkpoint.js";
import type { HRMConfig } from "../model/config.js";
import { DEFAULT_CONFIG, defaultConfig, makeConfig, puzzlePositions } from "../model/config.js";
import { HRMInner } from "../model/inner.js";
import { HRMParams } from "../model/params.js";
import type { HostTensor } from "../tensor.js";
import type { PuzzleKind } from "./puzzles.js";

export interface LoadModelOptions {
  /** Kernels to run on (default: defaultKernels()). */
  kernels?: SelectedKernels;
  /** Architecture fields (official names). For a `.pt`: what its tensors do not say (seq_len with RoPE,
   * num_heads, ...); for safetensors only the runtime keys may differ from the stored config. */
  config?: Partial<HRMConfig>;
  /** For a `.pt`: the text of the all_config.yaml that the official pretrain.py wrote beside it. */
  allConfigYaml?: string;
  /** Names the source in errors (default "checkpoint"). */
  name?: string;
}

export interface HRMModel {
  readonly inner: HRMInner;
  readonly config: HRMConfig;
  readonly format: "safetensors" | "pt";
  readonly parameters: number;
  /** The puzzle kinds whose encoding fits this model's sequence length and vocabulary. */
  readonly kinds: PuzzleKind[];
  readonly backendName: string;
}

type KernelsFactory = () => SelectedKernels | Promise<SelectedKernels>;
let factory: KernelsFactory | null = null;
let chosen: Promise<SelectedKernels> | null = null;

/** Platform entries (node.ts, browser.ts) register how to make this platform's fastest kernels. */
export function setDefaultKernelsFactory(f: KernelsFactory): void {
  factory = f;
  chosen = null;
}

/** The fastest kernels here, made once: what the platform entry registered, else ref. */
export function defaultKernels(): Promise<SelectedKernels> {
  chosen ??= Promise.resolve(factory ? factory() : selectKernels(null));
  return chosen;
}

const isZip = (b: Uint8Array) => b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 3 && b[3] === 4;

export async function loadModel(bytes: Uint8Array, opts: LoadModelOptions = {}): Promise<HRMModel> {
  const name = opts.name ?? "checkpoint";
  if (!(bytes instanceof Uint8Array))
    throw new TypeError(`${name}: loadModel takes the file's bytes (a Uint8Array)`);
  const kernels = opts.kernels ?? (await defaultKernels());
  const format = isZip(bytes) ? "pt" : "safetensors";
  const params =
    format === "pt"
      ? await ptParams(bytes, name, opts)
      : decodeModelSafetensors(bytes, name, opts.config ?? {});
  const inner = new HRMInner(params, kernels);
  const c = params.config;
  return {
    inner,
    config: c,
    format,
    parameters: params.specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0),
    kinds: kindsFor(c),
    backendName: kernels.backendName,
  };
}

/** Kinds by the official encodings: Sudoku n*n cells over n+2 tokens (pad, blank, 1..n: 11 for 9x9, 6 for 4x4, as
 * the box-Sudoku builder writes; or 11 at any size), mazes n*n over 6 (pad + "# SGo"), ARC a 30x30 canvas over 12 (pad, EOS, 10
 * colours). A 4x4 board over 6 tokens is taken as Sudoku (no maze builder makes 4x4 mazes). */
function kindsFor(c: HRMConfig): PuzzleKind[] {
  const n = Math.round(Math.sqrt(c.seq_len));
  const square = n * n === c.seq_len;
  const kinds: PuzzleKind[] = [];
  const sudoku = [4, 6, 9].includes(n) && square && (c.vocab_size === n + 2 || c.vocab_size === 11);
  if (sudoku) kinds.push("sudoku");
  if (square && c.vocab_size === 6 && !sudoku) kinds.push("maze");
  if (c.seq_len === 900 && c.vocab_size === 12) kinds.push("arc");
  return kinds;
}

type Shapes = Map<string, number[]>;

/** Each tensor's shape by its canonical name. */
function shapesByName(t: Map<string, HostTensor>): Shapes {
  return new Map([...t].map(([k, v]) => [canonicalName(k), v.shape]));
}

/** Sizes an official state dict shows in its tensors. */
function shapesConfig(byName: Shapes): Partial<HRMConfig> {
  const out: Partial<HRMConfig> = {};
  const emb = byName.get("embed_tokens.embedding_weight");
  if (emb?.length === 2) [out.vocab_size, out.hidden_size] = emb;
  const pe = byName.get("puzzle_emb.weights");
  if (pe?.length === 2) [out.num_puzzle_identifiers, out.puzzle_emb_ndim] = pe;
  else out.puzzle_emb_ndim = 0;
  const count = (level: string) =>
    new Set([...byName.keys()].filter((k) => k.startsWith(`${level}.layers.`)).map((k) => k.split(".")[2]))
      .size;
  out.H_layers = count("H_level");
  out.L_layers = count("L_level");
  // TRM has one network, L_level, and no H_level; its MLP variant has mlp_t weights instead of attention.
  if (out.H_layers === 0 && out.L_layers > 0) out.architecture = "trm";
  if (byName.has("L_level.layers.0.mlp_t.gate_up_proj.weight")) out.mlp_t = true;
  return out;
}

/**
 * Positions a .pt's tensors fix: the learned position table (or TRM mlp_t's width) holds puzzle positions +
 * seq_len, so seq_len follows from the puzzle positions of the config.
 */
function seqLenFromTensors(byName: Shapes, c: Partial<HRMConfig>): number | undefined {
  const total =
    byName.get("embed_pos.embedding_weight")?.[0] ??
    byName.get("L_level.layers.0.mlp_t.gate_up_proj.weight")?.[1];
  if (total === undefined || !c.hidden_size) return undefined;
  const ndim = c.puzzle_emb_ndim ?? 0;
  const len = c.puzzle_emb_len ?? (ndim > 0 ? defaultConfig(c.architecture).puzzle_emb_len : 0);
  return total - puzzlePositions({ puzzle_emb_len: len, puzzle_emb_ndim: ndim, hidden_size: c.hidden_size });
}

async function ptParams(bytes: Uint8Array, name: string, opts: LoadModelOptions): Promise<HRMParams> {
  const tensors = readTorchCheckpoint(bytes, name);
  const byName = shapesByName(tensors);
  const shapes = shapesConfig(byName);
  let fromRun: Partial<HRMConfig> = {};
  if (opts.allConfigYaml !== undefined) {
    // Loaded here: the YAML parser is most of a browser bundle's size, and only .pt files need it.
    const { archConfig, resolveRunConfig } = await import("../train/config.js");
    const run = resolveRunConfig([], "all_config.yaml", () => opts.allConfigYaml as string);
    fromRun = archConfig(run, {
      seq_len: 1, // a placeholder: seq_len is the dataset's, not the run config's
      vocab_size: shapes.vocab_size ?? DEFAULT_CONFIG.vocab_size,
      num_puzzle_identifiers: shapes.num_puzzle_identifiers ?? 1,
    });
    delete fromRun.seq_len;
  }
  const seqLen = opts.config?.seq_len ?? seqLenFromTensors(byName, { ...fromRun, ...shapes, ...opts.config });
  if (seqLen === undefined)
    throw new ModelCheckpointError(
      `${name}: an official .pt with RoPE does not record seq_len: pass config: { seq_len } (the dataset's: 81 for 9x9 Sudoku, 900 for mazes and ARC)`,
    );
  const given = { ...fromRun, ...opts.config, seq_len: seqLen };
  const params = new HRMParams(makeConfig({ ...given, ...shapes, ...opts.config, batch_size: 1 }));
  loadStateDict(params, tensors, name);
  return params;
}
