/**
 * .pt export: our checkpoint written as the state dict the official pretrain.py saves reads back bit for bit
 * through our restricted reader, writes the same bytes again, keeps torch's 64-byte data alignment, and comes with
 * the official all_config.yaml; `hrm eval` on the exported .pt (architecture from that all_config.yaml) gives the
 * same metrics as on the original. Where a python3 with torch exists, torch.load reads the file to the same values
 * (skipped elsewhere: CI installs no Python packages).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { findPython } from "../bench/pytorch.js";
import { boxShapeFor, buildBoxSudokuDataset } from "../src/data/sudoku-box.js";
import { readTorchCheckpoint } from "../src/io/torch.js";
import { encodeTorchCheckpoint } from "../src/io/torch-write.js";
import { readZipDirectory } from "../src/io/zip.js";
import { encodeModelSafetensors, loadStateDict, officialStateDict } from "../src/model/checkpoint.js";
import type { HRMConfig } from "../src/model/config.js";
import { makeConfig } from "../src/model/config.js";
import { HRMParams } from "../src/model/params.js";
import { writeIdentifiers, writeSplit } from "../src/platform/files.js";
import type { HostTensor } from "../src/tensor.js";
import { toFloat32 } from "../src/tensor.js";
import { Fixture, OFFICIAL_FIXTURES, TRM_OFFICIAL_FIXTURES } from "./support/fixtures.js";
import { nestConfig, resolveRunConfig } from "../src/train/config.js";
import { Rng } from "../src/util/rng.js";
import { dumpYaml, parseYaml } from "../src/util/yaml.js";

const HRM = fileURLToPath(new URL("../cli/hrm.js", import.meta.url));
const hrm = (...args: string[]) => spawnSync(process.execPath, [HRM, ...args], { encoding: "utf8" });

const arch: Partial<HRMConfig> = {
  hidden_size: 32,
  num_heads: 2,
  H_layers: 1,
  L_layers: 2,
  expansion: 2,
  puzzle_emb_ndim: 32,
  halt_max_steps: 3,
};
let dir = "";

before(() => {
  dir = mkdtempSync(join(tmpdir(), "hrm-export-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("the exported state dict reads back bit for bit, re-exports to the same bytes, and is 64-byte aligned", () => {
  for (const forward_dtype of ["float32", "bfloat16"] as const) {
    const c = makeConfig({ ...arch, seq_len: 16, vocab_size: 6, num_puzzle_identifiers: 3, forward_dtype });
    const p = HRMParams.init(c, 4);
    p.get("q_head.weight").set(Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) / 3)); // not the zero init
    const sd = officialStateDict(p);
    const bytes = encodeTorchCheckpoint(sd, "model");
    const back = readTorchCheckpoint(bytes, "x.pt");
    assert.deepEqual([...back.keys()], [...sd.keys()]);
    for (const [k, t] of sd) assert.deepEqual(back.get(k), t, k);
    assert.ok(
      Buffer.from(encodeTorchCheckpoint(back, "model")).equals(Buffer.from(bytes)),
      "same bytes again",
    );
    const q = new HRMParams(c);
    loadStateDict(q, back, "x.pt");
    for (const s of p.specs) {
      const init = s.name === "H_init" || s.name === "L_init";
      const want =
        init && forward_dtype === "bfloat16"
          ? toFloat32(sd.get(`_orig_mod.model.inner.${s.name}`)!)
          : p.get(s.name);
      assert.deepEqual(q.get(s.name), want, s.name);
    }
    assert.equal(sd.get("_orig_mod.model.inner.H_init")!.dtype, forward_dtype, "H_init in the forward dtype");
    for (const [name, e] of readZipDirectory(bytes, "x.pt"))
      if (name.startsWith("model/data/")) assert.equal(e.dataStart % 64, 0, `${name} at ${e.dataStart}`);
  }
});

test("for the official fixtures' configs, the export has exactly the official checkpoint's names, shapes, dtypes", () => {
  for (const name of ["tiny-rope", "tiny-learned", "bf16-buffers"]) {
    const fx = new Fixture(join(OFFICIAL_FIXTURES, name));
    const official = readTorchCheckpoint(readFileSync(join(fx.dir, "model.pt")), name);
    const dtype = (fx.raw.forward_dtype as HRMConfig["forward_dtype"] | undefined) ?? "bfloat16";
    const ours = officialStateDict(fx.params("model.pt", { forward_dtype: dtype }));
    const shape = (m: Map<string, HostTensor>) => [...m].map(([k, t]) => [k, t.shape, t.dtype]).sort();
    assert.deepEqual(shape(ours), shape(official), name);
  }
  // TRM (float32 fixtures): the same names, shapes and dtypes, and the values bit for bit.
  for (const name of ["trm-att", "trm-mlp"]) {
    const fx = new Fixture(join(TRM_OFFICIAL_FIXTURES, name), "trm");
    const official = readTorchCheckpoint(readFileSync(join(fx.dir, "model.pt")), name);
    const ours = officialStateDict(fx.params());
    const all = (m: Map<string, HostTensor>) =>
      [...m].map(([k, t]) => [k, t.shape, t.dtype, [...t.data]]).sort();
    assert.deepEqual(all(ours), all(official), name);
  }
});

test("hrm export writes the .pt and the official all_config.yaml; hrm eval on it equals eval on the original", () => {
  const d = buildBoxSudokuDataset(
    boxShapeFor(4),
    { trainCount: 8, testCount: 12, clues: 6, numAug: 0 },
    new Rng(3),
  );
  const data = join(dir, "data");
  writeSplit(data, "train", { metadata: d.trainMeta, sets: new Map([["all", d.train]]) });
  writeSplit(data, "test", { metadata: d.testMeta, sets: new Map([["all", d.test]]) });
  writeIdentifiers(data, ["<blank>"]);
  const model = { ...arch, puzzle_emb_ndim: 0, forward_dtype: "float32" as const };
  const c = makeConfig({
    ...model,
    seq_len: 16,
    vocab_size: d.trainMeta.vocab_size,
    num_puzzle_identifiers: 1,
  });
  // A checkpoint inside a run directory, with the run's all_config.yaml as hrm train writes it.
  const step = join(dir, "run", "step_7");
  mkdirSync(step, { recursive: true });
  writeFileSync(join(step, "model.safetensors"), encodeModelSafetensors(HRMParams.init(c, 9)));
  const overrides = Object.entries(model).map(([k, v]) => `arch.${k}=${v}`);
  const cfg = resolveRunConfig([`data_path=${data}`, "lr=3e-4", "global_batch_size=8", ...overrides]);
  writeFileSync(join(step, "all_config.yaml"), dumpYaml(nestConfig(cfg)));
  const out = join(dir, "official", "step_7.pt");
  const r = hrm("export", `checkpoint=${join(step, "model.safetensors")}`, `output=${out}`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /note: puzzle_emb_ndim is 0: the official HRM pretrain\.py\/evaluate\.py cannot/);
  const written = parseYaml(readFileSync(join(dir, "official", "all_config.yaml"), "utf8")) as Record<
    string,
    never
  >;
  assert.equal(written.data_path, data);
  assert.equal(written.lr, 3e-4);
  const a = written.arch as Record<string, unknown>;
  assert.deepEqual(
    [a.hidden_size, a.L_layers, a.puzzle_emb_ndim, a.name],
    [32, 2, 0, "hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1"],
  );
  const metrics = (ck: string) => {
    const e = hrm(
      "eval",
      `checkpoint=${ck}`,
      `data_path=${data}`,
      `output_dir=${join(dir, "ev")}`,
      "global_batch_size=4",
    );
    assert.equal(e.status, 0, e.stderr);
    return readFileSync(join(dir, "ev", "metrics.json"), "utf8");
  };
  assert.equal(
    metrics(out),
    metrics(join(step, "model.safetensors")),
    "same metrics from the .pt and the original",
  );
  // A second export to the same place is fine; one whose config would differ is refused.
  assert.equal(hrm("export", `checkpoint=${join(step, "model.safetensors")}`, `output=${out}`).status, 0);
  writeFileSync(join(dir, "official", "all_config.yaml"), "data_path: elsewhere\n");
  assert.match(
    hrm("export", `checkpoint=${join(step, "model.safetensors")}`, `output=${out}`).stderr,
    /all_config.yaml exists with another config/,
  );
});

test("torch.load reads the exported file to the same names, dtypes, shapes and values", (t) => {
  const py = findPython("torch").python;
  if (!py) return t.skip("no python3 with torch (HRM_PYTHON; Debian: apt install python3-torch)");
  const c = makeConfig({ ...arch, seq_len: 16, vocab_size: 6, num_puzzle_identifiers: 3 }); // bfloat16 buffers
  const sd = officialStateDict(HRMParams.init(c, 5));
  const file = join(dir, "torch.pt");
  writeFileSync(file, encodeTorchCheckpoint(sd, "torch"));
  const script =
    "import json, sys, torch\n" +
    "sd = torch.load(sys.argv[1], map_location='cpu')\n" +
    "print(type(sd).__name__)\n" +
    "print(json.dumps({k: [str(v.dtype), list(v.shape), v.double().flatten().tolist()] for k, v in sd.items()}))\n";
  const r = spawnSync(py, ["-c", script, file], { encoding: "utf8", maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, r.stderr);
  const [kind, json] = r.stdout.trim().split("\n");
  assert.equal(kind, "OrderedDict");
  const got = JSON.parse(json) as Record<string, [string, number[], number[]]>;
  assert.deepEqual(Object.keys(got), [...sd.keys()]);
  for (const [k, t] of sd) {
    assert.equal(got[k][0], t.dtype === "bfloat16" ? "torch.bfloat16" : "torch.float32", k);
    assert.deepEqual(got[k][1], t.shape, k);
    assert.deepEqual(got[k][2], [...toFloat32(t)], k);
  }
});
