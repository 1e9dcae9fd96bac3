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
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { GzipInspector, type LogDigest } from "../archive/inspect";
import { CRC32_METADATA, metadataMismatches, type Workspace, workspaceLabel } from "../config";
import { sleep } from "../timers";
import type { TimeWindow } from "../windows";
import { crc32Base64, isCrc32Base64, storedCrc32 } from "./checksum";
import {
  ArchiveObjectInvalidError,
  ArchiveVerificationError,
  isConditionalConflict,
  isPreconditionFailed,
  StorageError,
  storageError,
} from "./errors";
import { headObject, type ObjectTarget, readBack } from "./objects";

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
  /**
   * The workspace and window the key belongs to: an object another writer stored at the key first
   * counts as already archived only if it is that window's verified archive object.
   */
  readonly subject?: { readonly workspace: Workspace; readonly window: TimeWindow };
  /** Aborts every request (the run's deadline); an upload in progress is then aborted too. */
  readonly signal?: AbortSignal;
  /** For error messages. */
  readonly workspace?: string;
  readonly window?: string;
}

/** What happened to the object. */
export type StoreOutcome =
  | { readonly status: "stored"; readonly digest: LogDigest; readonly multipart: boolean }
  | { readonly status: "already-present"; readonly digest: LogDigest };

type Target = ObjectTarget;

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

/** Sends `write`, trying again after a 409 `ConditionalRequestConflict` (nothing was decided). */
async function withConflictRetries<T>(write: () => Promise<T>, signal?: AbortSignal): Promise<T> {
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
 * Streams `body` into `s3://bucket/key`, verifying gzip integrity on the way.
 *
 * - A log up to `partSizeBytes` is read into memory and stored with one `PutObject`, which also
 *   carries the CRC32 in its metadata (for stores that keep no checksum).
 * - A larger one is streamed as a multipart upload straight to `key` (bounded memory; aborted on
 *   any failure, so no parts are left behind and nothing appears at `key`).
 * - Either way the object carries S3's full-object CRC32 checksum, computed here from the bytes
 *   as received and checked by S3 against what it stored before the object appears.
 * - Writes to `key` are conditional (`If-None-Match: *`; a 409 conflict is tried again). When
 *   another writer stored the window first (412), the outcome is `already-present` if the object
 *   there is the window's verified archive, else {@link ArchiveObjectInvalidError}.
 * - Afterwards the object's length and full-object CRC32 are compared with what was received;
 *   when the store reports no checksum, the object is read back and its bytes compared.
 */
export async function storeLog(request: StoreRequest): Promise<StoreOutcome> {
  const { s3, bucket, key, upload, signal } = request;
  const where: Target = { bucket, key, workspace: request.workspace, window: request.window, signal };
  const inspector = new GzipInspector();
  // Either side's failure destroys both: a download error fails whoever reads the inspector, and
  // invalid gzip stops the download. The error itself surfaces through the reads below.
  pipeline(request.body, inspector, () => {});

  const head = await readHead(inspector, upload.partSizeBytes);
  if (head.ended) {
    const digest = inspector.digest();
    const checksum = crc32Base64(digest.crc32);
    try {
      await withConflictRetries(
        () =>
          s3.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: key,
              Body: head.body,
              ContentLength: head.body.length,
              ContentType: CONTENT_TYPE,
              Metadata: { ...request.metadata, [CRC32_METADATA]: checksum },
              ChecksumCRC32: checksum,
              IfNoneMatch: "*",
            }),
            { abortSignal: signal },
          ),
        signal,
      );
    } catch (err) {
      if (isPreconditionFailed(err)) {
        await checkExisting(s3, where, request.subject);
        return { status: "already-present", digest };
      }
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
  if (status === "already-present") {
    await checkExisting(s3, where, request.subject);
    return { status, digest };
  }
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

/**
 * Checks that the stored object is what was received: its length, and the full-object CRC32 S3
 * reports; a store that reports none has the object read back and its bytes measured instead.
 */
async function verify(s3: S3Client, where: Target, digest: LogDigest): Promise<void> {
  const stored = await headObject(s3, where, "HeadObject (verification)");
  const received = crc32Base64(digest.crc32);
  const problems: string[] = [];
  if (stored.ContentLength !== digest.bytes)
    problems.push(`length ${stored.ContentLength} != ${digest.bytes} received`);
  const crc = storedCrc32(stored);
  if (crc !== undefined) {
    if (crc !== received) problems.push(`CRC32 ${crc} != ${received} received`);
  } else if (problems.length === 0) {
    // The store keeps no checksum, so it never compared the one that was sent: read the bytes back.
    const back = await readBack(s3, where);
    if (back.bytes !== digest.bytes)
      problems.push(`${back.bytes} bytes read back != ${digest.bytes} received`);
    else if (back.crc32 !== received)
      problems.push(`CRC32 ${back.crc32} of the bytes read back != ${received} received`);
  }
  if (problems.length > 0) {
    throw new ArchiveVerificationError(
      `s3://${where.bucket}/${where.key} does not match what was downloaded (${problems.join("; ")}): the store ` +
        "corrupted it, or another writer replaced it. It stays at the key (the archiver never deletes) and is " +
        'reported as ARCHIVE_OBJECT_INVALID by every run until it is removed: see the README, "An object at a ' +
        "window's key is not the archiver's\".",
      { key: where.key, workspace: where.workspace, window: where.window },
    );
  }
}

/** The verdict on an object found at a window's key (from its HeadObject). */
export type ObjectVerdict =
  /** S3 keeps its full-object CRC32 and the metadata names the window: the window is archived. */
  | { readonly kind: "archived" }
  /**
   * The store keeps no checksum, but the archiver's own CRC32 is in the metadata, which names the
   * window: only reading the bytes back can tell whether they are right.
   */
  | { readonly kind: "read-back"; readonly crc32: string }
  /** Not this window's archive object (or not the archiver's): the reason. */
  | { readonly kind: "invalid"; readonly reason: string };

/**
 * Judges the object at the key of `workspace`'s `window`: it counts as archived only when it
 * carries a full-object CRC32 (S3's, or where the store keeps none the archiver's own in its
 * metadata, then to be checked against the bytes) and its metadata names that workspace and window.
 */
export function judgeObject(
  head: {
    readonly Metadata?: Record<string, string> | undefined;
    readonly ChecksumCRC32?: string | undefined;
    readonly ChecksumType?: string | undefined;
  },
  workspace: Workspace,
  window: TimeWindow,
): ObjectVerdict {
  const meta = head.Metadata ?? {};
  const mismatches = metadataMismatches(meta, workspace, window);
  if (mismatches.length > 0) {
    return {
      kind: "invalid",
      reason: `its metadata does not name ${workspaceLabel(workspace)} and this window (${mismatches.join("; ")})`,
    };
  }
  if (storedCrc32(head) !== undefined) return { kind: "archived" };
  const own = meta[CRC32_METADATA];
  if (own !== undefined && isCrc32Base64(own)) return { kind: "read-back", crc32: own };
  return {
    kind: "invalid",
    reason:
      "it carries no full-object CRC32 checksum (S3 reports none, and its metadata has no crc32), which every " +
      "object the archiver writes has",
  };
}

/**
 * Checks an object another writer stored at a window's key (or that a run found there): it counts
 * as archived only if {@link judgeObject} says so (and, on a store that keeps no checksum, its
 * bytes match the CRC32 in its metadata). Throws {@link ArchiveObjectInvalidError} otherwise.
 */
export async function checkExisting(
  s3: S3Client,
  where: Target,
  subject: StoreRequest["subject"],
): Promise<void> {
  if (subject === undefined) return;
  const stored = await headObject(s3, where, "HeadObject (existing object)");
  const verdict = judgeObject(stored, subject.workspace, subject.window);
  let reason: string | undefined;
  if (verdict.kind === "invalid") reason = verdict.reason;
  else if (verdict.kind === "read-back") {
    const back = await readBack(s3, where);
    if (back.crc32 !== verdict.crc32) {
      reason = `its bytes (CRC32 ${back.crc32}) do not match the CRC32 ${verdict.crc32} in its metadata`;
    }
  }
  if (reason !== undefined) {
    throw new ArchiveObjectInvalidError(
      `s3://${where.bucket}/${where.key} holds an object that is not this window's verified archive: ${reason}. ` +
        "The archiver never overwrites or deletes, so the window stays unarchived until it is removed: inspect " +
        `it (aws s3api head-object --checksum-mode ENABLED --bucket ${where.bucket} --key ${where.key}), and if ` +
        "it is not the archiver's, delete it with a principal other than the function; the next run archives " +
        "the window again.",
      { key: where.key, workspace: where.workspace, window: where.window },
    );
  }
}
