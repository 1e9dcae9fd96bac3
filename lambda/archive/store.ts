/**
 * Writes one downloaded log to its S3 key: streamed, checked on the fly, conditional, and
 * verified afterwards. Nothing partial ever appears at the final key.
 */
import type { Readable } from "node:stream";
import { pipeline } from "node:stream";
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { ArchiveStorageError, ArchiveVerificationError, isPreconditionFailed, storageError } from "./errors";
import { crc32Base64, GzipInspector, type LogDigest } from "./inspect";

/** How large logs are uploaded. */
export interface UploadSettings {
  /**
   * Part size of multipart uploads, and the size up to which a log is held in memory and stored
   * with one `PutObject` instead. At least 5 MiB (S3's minimum part size).
   */
  readonly partSizeBytes: number;
  /** Parts uploaded in parallel; memory use is about `partSizeBytes × (queueSize + 1)`. */
  readonly queueSize: number;
}

/**
 * Upload defaults, resolved here only: 8 MiB parts, 4 in flight. Most hourly audit logs are far
 * below 8 MiB and go in one request; a large one holds at most 40 MiB of part buffers at any time.
 */
export const DEFAULT_UPLOAD_SETTINGS: UploadSettings = { partSizeBytes: 8 * 1024 * 1024, queueSize: 4 };

/** S3's limit on the parts of one multipart upload. */
const MAX_PARTS = 10_000;

/** One object to store. */
export interface StoreRequest {
  readonly s3: S3Client;
  readonly bucket: string;
  /** The final key. */
  readonly key: string;
  /** The raw gzip bytes, as downloaded. */
  readonly body: Readable;
  /** User metadata of the object (everything known before the download). */
  readonly metadata: Readonly<Record<string, string>>;
  readonly upload: UploadSettings;
  /** For error messages. */
  readonly workspace?: string;
  readonly window?: string;
}

/** What happened to the object. */
export type StoreOutcome =
  | { readonly status: "stored"; readonly digest: LogDigest; readonly multipart: boolean }
  | { readonly status: "already-present"; readonly digest: LogDigest };

/** Where a write goes, for requests and error messages. */
interface Target {
  readonly bucket: string;
  readonly key: string;
  readonly workspace?: string;
  readonly window?: string;
}

const CONTENT_TYPE = "application/gzip";

/** The start of a stream: all of it, or the chunks read so far and the rest. */
type Head =
  | { readonly ended: true; readonly body: Buffer }
  | { readonly ended: false; readonly chunks: Buffer[]; readonly rest: AsyncIterator<Buffer> };

/** Reads from `stream` until more than `limit` bytes arrived or it ended. */
async function readHead(stream: Readable, limit: number): Promise<Head> {
  const chunks: Buffer[] = [];
  let size = 0;
  const rest = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  while (size <= limit) {
    const next = await rest.next();
    if (next.done) return { ended: true, body: Buffer.concat(chunks, size) };
    chunks.push(next.value);
    size += next.value.length;
  }
  return { ended: false, chunks, rest };
}

/**
 * Streams `body` into `s3://bucket/key`, verifying gzip integrity on the way.
 *
 * - A log up to `partSizeBytes` is read into memory and stored with one `PutObject`.
 * - A larger one is streamed as a multipart upload straight to `key` (bounded memory; aborted on
 *   any failure, so no parts are left behind and nothing appears at `key`).
 * - Either way the object carries S3's full-object CRC32 checksum, computed here from the bytes
 *   as received and checked by S3 against what it stored before the object appears.
 * - Writes to `key` are conditional (`If-None-Match: *`): when another run stored the window
 *   first, the outcome is `already-present` and nothing is overwritten.
 * - Afterwards the object's length and (where S3 reports it) full-object CRC32 are compared with
 *   what was received.
 */
export async function storeLog(request: StoreRequest): Promise<StoreOutcome> {
  const { s3, bucket, key, upload } = request;
  const where: Target = { bucket, key, workspace: request.workspace, window: request.window };
  const inspector = new GzipInspector();
  // Either side's failure destroys both: a download error fails whoever reads the inspector, and
  // invalid gzip stops the download. The error itself surfaces through the reads below.
  pipeline(request.body, inspector, () => {});

  const head = await readHead(inspector, upload.partSizeBytes);
  if (head.ended) {
    const digest = inspector.digest();
    try {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: head.body,
          ContentLength: head.body.length,
          ContentType: CONTENT_TYPE,
          Metadata: { ...request.metadata },
          ChecksumCRC32: crc32Base64(digest.crc32),
          IfNoneMatch: "*",
        }),
      );
    } catch (err) {
      if (isPreconditionFailed(err)) return { status: "already-present", digest };
      throw storageError(err, "PutObject", where);
    }
    await verify(s3, where, digest);
    return { status: "stored", digest, multipart: false };
  }

  let status: "stored" | "already-present";
  try {
    status = await uploadMultipart(s3, where, request.metadata, upload, head, () => inspector.digest());
  } catch (err) {
    inspector.destroy();
    throw err;
  }
  const digest = inspector.digest();
  if (status === "already-present") return { status, digest };
  await verify(s3, where, digest);
  return { status, digest, multipart: true };
}

/**
 * The multipart path of {@link storeLog}: parts of exactly `partSizeBytes` (the last one
 * shorter), `queueSize` of them uploading while the next one fills, and a conditional
 * CompleteMultipartUpload carrying the whole object's CRC32 from `digest()`, which is only
 * called once the stream has ended. Aborts the upload on any failure.
 *
 * Written here rather than with lib-storage's `Upload`: that cannot send a full-object checksum
 * known only after the last byte, and it allocates a new buffer for every part. Here the
 * `queueSize + 1` part buffers are reused, so a 1 GB log allocates 40 MiB of them, not 1 GB.
 */
async function uploadMultipart(
  s3: S3Client,
  where: Target,
  metadata: Readonly<Record<string, string>>,
  settings: UploadSettings,
  head: { readonly chunks: Buffer[]; readonly rest: AsyncIterator<Buffer> },
  digest: () => LogDigest,
): Promise<"stored" | "already-present"> {
  let uploadId: string | undefined;
  try {
    const created = await s3.send(
      new CreateMultipartUploadCommand({
        Bucket: where.bucket,
        Key: where.key,
        ContentType: CONTENT_TYPE,
        Metadata: { ...metadata },
        ChecksumAlgorithm: "CRC32",
        ChecksumType: "FULL_OBJECT",
      }),
    );
    uploadId = created.UploadId;
  } catch (err) {
    throw storageError(err, "CreateMultipartUpload", where);
  }
  if (!uploadId) {
    throw new ArchiveStorageError(
      "S3_REQUEST_FAILED",
      `CreateMultipartUpload on s3://${where.bucket}/${where.key} returned no UploadId; check the S3 endpoint.`,
      where,
    );
  }

  const parts: CompletedPart[] = [];
  const inFlight = new Set<Promise<void>>();
  const spare: Buffer[] = [];
  let failure: unknown;
  let partNumber = 0;

  const send = async (buffer: Buffer, size: number, number: number) => {
    try {
      const result = await s3.send(
        new UploadPartCommand({
          Bucket: where.bucket,
          Key: where.key,
          UploadId: uploadId,
          PartNumber: number,
          Body: buffer.subarray(0, size),
          ContentLength: size,
          ChecksumAlgorithm: "CRC32",
        }),
      );
      parts.push({ PartNumber: number, ETag: result.ETag, ChecksumCRC32: result.ChecksumCRC32 });
      // The SDK is done with the buffer once the request is answered: reuse it for a later part.
      spare.push(buffer);
    } catch (err) {
      failure ??= storageError(err, `UploadPart ${number}`, where);
    }
  };
  // Waits for a free upload slot: while all are busy the download is not read, so it pauses
  // (backpressure through the inspector) instead of piling parts up in memory.
  const launch = async (buffer: Buffer, size: number) => {
    while (inFlight.size >= settings.queueSize && failure === undefined) await Promise.race(inFlight);
    if (failure !== undefined) throw failure;
    partNumber++;
    if (partNumber > MAX_PARTS) {
      throw new ArchiveStorageError(
        "S3_OBJECT_TOO_LARGE",
        `The log for ${where.window} is larger than ${MAX_PARTS} parts of ${settings.partSizeBytes} bytes, ` +
          "S3's limit for one object. Use shorter windows (window.minutes) for this workspace.",
        where,
      );
    }
    const task = send(buffer, size, partNumber).finally(() => inFlight.delete(task));
    inFlight.add(task);
  };

  try {
    let current: Buffer = Buffer.allocUnsafe(settings.partSizeBytes);
    let filled = 0;
    const take = async (chunk: Buffer) => {
      let offset = 0;
      while (offset < chunk.length) {
        const n = Math.min(chunk.length - offset, settings.partSizeBytes - filled);
        chunk.copy(current, filled, offset, offset + n);
        filled += n;
        offset += n;
        if (filled === settings.partSizeBytes) {
          await launch(current, filled);
          current = spare.pop() ?? Buffer.allocUnsafe(settings.partSizeBytes);
          filled = 0;
        }
      }
    };
    for (const chunk of head.chunks.splice(0)) await take(chunk);
    for (let next = await head.rest.next(); !next.done; next = await head.rest.next()) {
      if (failure !== undefined) throw failure;
      await take(next.value);
    }
    if (filled > 0) await launch(current, filled);
    await Promise.all(inFlight);
    if (failure !== undefined) throw failure;

    parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    try {
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: where.bucket,
          Key: where.key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
          ChecksumCRC32: crc32Base64(digest().crc32),
          ChecksumType: "FULL_OBJECT",
          IfNoneMatch: "*",
        }),
      );
    } catch (err) {
      if (isPreconditionFailed(err)) {
        await abort(s3, where, uploadId);
        return "already-present";
      }
      throw storageError(err, "CompleteMultipartUpload", where);
    }
    return "stored";
  } catch (err) {
    // Let the parts still uploading settle first, or they would outlive the abort.
    await Promise.allSettled(inFlight);
    await abort(s3, where, uploadId);
    throw err;
  }
}

/** Best effort: an upload left open is removed by the bucket's lifecycle rule. */
async function abort(s3: S3Client, where: Target, uploadId: string): Promise<void> {
  await s3
    .send(new AbortMultipartUploadCommand({ Bucket: where.bucket, Key: where.key, UploadId: uploadId }))
    .catch(() => {});
}

/**
 * The object's full-object CRC32 as S3 reports it (HeadObject or GetObject with checksum mode on),
 * or undefined when it has none (a composite multipart checksum does not count).
 */
export function storedCrc32(output: {
  readonly ChecksumCRC32?: string;
  readonly ChecksumType?: string;
}): string | undefined {
  return output.ChecksumType === "FULL_OBJECT" ? output.ChecksumCRC32 : undefined;
}

/** Checks that the stored object is what was received. */
async function verify(s3: S3Client, where: Target, digest: LogDigest): Promise<void> {
  let head: HeadObjectCommandOutput;
  try {
    head = await s3.send(
      new HeadObjectCommand({ Bucket: where.bucket, Key: where.key, ChecksumMode: "ENABLED" }),
    );
  } catch (err) {
    throw storageError(err, "HeadObject (verification)", where);
  }
  const problems: string[] = [];
  if (head.ContentLength !== digest.bytes)
    problems.push(`length ${head.ContentLength} != ${digest.bytes} received`);
  const stored = storedCrc32(head);
  const received = crc32Base64(digest.crc32);
  if (stored !== undefined && stored !== received) problems.push(`CRC32 ${stored} != ${received} received`);
  if (problems.length > 0) {
    throw new ArchiveVerificationError(
      `s3://${where.bucket}/${where.key} does not match what was downloaded (${problems.join("; ")}). ` +
        "Inspect the object (atlas-audit-archiver verify) and check for another writer to the archive prefix.",
      { key: where.key, workspace: where.workspace, window: where.window },
    );
  }
}
