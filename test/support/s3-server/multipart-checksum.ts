/**
 * S3's rules for the checksums of multipart uploads, as far as the test server plays them: the
 * settings CreateMultipartUpload accepts, and the FULL_OBJECT CRC32 checks of UploadPart and
 * CompleteMultipartUpload. The whole object's CRC-32 is combined from the parts' CRCs and sizes,
 * as S3 does, never by reading the assembled object.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { StoredChecksum } from "./body";
import { crc32FromBase64, crc32OfPieces, crc32ToBase64 } from "./crc32-combine";
import type { StoredPart, UploadChecksum } from "./store";
import { element } from "./xml";

/** An S3 error the proxy answers with. */
export interface S3Problem {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

const ALGORITHMS = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"];
const TYPES = ["FULL_OBJECT", "COMPOSITE"];
/** The `x-amz-checksum-*` value headers besides CRC32's. */
const OTHER_VALUE_HEADERS = ["crc32c", "crc64nvme", "sha1", "sha256"].map((a) => `x-amz-checksum-${a}`);

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
 * Why S3 (400) or the test server (501: FULL_OBJECT with CRC32C or CRC64NVME, which S3 accepts but
 * this server does not compute) refuses these CreateMultipartUpload settings; undefined when fine.
 */
export function checksumSettingsProblem(settings: UploadChecksum): S3Problem | undefined {
  const { algorithm, type } = settings;
  const invalid = (message: string): S3Problem => ({ status: 400, code: "InvalidRequest", message });
  if (algorithm !== undefined && !ALGORITHMS.includes(algorithm)) {
    return invalid(
      `Checksum algorithm provided is unsupported (${algorithm}). Use one of ${ALGORITHMS.join(", ")}.`,
    );
  }
  if (type !== undefined && !TYPES.includes(type)) {
    return invalid(
      `Value for x-amz-checksum-type header is invalid (${type}). Use FULL_OBJECT or COMPOSITE.`,
    );
  }
  if (algorithm === undefined) {
    return invalid(
      "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.",
    );
  }
  if (type === "FULL_OBJECT" && (algorithm === "SHA1" || algorithm === "SHA256")) {
    return invalid(`The FULL_OBJECT checksum type cannot be used with the ${algorithm} checksum algorithm.`);
  }
  if (type === "COMPOSITE" && algorithm === "CRC64NVME") {
    return invalid("The COMPOSITE checksum type cannot be used with the CRC64NVME checksum algorithm.");
  }
  if (type === "FULL_OBJECT" && algorithm !== "CRC32") {
    return {
      status: 501,
      code: "NotImplemented",
      message: `The S3 test server computes FULL_OBJECT checksums of multipart uploads for CRC32 only, not ${algorithm}: use CRC32, or teach test/support/s3-server that algorithm.`,
    };
  }
  return undefined;
}

/** The upload was created with `x-amz-checksum-algorithm: CRC32` and `x-amz-checksum-type: FULL_OBJECT`. */
export function isFullObjectCrc32(settings: UploadChecksum | undefined): boolean {
  return settings?.algorithm === "CRC32" && settings.type === "FULL_OBJECT";
}

/** The request declares a CRC-32 of its body, as a header or an aws-chunked trailer. */
export function declaresCrc32(headers: IncomingHttpHeaders): boolean {
  return (
    headers["x-amz-checksum-crc32"] !== undefined ||
    String(headers["x-amz-trailer"] ?? "").toLowerCase() === "x-amz-checksum-crc32"
  );
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
 * `<ChecksumCRC32>` equal to its stored one (InvalidPart), no other algorithm's checksum
 * (InvalidRequest), and an `x-amz-checksum-crc32` equal to the combined value (BadDigest).
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
  for (const name of OTHER_VALUE_HEADERS) {
    if (headers[name] !== undefined) {
      return {
        status: 400,
        code: "InvalidRequest",
        message: `The upload was created using the CRC32 checksum algorithm; ${name} does not apply to it.`,
      };
    }
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
