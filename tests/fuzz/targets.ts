/**
 * The fuzz targets: every loader with valid seed inputs, the error classes it may throw, and a round-trip check
 * for what it accepts (re-serialized, then loaded again, the values must be the same; for datasets, also the
 * values in the input's own arrays). Inputs are bytes; text formats are UTF-8.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { buildArcDataset, parseCombined } from "../../src/data/arc.js";
import type { ArcTask } from "../../src/data/arc.js";
import {
  decodeSet,
  DatasetError,
  encodeSet,
  validateMetadata,
  validateSplit,
} from "../../src/data/format.js";
import type { DatasetMetadata } from "../../src/data/format.js";
import { generateMaze, parseMazeCsv, parseMazeText } from "../../src/data/maze.js";
import { buildBoxSudokuDataset, boxShapeFor } from "../../src/data/sudoku-box.js";
import { CSV_HEADER, parseSudokuCsv } from "../../src/data/sudoku.js";
import { JsonError, parseJson } from "../../src/io/limits.js";
import { decodeNpy, encodeNpy, NpyError } from "../../src/io/npy.js";
import { PickleError, unpickle } from "../../src/io/pickle.js";
import { decodeSafetensors, encodeSafetensors, SafetensorsError } from "../../src/io/safetensors.js";
import { CheckpointError, readTorchCheckpoint } from "../../src/io/torch.js";
import { readZipDirectory, ZipError, zipEntryBytes } from "../../src/io/zip.js";
import { ConfigError } from "../../src/model/config.js";
import { encodeModelSafetensors } from "../../src/model/checkpoint.js";
import { makeConfig } from "../../src/model/config.js";
import { HRMParams } from "../../src/model/params.js";
import type { HostTensor } from "../../src/tensor.js";
import { nestConfig, resolveRunConfig, RunConfigError } from "../../src/train/config.js";
import { Rng } from "../../src/util/rng.js";
import { dumpYaml, YamlError } from "../../src/util/yaml.js";
import { makeZip } from "../support/builders.js";
import { ARC_SAMPLE, OFFICIAL_FIXTURES, SUDOKU_SAMPLE } from "../support/fixtures.js";
import { mutated } from "./mutate.js";
import { pickleValue, same, writeStateDict } from "./serialize.js";
import { PyFloat } from "../../src/io/pickle.js";

export interface FuzzTarget {
  name: string;
  /** The name the loader is given; every error must contain it. */
  file: string;
  inputs(): fc.Arbitrary<Uint8Array>;
  /** Loads an input; throws on bad input. */
  load(input: Uint8Array): unknown;
  /** The loader's own error classes: anything else thrown is a crash. */
  errors: (abstract new (...a: never[]) => Error)[];
  /** null when the accepted value re-serializes to the same values; else what differs. */
  roundTrip(value: unknown, input: Uint8Array): string | null;
}

const utf8 = (b: Uint8Array) => new TextDecoder().decode(b);
const bytes = (s: string) => new TextEncoder().encode(s);
const check = (ok: boolean, what: string) => (ok ? null : what);
const f32 = (shape: number[], seed: number): HostTensor => ({
  dtype: "float32",
  shape,
  data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(seed + i)),
});
const sameTensors = (a: Map<string, HostTensor>, b: Map<string, HostTensor>) => same(a, b);

/** Small state dicts of every dtype, plus the official tiny-rope checkpoint. */
function stateDicts(): Map<string, HostTensor>[] {
  const all: Map<string, HostTensor>[] = [
    new Map([
      ["_orig_mod.model.inner.H_init", f32([8], 1)],
      ["_orig_mod.model.inner.q_head.weight", f32([2, 8], 2)],
      ["ids", { dtype: "int64", shape: [3], data: BigInt64Array.of(1n, -2n, 3n) }],
      ["h", { dtype: "bfloat16", shape: [2, 2], data: Uint16Array.of(0x3f80, 0x4000, 0xbf80, 0) }],
    ]),
    new Map([
      ["a", { dtype: "float64", shape: [2], data: Float64Array.of(1.5, -2) }],
      ["b", { dtype: "int32", shape: [1, 2], data: Int32Array.of(7, -7) }],
      ["c", { dtype: "uint8", shape: [4], data: Uint8Array.of(0, 1, 2, 255) }],
      ["d", { dtype: "float16", shape: [], data: Uint16Array.of(0x3c00) }],
      ["e", { dtype: "int8", shape: [2], data: Int8Array.of(-1, 1) }],
      ["f", { dtype: "int16", shape: [0], data: new Int16Array(0) }],
    ]),
  ];
  return all;
}
const officialPt = () => new Uint8Array(readFileSync(join(OFFICIAL_FIXTURES, "tiny-learned/model.pt")));

/** Zip entries as name -> bytes. */
function zipEntries(b: Uint8Array, file: string): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  for (const [name, e] of readZipDirectory(b, file)) out.set(name, zipEntryBytes(b, e, file).slice());
  return out;
}

const PICKLE_GLOBALS = new Map<unknown, [string, string]>();
const orderedDict = () => new Map();
PICKLE_GLOBALS.set(orderedDict, ["collections", "OrderedDict"]);
const plainHooks = {
  findGlobal: (m: string, n: string) => {
    if (`${m}.${n}` === "collections.OrderedDict") return orderedDict;
    throw new PickleError(`fuzz.pkl: global ${m}.${n} refused`);
  },
  persistentLoad: () => {
    throw new PickleError("fuzz.pkl: persistent ids refused");
  },
};

function pickleSeeds(): Uint8Array[] {
  const shared = [1, 2];
  const values: unknown[] = [
    new Map<unknown, unknown>([
      ["a", 1],
      ["b", Object.freeze([2, new PyFloat(3.5), "x"])],
      [7, [null, true, false, 2 ** 40, -(2n ** 70n), new Uint8Array([1, 2])]],
    ]),
    [shared, shared, Object.freeze([Object.freeze([]), new Map()])],
    "text \u00e9\u4e2d",
  ];
  return values.map((v) => pickleValue(v, PICKLE_GLOBALS));
}

const zipName = (m: Map<string, Uint8Array>) => makeZip([...m]);

function datasetSeed(): Map<string, Uint8Array> {
  const d = buildBoxSudokuDataset(
    boxShapeFor(4),
    { trainCount: 3, testCount: 3, clues: 6, numAug: 1 },
    new Rng(2),
  );
  const files = encodeSet("all", d.train, d.trainMeta.seq_len);
  files.set("dataset.json", bytes(JSON.stringify(d.trainMeta)));
  return files;
}
/** A dataset split as one byte string (per file: name length, size, name, bytes). */
function packFiles(m: Map<string, Uint8Array>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [k, v] of m) {
    const head = new Uint8Array(8);
    new DataView(head.buffer).setUint32(0, k.length, true);
    new DataView(head.buffer).setUint32(4, v.length, true);
    parts.push(head, bytes(k), v);
  }
  return Buffer.concat(parts);
}
function unpackFiles(b: Uint8Array): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let p = 0; p + 8 <= b.length;) {
    const kl = v.getUint32(p, true);
    const vl = v.getUint32(p + 4, true);
    if (p + 8 + kl + vl > b.length) break;
    m.set(utf8(b.subarray(p + 8, p + 8 + kl)), b.subarray(p + 8 + kl, p + 8 + kl + vl));
    p += 8 + kl + vl;
  }
  return m;
}
function loadDataset(
  files: Map<string, Uint8Array>,
  dir: string,
): { meta: DatasetMetadata; sets: Map<string, unknown> } {
  const json = files.get("dataset.json");
  if (!json) throw new DatasetError(`${dir}/dataset.json: not found`);
  const meta = parseJson(utf8(json), `${dir}/dataset.json`) as DatasetMetadata;
  validateMetadata(meta, `${dir}/dataset.json`);
  const read = (name: string) => {
    const f = files.get(name);
    if (!f) throw new DatasetError(`${dir}/${name}: missing`);
    return f;
  };
  const sets = new Map(meta.sets.map((s) => [s, decodeSet(s, meta, read, dir)]));
  validateSplit(meta, sets, `${dir}/dataset.json`);
  return { meta, sets };
}

function arcJson(tasks: ArcTask[]): [string, string] {
  const grid = (g: { h: number; w: number; data: Uint8Array }) =>
    Array.from({ length: g.h }, (_, r) => [...g.data.subarray(r * g.w, (r + 1) * g.w)]);
  const c: Record<string, unknown> = {};
  const s: Record<string, unknown> = {};
  for (const t of tasks) {
    c[t.name] = {
      train: t.train.map((p) => ({ input: grid(p.input), output: grid(p.output) })),
      test: t.test.map((p) => ({ input: grid(p.input) })),
    };
    s[t.name] = t.test.map((p) => grid(p.output));
  }
  return [JSON.stringify(c), JSON.stringify(s)];
}
const SEP = "\n\u0000\n";

/** A maze question as the lines `hrm solve maze` reads. */
function mazeText(q: Uint8Array, n: number): string {
  return Array.from({ length: n }, (_, r) =>
    [...q.subarray(r * n, (r + 1) * n)].map((x) => "# SGo"[x - 1]).join(""),
  ).join("\n");
}

/** Mazes as the official CSV. */
function mazeCsv(mazes: { question: Uint8Array; answer: Uint8Array }[]): string {
  const chars = (t: Uint8Array) => [...t].map((x) => "# SGo"[x - 1]).join("");
  return [CSV_HEADER, ...mazes.map((m) => `g,${chars(m.question)},${chars(m.answer)},1`)].join("\n");
} // challenges and solutions in one input

const ARCH = "hidden_size: 64\nnum_heads: 2\nH_layers: 1\nL_layers: 1\npuzzle_emb_ndim: ${.hidden_size}\n";
const CFG =
  "defaults:\n  - arch: small\n  - _self_\n\ndata_path: data/x\nglobal_batch_size: 32\nepochs: 100\neval_interval: 10\n" +
  "lr: 1e-4\nlr_min_ratio: 0.1\neval_save_outputs: [preds, q_halt_logits]\narch:\n  L_cycles: 3\n  halt_max_steps: 4\n";
const runConfig = (text: string) =>
  resolveRunConfig([], "cfg/run.yaml", (p) => {
    if (p === "cfg/run.yaml") return text;
    if (p === "cfg/arch/small.yaml") return ARCH;
    throw new RunConfigError(`${p}: not found`);
  });

export const TARGETS: FuzzTarget[] = [
  {
    name: "pickle",
    file: "fuzz.pkl",
    inputs: () => mutated(pickleSeeds()),
    load: (b) => unpickle(b, plainHooks, "fuzz.pkl"),
    errors: [PickleError],
    roundTrip: (v) =>
      check(same(unpickle(pickleValue(v, PICKLE_GLOBALS), plainHooks, "rt"), v), "pickle values"),
  },
  {
    name: "zip",
    file: "fuzz.zip",
    inputs: () => mutated([...stateDicts().map(writeStateDict), officialPt()]),
    load: (b) => zipEntries(b, "fuzz.zip"),
    errors: [ZipError],
    roundTrip: (v) => check(same(zipEntries(zipName(v as Map<string, Uint8Array>), "rt"), v), "zip entries"),
  },
  {
    name: ".pt (whole file)",
    file: "fuzz.pt",
    inputs: () => mutated([...stateDicts().map(writeStateDict), officialPt()]),
    load: (b) => readTorchCheckpoint(b, "fuzz.pt"),
    errors: [CheckpointError, ZipError],
    roundTrip: (v) => {
      const t = v as Map<string, HostTensor>;
      return check(sameTensors(readTorchCheckpoint(writeStateDict(t), "rt"), t), ".pt tensors");
    },
  },
  {
    name: ".pt (its pickle)",
    file: "fuzz.pt",
    // The pickle is mutated and the zip rebuilt with valid CRCs, so that mutations reach the unpickler and torch.
    inputs: () =>
      fc.oneof(
        ...[...stateDicts().map(writeStateDict), officialPt()].map((z) => {
          const entries = zipEntries(z, "seed");
          const key = [...entries.keys()].find((k) => k.endsWith("data.pkl"))!;
          return mutated([entries.get(key)!]).map((pkl) => zipName(new Map([...entries, [key, pkl]])));
        }),
      ),
    load: (b) => readTorchCheckpoint(b, "fuzz.pt"),
    errors: [CheckpointError, ZipError],
    roundTrip: (v) => {
      const t = v as Map<string, HostTensor>;
      return check(sameTensors(readTorchCheckpoint(writeStateDict(t), "rt"), t), ".pt tensors");
    },
  },
  {
    name: "safetensors",
    file: "fuzz.safetensors",
    inputs: () =>
      mutated([
        ...stateDicts().map((m) => encodeSafetensors(m, { format: "hrm-ts", note: "x" })),
        encodeModelSafetensors(
          HRMParams.init(
            makeConfig({
              hidden_size: 16,
              num_heads: 2,
              H_layers: 1,
              L_layers: 1,
              expansion: 1,
              seq_len: 4,
              vocab_size: 3,
              puzzle_emb_ndim: 16,
              num_puzzle_identifiers: 2,
            }),
            1,
          ),
        ),
      ]),
    load: (b) => decodeSafetensors(b, "fuzz.safetensors"),
    errors: [SafetensorsError],
    roundTrip: (v) => {
      const { tensors, metadata } = v as ReturnType<typeof decodeSafetensors>;
      const back = decodeSafetensors(encodeSafetensors(tensors, metadata), "rt");
      return check(sameTensors(back.tensors, tensors) && same(back.metadata, metadata), "safetensors values");
    },
  },
  {
    name: ".npy",
    file: "fuzz.npy",
    inputs: () =>
      mutated([
        ...stateDicts()
          .flatMap((m) => [...m.values()])
          .filter((t) => t.dtype !== "bfloat16")
          .map(encodeNpy),
        new Uint8Array(readFileSync(join(OFFICIAL_FIXTURES, "tiny-rope/batch/inputs.npy"))),
      ]),
    load: (b) => decodeNpy(b, "fuzz.npy"),
    errors: [NpyError],
    roundTrip: (v, input) => {
      const t = v as HostTensor;
      const data = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      const tail = input.subarray(input.length - data.length);
      return check(same(decodeNpy(encodeNpy(t), "rt"), t) && Buffer.from(tail).equals(data), ".npy values");
    },
  },
  {
    name: "dataset directory",
    file: "fuzz/train",
    // One file of the split mutated at a time, packed with the others intact (the framing is never mutated).
    inputs: () => {
      const files = datasetSeed();
      return fc.oneof(
        ...[...files.keys()].map((k) =>
          mutated([files.get(k)!], k.endsWith(".json")).map((b) => packFiles(new Map([...files, [k, b]]))),
        ),
      );
    },
    load: (b) => loadDataset(unpackFiles(b), "fuzz/train"),
    errors: [DatasetError, NpyError, JsonError],
    roundTrip: (v, input) => {
      const { meta, sets } = v as { meta: DatasetMetadata; sets: Map<string, ReturnType<typeof decodeSet>> };
      const files = new Map<string, Uint8Array>([["dataset.json", bytes(JSON.stringify(meta))]]);
      for (const [name, s] of sets) for (const [f, b] of encodeSet(name, s, meta.seq_len)) files.set(f, b);
      const back = loadDataset(files, "rt");
      // The loaded arrays must hold exactly the numbers in the input's own arrays (no wrapping, no narrowing).
      const raw = unpackFiles(input);
      const exact = [...sets].every(([name, s]) =>
        Object.entries(s).every(([field, arr]) => {
          const t = decodeNpy(raw.get(`${name}__${field}.npy`)!, "raw");
          return (
            t.data.length === arr.length &&
            Array.from(t.data as ArrayLike<number | bigint>, Number).every((x, i) => x === arr[i])
          );
        }),
      );
      return check(same(back.meta, meta) && same(back.sets, sets) && exact, "dataset values");
    },
  },
  {
    name: "ARC JSON",
    file: "fuzz/arc-agi_evaluation_", // the challenges or the solutions file
    inputs: () => {
      const read = (n: string) => readFileSync(join(ARC_SAMPLE, n), "utf8");
      const c = JSON.parse(read("arc-agi_evaluation_challenges.json")) as Record<string, unknown>;
      const s = JSON.parse(read("arc-agi_evaluation_solutions.json")) as Record<string, unknown>;
      const ids = Object.keys(c).slice(0, 3);
      const pick = (o: Record<string, unknown>, id: string) => JSON.stringify({ [id]: o[id] });
      return mutated(
        ids.map((id) => bytes(pick(c, id) + SEP + pick(s, id))),
        true,
      );
    },
    load: (b) => {
      const [c, s = ""] = utf8(b).split(SEP);
      const file = "fuzz/arc-agi_evaluation_challenges.json";
      return parseCombined(
        parseJson(c, file),
        parseJson(s, file.replace("challenges", "solutions")),
        "evaluation",
        file,
      );
    },
    errors: [DatasetError, JsonError],
    roundTrip: (v) => {
      const tasks = v as ArcTask[];
      const [c, s] = arcJson(tasks);
      const back = parseCombined(JSON.parse(c), JSON.parse(s), "evaluation", "rt");
      // The builder must take any accepted task (it validates the official split rules again).
      buildArcDataset(tasks, { numAug: 1, testSubsets: ["evaluation"] }, new Rng(1));
      return check(same(back, tasks), "ARC tasks");
    },
  },
  {
    name: "Sudoku CSV",
    file: "fuzz.csv",
    inputs: () => {
      const lines = readFileSync(SUDOKU_SAMPLE, "utf8").split("\n");
      return mutated(
        [bytes(lines.slice(0, 4).join("\n") + "\n"), bytes(lines.slice(0, 2).join("\r\n"))],
        true,
      );
    },
    load: (b) => parseSudokuCsv(utf8(b), "fuzz.csv").rows,
    errors: [DatasetError],
    roundTrip: (v) => {
      const rows = v as ReturnType<typeof parseSudokuCsv>["rows"];
      const text = [
        CSV_HEADER,
        ...rows.map(
          (r) => `s,${[...r.question].map((d) => d || ".").join("")},${r.answer.join("")},${r.rating}`,
        ),
      ].join("\n");
      const back = parseSudokuCsv(text, "rt").rows;
      const key = (rs: typeof rows) => rs.map((r) => [r.question, r.answer, r.rating]);
      return check(same(key(back), key(rows)), "Sudoku rows");
    },
  },
  {
    name: "maze CSV",
    file: "fuzz-maze.csv",
    inputs: () => {
      const rng = new Rng(5);
      const rows = [0, 1].map(() => generateMaze(rng, { size: 9, minPathLength: 6, loopFraction: 0.1 }));
      return mutated([bytes(mazeCsv(rows))], true);
    },
    load: (b) => parseMazeCsv(utf8(b), "fuzz-maze.csv"),
    errors: [DatasetError],
    roundTrip: (v) => {
      const mazes = v as ReturnType<typeof parseMazeCsv>;
      return check(same(parseMazeCsv(mazeCsv(mazes), "rt"), mazes), "mazes");
    },
  },
  {
    name: "maze text",
    file: "fuzz-maze.txt",
    inputs: () => {
      const rng = new Rng(6);
      const mazes = [7, 9].map((size) => generateMaze(rng, { size, minPathLength: 4, loopFraction: 0.1 }));
      return mutated(
        mazes.map((m) => bytes(mazeText(m.question, m.size))),
        true,
      );
    },
    load: (b) => parseMazeText(utf8(b), "fuzz-maze.txt"),
    errors: [DatasetError],
    roundTrip: (v) => {
      const m = v as ReturnType<typeof parseMazeText>;
      return check(same(parseMazeText(mazeText(m.question, m.size), "rt"), m), "maze");
    },
  },
  {
    name: "YAML config",
    file: "cfg/run.yaml",
    inputs: () => mutated([bytes(CFG)], true),
    load: (b) => runConfig(utf8(b)),
    errors: [RunConfigError, YamlError, ConfigError],
    roundTrip: (v) => {
      const cfg = v as ReturnType<typeof resolveRunConfig>;
      const again = resolveRunConfig([], "rt.yaml", () => dumpYaml(nestConfig(cfg)));
      return check(same(again, cfg), "config values");
    },
  },
];
