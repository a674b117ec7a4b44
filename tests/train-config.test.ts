/** The training config: YAML subset, official defaults, file + override layering, errors; progress and report text. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatDuration, formatProgress } from "../cli/progress.js";
import { EVAL_SCHEMA } from "../cli/eval.js";
import type { RunConfig } from "../src/train/config.js";
import {
  archConfig,
  archOptionSpecs,
  makeRunConfig,
  nestConfig,
  resolveRunConfig,
  RUN_SPEC,
} from "../src/train/config.js";
import type { OptionsOf } from "../src/util/options.js";
import { fromText, fromYaml, opt, OptionError, parseOptions } from "../src/util/options.js";
import type { MetricRecord } from "../src/report/report.js";
import { lineChartSvg, niceTicks, reportCharts, reportHtml } from "../src/report/report.js";
import { dumpYaml, parseYaml } from "../src/util/yaml.js";

const OFFICIAL_PRETRAIN = `# ARC training config

defaults:
  - arch: hrm_v1
  - _self_

hydra:
  output_subdir: null

# Data path
data_path: data/arc-aug-1000

global_batch_size: 768
epochs: 100000
eval_interval: 10000
checkpoint_every_eval: True

lr: 1e-4
lr_min_ratio: 1.0
lr_warmup_steps: 2000
puzzle_emb_lr: 1e-2
`;

const OFFICIAL_ARCH = `name: hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1
loss:
  name: losses@ACTLossHead
  loss_type: stablemax_cross_entropy

halt_exploration_prob: 0.1
halt_max_steps: 16

H_cycles: 2
L_cycles: 2

H_layers: 4
L_layers: 4

hidden_size: 512
num_heads: 8  # min(2, hidden_size // 64)
expansion: 4

puzzle_emb_ndim: \${.hidden_size}

pos_encodings: rope
`;

/** TinyRecursiveModels' config/arch/trm.yaml and config/cfg_pretrain.yaml, as the official repository has them. */
const OFFICIAL_TRM_ARCH = `name: recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1
loss:
  name: losses@ACTLossHead
  loss_type: stablemax_cross_entropy

halt_exploration_prob: 0.1
halt_max_steps: 16

H_cycles: 3
L_cycles: 6

H_layers: 0
L_layers: 2

hidden_size: 512
num_heads: 8  # min(2, hidden_size // 64)
expansion: 4

puzzle_emb_ndim: \${.hidden_size}

pos_encodings: rope
forward_dtype: bfloat16

mlp_t: False # use mlp on L instead of transformer
puzzle_emb_len: 16 # if non-zero, its specified to this value
no_ACT_continue: True # No continue ACT loss, only use the sigmoid of the halt which makes much more sense`;

const OFFICIAL_TRM_PRETRAIN = `# ARC training config

defaults:
  - arch: trm
  - _self_

hydra:
  output_subdir: null

# Data path
data_paths: ['data/arc-aug-1000']
data_paths_test: []

evaluators:
  - name: arc@ARC

# Hyperparams - Training
global_batch_size: 768

epochs: 100000
eval_interval: 10000
checkpoint_every_eval: True

lr: 1e-4
lr_min_ratio: 1.0
lr_warmup_steps: 2000

# Standard hyperparameter settings for LM, as used in Llama
beta1: 0.9
beta2: 0.95
weight_decay: 0.1
puzzle_emb_weight_decay: 0.1

# Hyperparams - Puzzle embeddings training
puzzle_emb_lr: 1e-2

seed: 0
min_eval_interval: 0 # when to start the eval

ema: False # use Exponential-Moving-Average
ema_rate: 0.999 # EMA-rate
freeze_weights: False # If True, freeze weights and only learn the embeddings

# Supervision Curriculum
supervision_curriculum: False
curriculum_min_depth: 2
curriculum_max_depth: 16
curriculum_warmup_epochs: 1`;

const files: Record<string, string> = {
  "trm/cfg_pretrain.yaml": OFFICIAL_TRM_PRETRAIN,
  "trm/arch/trm.yaml": OFFICIAL_TRM_ARCH,
  "config/cfg_pretrain.yaml": OFFICIAL_PRETRAIN,
  "config/arch/hrm_v1.yaml": OFFICIAL_ARCH,
  "small.yaml": "data_path: d\narch:\n  hidden_size: 64\n  num_heads: 2\n",
  "bad.yaml": "data_path: d\narch:\n  hiden_size: 64\n",
};
const read = (p: string) => {
  if (!(p in files)) throw new Error(`no file ${p}`);
  return files[p];
};
const cfg = (...o: string[]) => resolveRunConfig(o);

test("YAML subset: mappings, lists, scalars, comments, quoting; dump round-trips", () => {
  assert.deepEqual(parseYaml("a: 1\nb:\n  c: [x, 2]\n  d: 'it''s'\ne:\n  - 1e-4\n  - k: v\n    j: True\n"), {
    a: 1,
    b: { c: ["x", 2], d: "it's" },
    e: [1e-4, { k: "v", j: true }],
  });
  assert.deepEqual(parseYaml('x: "a # not a comment" # comment\ny: ~\nz: -3\nw: 0.5'), {
    x: "a # not a comment",
    y: null,
    z: -3,
    w: 0.5,
  });
  assert.equal(parseYaml("16"), 16);
  assert.equal(parseYaml("abc"), "abc");
  assert.throws(() => parseYaml("a: 1\n   b: 2", "f.yaml"), /f.yaml:2: unexpected indentation/);
  assert.throws(() => parseYaml("a: 1\na: 2", "f.yaml"), /f.yaml:2: key "a" repeated/);
  assert.throws(() => parseYaml("a: &anchor 1", "f.yaml"), /f.yaml:1: unsupported YAML construct/);
  const v = { a: 1, b: { c: "x y", d: "1", e: null, f: [1, "two"], g: true }, h: "${.a}" };
  assert.deepEqual(parseYaml(dumpYaml(v)), v);
});

test("run config: official defaults, the official files with defaults/arch and ${.hidden_size}", () => {
  const d = cfg();
  assert.equal(d.global_batch_size, 768);
  assert.equal(d["arch.puzzle_emb_ndim"], 512); // ${.hidden_size}
  assert.equal(d.checkpoint_every_eval, true);
  const o = resolveRunConfig(["arch.hidden_size=256", "arch.num_heads=4"], "config/cfg_pretrain.yaml", read);
  assert.equal(o.data_path, "data/arc-aug-1000");
  assert.equal(o.lr, 1e-4);
  assert.equal(o.puzzle_emb_lr, 1e-2);
  assert.equal(o["arch.hidden_size"], 256);
  assert.equal(o["arch.puzzle_emb_ndim"], 256); // the reference follows the override
  assert.equal(o["arch.loss.loss_type"], "stablemax_cross_entropy");
  const s = resolveRunConfig(["lr=3e-4"], "small.yaml", read);
  assert.equal(s["arch.hidden_size"], 64);
  assert.equal(s.lr, 3e-4);
  const nested = nestConfig(s) as { arch: { loss: { name: string } } };
  assert.equal(nested.arch.loss.name, "losses@ACTLossHead");
});

test("run config overrides, one line each", () => {
  assert.equal(cfg("global_batch_size=64").global_batch_size, 64);
  assert.equal(cfg("arch.L_cycles=8")["arch.L_cycles"], 8);
  assert.equal(cfg("lr=1e-4").lr, 1e-4);
  assert.equal(cfg("eval_interval=null").eval_interval, null);
  assert.equal(cfg("checkpoint_every_eval=false").checkpoint_every_eval, false);
  assert.deepEqual(cfg("eval_save_outputs=logits,q_halt_logits").eval_save_outputs, [
    "logits",
    "q_halt_logits",
  ]);
  assert.deepEqual(cfg("eval_save_outputs=[preds]").eval_save_outputs, ["preds"]);
  assert.equal(cfg("data_path=data/sudoku").data_path, "data/sudoku");
  assert.equal(cfg("run_name=123").run_name, "123"); // strings stay strings
  assert.equal(cfg("arch.forward_dtype=float32")["arch.forward_dtype"], "float32");
  assert.equal(cfg("arch.puzzle_emb_ndim=0")["arch.puzzle_emb_ndim"], 0);
  assert.equal(
    cfg("arch.loss.loss_type=softmax_cross_entropy")["arch.loss.loss_type"],
    "softmax_cross_entropy",
  );
});

test("run config errors name the key", () => {
  assert.throws(
    () => cfg("L_cycles=4"),
    /command line: unknown key "L_cycles" \(did you mean arch.L_cycles\?\)/,
  );
  assert.throws(() => cfg("arch.L_cycle=4"), /unknown key "arch.L_cycle"/);
  assert.throws(() => cfg("global_batch_size=6.5"), /global_batch_size=6.5: expected an integer/);
  assert.throws(() => cfg("lr=fast"), /lr="fast": expected a number/);
  assert.throws(
    () => cfg("checkpoint_every_eval=maybe"),
    /checkpoint_every_eval="maybe": expected true or false/,
  );
  assert.throws(() => cfg("epochs=10", "eval_interval=3"), /eval_interval=3: must divide epochs \(10\)/);
  assert.throws(() => cfg("lr_min_ratio=2"), /lr_min_ratio=2: must be in \[0, 1\]/);
  assert.throws(() => cfg("lr=1", "lr=2"), /override "lr" given twice/);
  assert.throws(() => cfg("lr"), /"lr": overrides are written key=value/);
  assert.throws(() => cfg("eval_save_outputs=logitz"), /unknown output "logitz"/);
  assert.throws(() => cfg("arch.loss.loss_type=mse"), /arch.loss.loss_type="mse": must be/);
  assert.throws(() => resolveRunConfig([], "bad.yaml", read), /bad.yaml: unknown key "arch.hiden_size"/);
  // Architecture validation happens when the dataset fixes the sizes.
  assert.throws(
    () => archConfig(cfg("arch.num_heads=7"), { seq_len: 81, vocab_size: 11, num_puzzle_identifiers: 1 }),
    /hidden_size = 512: must be divisible by num_heads \(7\)/,
  );
});

test("progress line: step/total, bar, ETA, examples/s, live metrics", () => {
  assert.equal(formatDuration(0), "0:00");
  assert.equal(formatDuration(61), "1:01");
  assert.equal(formatDuration(3725), "1:02:05");
  const line = formatProgress(
    { step: 25, total: 100, elapsedS: 10, examplesPerS: 160, live: [["loss", 1.23456]] },
    8,
  );
  assert.equal(line, " 25/100 [##------]  25% 0:10<0:30 160.0 ex/s loss 1.235");
  // resumed at step 20: 5 steps in 10 s, so 75 more take 150 s
  const resumed = formatProgress(
    { step: 25, startStep: 20, total: 100, elapsedS: 10, examplesPerS: 32, live: [] },
    8,
  );
  assert.equal(resumed, " 25/100 [##------]  25% 0:10<2:30 32.0 ex/s ");
});

test("report: nice ticks, SVG charts with every series, HTML with the last evaluation", () => {
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(3, 17, 3), [5, 10, 15]);
  const svg = lineChartSvg("T", [
    {
      name: "a<b",
      points: [
        [0, 1],
        [10, 2],
      ],
    },
  ]);
  assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /<polyline[^>]*points="[\d.]+,[\d.]+ [\d.]+,[\d.]+"/);
  assert.match(svg, /a&lt;b/);
  const records: MetricRecord[] = [
    { step: 1, "train/lm_loss": 2, "train/exact_accuracy": 0, "train/steps": 2, "train/lr": 1e-3 },
    { step: 2, "train/lm_loss": 1.5, "train/exact_accuracy": 0.1, "train/steps": 2, "train/lr": 1e-3 },
    { step: 2, "all/exact_accuracy": 0.25, "all/steps": 4, "all/lm_loss": 1.4 },
  ];
  const charts = reportCharts(records);
  assert.deepEqual(
    charts.map((c) => c.file),
    ["loss.svg", "exact_accuracy.svg", "steps.svg", "lr.svg"],
  );
  assert.match(charts[1].svg, /eval all\/exact_accuracy/);
  const html = reportHtml("run", charts, records, "lr: 0.001\n");
  assert.match(html, /Last evaluation \(step 2\)/);
  assert.match(html, /<td>all\/exact_accuracy<\/td><td>0.25<\/td>/);
  assert.equal((html.match(/<svg/g) ?? []).length, 4);
});

test("makeRunConfig: nested or dotted official names over the defaults, checked like a file", () => {
  const nested = makeRunConfig({
    lr: 1e-3,
    epochs: 20,
    eval_interval: 10,
    arch: { L_cycles: 4, loss: { loss_type: "softmax_cross_entropy" } },
  });
  const dotted = makeRunConfig({
    lr: 1e-3,
    epochs: 20,
    eval_interval: 10,
    "arch.L_cycles": 4,
    "arch.loss.loss_type": "softmax_cross_entropy",
  });
  assert.deepEqual(nested, dotted);
  assert.deepEqual(
    dotted,
    resolveRunConfig([
      "lr=1e-3",
      "epochs=20",
      "eval_interval=10",
      "arch.L_cycles=4",
      "arch.loss.loss_type=softmax_cross_entropy",
    ]),
  );
  assert.equal(makeRunConfig().global_batch_size, 768, "the official default");
  assert.throws(() => makeRunConfig({ arch: { L_cycle: 2 } }), /config: unknown key "arch\.L_cycle"/);
  assert.throws(() => makeRunConfig({ lr: "fast" }), /config: lr="fast": expected a number/);
  assert.throws(
    () => makeRunConfig({ epochs: 10, eval_interval: 3 }),
    /config: eval_interval=3: must divide epochs \(10\)/,
  );
});

test("TRM: the official cfg_pretrain.yaml and arch/trm.yaml load as they are; arch.name=trm takes trm.yaml's defaults", () => {
  const o = resolveRunConfig(
    ["ema=true", "arch.mlp_t=true", "arch.pos_encodings=none"],
    "trm/cfg_pretrain.yaml",
    read,
  );
  assert.equal(o.data_path, "data/arc-aug-1000");
  assert.equal(o.ema, true);
  assert.equal(o.ema_rate, 0.999);
  const m = archConfig(o, { seq_len: 900, vocab_size: 12, num_puzzle_identifiers: 10 });
  assert.equal(m.architecture, "trm");
  assert.deepEqual(
    [m.H_cycles, m.L_cycles, m.L_layers, m.puzzle_emb_len, m.mlp_t, m.no_ACT_continue, m.puzzle_emb_ndim],
    [3, 6, 2, 16, true, true, 512],
  );
  // The short name: the same defaults, and all_config.yaml names the official class.
  const short = cfg("arch.name=trm", "arch.L_cycles=4");
  assert.equal(short["arch.name"], "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1");
  assert.deepEqual(
    [short["arch.H_cycles"], short["arch.L_cycles"], short["arch.puzzle_emb_len"]],
    [3, 4, 16],
  );
  const nested = nestConfig(short) as { arch: Record<string, unknown> };
  assert.equal(nested.arch.no_ACT_continue, true);
  // HRM's all_config.yaml has no TRM keys; HRM refuses them.
  assert.ok(!("mlp_t" in (nestConfig(cfg()) as { arch: Record<string, unknown> }).arch));
  assert.throws(() => cfg("arch.mlp_t=true"), /command line: arch.mlp_t.*is a TRM option/);
  assert.throws(() => cfg("arch.name=gpt"), /arch.name="gpt": unknown model \(known: hrm, trm/);
  assert.throws(() => cfg("data_paths=a,b"), /data_paths=.*one dataset directory/);
  assert.throws(() => cfg("freeze_weights=true"), /freeze_weights=true: is not supported/);
  assert.throws(() => cfg("ema_rate=2"), /ema_rate=2: must be in \[0, 1\]/);
});

test("one typed spec: every key of the resolved run config has its spec's kind, and the type says so", () => {
  const c: RunConfig = resolveRunConfig(["data_path=d", "eval_save_outputs=logits"]);
  // Typed reads, no casts: these lines do not compile if RunConfig loses its types.
  const lr: number = c.lr;
  const dataPath: string | null = c.data_path;
  const cycles: number = c["arch.L_cycles"];
  const dtype: "bfloat16" | "float32" = c["arch.forward_dtype"];
  const mlpT: boolean = c["arch.mlp_t"];
  assert.deepEqual([lr, dataPath, cycles, dtype, mlpT], [1e-4, "d", 2, "bfloat16", false]);
  const flat = c as unknown as Record<string, unknown>;
  assert.deepEqual(Object.keys(flat).sort(), Object.keys(RUN_SPEC).sort());
  for (const [k, spec] of Object.entries(RUN_SPEC)) {
    const v = flat[k];
    const ok = {
      int: Number.isSafeInteger(v),
      "int?": v === null || Number.isSafeInteger(v),
      float: typeof v === "number",
      bool: typeof v === "boolean",
      string: typeof v === "string",
      "string?": v === null || typeof v === "string",
      list: Array.isArray(v),
    }[spec.kind];
    assert.ok(ok, `${k}=${JSON.stringify(v)} is not a ${spec.kind}`);
  }
  // hrm eval's arch.* options are the run spec's, with the same kinds (and the model config's loss_type).
  const archKeys = Object.keys(RUN_SPEC).filter((k) => /^arch\.[a-zA-Z_]+$/.test(k) && k !== "arch.name");
  for (const k of archKeys) assert.equal(archOptionSpecs()[k].kind, RUN_SPEC[k].kind, k);
  const evalArch = Object.keys(EVAL_SCHEMA).filter((k) => k.startsWith("arch."));
  assert.deepEqual(evalArch.sort(), [...archKeys, "arch.loss_type"].sort());
  const parsed: Record<string, unknown> = parseOptions(["arch.mlp_t=true"], EVAL_SCHEMA);
  assert.equal(parsed["arch.mlp_t"], true); // a bool, where it used to be the string "true"
});

test("options: text and YAML values checked against kind and bounds; typed results", () => {
  const schema = {
    n: opt("int", 3, "a count", { min: 1, max: 9 }),
    x: opt("float", 0.5, "a rate"),
    m: opt("int?", null, "a limit"),
    s: { kind: "string", doc: "no default" },
    l: opt("list", [], "names"),
  } as const;
  const o: OptionsOf<typeof schema> = parseOptions(["n=4", "m=null", "l=a, b"], schema);
  const n: number = o.n;
  const s: string | undefined = o.s;
  assert.deepEqual([n, o.x, o.m, s, o.l], [4, 0.5, null, undefined, ["a", "b"]]);
  assert.throws(
    () => parseOptions(["n=10"], schema),
    (e: Error) => e instanceof OptionError && e.message === "n=10: expected an integer from 1 to 9",
  );
  assert.throws(() => parseOptions(["n=2.5"], schema), /n=2\.5: expected an integer$/);
  assert.throws(() => parseOptions(["constructor=1"], schema), /unknown option "constructor"/);
  assert.throws(() => parseOptions(["n=1", "n=2"], schema), /option "n" given twice/);
  assert.equal(fromText("m", "7", schema.m), 7);
  assert.equal(fromYaml("n", 5, schema.n, "f.yaml"), 5);
  assert.throws(
    () => fromYaml("n", 0, schema.n, "f.yaml"),
    (e: Error) =>
      e instanceof OptionError && /^f\.yaml: n=0: expected an integer from 1 to 9$/.test(e.message),
  );
  assert.throws(() => fromYaml("x", "fast", schema.x, "f.yaml"), /f\.yaml: x="fast": expected a number/);
  assert.equal(fromYaml("x", "${lr}", schema.x, "f.yaml"), "${lr}"); // references resolve later
});
