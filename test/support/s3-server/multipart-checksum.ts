/**
 * S3's rules for the checksums of multipart uploads, as far as the archiver meets them: the
 * FULL_OBJECT CRC32 checks of UploadPart and CompleteMultipartUpload. The whole object's CRC-32 is combined from the parts' CRCs and sizes,
 * as S3 does, never by reading the assembled object.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { StoredChecksum } from "./body";
import { crc32FromBase64, crc32OfPieces, crc32ToBase64 } from "./crc32-combine";
import type { StoredPart, UploadChecksum } from "./store";
import { element, type S3Problem } from "./xml";

/** CreateMultipartUpload's `x-amz-checksum-algorithm` and `-type`, upper-case; undefined when neither. */
export function requestedChecksum(headers: IncomingHttpHeaders): UploadChecksum | undefined {
  const algorithm = headerValue(headers, "x-amz-checksum-algorithm")?.toUpperCase();
  const type = headerValue(headers, "x-amz-checksum-type")?.toUpperCase();
  if (algorithm === undefined && type === undefined) return undefined;
  return {
    ...(algorithm === undefined ? {} : { algorithm }),
    ...(type === undefined ? {} : { type }),
  };
}

/**
 * 501 for a FULL_OBJECT upload with another algorithm than CRC32, which this server does not
 * compute (S3 takes CRC32C and CRC64NVME, and refuses SHA1 and SHA256); undefined otherwise. Other
 * settings are recorded as given: the archiver only ever asks for FULL_OBJECT CRC32, and
 * lib-storage's `Upload` (the bench) for CRC32 of the default type, COMPOSITE.
 */
export function unsupportedChecksum(settings: UploadChecksum): S3Problem | undefined {
  if (settings.type !== "FULL_OBJECT" || settings.algorithm === "CRC32") return undefined;
  return {
    status: 501,
    code: "NotImplemented",
    message: `The S3 test server computes FULL_OBJECT checksums of multipart uploads for CRC32 only, not ${settings.algorithm ?? "none"}: use CRC32, or teach test/support/s3-server that algorithm.`,
  };
}

/** The upload was created with `x-amz-checksum-algorithm: CRC32` and `x-amz-checksum-type: FULL_OBJECT`. */
export function isFullObjectCrc32(settings: UploadChecksum | undefined): boolean {
  return settings?.algorithm === "CRC32" && settings.type === "FULL_OBJECT";
}

/** The request declares a CRC-32 of its body. */
export function declaresCrc32(headers: IncomingHttpHeaders): boolean {
  return headers["x-amz-checksum-crc32"] !== undefined;
}

/** S3's answer to a part of a FULL_OBJECT CRC32 upload that comes without its CRC-32. */
export const PART_CRC32_MISSING: S3Problem = {
  status: 400,
  code: "InvalidRequest",
  message:
    "The upload was created using the CRC32 checksum algorithm. The part upload request must include an x-amz-checksum-crc32 header or trailer.",
};

/**
 * A CompleteMultipartUpload's `x-amz-checksum-type` that differs from the upload's type (the one
 * given at creation, else S3's default for its algorithm); undefined when it matches or is absent,
 * or the upload has no checksum algorithm.
 */
export function checksumTypeMismatch(
  settings: UploadChecksum | undefined,
  headers: IncomingHttpHeaders,
): S3Problem | undefined {
  const requested = headerValue(headers, "x-amz-checksum-type")?.toUpperCase();
  if (requested === undefined || settings?.algorithm === undefined) return undefined;
  const type = settings.type ?? (settings.algorithm === "CRC64NVME" ? "FULL_OBJECT" : "COMPOSITE");
  if (requested === type) return undefined;
  return {
    status: 400,
    code: "InvalidRequest",
    message: `The upload was created using the ${type} checksum type; the complete request asks for ${requested}.`,
  };
}

/**
 * The whole object's CRC-32 of a FULL_OBJECT CRC32 upload, combined from its parts' stored CRCs
 * and sizes, after S3's checks: part numbers 1, 2, 3, ... (InvalidPartOrder), a part's
 * `<ChecksumCRC32>` equal to its stored one (InvalidPart), and an `x-amz-checksum-crc32` equal to
 * the combined value (BadDigest).
 */
export function fullObjectCrc32(
  parts: ReadonlyArray<{ readonly partNumber: number; readonly crc32?: string }>,
  stored: readonly StoredPart[],
  headers: IncomingHttpHeaders,
): StoredChecksum | S3Problem {
  const pieces: Array<{ crc32: number; size: number }> = [];
  for (const [index, part] of parts.entries()) {
    if (part.partNumber !== index + 1) {
      return {
        status: 400,
        code: "InvalidPartOrder",
        message: `The parts of an upload with checksums must be numbered consecutively from 1; part ${part.partNumber} is listed as the part number ${index + 1}.`,
      };
    }
    const crc32 = stored[index]?.crc32;
    const value = crc32 === undefined ? undefined : crc32FromBase64(crc32);
    if (value === undefined || (part.crc32 !== undefined && part.crc32 !== crc32)) {
      return {
        status: 400,
        code: "InvalidPart",
        message: `One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag or checksum may not match the part's. (part ${part.partNumber}: ChecksumCRC32 ${part.crc32 ?? "not given"}, stored ${crc32 ?? "none"})`,
      };
    }
    pieces.push({ crc32: value, size: stored[index]?.size ?? 0 });
  }
  const whole = crc32ToBase64(crc32OfPieces(pieces));
  const declared = headerValue(headers, "x-amz-checksum-crc32");
  if (declared !== undefined && declared !== whole) {
    return {
      status: 400,
      code: "BadDigest",
      message: `The CRC32 you specified (${declared}) did not match the calculated checksum (${whole}).`,
    };
  }
  return { algorithm: "crc32", value: whole };
}

/** s3rver's CompleteMultipartUploadResult with S3's `<ChecksumCRC32>` and `<ChecksumType>` added. */
export function withFullObjectChecksum(xml: string, checksum: StoredChecksum): string {
  const close = "</CompleteMultipartUploadResult>";
  const at = xml.lastIndexOf(close);
  if (at === -1) return xml;
  const name = `Checksum${checksum.algorithm.toUpperCase()}`;
  return `${xml.slice(0, at)}${element(name, checksum.value)}${element("ChecksumType", "FULL_OBJECT")}${xml.slice(at)}`;
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return typeof value === "string" ? value.trim() : undefined;
}
