/**
 * CRC32, the checksum S3 keeps for every archived object: its base64 form, how S3 reports it (a
 * listing, HeadObject, GetObject), and measuring it over a stream.
 */
import { crc32 } from "node:zlib";

/**
 * Base64 of the big-endian CRC32, as S3 writes a full-object `x-amz-checksum-crc32`.
 *
 * @example
 * ```ts
 * crc32Base64(0xcbf43926); // "y/Q5Jg==" (the CRC32 of "123456789")
 * ```
 */
export function crc32Base64(crc: number): string {
  const buf = Buffer.alloc(4);
  buf.writeUInt32BE(crc >>> 0);
  return buf.toString("base64");
}

/** Whether `value` has the shape of a base64 CRC32 (four bytes). */
export function isCrc32Base64(value: string): boolean {
  return /^[A-Za-z0-9+/]{6}==$/.test(value);
}

/** The byte count and base64 CRC32 of a stream's bytes, read to its end. */
export async function measureCrc32(
  source: AsyncIterable<Uint8Array>,
): Promise<{ readonly bytes: number; readonly crc32: string }> {
  let crc = 0;
  let bytes = 0;
  for await (const chunk of source) {
    crc = crc32(chunk, crc);
    bytes += chunk.length;
  }
  return { bytes, crc32: crc32Base64(crc) };
}

/**
 * The object's full-object CRC32 as S3 reports it (HeadObject or GetObject with checksum mode on),
 * or undefined when it has none (a composite multipart checksum does not count).
 */
export function storedCrc32(output: {
  readonly ChecksumCRC32?: string | undefined;
  readonly ChecksumType?: string | undefined;
}): string | undefined {
  return output.ChecksumType === "FULL_OBJECT" ? output.ChecksumCRC32 : undefined;
}

/** Whether a listing entry shows S3's full-object CRC32: the archiver's own objects always do. */
export function listedWithFullObjectCrc32(entry: {
  readonly ChecksumAlgorithm?: readonly string[] | undefined;
  readonly ChecksumType?: string | undefined;
}): boolean {
  return entry.ChecksumType === "FULL_OBJECT" && (entry.ChecksumAlgorithm ?? []).includes("CRC32");
}
