/**
 * The multipart writer: a log too large for one request goes straight to its final key, part by
 * part, and appears there only when S3 accepted the whole object's CRC32. Also the conditional
 * write's 409 handling, shared with the single-request path.
 */
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import type { LogDigest } from "../archive/inspect";
import { sleep } from "../timers";
import { crc32Base64 } from "./checksum";
import { isConditionalConflict, isPreconditionFailed, StorageError, storageError } from "./errors";
import type { ObjectTarget } from "./objects";

type Target = ObjectTarget;

/** The content type of every archived object. */
export const CONTENT_TYPE = "application/gzip";

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

/**
 * A conditional write answered 409 (a concurrent conditional write was in progress) is tried
 * again this many times in all, after 200 ms, then 800 ms.
 */
const CONFLICT_ATTEMPTS = 3;

/** Cleaning up after a failure (AbortMultipartUpload) gets its own bound, even after the run's deadline. */
const CLEANUP_TIMEOUT_MS = 10_000;

/** The start of a stream: all of it, or the chunks read so far and the rest. */
export type Head =
  | { readonly ended: true; readonly body: Buffer }
  | { readonly ended: false; readonly chunks: Buffer[]; readonly rest: AsyncIterator<Buffer> };

/** Sends `write`, trying again after a 409 `ConditionalRequestConflict` (nothing was decided). */
export async function withConflictRetries<T>(write: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (!isConditionalConflict(err) || attempt >= CONFLICT_ATTEMPTS || signal?.aborted) throw err;
      await sleep(200 * 4 ** (attempt - 1), signal);
    }
  }
}

/**
 * The multipart path of `storeLog`: parts of exactly `partSizeBytes` (the last one
 * shorter), `queueSize` of them uploading while the next one fills, and a conditional
 * CompleteMultipartUpload carrying the whole object's CRC32 from `digest()`, which is only
 * called once the stream has ended. Aborts the upload on any failure.
 *
 * Written here rather than with lib-storage's `Upload`: that cannot send a full-object checksum
 * known only after the last byte, and it allocates a new buffer for every part. Here the
 * `queueSize + 1` part buffers are reused, so a 1 GB log allocates 40 MiB of them, not 1 GB.
 */
export async function uploadMultipart(
  s3: S3Client,
  where: Target,
  metadata: Readonly<Record<string, string>>,
  settings: UploadSettings,
  head: { readonly chunks: Buffer[]; readonly rest: AsyncIterator<Buffer> },
  digest: () => LogDigest,
): Promise<"stored" | "already-present"> {
  const { signal } = where;
  let uploadId: string | undefined;
  let keepsChecksum: boolean;
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
      { abortSignal: signal },
    );
    uploadId = created.UploadId;
    // S3 confirms the checksum settings it will apply; a store that ignores them says nothing.
    keepsChecksum = created.ChecksumAlgorithm === "CRC32" && created.ChecksumType === "FULL_OBJECT";
  } catch (err) {
    throw storageError(err, "CreateMultipartUpload", where);
  }
  if (!uploadId) {
    throw new StorageError(
      "S3_REQUEST_FAILED",
      `CreateMultipartUpload on s3://${where.bucket}/${where.key} returned no UploadId; check the S3 endpoint.`,
      where,
    );
  }
  if (!keepsChecksum) {
    await abort(s3, where, uploadId);
    throw new StorageError(
      "S3_CHECKSUM_UNSUPPORTED",
      `The S3 store did not confirm a full-object CRC32 checksum for the multipart upload of ` +
        `s3://${where.bucket}/${where.key}: it keeps no checksums, so a log above ${settings.partSizeBytes} bytes ` +
        "could never be proven intact there. Use Amazon S3 or a store that supports full-object checksums " +
        "(x-amz-checksum-type: FULL_OBJECT), or shorter windows (window.minutes) so that logs fit in one request.",
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
        { abortSignal: signal },
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
      throw new StorageError(
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
    const checksum = crc32Base64(digest().crc32);
    try {
      await withConflictRetries(
        () =>
          s3.send(
            new CompleteMultipartUploadCommand({
              Bucket: where.bucket,
              Key: where.key,
              UploadId: uploadId,
              MultipartUpload: { Parts: parts },
              ChecksumCRC32: checksum,
              ChecksumType: "FULL_OBJECT",
              IfNoneMatch: "*",
            }),
            { abortSignal: signal },
          ),
        signal,
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

/**
 * Best effort, and bounded on its own (it also runs after the run's deadline aborted the upload):
 * an upload left open is removed by the bucket's lifecycle rule.
 */
async function abort(s3: S3Client, where: Target, uploadId: string): Promise<void> {
  await s3
    .send(new AbortMultipartUploadCommand({ Bucket: where.bucket, Key: where.key, UploadId: uploadId }), {
      abortSignal: AbortSignal.timeout(CLEANUP_TIMEOUT_MS),
    })
    .catch(() => {});
}
