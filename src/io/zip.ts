/**
 * A minimal zip reader for PyTorch checkpoints (torch.save writes an uncompressed zip, ZIP64 when large):
 * the central directory, then each entry's bytes. Stored (method 0) entries only; anything else is a clear
 * error. Bytes in, views out; no file system.
 */

export class ZipError extends Error {}

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

function u64(view: DataView, at: number): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError(`zip field too large (${v})`);
  return Number(v);
}

/** Applies the ZIP64 extended-information extra field to the fields that were saturated to 0xFFFFFFFF. */
function zip64Extra(view: DataView, at: number, len: number, e: ZipEntry): void {
  for (let p = at; p + 4 <= at + len;) {
    const id = view.getUint16(p, true);
    const size = view.getUint16(p + 2, true);
    if (id === 0x0001) {
      let q = p + 4;
      if (e.size === 0xffffffff) {
        e.size = u64(view, q);
        q += 8;
      }
      if (e.compressedSize === 0xffffffff) {
        e.compressedSize = u64(view, q);
        q += 8;
      }
      if (e.localHeaderOffset === 0xffffffff) e.localHeaderOffset = u64(view, q);
    }
    p += 4 + size;
  }
}

/** Reads the central directory. `file` names the archive in errors. */
export function readZipDirectory(bytes: Uint8Array, file: string): Map<string, ZipEntry> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (msg: string): never => {
    throw new ZipError(`${file}: ${msg}`);
  };
  let eocd = -1;
  for (let p = bytes.length - 22; p >= Math.max(0, bytes.length - 22 - 65535); p--)
    if (view.getUint32(p, true) === EOCD) {
      eocd = p;
      break;
    }
  if (eocd < 0) fail("not a zip archive, or truncated (no end-of-central-directory record)");
  let count = view.getUint16(eocd + 10, true);
  let cdOffset = view.getUint32(eocd + 16, true);
  if (count === 0xffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || view.getUint32(loc, true) !== ZIP64_LOCATOR) fail("ZIP64 locator missing");
    const rec = u64(view, loc + 8);
    if (rec + 56 > bytes.length || view.getUint32(rec, true) !== ZIP64_EOCD) fail("ZIP64 end record missing");
    count = u64(view, rec + 32);
    cdOffset = u64(view, rec + 48);
  }
  const entries = new Map<string, ZipEntry>();
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > bytes.length || view.getUint32(p, true) !== CENTRAL)
      fail(`central directory entry ${i} is corrupt`);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    const e: ZipEntry = {
      name: new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLen)),
      method: view.getUint16(p + 10, true),
      compressedSize: view.getUint32(p + 20, true),
      size: view.getUint32(p + 24, true),
      localHeaderOffset: view.getUint32(p + 42, true),
    };
    zip64Extra(view, p + 46 + nameLen, extraLen, e);
    entries.set(e.name, e);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** The bytes of one stored entry (a view into `bytes`). */
export function zipEntryBytes(bytes: Uint8Array, e: ZipEntry, file: string): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = e.localHeaderOffset;
  if (at + 30 > bytes.length || view.getUint32(at, true) !== LOCAL)
    throw new ZipError(`${file}: entry ${e.name} has no local header (file truncated or corrupt)`);
  if (e.method !== 0)
    throw new ZipError(
      `${file}: entry ${e.name} is compressed (method ${e.method}); only stored entries are supported`,
    );
  const start = at + 30 + view.getUint16(at + 26, true) + view.getUint16(at + 28, true);
  if (start + e.size > bytes.length)
    throw new ZipError(
      `${file}: entry ${e.name} runs past the end of the file (truncated: needs ${start + e.size} bytes, has ${bytes.length})`,
    );
  return bytes.subarray(start, start + e.size);
}
