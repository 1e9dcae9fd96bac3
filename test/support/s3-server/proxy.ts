/**
 * The proxy in front of s3rver: classifies and logs each request, applies injected faults, and
 * supplies what s3rver lacks (conditional writes, atomic writes, checksums, aws-chunked bodies,
 * ListObjectsV2 pagination, AbortMultipartUpload, ListMultipartUploads, multipart part checks,
 * FULL_OBJECT CRC32 checksums of multipart uploads).
 * Request and response bodies stream through; only small XML bodies are ever held.
 */
import http, {
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from "node:http";
import type { Readable } from "node:stream";
import { AwsChunkedDecoder, BitFlipper, BodyMeter, type BodyVerdict, type StoredChecksum } from "./body";
import { type ClassifiedRequest, classify, type S3OperationName } from "./classify";
import { type FaultQueue, MAX_TIMER_MS, type S3FaultKind } from "./faults";
import { ListingError, listMultipartUploads, listObjectsV2 } from "./listing";
import type { KeyLocks } from "./locks";
import {
  checksumSettingsProblem,
  checksumTypeMismatch,
  declaresCrc32,
  fullObjectCrc32,
  isFullObjectCrc32,
  PART_CRC32_MISSING,
  requestedChecksum,
  type S3Problem,
  withFullObjectChecksum,
} from "./multipart-checksum";
import { S3RVER_CREDENTIALS } from "./owner";
import type { StoredPart, StoreLayout } from "./store";
import { defaultErrorCode, requestId, sendError, sendXml, unescapeXml } from "./xml";

/** One request the proxy received, recorded when its response ended (or its connection closed). */
export interface S3Operation {
  readonly op: S3OperationName;
  readonly method: string;
  /** `""` for service-level requests. */
  readonly bucket: string;
  /** The object key; the `prefix` for ListObjectsV2 and ListMultipartUploads; else `""`. */
  readonly key: string;
  readonly uploadId?: string;
  readonly partNumber?: number;
  /** The HTTP status sent; 0 when no complete response was sent (reset, client gone). */
  readonly status: number;
  /** When the request arrived (epoch milliseconds). */
  readonly at: number;
  readonly durationMs: number;
  /** The request's `If-None-Match` header (`"*"` for a conditional write), if it had one. */
  readonly ifNoneMatch?: string;
  /** The injected fault this request consumed, if any. */
  readonly fault?: S3FaultKind;
}

/** What the request handler works with. */
export interface ProxyContext {
  readonly layout: StoreLayout;
  readonly upstream: { readonly host: string; readonly port: number; readonly agent: http.Agent };
  readonly faults: FaultQueue;
  readonly operations: S3Operation[];
  readonly locks: KeyLocks;
  readonly conditionalWrites: boolean;
  /** Verify, store and report checksums; false plays a store that ignores them. */
  readonly checksums: boolean;
}

/** A `corrupt` fault taken by a write: the data byte to flip, or the middle one. */
interface Corruption {
  readonly offset?: number;
}

/** S3's minimum size of every part but the last. */
const MIN_PART_BYTES = 5 * 1024 * 1024;
/** Largest XML request body (CompleteMultipartUpload) the proxy reads into memory. */
const MAX_XML_BODY = 4 * 1024 * 1024;

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "expect",
  "te",
  "trailer",
  "host",
]);

/** A response from s3rver, read whole (only used for small XML or empty bodies). */
interface Captured {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** The client went away before the request was complete. */
class ClientGone extends Error {}

/** The request body is malformed (bad aws-chunked framing). */
class BadBody extends Error {}

/** The node:http request listener of the proxy. */
export function createHandler(ctx: ProxyContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(ctx, req, res).catch((error: unknown) => {
      if (error instanceof ClientGone) return;
      if (res.headersSent) return void res.destroy();
      const headOnly = req.method === "HEAD";
      if (error instanceof BadBody) {
        // The rest of the body is unread: close the connection after answering.
        res.once("finish", () => req.socket.destroy());
        return sendError(res, 400, "IncompleteBody", error.message, { headOnly });
      }
      sendError(res, 500, "InternalError", `The S3 test server failed: ${String(error)}`, { headOnly });
    });
  };
}

async function handle(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const at = Date.now();
  const method = (req.method ?? "GET").toUpperCase();
  const c = classify(method, req.url ?? "/", req.headers);
  let fault: S3FaultKind | undefined;
  let logged = false;
  const log = () => {
    if (logged) return;
    logged = true;
    ctx.operations.push({
      op: c.op,
      method,
      bucket: c.bucket,
      key: c.key,
      ...(c.uploadId === undefined ? {} : { uploadId: c.uploadId }),
      ...(c.partNumber === undefined ? {} : { partNumber: c.partNumber }),
      status: res.writableFinished ? res.statusCode : 0,
      at,
      durationMs: Date.now() - at,
      ...(c.ifNoneMatch === undefined ? {} : { ifNoneMatch: c.ifNoneMatch }),
      ...(fault === undefined ? {} : { fault }),
    });
  };
  res.once("finish", log);
  res.once("close", log);

  let corrupt: Corruption | undefined;
  let repeatToken = false;
  const injected = ctx.faults.take(c.op, c.key);
  if (injected !== undefined) {
    fault = injected.kind ?? "status";
    if (fault === "reset") {
      req.socket.destroy();
      return;
    }
    if (fault === "status") {
      await drain(req);
      const status = injected.status ?? 500;
      sendError(
        res,
        status,
        injected.code ?? defaultErrorCode(status),
        injected.message ?? "Injected fault",
        {
          headOnly: method === "HEAD",
        },
      );
      return;
    }
    if (fault === "stall" && (await closedWithin(res, injected.ms ?? 1000))) return;
    if (fault === "corrupt") corrupt = injected.offset === undefined ? {} : { offset: injected.offset };
    repeatToken = fault === "repeat-token";
  }

  switch (c.op) {
    case "ListObjectsV2":
    case "ListMultipartUploads":
      return list(ctx, c, req, res, repeatToken);
    case "PutObject":
      return putObject(ctx, c, req, res, corrupt);
    case "CopyObject":
      return copyObject(ctx, c, req, res);
    case "CreateMultipartUpload":
      return createMultipartUpload(ctx, c, req, res);
    case "CompleteMultipartUpload":
      return completeMultipartUpload(ctx, c, req, res);
    case "UploadPart":
      return uploadPart(ctx, c, req, res, corrupt);
    case "AbortMultipartUpload":
      return abortMultipartUpload(ctx, c, req, res);
    case "DeleteObject":
      return ctx.locks.run(lockId(c), async () => {
        await ctx.layout.dropChecksum(c.bucket, c.key);
        await ctx.layout.exclusive(() => passthrough(ctx, req, res));
      });
    case "GetObject":
    case "HeadObject":
      return passthrough(ctx, req, res, (status) => checksumHeaders(ctx, c, req, status));
    default:
      // DeleteObjects (POST ?delete) and the like remove directories too.
      return method === "GET" || method === "HEAD"
        ? passthrough(ctx, req, res)
        : ctx.layout.exclusive(() => passthrough(ctx, req, res));
  }
}

function lockId(c: { bucket: string; key: string }): string {
  return `${c.bucket}\u0000${c.key}`;
}

function noSuchBucket(res: ServerResponse, bucket: string, headOnly = false): void {
  sendError(res, 404, "NoSuchBucket", "The specified bucket does not exist", {
    extra: { BucketName: bucket },
    headOnly,
  });
}

function noSuchUpload(res: ServerResponse, uploadId: string | undefined): void {
  sendError(
    res,
    404,
    "NoSuchUpload",
    "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    { extra: { UploadId: uploadId ?? "" } },
  );
}

function preconditionFailed(res: ServerResponse): void {
  sendError(res, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold", {
    extra: { Condition: "If-None-Match" },
  });
}

async function list(
  ctx: ProxyContext,
  c: ClassifiedRequest,
  req: IncomingMessage,
  res: ServerResponse,
  repeatToken: boolean,
): Promise<void> {
  await drain(req);
  if (!ctx.layout.bucketExists(c.bucket)) return noSuchBucket(res, c.bucket);
  try {
    const xml =
      c.op === "ListObjectsV2"
        ? await listObjectsV2(ctx.layout, c.bucket, c.query, { checksums: ctx.checksums, repeatToken })
        : listMultipartUploads(ctx.layout, c.bucket, c.query);
    sendXml(res, 200, xml);
  } catch (error) {
    if (!(error instanceof ListingError)) throw error;
    sendError(res, 400, error.code, error.message);
  }
}

/** PutObject: streamed to a staging key, checked, then renamed to its key (atomic, conditional). */
async function putObject(
  ctx: ProxyContext,
  c: ClassifiedRequest,
  req: IncomingMessage,
  res: ServerResponse,
  corrupt: Corruption | undefined,
): Promise<void> {
  if (!ctx.layout.bucketExists(c.bucket)) {
    await drain(req);
    return noSuchBucket(res, c.bucket);
  }
  await ctx.locks.run(lockId(c), async () => {
    if (c.ifNoneMatchStar && ctx.conditionalWrites && (await ctx.layout.objectExists(c.bucket, c.key))) {
      await drain(req);
      return preconditionFailed(res);
    }
    const staging = ctx.layout.stagingKey();
    let stored: { response: Captured; verdict: BodyVerdict };
    try {
      stored = await streamBody(ctx, req, res, objectPath(c.bucket, staging), corrupt);
    } catch (error) {
      await ctx.layout.discard(c.bucket, staging);
      throw error;
    }
    const { response, verdict } = stored;
    if (!isOk(response.status)) {
      await ctx.layout.discard(c.bucket, staging);
      return relay(res, response);
    }
    if (!verdict.ok) {
      await ctx.layout.discard(c.bucket, staging);
      return sendError(res, verdict.status, verdict.code, verdict.message);
    }
    await ctx.layout.commit(c.bucket, staging, c.key, verdict.checksum);
    relay(
      res,
      response,
      verdict.checksum ? { [`x-amz-checksum-${verdict.checksum.algorithm}`]: verdict.checksum.value } : {},
    );
  });
}

/** UploadPart: streamed into s3rver's upload directory, then checked against declared checksums. */
async function uploadPart(
  ctx: ProxyContext,
  c: ClassifiedRequest,
  req: IncomingMessage,
  res: ServerResponse,
  corrupt: Corruption | undefined,
): Promise<void> {
  const uploadId = c.uploadId ?? "";
  const partNumber = c.partNumber ?? Number.NaN;
  if (!ctx.layout.bucketExists(c.bucket)) {
    await drain(req);
    return noSuchBucket(res, c.bucket);
  }
  if ((await ctx.layout.uploadKey(c.bucket, uploadId)) !== c.key) {
    await drain(req);
    return noSuchUpload(res, uploadId);
  }
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
  const fullObjectCrc32 = isFullObjectCrc32(await ctx.layout.uploadChecksum(c.bucket, uploadId));
  if (fullObjectCrc32) {
    if (!declaresCrc32(req.headers)) {
      await drain(req);
      return sendProblem(res, PART_CRC32_MISSING);
    }
    // A replaced part must not keep its predecessor's CRC while its new data is being written.
    await ctx.layout.setPartCrc32(c.bucket, uploadId, partNumber, undefined);
  }
  const { response, verdict } = await streamBody(ctx, req, res, req.url ?? "/", corrupt);
  if (isOk(response.status) && !verdict.ok) {
    await ctx.layout.dropPart(c.bucket, uploadId, partNumber);
    return sendError(res, verdict.status, verdict.code, verdict.message);
  }
  if (isOk(response.status) && verdict.ok && fullObjectCrc32) {
    // Declared in x-amz-trailer but the trailer never came: the part has no CRC-32.
    if (verdict.checksum?.algorithm !== "crc32") {
      await ctx.layout.dropPart(c.bucket, uploadId, partNumber);
      return sendProblem(res, PART_CRC32_MISSING);
    }
    await ctx.layout.setPartCrc32(c.bucket, uploadId, partNumber, verdict.checksum.value);
  }
  relay(
    res,
    response,
    verdict.ok && verdict.checksum
      ? { [`x-amz-checksum-${verdict.checksum.algorithm}`]: verdict.checksum.value }
      : {},
  );
}

/** CopyObject: copied by s3rver to a staging key, then renamed to its key (atomic, conditional). */
async function copyObject(
  ctx: ProxyContext,
  c: ClassifiedRequest,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  await drain(req);
  if (!ctx.layout.bucketExists(c.bucket)) return noSuchBucket(res, c.bucket);
  const source = parseCopySource(String(req.headers["x-amz-copy-source"]));
  if (source === undefined) {
    return sendError(
      res,
      400,
      "InvalidArgument",
      "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
      {
        extra: { ArgumentName: "x-amz-copy-source", ArgumentValue: String(req.headers["x-amz-copy-source"]) },
      },
    );
  }
  const replace = String(req.headers["x-amz-metadata-directive"] ?? "").toUpperCase() === "REPLACE";
  if (source.bucket === c.bucket && source.key === c.key && !replace) {
    return sendError(
      res,
      400,
      "InvalidRequest",
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  await ctx.locks.run(lockId(c), async () => {
    if (c.ifNoneMatchStar && ctx.conditionalWrites && (await ctx.layout.objectExists(c.bucket, c.key))) {
      return preconditionFailed(res);
    }
    const staging = ctx.layout.stagingKey();
    const headers = forwardHeaders(req.headers);
    // s3rver decodes the source with decodeURI, which leaves %3A, %2B, ... encoded: re-encode for it.
    headers["x-amz-copy-source"] = encodeURI(`/${source.bucket}/${source.key}`);
    let response: Captured;
    try {
      response = await exchange(ctx, res, {
        method: "PUT",
        path: objectPath(c.bucket, staging),
        headers,
        body: Buffer.alloc(0),
      });
    } catch (error) {
      await ctx.layout.discard(c.bucket, staging);
      throw error;
    }
    if (!isOk(response.status)) {
      await ctx.layout.discard(c.bucket, staging);
      return relay(res, response);
    }
    await ctx.layout.commit(c.bucket, staging, c.key);
    relay(res, response);
  });
}

/** CompleteMultipartUpload: parts checked as S3 does, assembled at a staging key, then renamed. */
async function completeMultipartUpload(
  ctx: ProxyContext,
  c: ClassifiedRequest,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const uploadId = c.uploadId ?? "";
  const body = await readSmall(req, res);
  if (!ctx.layout.bucketExists(c.bucket)) return noSuchBucket(res, c.bucket);
  if ((await ctx.layout.uploadKey(c.bucket, uploadId)) !== c.key) return noSuchUpload(res, uploadId);
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

  await ctx.locks.run(lockId(c), async () => {
    if (c.ifNoneMatchStar && ctx.conditionalWrites && (await ctx.layout.objectExists(c.bucket, c.key))) {
      return preconditionFailed(res);
    }
    const staging = ctx.layout.stagingKey();
    const restore = await ctx.layout.retarget(c.bucket, uploadId, c.key, staging);
    const headers = forwardHeaders(req.headers);
    headers["content-length"] = body.length;
    let response: Captured;
    try {
      response = await exchange(ctx, res, { method: "POST", path: req.url ?? "/", headers, body });
    } catch (error) {
      await restore();
      await ctx.layout.discard(c.bucket, staging);
      throw error;
    }
    if (!isOk(response.status)) {
      await restore();
      await ctx.layout.discard(c.bucket, staging);
      return relay(res, response);
    }
    await ctx.layout.commit(c.bucket, staging, c.key, checksum);
    ctx.layout.completed(uploadId);
    if (checksum === undefined) return relay(res, response);
    relay(res, {
      ...response,
      body: Buffer.from(withFullObjectChecksum(response.body.toString("utf8"), checksum)),
    });
  });
}

/**
 * CreateMultipartUpload: without checksum headers (or with checksums off) passed to s3rver as is;
 * with them checked as S3 does, recorded in the upload's directory, and echoed in the response.
 */
async function createMultipartUpload(
  ctx: ProxyContext,
  c: ClassifiedRequest,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const settings = requestedChecksum(req.headers);
  if (settings === undefined || !ctx.checksums) {
    return ctx.layout.exclusive(() => passthrough(ctx, req, res));
  }
  const body = await readSmall(req, res);
  if (!ctx.layout.bucketExists(c.bucket)) return noSuchBucket(res, c.bucket);
  const problem = checksumSettingsProblem(settings);
  if (problem !== undefined) return sendProblem(res, problem);
  await ctx.layout.exclusive(async () => {
    const headers = forwardHeaders(req.headers);
    headers["content-length"] = body.length;
    const response = await exchange(ctx, res, { method: "POST", path: req.url ?? "/", headers, body });
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

/** AbortMultipartUpload (s3rver answers 405): removes the upload and its parts. */
async function abortMultipartUpload(
  ctx: ProxyContext,
  c: ClassifiedRequest,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  await drain(req);
  if (!ctx.layout.bucketExists(c.bucket)) return noSuchBucket(res, c.bucket);
  const uploadId = c.uploadId ?? "";
  if ((await ctx.layout.uploadKey(c.bucket, uploadId)) !== c.key) return noSuchUpload(res, uploadId);
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
  ctx: ProxyContext,
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

function sendProblem(res: ServerResponse, problem: S3Problem): void {
  sendError(res, problem.status, problem.code, problem.message);
}

function parseCopySource(header: string): { bucket: string; key: string } | undefined {
  const withoutVersion = header.split("?")[0] ?? "";
  let decoded: string;
  try {
    decoded = decodeURIComponent(withoutVersion);
  } catch {
    return undefined;
  }
  const path = decoded.startsWith("/") ? decoded.slice(1) : decoded;
  const slash = path.indexOf("/");
  if (slash <= 0 || slash === path.length - 1) return undefined;
  return { bucket: path.slice(0, slash), key: path.slice(slash + 1) };
}

function objectPath(bucket: string, key: string): string {
  return `/${encodeURIComponent(bucket)}/${key.split("/").map(encodeURIComponent).join("/")}`;
}

function isOk(status: number): boolean {
  return status >= 200 && status < 300;
}

/**
 * Request headers for s3rver: hop-by-hop headers dropped, and a SigV4 credential's access key id
 * replaced by the only one s3rver knows (it does not check V4 signatures), so any credentials work.
 */
function forwardHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  const authorization = headers.authorization;
  if (authorization?.startsWith("AWS4-HMAC-SHA256 ")) {
    out.authorization = authorization.replace(
      /Credential=[^/,\s]+\//,
      `Credential=${S3RVER_CREDENTIALS.accessKeyId}/`,
    );
  }
  return out;
}

/** Response headers for the client: hop-by-hop headers dropped. */
function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (
      value !== undefined &&
      name !== "connection" &&
      name !== "keep-alive" &&
      name !== "transfer-encoding"
    ) {
      out[name] = value;
    }
  }
  return out;
}

function relay(res: ServerResponse, response: Captured, extra: OutgoingHttpHeaders = {}): void {
  const headers = { ...responseHeaders(response.headers), ...extra };
  if (response.body.length > 0 || headers["content-length"] !== undefined)
    headers["content-length"] = response.body.length;
  res.writeHead(response.status, headers);
  res.end(response.body);
}

/** Reads and discards the rest of a request body. */
function drain(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    if (req.readableEnded || req.destroyed) return resolve();
    req.once("end", resolve);
    req.once("close", resolve);
    req.resume();
  });
}

/**
 * Waits `ms` (any length: beyond Node's timer limit in steps); true when the connection closed
 * meanwhile, which ends the wait at once.
 */
function closedWithin(res: ServerResponse, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (res.destroyed) return resolve(true);
    const deadline = performance.now() + ms;
    let timer: NodeJS.Timeout | undefined;
    const onClose = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const arm = () => {
      const left = deadline - performance.now();
      if (left <= 0) {
        res.off("close", onClose);
        return resolve(res.destroyed);
      }
      timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    };
    res.once("close", onClose);
    arm();
  });
}

/** Reads a small request body (XML) whole. */
async function readSmall(req: IncomingMessage, res: ServerResponse): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_XML_BODY) {
      res.once("finish", () => req.socket.destroy());
      throw new BadBody(`XML body larger than ${MAX_XML_BODY} bytes`);
    }
    chunks.push(chunk);
  }
  if (!req.complete) throw new ClientGone();
  return Buffer.concat(chunks);
}

function upstreamRequest(
  ctx: ProxyContext,
  options: { method: string; path: string; headers: OutgoingHttpHeaders },
): http.ClientRequest {
  return http.request({
    host: ctx.upstream.host,
    port: ctx.upstream.port,
    agent: ctx.upstream.agent,
    method: options.method,
    path: options.path,
    headers: options.headers,
  });
}

/** Sends a request to s3rver and reads its (small) response whole. */
function capture(upstream: http.ClientRequest): Promise<Captured> {
  return new Promise((resolve, reject) => {
    upstream.on("error", reject);
    upstream.once("response", (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", reject);
      response.once("end", () =>
        resolve({
          status: response.statusCode ?? 502,
          headers: response.headers,
          body: Buffer.concat(chunks),
        }),
      );
    });
  });
}

/** A request with a buffered body to s3rver, its response read whole; fails when the client leaves. */
async function exchange(
  ctx: ProxyContext,
  res: ServerResponse,
  options: { method: string; path: string; headers: OutgoingHttpHeaders; body: Buffer },
): Promise<Captured> {
  const upstream = upstreamRequest(ctx, options);
  const onClose = () => upstream.destroy(new ClientGone());
  res.once("close", onClose);
  try {
    const response = capture(upstream);
    upstream.end(options.body);
    return await response;
  } finally {
    res.off("close", onClose);
  }
}

/**
 * Streams a request body (aws-chunked framing removed, a bit flipped when `corrupt`) to `path` on
 * s3rver while checking it (unless checksums are off), and reads s3rver's (small) response. Rejects
 * with {@link ClientGone} or {@link BadBody}.
 */
async function streamBody(
  ctx: ProxyContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  corrupt?: Corruption,
): Promise<{ response: Captured; verdict: BodyVerdict }> {
  const encodings = String(req.headers["content-encoding"] ?? "")
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
  const chunked = encodings.includes("aws-chunked");
  const headers = forwardHeaders(req.headers);
  let decodedLength: number | undefined;
  if (chunked) {
    const rest = encodings.filter((e) => e !== "aws-chunked");
    if (rest.length > 0) headers["content-encoding"] = rest.join(",");
    else delete headers["content-encoding"];
    decodedLength = Number(req.headers["x-amz-decoded-content-length"] ?? Number.NaN);
    if (Number.isNaN(decodedLength)) decodedLength = undefined;
    delete headers["content-length"];
    delete headers["x-amz-decoded-content-length"];
    delete headers["x-amz-trailer"];
  }
  const upstream = upstreamRequest(ctx, { method: req.method ?? "PUT", path, headers });
  const response = capture(upstream);
  const decoder = chunked ? new AwsChunkedDecoder() : undefined;
  // A store that ignores checksums sees no declared ones: it verifies nothing and stores nothing.
  const meter = new BodyMeter(ctx.checksums ? req.headers : {});
  let flipper: BitFlipper | undefined;
  if (corrupt !== undefined) {
    const declared = chunked ? decodedLength : Number(req.headers["content-length"] ?? Number.NaN);
    const length = declared !== undefined && Number.isFinite(declared) ? declared : 0;
    flipper = new BitFlipper(corrupt.offset ?? Math.floor(length / 2));
  }
  const body = new Promise<void>((resolve, reject) => {
    const fail = (error: Error) => {
      upstream.destroy(error);
      reject(error);
    };
    res.once("close", () => {
      if (!res.writableFinished) fail(new ClientGone());
    });
    req.once("close", () => {
      if (!req.complete) fail(new ClientGone());
    });
    upstream.on("error", fail);
    decoder?.once("error", (error) => fail(new BadBody(error.message)));
    meter.once("error", fail);
    meter.once("end", resolve);
  });
  response.catch(() => {});
  body.catch(() => {});
  const decoded: Readable = decoder === undefined ? req : req.pipe(decoder);
  const source: Readable = flipper === undefined ? decoded : decoded.pipe(flipper);
  source.pipe(meter).pipe(upstream);
  await body;
  const captured = await response;
  const trailers = ctx.checksums ? decoder?.trailers : undefined;
  return { response: captured, verdict: meter.verdict(trailers, decodedLength) };
}

/** Streams a request to s3rver and its response back, adding headers from `decorate`. */
function passthrough(
  ctx: ProxyContext,
  req: IncomingMessage,
  res: ServerResponse,
  decorate?: (status: number) => Promise<OutgoingHttpHeaders>,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const upstream = upstreamRequest(ctx, {
      method: req.method ?? "GET",
      path: req.url ?? "/",
      headers: forwardHeaders(req.headers),
    });
    res.once("close", () => {
      if (!res.writableFinished) {
        upstream.destroy();
        resolve();
      }
    });
    upstream.on("error", reject);
    upstream.once("response", (response) => {
      const status = response.statusCode ?? 502;
      (decorate ? decorate(status) : Promise.resolve({}))
        .then((extra) => {
          res.writeHead(status, { ...responseHeaders(response.headers), ...extra });
          response.on("error", reject);
          response.once("end", resolve);
          response.pipe(res);
        })
        .catch(reject);
    });
    req.pipe(upstream);
  });
}

/** `x-amz-checksum-*` for a whole-object GET or HEAD with `x-amz-checksum-mode: ENABLED`. */
async function checksumHeaders(
  ctx: ProxyContext,
  c: ClassifiedRequest,
  req: IncomingMessage,
  status: number,
): Promise<OutgoingHttpHeaders> {
  const enabled = String(req.headers["x-amz-checksum-mode"] ?? "").toUpperCase() === "ENABLED";
  if (!ctx.checksums || !enabled || status !== 200 || req.headers.range !== undefined) return {};
  const checksum = await ctx.layout.checksum(c.bucket, c.key);
  if (checksum === undefined) return {};
  return { [`x-amz-checksum-${checksum.algorithm}`]: checksum.value, "x-amz-checksum-type": "FULL_OBJECT" };
}
