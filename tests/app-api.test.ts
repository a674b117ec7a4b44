/**
 * The app API (src/app): loadModel from bytes (our safetensors; the official tiny-rope .pt with its config),
 * solve/solveStream segment by segment against the official fixture's eval logits, on ref and WASM, the puzzle
 * encoders' errors, and that solving yields to the event loop between segments.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  boxShapeFor,
  decodeNpy,
  DEFAULT_CONFIG,
  encodeModelSafetensors,
  encodePuzzle,
  formatAnswer,
  HRMParams,
  isValidAnswer,
  loadModel,
  dumpYaml,
  makeConfig,
  nestConfig,
  PuzzleError,
  runConfigForModel,
  selectKernels,
  solve,
  solveArcTask,
  solveBoxSudoku,
  solveRows,
  solveStream,
  toFloat32,
} from "../src/index.js";
import type { HRMConfig, SegmentEvent } from "../src/index.js";
import { loadWasmBackendSync } from "../src/platform/wasm-node.js";
import { compare, randn, Rng } from "./helpers.js";
import { arcModelCase } from "./support/arc-model.js";
import { OFFICIAL_FIXTURES, TRM_OFFICIAL_FIXTURES } from "./support/fixtures.js";

const TINY = join(OFFICIAL_FIXTURES, "tiny-rope");
const npy = (f: string) => decodeNpy(readFileSync(join(TINY, f)));
/** The fixture's config.json, less its notes (seed, derived, init, ...): the architecture fields. */
const tinyConfig = (): Partial<HRMConfig> => {
  const all = JSON.parse(readFileSync(join(TINY, "config.json"), "utf8")) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(all).filter(([k]) => k in DEFAULT_CONFIG));
};
const ref = selectKernels(null);
const wasm = selectKernels(loadWasmBackendSync({ threads: 2 }));

for (const kernels of [ref, wasm]) {
  test(`the official tiny-rope .pt, solved segment by segment, gives the fixture's eval logits (${kernels.backendName})`, async () => {
    const model = await loadModel(readFileSync(join(TINY, "model.pt")), { config: tinyConfig(), kernels });
    assert.equal(model.format, "pt");
    assert.deepEqual(model.kinds, ["sudoku"]);
    const inputs = npy("batch/inputs.npy");
    const ids = npy("batch/puzzle_identifiers.npy");
    const logits = toFloat32(npy("eval/logits.npy"), "logits");
    const qHalt = toFloat32(npy("eval/q_halt_logits.npy"), "q_halt");
    const [S, B, L, V] = npy("eval/logits.npy").shape;
    for (const row of [1, 3]) {
      const events: SegmentEvent[] = [];
      const r = await solve(
        model,
        {
          kind: "tokens",
          puzzle: Array.from(inputs.data.subarray(row * L, (row + 1) * L) as Int32Array),
          puzzleId: Number(ids.data[row]),
        },
        { maxThinkSteps: S, halting: "fixed", onSegment: (e) => events.push(e) },
      );
      assert.equal(r.segments, S);
      assert.equal(events.length, S);
      events.forEach((e, s) => {
        const want = logits.subarray((s * B + row) * L * V, (s * B + row + 1) * L * V);
        const c = compare(e.logits, want, 1e-4, 1e-4); // the fixture README's eval tolerance
        assert.ok(c.ok, `row ${row} segment ${s + 1}: ${c.report}`);
        assert.ok(Math.abs(e.qHalt - qHalt[s * B + row]) < 1e-4, `row ${row} segment ${s + 1} q_halt`);
        assert.equal(e.halted, s === S - 1);
      });
    }
  });
}

for (const name of ["trm-att", "trm-mlp"])
  test(`an official TRM .pt (${name}), solved segment by segment on WASM, gives the fixture's eval logits`, async () => {
    const dir = join(TRM_OFFICIAL_FIXTURES, name);
    const all = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as Record<string, unknown>;
    const arch = Object.fromEntries(Object.entries(all).filter(([k]) => k in DEFAULT_CONFIG));
    const read = (f: string) => decodeNpy(readFileSync(join(dir, f)));
    // As from its all_config.yaml: the .pt's tensors say TRM (no H_level) and, for trm-mlp, mlp_t.
    const config: Partial<HRMConfig> = { ...arch, forward_dtype: "float32" };
    delete config.seq_len; // mlp_t's weights fix it (for RoPE it must be given)
    if (name === "trm-att") config.seq_len = 81;
    const model = await loadModel(readFileSync(join(dir, "model.pt")), { config, kernels: wasm });
    assert.equal(model.config.architecture, "trm");
    assert.equal(model.config.mlp_t, name === "trm-mlp");
    assert.equal(model.config.seq_len, 81);
    const inputs = read("batch/inputs.npy");
    const ids = read("batch/puzzle_identifiers.npy");
    const logits = toFloat32(read("eval/logits.npy"), "logits");
    const [S, B, L, V] = read("eval/logits.npy").shape;
    const row = 1;
    const events: SegmentEvent[] = [];
    await solve(
      model,
      {
        kind: "tokens",
        puzzle: Array.from(inputs.data.subarray(row * L, (row + 1) * L) as Int32Array),
        puzzleId: Number(ids.data[row]),
      },
      { maxThinkSteps: S, halting: "fixed", onSegment: (e) => events.push(e) },
    );
    events.forEach((e, s) => {
      const want = logits.subarray((s * B + row) * L * V, (s * B + row + 1) * L * V);
      const atol = name === "trm-mlp" ? 2e-4 * 13 ** s : 1e-4; // mlp_t is chaotic (trm-fixtures.test.ts)
      const c = compare(e.logits, want, atol, 1e-4);
      assert.ok(c.ok, `segment ${s + 1}: ${c.report}`);
    });
  });

test("an official .pt with the text of its all_config.yaml takes its architecture from it", async () => {
  const dir = join(OFFICIAL_FIXTURES, "tiny-learned");
  const all = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as Record<string, unknown>;
  const c = makeConfig(Object.fromEntries(Object.entries(all).filter(([k]) => k in DEFAULT_CONFIG)));
  const yaml = dumpYaml(nestConfig(runConfigForModel(c)));
  const bytes = readFileSync(join(dir, "model.pt"));
  const model = await loadModel(bytes, { allConfigYaml: yaml, kernels: ref, name: "tiny-learned.pt" });
  for (const k of [
    "num_heads",
    "halt_max_steps",
    "forward_dtype",
    "H_cycles",
    "L_cycles",
    "seq_len",
  ] as const)
    assert.equal(model.config[k], c[k], k);
  // Without it the official defaults stand where nothing else says otherwise (8 heads, 16 segments).
  const bare = await loadModel(bytes, { config: { pos_encodings: "learned" }, kernels: ref, name: "t.pt" });
  assert.deepEqual([bare.config.num_heads, bare.config.halt_max_steps], [8, 16]);
  assert.deepEqual([model.config.num_heads, model.config.halt_max_steps], [4, 4]);
});

test("a .pt with RoPE and no seq_len is refused with a message that says what to pass", async () => {
  const cfg = tinyConfig();
  delete cfg.seq_len;
  await assert.rejects(
    loadModel(readFileSync(join(TINY, "model.pt")), { config: cfg, kernels: ref, name: "tiny.pt" }),
    /tiny.pt: an official .pt with RoPE does not record seq_len: pass config: \{ seq_len \}/,
  );
});

/** A random 4x4 Sudoku model, as our safetensors bytes. */
function tinySudokuModel(): Uint8Array {
  const config = makeConfig({
    seq_len: 16,
    vocab_size: 11,
    hidden_size: 32,
    num_heads: 2,
    H_layers: 1,
    L_layers: 1,
    puzzle_emb_ndim: 0,
    halt_max_steps: 4,
    forward_dtype: "float32",
  });
  const params = new HRMParams(config);
  const rng = new Rng(7);
  for (const s of params.specs)
    params.get(s.name).set(randn(Float32Array, params.get(s.name).length, rng, 0.5));
  return encodeModelSafetensors(params);
}

test("solve on our safetensors: the segments and answer equal solveRows, adaptive and fixed", async () => {
  const model = await loadModel(tinySudokuModel(), { kernels: ref });
  assert.equal(model.format, "safetensors");
  const puzzle = "1.3. ..1. 2... .3.1";
  const enc = encodePuzzle({ kind: "sudoku", puzzle });
  for (const halting of ["fixed", "adaptive"] as const) {
    const want = solveRows(model.inner, enc.tokens, Int32Array.of(0), {
      maxSteps: 3,
      adaptive: halting === "adaptive",
    });
    const r = await solve(model, { kind: "sudoku", puzzle }, { maxThinkSteps: 3, halting });
    assert.equal(r.segments, want.steps[0]);
    assert.deepEqual(r.tokens, want.preds);
    assert.equal(r.valid, isValidAnswer(enc, want.preds));
    if (halting === "fixed") assert.equal(r.segments, 3);
  }
});

test("solveStream yields to the event loop between segments and stops on abort", async () => {
  const model = await loadModel(tinySudokuModel(), { kernels: ref });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  const seen: number[] = [];
  const ac = new AbortController();
  try {
    const it = solveStream(
      model,
      { kind: "sudoku", puzzle: "1...........4..." },
      { maxThinkSteps: 6, halting: "fixed", signal: ac.signal },
    );
    for (;;) {
      const before = ticks;
      const n = await it.next();
      if (n.done) break;
      seen.push(n.value.segment);
      if (n.value.segment === 4) ac.abort(new Error("enough"));
      if (n.value.segment > 1) assert.ok(ticks >= before, "timers ran between segments");
    }
    assert.fail("the aborted solve finished");
  } catch (e) {
    assert.equal((e as Error).message, "enough");
  } finally {
    clearInterval(timer);
  }
  assert.deepEqual(seen, [1, 2, 3, 4]);
  assert.ok(ticks > 0, "the interval never ran during the solve");
});

test("puzzle encoders: clear errors naming the field, and exact validity", () => {
  const bad: [unknown, string, RegExp][] = [
    [{ kind: "sudoku", puzzle: "12" }, "puzzle", /2 cells, expected 16, 36 or 81/],
    [{ kind: "sudoku", puzzle: "1x3............." }, "puzzle", /character "x" at cell 1/],
    [{ kind: "sudoku", puzzle: "11.............." }, "puzzle", /the givens break the rules/],
    [{ kind: "sudoku", puzzle: "5..............." }, "puzzle", /digit 5 at cell 0 is larger than 4/],
    [
      {
        kind: "sudoku",
        puzzle: [
          [1, 2],
          [3, 4],
        ],
      },
      "puzzle",
      /2 rows, expected 4, 6 or 9/,
    ],
    [{ kind: "chess", puzzle: "" }, "kind", /unknown puzzle kind chess/],
    [{ kind: "maze", puzzle: "S#\n#" }, "puzzle", /./],
    [{ kind: "arc", puzzle: [[1, 12]] }, "puzzle", /./],
    [{ kind: "sudoku", puzzle: "1...............", puzzleId: -1 }, "puzzleId", /non-negative integer/],
  ];
  for (const [input, field, msg] of bad) {
    assert.throws(
      () => encodePuzzle(input as never),
      (e: unknown) => e instanceof PuzzleError && e.field === field && msg.test(e.message),
      JSON.stringify(input),
    );
  }
  const s = encodePuzzle({
    kind: "sudoku",
    puzzle: [
      [1, 0, 3, 0],
      [0, 0, 1, 0],
      [2, 0, 0, 0],
      [0, 3, 0, 1],
    ],
  });
  const { solution } = solveBoxSudoku(s.givens, boxShapeFor(4));
  const tokens = Array.from(solution!, (d) => d + 1);
  assert.equal(isValidAnswer(s, tokens), true);
  const swapped = tokens.slice();
  [swapped[1], swapped[2]] = [swapped[2], swapped[1]];
  assert.equal(isValidAnswer(s, swapped), false, "two cells swapped break a row's columns");
  const relabelled = tokens.map((t) => (t === 2 ? 3 : t === 3 ? 2 : t)); // digits 1 <-> 2: valid, givens lost
  assert.equal(isValidAnswer(s, relabelled), false, "a valid grid that drops the givens");
  assert.equal(
    formatAnswer(s, [
      [1, 2, 3, 4],
      [3, 4, 1, 2],
      [2, 1, 4, 3],
      [4, 3, 2, 1],
    ]),
    "1 2 | 3 4\n3 4 | 1 2\n----+----\n2 1 | 4 3\n4 3 | 2 1",
  );
  const maze = encodePuzzle({ kind: "maze", puzzle: ["S  ", "## ", "G  "] });
  const path = ["Soo", "##o", "Goo"]
    .join("")
    .split("")
    .map((ch) => "# SGo".indexOf(ch) + 1);
  assert.equal(isValidAnswer(maze, path), true);
  assert.equal(formatAnswer(maze, ["Soo", "##o", "Goo"]), "Soo\n##o\nGoo");
  const arc = encodePuzzle({
    kind: "arc",
    puzzle: [
      [1, 2],
      [3, 4],
    ],
  });
  assert.equal(arc.tokens.length, 900);
  assert.equal(isValidAnswer(arc, arc.tokens), true);
});

test("solveArcTask votes over every variant of the task the model knows, and names what is missing", async () => {
  const { modelBytes, task: name, input, identifiers } = arcModelCase();
  const model = await loadModel(modelBytes, { kernels: ref });
  assert.deepEqual(model.kinds, ["arc"]);
  const r = solveArcTask(model, name, input, identifiers, { maxThinkSteps: 2, halting: "fixed" });
  const variants = identifiers.filter((n, i) => i > 0 && n.startsWith(name)).length;
  assert.equal(r.variants, variants);
  assert.ok(variants >= 2, "the task has augmented variants");
  assert.equal(
    r.candidates.reduce((n, c) => n + c.votes, 0),
    variants,
    "every variant votes once",
  );
  for (let i = 1; i < r.candidates.length; i++) assert.ok(r.candidates[i - 1].votes >= r.candidates[i].votes);
  assert.deepEqual(r.segments, new Array(variants).fill(2));
  assert.throws(
    () => solveArcTask(model, "no-such-task", input, identifiers),
    (e: unknown) =>
      e instanceof PuzzleError && e.field === "task" && /not in identifiers.json/.test(e.message),
  );
});
