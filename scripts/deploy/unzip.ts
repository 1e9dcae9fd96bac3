/**
 * A small unzip for the deploy check: the function code archives CDK stages (a few MB, deflated or
 * stored entries), read from their central directory, every entry's CRC-32 checked. No ZIP64, no
 * encryption, no other compression method: an archive that needs them is refused with its name.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, normalize, sep } from "node:path";
import { crc32, inflateRawSync } from "node:zlib";

/** The end of central directory record's signature, and the most bytes that may follow it (its comment). */
const EOCD_SIGNATURE = 0x06054b50;
const MAX_COMMENT = 0xffff;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;

/** The archive cannot be read by this unzip; the message names the archive and what is wrong. */
export class UnzipError extends Error {
  override readonly name = "UnzipError";
}

/** One file of an archive. */
export interface ZipEntry {
  readonly name: string;
  readonly data: Buffer;
}

/** The files of a ZIP archive held in `zip` (directories left out). */
export function readZip(zip: Buffer, label: string): ZipEntry[] {
  const fail = (why: string): never => {
    throw new UnzipError(`${label}: ${why}`);
  };
  let eocd = -1;
  for (let at = zip.length - 22; at >= Math.max(0, zip.length - 22 - MAX_COMMENT); at--) {
    if (zip.readUInt32LE(at) === EOCD_SIGNATURE) {
      eocd = at;
      break;
    }
  }
  if (eocd < 0) fail("not a ZIP archive (no end of central directory record)");
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  if (count === 0xffff || at === 0xffffffff) fail("a ZIP64 archive, which this unzip does not read");
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (at + 46 > zip.length || zip.readUInt32LE(at) !== CENTRAL_SIGNATURE) {
      fail(`central directory entry ${i + 1} of ${count} is damaged`);
    }
    const flags = zip.readUInt16LE(at + 8);
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const compressedSize = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const localAt = zip.readUInt32LE(at + 42);
    const name = zip.toString("utf8", at + 46, at + 46 + nameLength);
    at += 46 + nameLength + extraLength + commentLength;
    if (name.endsWith("/")) continue;
    if (flags & 1) fail(`${name} is encrypted`);
    if (zip.readUInt32LE(localAt) !== LOCAL_SIGNATURE) fail(`${name}: its local header is damaged`);
    const dataAt = localAt + 30 + zip.readUInt16LE(localAt + 26) + zip.readUInt16LE(localAt + 28);
    const raw = zip.subarray(dataAt, dataAt + compressedSize);
    const data =
      method === 0
        ? Buffer.from(raw)
        : method === 8
          ? inflateRawSync(raw)
          : fail(`${name}: method ${method}`);
    if (data.length !== size || crc32(data) !== crc) fail(`${name}: its size or CRC-32 does not match`);
    entries.push({ name, data });
  }
  return entries;
}

/** Writes the archive's files under `dir` (created); an entry naming a path outside it is refused. */
export function unzipTo(zip: Buffer, dir: string, label: string): string[] {
  const names: string[] = [];
  for (const entry of readZip(zip, label)) {
    const relative = normalize(entry.name);
    if (isAbsolute(relative) || relative === ".." || relative.startsWith(`..${sep}`)) {
      throw new UnzipError(`${label}: entry ${entry.name} points outside the directory`);
    }
    const path = join(dir, relative);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, entry.data);
    names.push(relative);
  }
  return names;
}
