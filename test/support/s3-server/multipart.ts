/**
 * Multipart uploads as the archiver's writer sends them: CreateMultipartUpload (checksum settings
 * recorded and echoed), UploadPart (streamed, checked, a FULL_OBJECT CRC32 upload's part CRC kept),
 * CompleteMultipartUpload (S3's part checks, the whole object's CRC32, atomic and conditional) and
 * AbortMultipartUpload (which s3rver answers 405).
 */
import { checksumHeader, type StoredChecksum } from "./body";
import {
  checksumTypeMismatch,
  declaresCrc32,
  fullObjectCrc32,
  isFullObjectCrc32,
  PART_CRC32_MISSING,
  requestedChecksum,
  unsupportedChecksum,
  withFullObjectChecksum,
} from "./multipart-checksum";
import { writeThroughStaging } from "./objects";
import type { StoredPart } from "./store";
import {
  type Backend,
  type Call,
  drain,
  exchange,
  isOk,
  passthrough,
  readSmall,
  relay,
  streamBody,
} from "./upstream";
import {
  noSuchBucket,
  noSuchUpload,
  requestId,
  type S3Problem,
  sendError,
  sendProblem,
  unescapeXml,
} from "./xml";

/** S3's minimum size of every part but the last. */
const MIN_PART_BYTES = 5 * 1024 * 1024;

/**
 * The upload the request names, in an existing bucket; otherwise answers NoSuchBucket or
 * NoSuchUpload (after draining the body) and gives undefined.
 */
async function openUpload(call: Call): Promise<string | undefined> {
  const { ctx, c, req, res } = call;
  const uploadId = c.uploadId ?? "";
  if (ctx.layout.bucketExists(c.bucket) && (await ctx.layout.uploadKey(c.bucket, uploadId)) === c.key) {
    return uploadId;
  }
  await drain(req);
  if (!ctx.layout.bucketExists(c.bucket)) noSuchBucket(res, c.bucket);
  else noSuchUpload(res, uploadId);
  return undefined;
}

/**
 * CreateMultipartUpload: without checksum headers (or with checksums off) passed to s3rver as is;
 * with them recorded in the upload's directory and echoed in the response.
 */
export async function createMultipartUpload(call: Call): Promise<void> {
  const { ctx, c, req, res } = call;
  const settings = requestedChecksum(req.headers);
  if (settings === undefined || !ctx.checksums) {
    return ctx.layout.exclusive(() => passthrough(ctx, req, res));
  }
  const body = await readSmall(req, res);
  if (!ctx.layout.bucketExists(c.bucket)) return noSuchBucket(res, c.bucket);
  const problem = unsupportedChecksum(settings);
  if (problem !== undefined) return sendProblem(res, problem);
  await ctx.layout.exclusive(async () => {
    const response = await exchange(ctx, req, res, body);
    if (!isOk(response.status)) return relay(res, response);
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(response.body.toString("utf8"))?.[1];
    if (uploadId === undefined) {
      throw new Error(`s3rver created an upload without an UploadId: ${response.body.toString("utf8")}`);
    }
    await ctx.layout.setUploadChecksum(c.bucket, uploadId, settings);
    relay(res, response, {
      ...(settings.algorithm === undefined ? {} : { "x-amz-checksum-algorithm": settings.algorithm }),
      ...(settings.type === undefined ? {} : { "x-amz-checksum-type": settings.type }),
    });
  });
}

/** UploadPart: streamed into s3rver's upload directory, then checked against declared checksums. */
export async function uploadPart(call: Call, corrupt: boolean): Promise<void> {
  const { ctx, c, req, res } = call;
  const uploadId = await openUpload(call);
  if (uploadId === undefined) return;
  const partNumber = c.partNumber ?? Number.NaN;
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10000) {
    await drain(req);
    return sendError(
      res,
      400,
      "InvalidArgument",
      "Part number must be an integer between 1 and 10000, inclusive",
      {
        extra: { ArgumentName: "partNumber", ArgumentValue: String(c.query.get("partNumber")) },
      },
    );
  }
  const fullObject = isFullObjectCrc32(await ctx.layout.uploadChecksum(c.bucket, uploadId));
  if (fullObject) {
    if (!declaresCrc32(req.headers)) {
      await drain(req);
      return sendProblem(res, PART_CRC32_MISSING);
    }
    // A replaced part must not keep its predecessor's CRC while its new data is being written.
    await ctx.layout.setPartCrc32(c.bucket, uploadId, partNumber, undefined);
  }
  const { response, verdict } = await streamBody(call, req.url ?? "/", corrupt);
  if (!isOk(response.status)) return relay(res, response);
  if (!verdict.ok) {
    await ctx.layout.dropPart(c.bucket, uploadId, partNumber);
    return sendProblem(res, verdict);
  }
  if (fullObject) await ctx.layout.setPartCrc32(c.bucket, uploadId, partNumber, verdict.checksum?.value);
  relay(res, response, checksumHeader(verdict.checksum));
}

/** CompleteMultipartUpload: parts checked as S3 does, assembled at a staging key, then renamed. */
export async function completeMultipartUpload(call: Call): Promise<void> {
  const { ctx, c, req, res } = call;
  const body = await readSmall(req, res);
  const uploadId = await openUpload(call);
  if (uploadId === undefined) return;
  const parts = parseCompleteParts(body.toString("utf8"));
  if (parts === undefined) {
    return sendError(
      res,
      400,
      "MalformedXML",
      "The XML you provided was not well-formed or did not validate against our published schema.",
    );
  }
  const stored = await checkParts(ctx, c.bucket, uploadId, parts);
  if (!Array.isArray(stored)) return sendProblem(res, stored);
  const settings = await ctx.layout.uploadChecksum(c.bucket, uploadId);
  const typeProblem = checksumTypeMismatch(settings, req.headers);
  if (typeProblem !== undefined) return sendProblem(res, typeProblem);
  let checksum: StoredChecksum | undefined;
  if (isFullObjectCrc32(settings)) {
    // Checked before the key's lock and If-None-Match: a bad digest commits nothing and leaves the upload open.
    const whole = fullObjectCrc32(parts, stored, req.headers);
    if ("code" in whole) return sendProblem(res, whole);
    checksum = whole;
  }
  await writeThroughStaging(call, async (staging) => {
    const restore = await ctx.layout.retarget(c.bucket, uploadId, c.key, staging);
    const response = await exchange(ctx, req, res, body).catch(async (error: unknown) => {
      await restore();
      throw error;
    });
    if (!isOk(response.status)) {
      await restore();
      return void relay(res, response);
    }
    return async () => {
      await ctx.layout.commit(c.bucket, staging, c.key, checksum);
      ctx.layout.completed(uploadId);
      if (checksum === undefined) return relay(res, response);
      const xml = withFullObjectChecksum(response.body.toString("utf8"), checksum);
      relay(res, { ...response, body: Buffer.from(xml) });
    };
  });
}

/** AbortMultipartUpload (s3rver answers 405): removes the upload and its parts. */
export async function abortMultipartUpload(call: Call): Promise<void> {
  const { ctx, c, req, res } = call;
  const uploadId = await openUpload(call);
  if (uploadId === undefined) return;
  await drain(req);
  await ctx.layout.abortUpload(c.bucket, uploadId);
  res.writeHead(204, { "x-amz-request-id": requestId() });
  res.end();
}

interface CompletePart {
  readonly partNumber: number;
  readonly etag: string;
  /** The part's `<ChecksumCRC32>`, if given. */
  readonly crc32?: string;
}

function parseCompleteParts(xml: string): CompletePart[] | undefined {
  if (!/<CompleteMultipartUpload[\s>]/.test(xml)) return undefined;
  const parts: CompletePart[] = [];
  for (const match of xml.matchAll(/<Part>([\s\S]*?)<\/Part>/g)) {
    const inner = match[1] ?? "";
    const number = /<PartNumber>\s*(\d+)\s*<\/PartNumber>/.exec(inner)?.[1];
    const etag = /<ETag>([\s\S]*?)<\/ETag>/.exec(inner)?.[1];
    if (number === undefined || etag === undefined) return undefined;
    const crc32 = /<ChecksumCRC32>([\s\S]*?)<\/ChecksumCRC32>/.exec(inner)?.[1];
    parts.push({
      partNumber: Number(number),
      etag: unescapeXml(etag).replace(/"/g, "").trim(),
      ...(crc32 === undefined ? {} : { crc32: unescapeXml(crc32).trim() }),
    });
  }
  return parts.length > 0 ? parts : undefined;
}

/** The listed parts as stored, or the first problem S3 would report with them. */
async function checkParts(
  ctx: Backend,
  bucket: string,
  uploadId: string,
  parts: readonly CompletePart[],
): Promise<StoredPart[] | S3Problem> {
  const found: StoredPart[] = [];
  let previous = 0;
  for (const [index, part] of parts.entries()) {
    if (part.partNumber <= previous) {
      return {
        status: 400,
        code: "InvalidPartOrder",
        message: "The list of parts was not in ascending order. Parts must be ordered by part number.",
      };
    }
    previous = part.partNumber;
    const stored = await ctx.layout.part(bucket, uploadId, part.partNumber);
    if (stored === undefined || stored.md5 !== part.etag) {
      return {
        status: 400,
        code: "InvalidPart",
        message: `One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag. (part ${part.partNumber})`,
      };
    }
    if (index < parts.length - 1 && stored.size < MIN_PART_BYTES) {
      return {
        status: 400,
        code: "EntityTooSmall",
        message: `Your proposed upload is smaller than the minimum allowed object size. (part ${part.partNumber} is ${stored.size} bytes)`,
      };
    }
    found.push(stored);
  }
  return found;
}
