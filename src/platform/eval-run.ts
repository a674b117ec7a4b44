/**
 * Official evaluation on Node (`hrm eval`): an official .pt checkpoint or ours (.safetensors) on a dataset's
 * test split, metrics written to <output_dir>/metrics.json; `sweep_steps` reports each segment limit in one
 * pass; `save_outputs` writes .npy files; `halting=adaptive` also runs with Q-head halting and reports the
 * speed-up; ARC datasets get the official voting (pass@K per task and overall, submission.json).
 * For .pt files the architecture is the all_config.yaml beside the file (as the official evaluate.py reads
 * it), else the official default, overridden by arch.* options, with vocab, seq_len and puzzle count from the
 * dataset. Messages go to `say`.
 */
import { existsSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { SelectedKernels } from "../kernels/api.js";
import { HRMInner } from "../model/inner.js";
import type { HRMConfig } from "../model/config.js";
import { makeConfig } from "../model/config.js";
import { decodeModelSafetensors, loadStateDict } from "../model/checkpoint.js";
import { HRMParams } from "../model/params.js";
import { readTorchCheckpoint } from "../io/torch.js";
import { archConfig, archOptionSpecs, resolveRunConfig } from "../train/config.js";
import { evaluateAdaptive } from "../eval/adaptive.js";
import { ArcVotes, scoreArc, submission, truthFromRows } from "../eval/arc-vote.js";
import type { Reduced } from "../train/metrics.js";
import type { OutputKey } from "../eval/outputs.js";
import { OUTPUT_KEYS, OutputCollector } from "../eval/outputs.js";
import { evaluate, evaluateSweep } from "../eval/evaluate.js";
import type { OptionsOf, Schema } from "../util/options.js";
import { bfloat16Note } from "./node.js";
import { readBytes, readIdentifiers, readSplit, writeFileAtomic } from "./files.js";
import { ensureWritableDir, readText } from "./fs.js";
import { saveOutputs } from "./train-run.js";

export class EvalError extends Error {}

export const EVAL_OPTIONS = {
  checkpoint: { kind: "string", doc: "official .pt state dict or our .safetensors checkpoint (required)" },
  data_path: { kind: "string", doc: "dataset directory with a test/ split (required)" },
  global_batch_size: { kind: "int", default: 64, min: 1, max: 65536, doc: "evaluation batch size" },
  output_dir: {
    kind: "string",
    doc: "where metrics.json, outputs and ARC results go (default <checkpoint dir>/eval)",
  },
  sweep_steps: {
    kind: "string",
    doc: "comma-separated segment limits to report in one pass, e.g. 1,2,4,8,16",
  },
  save_outputs: {
    kind: "string",
    doc: `outputs to save as .npy, comma-separated (${OUTPUT_KEYS.join(", ")})`,
  },
  halting: {
    kind: "string",
    default: "fixed",
    doc: "fixed (official: every puzzle runs halt_max_steps) or adaptive (also stop each puzzle when its Q-head halts)",
  },
  arc_vote: {
    kind: "string",
    default: "auto",
    doc: "ARC voting (pass@K, submission.json): auto (ARC-shaped data), true, false",
  },
  ...archOptionSpecs(),
} satisfies Schema;

export type EvalOptions = OptionsOf<typeof EVAL_OPTIONS>;

/**
 * Loads a checkpoint (ours or official) for a dataset. Ours carry their architecture: arch.* options may change
 * only how it runs (cycles, segments, dtype), and the dataset must have its sequence length, vocabulary and
 * puzzle count. For .pt files the architecture is the official default with arch.* options, sized for the dataset.
 */
export function loadCheckpoint(
  ck: string,
  meta: { seq_len: number; vocab_size: number; num_puzzle_identifiers: number },
  B: number,
  arch: Partial<HRMConfig> = {},
): HRMParams {
  if (ck.endsWith(".safetensors")) {
    const params = decodeModelSafetensors(readBytes(ck), ck, { ...arch, batch_size: B });
    checkDatasetFits(params.config, meta, ck);
    return params;
  }
  // As the official evaluate.py: the architecture from the all_config.yaml that pretrain.py writes beside its
  // checkpoints, when there is one; arch.* options override it.
  const runCfg = join(dirname(ck), "all_config.yaml");
  const fromRun = existsSync(runCfg) ? archConfig(resolveRunConfig([], runCfg, readText), meta) : {};
  const params = new HRMParams(
    makeConfig({
      ...fromRun,
      ...arch,
      batch_size: B,
      seq_len: meta.seq_len,
      vocab_size: meta.vocab_size,
      num_puzzle_identifiers: meta.num_puzzle_identifiers,
    }),
  );
  loadStateDict(params, readTorchCheckpoint(readBytes(ck), ck), ck);
  return params;
}

/** A model trained on other sequences, tokens or puzzle identifiers than the dataset's would answer nonsense. */
function checkDatasetFits(
  c: HRMConfig,
  meta: { seq_len: number; vocab_size: number; num_puzzle_identifiers: number },
  ck: string,
): void {
  const keys: ("seq_len" | "vocab_size" | "num_puzzle_identifiers")[] = ["seq_len", "vocab_size"];
  if (c.puzzle_emb_ndim > 0) keys.push("num_puzzle_identifiers");
  for (const k of keys)
    if (c[k] !== meta[k])
      throw new EvalError(
        `${ck}: the checkpoint has ${k}=${c[k]}, the dataset ${meta[k]} (a model for another dataset?)`,
      );
}

function archOptions(o: EvalOptions): Partial<HRMConfig> {
  const arch: Partial<HRMConfig> = {};
  for (const [k, v] of Object.entries(o))
    if (k.startsWith("arch.") && v !== undefined) (arch as Record<string, unknown>)[k.slice(5)] = v;
  return arch;
}

function listOption(v: string | undefined, key: string, allowed: readonly string[]): string[] {
  if (!v) return [];
  const items = v.split(",").map((s) => s.trim());
  for (const x of items)
    if (!allowed.includes(x))
      throw new EvalError(`${key}=${v}: unknown "${x}" (available: ${allowed.join(", ")})`);
  return items;
}

const fmtTime = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function runEval(o: EvalOptions, kernels: SelectedKernels, say: (line: string) => void): Reduced {
  if (!o.checkpoint || !o.data_path)
    throw new EvalError("hrm eval needs checkpoint=<file> and data_path=<dir>");
  const ck = o.checkpoint;
  const dataPath = o.data_path;
  const test = readSplit(dataPath, "test");
  const B = o.global_batch_size;
  if (!["fixed", "adaptive"].includes(o.halting))
    throw new EvalError(`halting=${o.halting}: expected fixed or adaptive`);
  if (!["auto", "true", "false"].includes(o.arc_vote))
    throw new EvalError(`arc_vote=${o.arc_vote}: expected auto, true or false`);
  const limits = o.sweep_steps ? o.sweep_steps.split(",").map(Number) : null;
  if (limits && limits.some((s) => !Number.isInteger(s) || s < 1))
    throw new EvalError(`sweep_steps=${o.sweep_steps}: expected positive integers`);
  const params = loadCheckpoint(ck, test.metadata, B, archOptions(o));
  if (params.config.forward_dtype === "bfloat16") say(`forward_dtype bfloat16: ${bfloat16Note()}`);
  const inner = new HRMInner(params, kernels);
  // Default under the working directory: never write next to an input checkpoint (it may be shared or read-only).
  const stem = basename(ck).replace(/\.(pt|safetensors)$/, "");
  const outDir =
    o.output_dir ?? join("evals", `${basename(dirname(resolve(ck)))}-${stem}-${basename(resolve(dataPath))}`);
  ensureWritableDir(outDir); // before the work: an unwritable output must not cost a whole evaluation
  const m = test.metadata;
  const arc = o.arc_vote === "true" || (o.arc_vote === "auto" && m.seq_len === 900 && m.vocab_size === 12);
  const idsFile = join(dataPath, "identifiers.json");
  if (arc && !existsSync(idsFile))
    throw new EvalError(`${idsFile}: ARC voting needs the dataset's identifiers.json`);
  const save = listOption(o.save_outputs, "save_outputs", OUTPUT_KEYS) as OutputKey[];
  const keys = [
    ...new Set<OutputKey>([
      ...save,
      ...(arc ? (["inputs", "labels", "puzzle_identifiers", "preds", "q_halt_logits"] as const) : []),
    ]),
  ];

  const results: Reduced = {};
  const t0 = performance.now();
  for (const [name, set] of test.sets) {
    const collect = keys.length ? new OutputCollector(keys, m.seq_len, m.vocab_size) : undefined;
    const tf = performance.now();
    Object.assign(results, evaluate(inner, set, m, B, name, collect));
    const fixedMs = performance.now() - tf;
    if (limits) Object.assign(results, evaluateSweep(inner, set, m, B, limits, name));
    if (collect && save.length)
      say(
        `saved ${saveOutputs(join(outDir, "outputs", name), collect).length} output files to ${join(outDir, "outputs", name)}`,
      );
    if (collect && arc)
      Object.assign(results, arcResults(collect, readIdentifiers(idsFile), outDir, name, say));
    if (o.halting === "adaptive") {
      const ta = performance.now();
      const a = evaluateAdaptive(inner, set, m, B, params.config.halt_max_steps, `${name}/adaptive`);
      const adaptiveMs = performance.now() - ta;
      Object.assign(results, a.metrics);
      results[`${name}/adaptive/speedup`] = fixedMs / adaptiveMs;
      results[`${name}/adaptive/segment_ratio`] =
        ((set.inputs.length / m.seq_len) * params.config.halt_max_steps) / a.segmentsRun;
      say(
        `${name}: adaptive halting used ${a.metrics[`${name}/adaptive/steps`].toFixed(2)} segments per puzzle on average ` +
          `(max ${params.config.halt_max_steps}); ${fmtTime(adaptiveMs)} vs ${fmtTime(fixedMs)} fixed = ${(fixedMs / adaptiveMs).toFixed(2)}x faster`,
      );
    }
  }
  say(`${basename(ck)} on ${dataPath}/test (${kernels.backendName}, ${fmtTime(performance.now() - t0)})`);
  for (const [k, v] of Object.entries(results)) say(`  ${k.padEnd(32)} ${v.toFixed(4)}`);
  writeFileAtomic(join(outDir, "metrics.json"), JSON.stringify(results, null, 2));
  say(`metrics: ${join(outDir, "metrics.json")}`);
  return results;
}

/** The official ARC voting over the collected predictions; writes per-task results and submission.json. */
function arcResults(
  collect: OutputCollector,
  identifiers: string[],
  outDir: string,
  set: string,
  say: (line: string) => void,
): Reduced {
  const t = collect.tensors();
  const L = collect.seqLen;
  const ids = t.get("puzzle_identifiers")!.data as Int32Array;
  const inputs = t.get("inputs")!.data as Int32Array;
  const labels = t.get("labels")!.data as Int32Array;
  const preds = t.get("preds")!.data as Int32Array;
  const q = t.get("q_halt_logits")!.data as Float32Array;
  const votes = new ArcVotes();
  const rows: { name: string; input: Int32Array; label: Int32Array }[] = [];
  for (let e = 0; e < ids.length; e++) {
    if (ids[e] === 0) continue; // blank identifier: padding
    const name = identifiers[ids[e]];
    if (name === undefined) throw new EvalError(`puzzle identifier ${ids[e]} is not in identifiers.json`);
    const input = inputs.subarray(e * L, (e + 1) * L);
    votes.add(name, input, preds.subarray(e * L, (e + 1) * L), q[e]);
    rows.push({ name, input, label: labels.subarray(e * L, (e + 1) * L) });
  }
  const score = scoreArc(votes, truthFromRows(rows));
  writeFileAtomic(join(outDir, `arc_${set}_per_task.json`), JSON.stringify(score.perTask, null, 1));
  writeFileAtomic(join(outDir, "submission.json"), JSON.stringify(submission(votes)));
  say(`ARC voting over ${score.tasks} tasks: submission ${join(outDir, "submission.json")}`);
  return Object.fromEntries(Object.entries(score.passAt).map(([k, v]) => [`${set}/arc/pass@${k}`, v]));
}
