/**
 * The loader defects of the hardening issue, one test each: a checkpoint loads only into the model it was trained
 * as (D1), official files with edited storage offsets or zip headers are refused (D2, D6), safetensors data must be
 * exactly its tensors (D7), errors name the file in one short line (D8), and bad command lines exit non-zero with a
 * clear message (D9, D11, D12).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { buildBoxSudokuDataset, boxShapeFor, givensClash } from "../src/data/sudoku-box.js";
import { decodeSafetensors, encodeSafetensors } from "../src/io/safetensors.js";
import { readTorchCheckpoint } from "../src/io/torch.js";
import { decodeModelSafetensors, encodeModelSafetensors, loadStateDict } from "../src/model/checkpoint.js";
import { makeConfig } from "../src/model/config.js";
import { HRMParams } from "../src/model/params.js";
import { writeIdentifiers, writeSplit } from "../src/platform/files.js";
import type { HostTensor } from "../src/tensor.js";
import { Rng } from "../src/util/rng.js";
import { concat, makeZip, stateDictPickle } from "./support/builders.js";
import { OFFICIAL_FIXTURES } from "./support/fixtures.js";

const HRM = fileURLToPath(new URL("../cli/hrm.js", import.meta.url));
const hrm = (...args: string[]) =>
  spawnSync(process.execPath, [HRM, ...args], { encoding: "utf8", timeout: 60_000 });

const small = {
  hidden_size: 32,
  num_heads: 2,
  H_layers: 1,
  L_layers: 1,
  expansion: 2,
  seq_len: 16,
  vocab_size: 6,
  puzzle_emb_ndim: 0,
  halt_max_steps: 2,
  forward_dtype: "float32" as const,
};
let dir = "";
let ck = "";
let data = "";

before(() => {
  dir = mkdtempSync(join(tmpdir(), "hrm-loaders-"));
  ck = join(dir, "model.safetensors");
  writeFileSync(ck, encodeModelSafetensors(HRMParams.init(makeConfig(small), 1)));
  data = join(dir, "data");
  const d = buildBoxSudokuDataset(
    boxShapeFor(4),
    { trainCount: 8, testCount: 8, clues: 6, numAug: 0 },
    new Rng(1),
  );
  writeSplit(data, "train", { metadata: d.trainMeta, sets: new Map([["all", d.train]]) });
  writeSplit(data, "test", { metadata: d.testMeta, sets: new Map([["all", d.test]]) });
  writeIdentifiers(data, ["<blank>"]);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("D1: our checkpoint keeps its architecture; overrides that contradict it are refused, runtime ones allowed", () => {
  const bytes = readFileSync(ck);
  for (const [k, v] of [
    ["hidden_size", 64],
    ["expansion", 8],
    ["H_layers", 3],
    ["num_heads", 4],
    ["pos_encodings", "learned"],
  ] as const)
    assert.throws(
      () => decodeModelSafetensors(bytes, "m.safetensors", { [k]: v }),
      new RegExp(`m.safetensors: ${k}=${JSON.stringify(v)} contradicts the checkpoint's ${k}=`),
    );
  const p = decodeModelSafetensors(bytes, "m.safetensors", { halt_max_steps: 8, L_cycles: 4, batch_size: 3 });
  assert.equal(p.config.halt_max_steps, 8);
  assert.equal(p.config.hidden_size, 32);
  for (const a of ["arch.hidden_size=256", "arch.expansion=8", "arch.H_layers=3"]) {
    const r = hrm("eval", `checkpoint=${ck}`, `data_path=${data}`, a, `output_dir=${join(dir, "ev")}`);
    assert.equal(r.status, 1, `${a}: exit ${r.status}`);
    assert.match(r.stderr, /^hrm: .*model.safetensors: \w+=\d+ contradicts the checkpoint's/);
  }
  const ok = hrm(
    "eval",
    `checkpoint=${ck}`,
    `data_path=${data}`,
    "arch.halt_max_steps=4",
    `output_dir=${join(dir, "ev")}`,
  );
  assert.equal(ok.status, 0, ok.stderr);
});

test("D1: every tensor is checked by name, shape and dtype; a dataset of another shape is refused", () => {
  const params = HRMParams.init(makeConfig(small), 1);
  const tensors = decodeSafetensors(encodeModelSafetensors(params), "x").tensors;
  const swap = (name: string, t: HostTensor) =>
    new Map([...tensors].map(([k, v]) => [k, k.endsWith(name) ? t : v]));
  const f64 = { dtype: "float64" as const, shape: [6, 32], data: new Float64Array(6 * 32) };
  assert.throws(
    () => loadStateDict(new HRMParams(params.config), swap("lm_head.weight", f64), "d.st"),
    /d.st: _orig_mod.model.inner.lm_head.weight is float64, the model needs float32/,
  );
  const bf16Init = { dtype: "bfloat16" as const, shape: [32], data: new Uint16Array(32) };
  loadStateDict(new HRMParams(params.config), swap("H_init", bf16Init), "ok.st"); // what the official code stores
  // The same bytes under another model's config: the metadata says so, the shapes disagree, the load stops.
  const other = HRMParams.init(makeConfig({ ...small, hidden_size: 64 }), 1);
  const forged = encodeSafetensors(tensors, { config: JSON.stringify(other.config) });
  assert.throws(() => decodeModelSafetensors(forged, "f.st"), /f.st: .* has shape \[.*\], the config needs/);
  const meta = JSON.parse(readFileSync(join(data, "test", "dataset.json"), "utf8"));
  writeFileSync(join(data, "test", "dataset.json"), JSON.stringify({ ...meta, vocab_size: 7 }));
  try {
    const r = hrm("eval", `checkpoint=${ck}`, `data_path=${data}`, `output_dir=${join(dir, "ev")}`);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /the checkpoint has vocab_size=6, the dataset 7/);
  } finally {
    writeFileSync(join(data, "test", "dataset.json"), JSON.stringify(meta));
  }
});

/** The official fixture with one byte changed at `at` bytes after the first occurrence of `marker`. */
function editOfficial(marker: string, at: number, byte: (b: number) => number): Uint8Array {
  const bytes = new Uint8Array(readFileSync(join(OFFICIAL_FIXTURES, "tiny-rope/model.pt")));
  const i = Buffer.from(bytes).indexOf(marker);
  assert.ok(i >= 0, marker);
  bytes[i + at] = byte(bytes[i + at]);
  return bytes;
}

test("D2, D6: an official checkpoint with an edited offset, local header or data byte is refused", () => {
  // The first tensor's storage offset is BININT1 0 ("K\x00") right after its persistent id's BINPERSID ("Q").
  const pkl = new Uint8Array(readFileSync(join(OFFICIAL_FIXTURES, "tiny-rope/model.pt")));
  const at = Buffer.from(pkl).indexOf(Buffer.from([0x51, 0x4b, 0x00])); // Q K 0
  assert.ok(at > 0);
  const neg = pkl.slice();
  neg.set([0x4a, 0xfc], at + 1); // BININT -4 needs 4 bytes: the CRC of data.pkl no longer matches either way
  assert.throws(() => readTorchCheckpoint(neg, "neg.pt"), /neg.pt: .*(CRC-32|offset)/);
  assert.throws(
    () =>
      readTorchCheckpoint(
        editOfficial("model/data/0", -2, (b) => b + 1),
        "shift.pt",
      ),
    /shift.pt: (entry model\/data\/0 (fails its CRC-32|overlaps)|.*differs from the central directory)/,
  );
  assert.throws(
    () =>
      readTorchCheckpoint(
        editOfficial("model/data/0", 12 + 64, (b) => b ^ 1),
        "flip.pt",
      ),
    /flip.pt: entry model\/data\/0 fails its CRC-32 check/,
  );
  // A hand-made file with correct CRCs and a negative offset: the offset check itself.
  const z = makeZip([
    ["ck/data.pkl", stateDictPickle("w", "0", 4, 0, [4], [1])],
    ["ck/data/0", new Uint8Array(16)],
  ]);
  assert.equal(readTorchCheckpoint(z, "z.pt").get("w")!.shape[0], 4);
  const bad = makeZip([
    ["ck/data.pkl", stateDictPickle("w", "0", 4, -1, [4], [1])],
    ["ck/data/0", new Uint8Array(16)],
  ]);
  assert.throws(
    () => readTorchCheckpoint(bad, "o.pt"),
    /o.pt: a tensor over storage 0: storage offset -1 is not/,
  );
});

test("D7: safetensors data must be exactly the tensors' byte ranges (no gap, no trailing bytes, no overlap)", () => {
  const t = new Map<string, HostTensor>([
    ["a", { dtype: "float32", shape: [2], data: Float32Array.of(1, 2) }],
    ["b", { dtype: "float32", shape: [1], data: Float32Array.of(3) }],
  ]);
  const good = encodeSafetensors(t);
  decodeSafetensors(good, "g.st");
  assert.throws(
    () => decodeSafetensors(concat(good, new Uint8Array(4)), "t.st"),
    /t.st: 4 bytes after the last tensor/,
  );
  const edit = (from: string, to: string) => {
    const s = Buffer.from(good).toString("latin1").replace(from, to);
    return concat(Buffer.from(s, "latin1"), new Uint8Array(4));
  };
  assert.throws(
    () => decodeSafetensors(edit("[8,12]", "[12,16]"), "gap.st"),
    /gap.st: 4 bytes before tensor b belong to no tensor/,
  );
  assert.throws(() => decodeSafetensors(edit("[8,12]", "[4,8] "), "ov.st"), /ov.st: tensor b overlaps/);
  for (const dtype of ["constructor", "toString", "__proto__"]) {
    const head = Buffer.from(JSON.stringify({ a: { dtype, shape: [2], data_offsets: [0, 8] } }));
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(head.length), true);
    assert.throws(
      () => decodeSafetensors(concat(len, head, new Uint8Array(8)), "p.st"),
      new RegExp(`p.st: tensor a: unsupported dtype ${dtype}`),
    );
  }
});

test("D8: errors name the file and stay one short line", () => {
  const params = HRMParams.init(makeConfig(small), 1);
  const t = decodeSafetensors(encodeModelSafetensors(params), "x").tensors;
  assert.throws(
    () => decodeModelSafetensors(encodeSafetensors(t, { config: "{not json" }), "c.st"),
    /^Error: c.st: metadata.config is not valid JSON \(/,
  );
  const lines = [
    hrm("build-dataset", "sudoku", `train_csv=${dir}`),
    hrm("solve", "arc", join(dir, "nope.json"), `checkpoint=${ck}`, `data_path=${data}`),
    hrm("eval", `checkpoint=${dir}`, `data_path=${data}`),
    hrm("build-dataset", "sudoku", "size=4", "output_dir=/proc/hrm-ts-test/out", "generate_train=4"),
    hrm("solve", "sudoku", "1".repeat(100000), `checkpoint=${ck}`),
  ];
  for (const r of lines) {
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^hrm: \S/);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.ok(r.stderr.length < 400, `${r.stderr.length} characters`);
  }
  assert.match(lines[0].stderr, /: cannot read: is a directory, not a file \(EISDIR\)/);
  assert.match(lines[1].stderr, /nope.json: cannot read: no such file or directory \(ENOENT\)/);
  assert.match(lines[2].stderr, /: cannot read: is a directory/);
  assert.match(lines[3].stderr, /\/proc\/hrm-ts-test: cannot create directory/);
});

test("D9, D11, D12: bad command lines exit 1 with one line, never a stack, never a hang", () => {
  const cases: [string[], RegExp][] = [
    [["quickstart", "--paper"], /--paper needs data_path=/],
    [
      ["build-dataset", "sudoku", "size=4", "generate_train=0"],
      /generate_train=0: expected an integer from 1/,
    ],
    [["build-dataset", "arc"], /needs input=.*github.com\/SamsungSAILMontreal\/TinyRecursiveModels/],
    [["solve", "sudoku", "11..............", `checkpoint=${ck}`], /digit 1 twice in row 1 \(cells 1 and 2\)/],
    [
      ["solve", "sudoku", "1...............", `checkpoint=${ck}`, "max_steps=0"],
      /max_steps=0: expected an integer from 1/,
    ],
    [
      ["train", `data_path=${data}`, "arch.halt_max_steps=1000000000"],
      /halt_max_steps = 1000000000: must be at most 1024/,
    ],
    [["train", `data_path=${data}`, "epochs=0"], /epochs=0: must be at least 1/],
  ];
  for (const [args, want] of cases) {
    const r = hrm(...args);
    assert.equal(r.status, 1, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, want, args.join(" "));
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
  assert.equal(
    givensClash([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], boxShapeFor(4)),
    "digit 1 twice in box 1 (cells 1 and 6)",
  );
  assert.equal(givensClash(new Array(16).fill(0), boxShapeFor(4)), null);
});
