/**
 * A minimal, strict zip reader for PyTorch checkpoints (torch.save writes an uncompressed zip, ZIP64 when
 * large): the central directory, then each entry's bytes. Stored (method 0) entries only. Every field is
 * bounds-checked; each local header must agree with the central directory (name, method, flags, and the CRC and
 * sizes in the header or in its data descriptor); entries may not overlap; each entry's CRC-32 is checked when its
 * bytes are read (PyTorch skips that; a shifted or edited entry must not load). Bytes in, views out; no file system.
 */
import { clip } from "./limits.js";

export class ZipError extends Error {}

export interface ZipEntry {
  name: string;
  method: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
  /** Where the entry's bytes start (after its local header), set when the directory is read. */
  dataStart: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const DESCRIPTOR = 0x08074b50;
const FLAG_DESCRIPTOR = 0x8;

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** CRC-32 (the zip/PNG polynomial). */
export function crc32(b: Uint8Array): number {
  let c = -1;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** Bounds-checked little-endian reads over the archive; every failure names the file. */
class Fields {
  readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly file: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  fail(msg: string): never {
    throw new ZipError(`${this.file}: ${msg}`);
  }
  check(at: number, n: number, what: string): void {
    if (!(at >= 0 && at + n <= this.bytes.length))
      this.fail(
        `${what} at byte ${at} runs past the end of the file (${this.bytes.length} bytes; truncated?)`,
      );
  }
  u16(at: number, what: string): number {
    this.check(at, 2, what);
    return this.view.getUint16(at, true);
  }
  u32(at: number, what: string): number {
    this.check(at, 4, what);
    return this.view.getUint32(at, true);
  }
  u64(at: number, what: string): number {
    this.check(at, 8, what);
    const v = this.view.getBigUint64(at, true);
    if (v > BigInt(this.bytes.length))
      this.fail(`${what} is ${v}, beyond the ${this.bytes.length}-byte file`);
    return Number(v);
  }
  name(at: number, n: number): string {
    this.check(at, n, "an entry name");
    return new TextDecoder().decode(this.bytes.subarray(at, at + n));
  }
}

/** Applies the ZIP64 extended-information extra field to the fields that were saturated to 0xFFFFFFFF. */
function zip64Extra(f: Fields, at: number, len: number, e: ZipEntry): void {
  const end = at + len;
  for (let p = at; p + 4 <= end;) {
    const id = f.u16(p, "a ZIP64 extra field");
    const size = f.u16(p + 2, "a ZIP64 extra field");
    if (p + 4 + size > end) f.fail(`entry ${clip(e.name)}: an extra field runs past its entry`);
    if (id === 0x0001) {
      let q = p + 4;
      const next = (what: string): number => {
        if (q + 8 > p + 4 + size) f.fail(`entry ${clip(e.name)}: the ZIP64 extra field has no ${what}`);
        q += 8;
        return f.u64(q - 8, `entry ${clip(e.name)}'s ZIP64 ${what}`);
      };
      if (e.size === 0xffffffff) e.size = next("size");
      if (e.compressedSize === 0xffffffff) e.compressedSize = next("compressed size");
      if (e.localHeaderOffset === 0xffffffff) e.localHeaderOffset = next("header offset");
    }
    p += 4 + size;
  }
}

/** The end of the central directory: entry count and where the directory starts. */
function endRecord(f: Fields): { count: number; cdOffset: number } {
  const bytes = f.bytes;
  let eocd = -1;
  for (let p = bytes.length - 22; p >= Math.max(0, bytes.length - 22 - 65535); p--)
    if (f.view.getUint32(p, true) === EOCD) {
      eocd = p;
      break;
    }
  if (eocd < 0) f.fail("not a zip archive, or truncated (no end-of-central-directory record)");
  let count = f.u16(eocd + 10, "the entry count");
  let cdOffset = f.u32(eocd + 16, "the directory offset");
  if (count === 0xffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || f.view.getUint32(loc, true) !== ZIP64_LOCATOR) f.fail("ZIP64 locator missing");
    const rec = f.u64(loc + 8, "the ZIP64 end record offset");
    if (f.u32(rec, "the ZIP64 end record") !== ZIP64_EOCD) f.fail("ZIP64 end record missing");
    count = f.u64(rec + 32, "the ZIP64 entry count");
    cdOffset = f.u64(rec + 48, "the ZIP64 directory offset");
  }
  if (cdOffset > eocd) f.fail(`the central directory offset ${cdOffset} is past its end record at ${eocd}`);
  return { count, cdOffset };
}

/** Checks an entry's local header against the central directory and returns where its data starts. */
function checkLocal(f: Fields, e: ZipEntry, flags: number): { dataStart: number; end: number } {
  const at = e.localHeaderOffset;
  const bad = (what: string): never =>
    f.fail(
      `entry ${clip(e.name)}: the local header's ${what} differs from the central directory (file corrupt)`,
    );
  if (f.u32(at, `entry ${clip(e.name)}'s local header`) !== LOCAL)
    f.fail(`entry ${clip(e.name)} has no local header at byte ${at} (file truncated or corrupt)`);
  if (f.u16(at + 6, "a local header") !== flags) bad("flags");
  if (f.u16(at + 8, "a local header") !== e.method) bad("method");
  const nameLen = f.u16(at + 26, "a local header");
  const extraLen = f.u16(at + 28, "a local header");
  if (f.name(at + 30, nameLen) !== e.name) bad("name");
  const dataStart = at + 30 + nameLen + extraLen;
  f.check(dataStart, e.compressedSize, `entry ${clip(e.name)}'s data`);
  let end = dataStart + e.compressedSize;
  const [crc, csize, usize] = [f.u32(at + 14, ""), f.u32(at + 18, ""), f.u32(at + 22, "")];
  if (flags & FLAG_DESCRIPTOR) {
    // Sizes and CRC follow the data: optional signature, CRC, then 4- or 8-byte sizes (ZIP64).
    let p = end;
    if (p + 4 <= f.bytes.length && f.view.getUint32(p, true) === DESCRIPTOR) p += 4;
    if (f.u32(p, `entry ${clip(e.name)}'s data descriptor`) !== e.crc32) bad("data descriptor CRC");
    const small =
      p + 12 <= f.bytes.length && f.u32(p + 4, "") === e.compressedSize && f.u32(p + 8, "") === e.size;
    const wide =
      !small &&
      p + 20 <= f.bytes.length &&
      f.u64(p + 4, "") === e.compressedSize &&
      f.u64(p + 12, "") === e.size;
    if (!small && !wide) bad("data descriptor sizes");
    end = p + (small ? 12 : 20);
  } else {
    if (crc !== e.crc32) bad("CRC");
    if (csize !== 0xffffffff && csize !== e.compressedSize) bad("compressed size");
    if (usize !== 0xffffffff && usize !== e.size) bad("size");
  }
  return { dataStart, end };
}

/** Reads and checks the central directory and every local header. `file` names the archive in errors. */
export function readZipDirectory(bytes: Uint8Array, file: string): Map<string, ZipEntry> {
  const f = new Fields(bytes, file);
  const { count, cdOffset } = endRecord(f);
  if (count * 46 > bytes.length) f.fail(`the directory claims ${count} entries, more than the file can hold`);
  const entries = new Map<string, ZipEntry>();
  const spans: [number, number, string][] = [];
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (f.u32(p, `central directory entry ${i}`) !== CENTRAL)
      f.fail(`central directory entry ${i} is corrupt`);
    const nameLen = f.u16(p + 28, "a directory entry");
    const extraLen = f.u16(p + 30, "a directory entry");
    const commentLen = f.u16(p + 32, "a directory entry");
    const flags = f.u16(p + 8, "a directory entry");
    const e: ZipEntry = {
      name: f.name(p + 46, nameLen),
      method: f.u16(p + 10, "a directory entry"),
      crc32: f.u32(p + 16, "a directory entry"),
      compressedSize: f.u32(p + 20, "a directory entry"),
      size: f.u32(p + 24, "a directory entry"),
      localHeaderOffset: f.u32(p + 42, "a directory entry"),
      dataStart: 0,
    };
    zip64Extra(f, p + 46 + nameLen, extraLen, e);
    if (entries.has(e.name)) f.fail(`entry ${clip(e.name)} appears twice in the central directory`);
    if (e.method === 0 && e.compressedSize !== e.size)
      f.fail(`stored entry ${clip(e.name)} has size ${e.size} but ${e.compressedSize} stored bytes`);
    const { dataStart, end } = checkLocal(f, e, flags);
    e.dataStart = dataStart;
    spans.push([e.localHeaderOffset, end, e.name]);
    entries.set(e.name, e);
    p += 46 + nameLen + extraLen + commentLen;
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 0; i < spans.length; i++) {
    const limit = i + 1 < spans.length ? spans[i + 1][0] : cdOffset;
    if (spans[i][1] > limit)
      f.fail(
        `entry ${clip(spans[i][2])} overlaps ${i + 1 < spans.length ? `entry ${clip(spans[i + 1][2])}` : "the central directory"}`,
      );
  }
  return entries;
}

/** The bytes of one stored entry (a view into `bytes`), after checking its CRC-32. */
export function zipEntryBytes(bytes: Uint8Array, e: ZipEntry, file: string): Uint8Array {
  if (e.method !== 0)
    throw new ZipError(
      `${file}: entry ${clip(e.name)} is compressed (method ${e.method}); only stored entries are supported`,
    );
  const data = bytes.subarray(e.dataStart, e.dataStart + e.size);
  const got = crc32(data);
  if (got !== e.crc32)
    throw new ZipError(
      `${file}: entry ${clip(e.name)} fails its CRC-32 check (0x${got.toString(16)}, the directory says 0x${e.crc32.toString(16)}): the file is corrupt`,
    );
  return data;
}
