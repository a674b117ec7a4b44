/**
 * The hostile .pt corpus: hand-made checkpoints that try code execution, denial of service (memory or time),
 * bad storage offsets and shapes, dtype-name tricks and zip tampering. Each case names what a safe reader must
 * say. tests/fixtures/hostile-pt/ holds these files and their manifest; `node dist/tests/support/hostile.js <dir>`
 * rewrites them.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { concat, makeZip, P, pickle } from "./builders.js";

export interface HostileCase {
  name: string;
  category: "code execution" | "denial of service" | "offsets and shapes" | "dtype tricks" | "zip tampering";
  /** A regular expression the error message must match (after the file name). */
  expect: string;
  bytes: () => Uint8Array;
}

const u32 = (v: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
};
const op = (...b: number[]) => Uint8Array.of(...b);
const tupleOf = (...items: Uint8Array[]) => concat(P.mark(), ...items, P.tuple());
const float = (v: number) => {
  const b = new Uint8Array(9);
  b[0] = 0x47;
  new DataView(b.buffer).setFloat64(1, v, false);
  return b;
};
const ordered = () => concat(P.global("collections", "OrderedDict"), P.emptyTuple(), P.reduce());
const storage = (key: string, count: number, cls = "FloatStorage") =>
  concat(
    tupleOf(P.str("storage"), P.global("torch", cls), P.str(key), P.str("cpu"), P.int(count)),
    P.persid(),
  );
const rebuild = (st: Uint8Array, offset: Uint8Array, size: Uint8Array, stride: Uint8Array) =>
  concat(
    P.global("torch._utils", "_rebuild_tensor_v2"),
    tupleOf(st, offset, size, stride, P.false(), ordered()),
    P.reduce(),
  );
const ints = (...v: number[]) => tupleOf(...v.map(P.int));
/** A state dict {name: tensor} over storage "0" of `count` floats, as a torch.save zip. */
const zipOf = (entries: Uint8Array[], storages: [string, Uint8Array][]) =>
  makeZip([
    ["ck/data.pkl", pickle(ordered(), ...entries)],
    ...storages.map(([k, b]) => [`ck/data/${k}`, b] as [string, Uint8Array]),
  ]);
const item = (name: string, value: Uint8Array) => concat(P.str(name), value, P.setitem());
const floats = (n: number) => new Uint8Array(4 * n);
const good = () =>
  zipOf([item("w", rebuild(storage("0", 4), P.int(0), ints(4), ints(1)))], [["0", floats(4)]]);
const callOf = (g: Uint8Array) => pickle(g, tupleOf(P.str("touch /tmp/hrm-ts-pwned")), P.reduce());

/** Edits bytes of a copy: `at` from the first occurrence of `marker` (latin-1). */
function patch(b: Uint8Array, marker: string, at: number, bytes: number[]): Uint8Array {
  const out = b.slice();
  const text = String.fromCharCode(...out);
  const i = text.indexOf(marker);
  if (i < 0) throw new Error(`marker ${marker} not found`);
  out.set(bytes, i + at);
  return out;
}

export const HOSTILE: HostileCase[] = [
  ...(
    [
      ["os", "system"],
      ["posix", "system"],
      ["builtins", "eval"],
      ["builtins", "exec"],
      ["__builtin__", "getattr"],
      ["subprocess", "Popen"],
      ["torch", "load"],
      ["torch.serialization", "_load"],
    ] as const
  ).flatMap(([m, n]): HostileCase[] => [
    {
      name: `exec-global-${m}.${n}`,
      category: "code execution",
      expect: `refusing to load: the pickle references ${m}.${n}`,
      bytes: () => makeZip([["ck/data.pkl", callOf(P.global(m, n))]]),
    },
    {
      name: `exec-stack-global-${m}.${n}`,
      category: "code execution",
      expect: `refusing to load: the pickle references ${m}.${n}`,
      bytes: () => makeZip([["ck/data.pkl", callOf(P.stackGlobal(m, n))]]),
    },
  ]),
  {
    name: "exec-reduce-non-callable",
    category: "code execution",
    expect: "REDUCE of .*not an allowed callable",
    bytes: () => makeZip([["ck/data.pkl", pickle(P.str("os.system"), tupleOf(P.str("id")), P.reduce())]]),
  },
  {
    name: "exec-build-on-tensor",
    category: "code execution",
    expect: "BUILD on .*not a dict",
    bytes: () =>
      zipOf(
        [item("w", concat(rebuild(storage("0", 4), P.int(0), ints(4), ints(1)), ordered(), op(0x62)))],
        [["0", floats(4)]],
      ),
  },
  {
    name: "dos-stride0-20000x20000",
    category: "denial of service",
    expect: "shape \\[20000,20000\\] has 400000000 elements, more than its storage's 1",
    bytes: () =>
      zipOf(
        [item("w", rebuild(storage("0", 1), P.int(0), ints(20000, 20000), ints(0, 0)))],
        [["0", floats(1)]],
      ),
  },
  {
    name: "dos-overlapping-view",
    category: "denial of service",
    expect: "has 1000000 elements, more than its storage's 2000",
    bytes: () =>
      zipOf(
        [item("w", rebuild(storage("0", 2000), P.int(0), ints(1000, 1000), ints(1, 1)))],
        [["0", floats(2000)]],
      ),
  },
  {
    name: "dos-one-storage-named-2000-times",
    category: "denial of service",
    expect: "views add up to more than 4x the file",
    bytes: () => {
      // The storage once (memoized as 0), then 2000 tensors each rebuilt over all of it: 131 MB of views.
      const items = [
        item("t0", rebuild(concat(storage("0", 16384), op(0x94)), P.int(0), ints(16384), ints(1))),
      ];
      for (let i = 1; i < 2000; i++)
        items.push(item(`t${i}`, rebuild(concat(op(0x6a), u32(0)), P.int(0), ints(16384), ints(1))));
      return zipOf(items, [["0", floats(16384)]]);
    },
  },
  {
    name: "dos-long4-200kb",
    category: "denial of service",
    expect: "an integer of 200000 bytes \\(the limit is 16",
    bytes: () => makeZip([["ck/data.pkl", pickle(op(0x8b), u32(200000), new Uint8Array(200000).fill(0x7f))]]),
  },
  {
    name: "dos-appends-300k",
    category: "denial of service",
    expect: "not a state dict",
    bytes: () =>
      makeZip([["ck/data.pkl", pickle(op(0x5d), P.mark(), new Uint8Array(300000).fill(0x4e), op(0x65))]]),
  },
  {
    name: "dos-nesting-100k",
    category: "denial of service",
    expect: "containers nested deeper than 64",
    bytes: () => {
      const body = new Uint8Array(199999);
      body.fill(0x5d, 0, 100000); // EMPTY_LIST x 100000, then APPEND x 99999: each list into the one below
      body.fill(0x61, 100000);
      return makeZip([["ck/data.pkl", pickle(body)]]);
    },
  },
  {
    name: "dos-binunicode8-huge",
    category: "denial of service",
    expect: "a string of 18446744073709551615 bytes",
    bytes: () => makeZip([["ck/data.pkl", pickle(op(0x8d, 255, 255, 255, 255, 255, 255, 255, 255))]]),
  },
  {
    name: "dos-storage-count-without-bytes",
    category: "denial of service",
    expect: "storage 0 has 16 bytes, 1000000000 float32 need 4000000000",
    bytes: () =>
      zipOf([item("w", rebuild(storage("0", 1e9), P.int(0), ints(4), ints(1)))], [["0", floats(4)]]),
  },
  {
    name: "dos-directory-count",
    category: "denial of service",
    expect: "the directory claims 65534 entries",
    bytes: () => {
      const z = good();
      const v = new DataView(z.buffer);
      v.setUint16(z.length - 22 + 8, 65534, true);
      v.setUint16(z.length - 22 + 10, 65534, true);
      return z;
    },
  },
  {
    name: "offset-negative",
    category: "offsets and shapes",
    expect: "storage offset -4 is not a non-negative integer",
    bytes: () =>
      zipOf([item("w", rebuild(storage("0", 4), P.int(-4), ints(4), ints(1)))], [["0", floats(4)]]),
  },
  {
    name: "offset-fractional",
    category: "offsets and shapes",
    expect: "storage offset 0.5 \\(a float\\) is not a non-negative integer",
    bytes: () =>
      zipOf([item("w", rebuild(storage("0", 4), float(0.5), ints(4), ints(1)))], [["0", floats(4)]]),
  },
  {
    name: "offset-past-end",
    category: "offsets and shapes",
    expect: "offset 3 reaches element 6 of 4",
    bytes: () => zipOf([item("w", rebuild(storage("0", 4), P.int(3), ints(4), ints(1)))], [["0", floats(4)]]),
  },
  {
    name: "offset-huge-long",
    category: "offsets and shapes",
    expect: "storage offset 9223372036854775807 is not a non-negative integer",
    bytes: () =>
      zipOf(
        [
          item(
            "w",
            rebuild(storage("0", 4), op(0x8a, 8, 255, 255, 255, 255, 255, 255, 255, 127), ints(4), ints(1)),
          ),
        ],
        [["0", floats(4)]],
      ),
  },
  {
    name: "shape-float",
    category: "offsets and shapes",
    expect: "tensor size .* is not a tuple of at most 32 non-negative integers",
    bytes: () =>
      zipOf([item("w", rebuild(storage("0", 4), P.int(0), tupleOf(float(4)), ints(1)))], [["0", floats(4)]]),
  },
  {
    name: "shape-negative",
    category: "offsets and shapes",
    expect: "tensor size \\(-4\\) is not a tuple",
    bytes: () =>
      zipOf([item("w", rebuild(storage("0", 4), P.int(0), ints(-4), ints(1)))], [["0", floats(4)]]),
  },
  {
    name: "shape-stride-rank-mismatch",
    category: "offsets and shapes",
    expect: "size has 2 dimensions, stride 1",
    bytes: () =>
      zipOf([item("w", rebuild(storage("0", 4), P.int(0), ints(2, 2), ints(1)))], [["0", floats(4)]]),
  },
  {
    name: "raw-storage-as-value",
    category: "offsets and shapes",
    expect: "state dict entry w is storage 0 \\(4 float32\\), not a tensor",
    bytes: () => zipOf([item("w", storage("0", 4))], [["0", floats(4)]]),
  },
  {
    name: "rebuild-of-non-storage",
    category: "offsets and shapes",
    expect: "_rebuild_tensor_v2 of bytes\\[16\\], which is not a storage",
    bytes: () => {
      const raw = concat(op(0x43, 16), new Uint8Array(16));
      return zipOf([item("w", rebuild(raw, P.int(0), ints(4), ints(1)))], []);
    },
  },
  ...(["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"] as const).map(
    (n): HostileCase => ({
      name: `dtype-prototype-${n}`,
      category: "dtype tricks",
      expect: `refusing to load: the pickle references torch.${n}`,
      bytes: () =>
        zipOf([item("w", rebuild(storage("0", 4, n), P.int(0), ints(4), ints(1)))], [["0", floats(4)]]),
    }),
  ),
  {
    name: "dtype-storage-named-twice",
    category: "dtype tricks",
    expect: "storage 0 is named as 2 float64 and as 4 float32",
    bytes: () =>
      zipOf(
        [
          item("a", rebuild(storage("0", 4), P.int(0), ints(4), ints(1))),
          item("b", rebuild(storage("0", 2, "DoubleStorage"), P.int(0), ints(2), ints(1))),
        ],
        [["0", floats(4)]],
      ),
  },
  {
    name: "dtype-count-mismatch",
    category: "dtype tricks",
    expect: "storage 0 has 20 bytes, 4 float32 need 16",
    bytes: () => zipOf([item("w", rebuild(storage("0", 4), P.int(0), ints(4), ints(1)))], [["0", floats(5)]]),
  },
  {
    name: "zip-local-header-shifted",
    category: "zip tampering",
    expect: "fails its CRC-32 check|differs from the central directory|overlaps",
    bytes: () => patch(good(), "ck/data/0", -2, [1]), // the local extra length: the data starts a byte later
  },
  {
    name: "zip-data-flipped",
    category: "zip tampering",
    expect: "entry ck/data/0 fails its CRC-32 check",
    bytes: () => {
      const z = good();
      const text = String.fromCharCode(...z);
      z[text.indexOf("ck/data/0") + 9] ^= 0x40; // the first data byte
      return z;
    },
  },
  {
    name: "zip-local-name-edited",
    category: "zip tampering",
    expect: "the local header's name differs from the central directory",
    bytes: () => patch(good(), "ck/data/0", 8, ["1".charCodeAt(0)]),
  },
  {
    name: "zip-duplicate-entry",
    category: "zip tampering",
    expect: "entry ck/data/0 appears twice",
    bytes: () =>
      makeZip([
        ["ck/data.pkl", pickle(ordered())],
        ["ck/data/0", floats(1)],
        ["ck/data/0", floats(2)],
      ]),
  },
];

/** Writes the corpus and its manifest into `dir`. */
export function writeHostileCorpus(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const manifest: Record<string, { category: string; expect: string }> = {};
  for (const c of HOSTILE) {
    writeFileSync(join(dir, `${c.name}.pt`), c.bytes());
    manifest[`${c.name}.pt`] = { category: c.category, expect: c.expect };
  }
  writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  writeFileSync(join(dir, "README.md"), corpusReadme());
}

function corpusReadme(): string {
  const rows = HOSTILE.map(
    (c) => `| \`${c.name}.pt\` | ${c.category} | \`${c.expect.replace(/\|/g, "\\|")}\` |`,
  );
  return `# Hostile .pt corpus

Hand-made PyTorch checkpoints that a safe reader must refuse, each with the error it must give
(\`manifest.json\`: a regular expression matched after the file name). \`tests/hostile-pt.test.ts\` loads every
file: each must fail with the loader's own error class, naming the file, on one line under 400 characters, in
under a second; nothing in them is ever executed. The files, this README and the manifest are written by
\`tests/support/hostile.ts\` (\`npm run build && node dist/tests/support/hostile.js tests/fixtures/hostile-pt\`);
the test also checks that the committed bytes are what it writes.

| file | category | expected error |
|---|---|---|
${rows.join("\n")}
`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (!process.argv[2]) throw new Error("usage: node dist/tests/support/hostile.js <output dir>");
  writeHostileCorpus(process.argv[2]);
}
