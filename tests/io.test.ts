/**
 * File formats: .npy round trips and errors, every fixture .npy decodes, official .pt checkpoints (cpu and
 * cuda location tags, bfloat16 buffers, strided views), malicious and corrupt checkpoints, safetensors.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { decodeNpy, encodeNpy } from "../src/io/npy.js";
import { decodeSafetensors, encodeSafetensors } from "../src/io/safetensors.js";
import { readTorchCheckpoint } from "../src/io/torch.js";
import type { HostTensor } from "../src/tensor.js";
import { toFloat32 } from "../src/tensor.js";
import { concat, makeZip, P, pickle, stateDictPickle } from "./support/builders.js";
import { OFFICIAL_FIXTURES } from "./support/fixtures.js";

const FIXTURES = OFFICIAL_FIXTURES;

/** Replaces text in a binary file, byte for byte (one char per byte both ways). */
function editBytes(bytes: Uint8Array, from: string, to: string): Uint8Array {
  const text = String.fromCharCode(...bytes).replace(from, to);
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) =>
    statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)],
  );
}

test("npy round trip for every dtype and shape", () => {
  const cases: HostTensor[] = [
    { dtype: "float32", shape: [2, 3], data: Float32Array.of(1, -2, 3.5, NaN, Infinity, 0) },
    { dtype: "float64", shape: [3], data: Float64Array.of(1e-300, -0, 2) },
    { dtype: "int32", shape: [2, 1, 2], data: Int32Array.of(-100, 2 ** 31 - 1, 0, 7) },
    { dtype: "int64", shape: [2], data: BigInt64Array.of(-1n, 2n ** 40n) },
    { dtype: "uint8", shape: [], data: Uint8Array.of(255) },
    { dtype: "bool", shape: [3], data: Uint8Array.of(1, 0, 1) },
    { dtype: "int16", shape: [0, 4], data: new Int16Array(0) },
    { dtype: "int8", shape: [1], data: Int8Array.of(-128) },
  ];
  for (const t of cases) {
    const bytes = encodeNpy(t);
    assert.equal((bytes.length - t.data.byteLength) % 64, 0, "header padded to 64 bytes");
    const back = decodeNpy(bytes, "x.npy");
    assert.equal(back.dtype, t.dtype);
    assert.deepEqual(back.shape, t.shape);
    assert.deepEqual(Array.from(back.data as ArrayLike<unknown>), Array.from(t.data as ArrayLike<unknown>));
  }
});

test("npy reads format 2.0 and 3.0 headers", () => {
  for (const major of [2, 3]) {
    let dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }";
    dict += " ".repeat(63 - ((12 + dict.length) % 64)) + "\n";
    const head = new Uint8Array(12 + dict.length);
    head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
    new DataView(head.buffer).setUint32(8, dict.length, true);
    head.set(new TextEncoder().encode(dict), 12);
    const t = decodeNpy(concat(head, new Uint8Array(Int32Array.of(5, -6).buffer)), "v.npy");
    assert.deepEqual([...(t.data as Int32Array)], [5, -6]);
  }
});

test("npy errors name the file and the problem", () => {
  const good = encodeNpy({ dtype: "float32", shape: [4], data: new Float32Array(4) });
  assert.throws(
    () => decodeNpy(good.subarray(0, good.length - 1), "a/b.npy"),
    /a\/b.npy: truncated data: shape \(4\) <f4 needs 16 bytes, file has 15/,
  );
  assert.throws(() => decodeNpy(concat(good, Uint8Array.of(0)), "c.npy"), /c.npy: 1 unexpected bytes/);
  assert.throws(
    () => decodeNpy(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), "d.npy"),
    /d.npy: not a .npy file/,
  );
  assert.throws(
    () => decodeNpy(editBytes(good, "False", "True "), "f.npy"),
    /f.npy: fortran_order arrays are not supported/,
  );
  assert.throws(() => decodeNpy(editBytes(good, "<f4", ">f4"), "g.npy"), /g.npy: unsupported dtype '>f4'/);
});

test("every fixture .npy decodes and its size matches its shape", () => {
  const files = walk(FIXTURES).filter((f) => f.endsWith(".npy"));
  assert.ok(files.length > 100, `found only ${files.length} fixture arrays`);
  for (const f of files) {
    const t = decodeNpy(readFileSync(f), f);
    assert.equal(
      t.data.length,
      t.shape.reduce((a, b) => a * b, 1),
      f,
    );
  }
});

test("official checkpoints load: names, shapes, cuda location tags, bfloat16 buffers", () => {
  const cpu = readTorchCheckpoint(readFileSync(join(FIXTURES, "tiny-rope/model.pt")), "model.pt");
  const cuda = readTorchCheckpoint(
    readFileSync(join(FIXTURES, "tiny-rope/model_cuda_location.pt")),
    "cuda.pt",
  );
  assert.equal(cpu.size, 23);
  assert.deepEqual(
    cpu.get("_orig_mod.model.inner.H_level.layers.0.mlp.gate_up_proj.weight")!.shape,
    [512, 64],
  );
  assert.deepEqual(cpu.get("_orig_mod.model.inner.puzzle_emb.weights")!.shape, [10, 64]);
  assert.deepEqual(cpu.get("_orig_mod.model.inner.q_head.bias")!.data, Float32Array.of(-5, -5));
  for (const [k, v] of cpu) assert.deepEqual(cuda.get(k), v, k);
  const bf = readTorchCheckpoint(readFileSync(join(FIXTURES, "bf16-buffers/model.pt")), "bf16.pt");
  const hInit = bf.get("_orig_mod.model.inner.H_init")!;
  assert.equal(hInit.dtype, "bfloat16");
  const f = toFloat32(hInit);
  // bfloat16 widening is exact: every value has at most 8 significant bits.
  for (const x of f) assert.equal(Math.fround(x), x);
  assert.ok(f.some((x) => x !== 0));
});

test("strided tensor views are materialised in C order", () => {
  const storage = new Uint8Array(Float32Array.of(9, 0, 1, 2, 3).buffer);
  const zip = makeZip([
    ["ck/data.pkl", stateDictPickle("w", "0", 5, 1, [2, 2], [1, 2])], // transpose of [[0,1],[2,3]] at offset 1
    ["ck/data/0", storage],
  ]);
  const t = readTorchCheckpoint(zip, "strided.pt").get("w")!;
  assert.deepEqual([...(t.data as Float32Array)], [0, 2, 1, 3]);
});

test("malicious checkpoints are rejected and nothing runs", () => {
  for (const [module, name] of [
    ["os", "system"],
    ["builtins", "eval"],
    ["posix", "system"],
  ]) {
    for (const g of [P.global(module, name), P.stackGlobal(module, name)]) {
      const evil = pickle(g, P.mark(), P.str("touch /tmp/pwned"), P.tuple(), P.reduce());
      assert.throws(
        () => readTorchCheckpoint(makeZip([["x/data.pkl", evil]]), "evil.pt"),
        new RegExp(`evil.pt: refusing to load: the pickle references ${module}.${name}`),
      );
    }
  }
});

test("corrupt and truncated checkpoints give clear errors", () => {
  const bytes = readFileSync(join(FIXTURES, "tiny-rope/model.pt"));
  assert.throws(
    () => readTorchCheckpoint(bytes.subarray(0, bytes.length >> 1), "half.pt"),
    /half.pt: not a zip archive, or truncated/,
  );
  assert.throws(() => readTorchCheckpoint(Uint8Array.of(1, 2, 3), "tiny.pt"), /tiny.pt: not a zip archive/);
  const missing = makeZip([["ck/data.pkl", stateDictPickle("w", "0", 4, 0, [4], [1])]]);
  assert.throws(() => readTorchCheckpoint(missing, "m.pt"), /m.pt: storage 0 is missing from the archive/);
  const short = makeZip([
    ["ck/data.pkl", stateDictPickle("w", "0", 4, 0, [4], [1])],
    ["ck/data/0", new Uint8Array(8)],
  ]);
  assert.throws(() => readTorchCheckpoint(short, "s.pt"), /s.pt: storage 0 has 8 bytes/);
  const cut = makeZip([["ck/data.pkl", stateDictPickle("w", "0", 4, 0, [4], [1]).subarray(0, 40)]]);
  assert.throws(() => readTorchCheckpoint(cut, "c.pt"), /c.pt:ck\/data.pkl: pickle data truncated/);
  assert.throws(() => readTorchCheckpoint(makeZip([["a.txt", new Uint8Array(1)]]), "n.pt"), /no data.pkl/);
});

test("safetensors round trip with metadata", () => {
  const tensors = new Map<string, HostTensor>([
    ["model.inner.H_init", { dtype: "float32", shape: [3], data: Float32Array.of(1, 2, 3) }],
    ["ids", { dtype: "int32", shape: [2, 1], data: Int32Array.of(-1, 7) }],
    ["h", { dtype: "bfloat16", shape: [1], data: Uint16Array.of(0x3fc0) }],
  ]);
  const bytes = encodeSafetensors(tensors, { config: '{"hidden_size":3}' });
  assert.equal((8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))) % 8, 0, "data 8-byte aligned");
  const back = decodeSafetensors(bytes, "r.safetensors");
  assert.deepEqual(back.metadata, { config: '{"hidden_size":3}' });
  assert.deepEqual([...back.tensors.keys()], [...tensors.keys()]);
  for (const [k, t] of tensors) assert.deepEqual(back.tensors.get(k), t);
});

test("safetensors rejects corrupt files", () => {
  const t = new Map<string, HostTensor>([
    ["a", { dtype: "float32", shape: [2], data: Float32Array.of(1, 2) }],
  ]);
  const good = encodeSafetensors(t);
  assert.throws(
    () => decodeSafetensors(good.subarray(0, good.length - 1), "t.st"),
    /t.st: tensor a: data_offsets \[0, 8\] outside/,
  );
  assert.throws(() => decodeSafetensors(good.subarray(0, 5), "t.st"), /truncated/);
  const edit = (from: string, to: string) => editBytes(good, from, to);
  assert.throws(() => decodeSafetensors(edit('"F32"', '"X32"'), "d.st"), /tensor a: unsupported dtype X32/);
  assert.throws(() => decodeSafetensors(edit("[2]", "[3]"), "s.st"), /tensor a: 8 bytes for shape \[3\]/);
});
