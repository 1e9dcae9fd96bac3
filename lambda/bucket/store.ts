/**
 * Writes one downloaded log to its S3 key: streamed, checked on the fly, conditional, and
 * verified afterwards. Nothing partial ever appears at the final key.
 */
import type { Readable } from "node:stream";
import { pipeline } from "node:stream";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { GzipInspector, type LogDigest } from "../archive/inspect";
import { CRC32_METADATA } from "../config";
import { crc32Base64, storedCrc32 } from "./checksum";
import { ArchiveVerificationError, isPreconditionFailed, storageError } from "./errors";
import { checkExisting, type ObjectSubject } from "./existing";
import {
  CONTENT_TYPE,
  type Head,
  type UploadSettings,
  uploadMultipart,
  withConflictRetries,
} from "./multipart";
import { headObject, type ObjectTarget, readBack } from "./objects";

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
  readonly subject?: ObjectSubject;
  /** Aborts every request (the run's deadline); an upload in progress is then aborted too. */
  readonly signal?: AbortSignal;
  /** For error messages. */
  readonly workspace?: string;
  readonly window?: string;
}

/** What happened to the object. */
export type StoreOutcome =
  | {
      readonly status: "stored";
      readonly digest: LogDigest;
      readonly multipart: boolean;
      /** The object's S3 version id, in a bucket with versioning on. */
      readonly versionId?: string;
    }
  | { readonly status: "already-present"; readonly digest: LogDigest };

type Target = ObjectTarget;

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
    let put: { VersionId?: string | undefined };
    try {
      put = await withConflictRetries(
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
    const seen = await verify(s3, where, digest);
    return { status: "stored", digest, multipart: false, ...versioned(put.VersionId ?? seen) };
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
  const versionId = await verify(s3, where, digest);
  return { status, digest, multipart: true, ...versioned(versionId) };
}

/** `{ versionId }` when the bucket keeps versions (S3 says `"null"` for an unversioned object). */
function versioned(versionId: string | undefined): { versionId?: string } {
  return versionId === undefined || versionId === "null" ? {} : { versionId };
}

/**
 * Checks that the stored object is what was received: its length, and the full-object CRC32 S3
 * reports; a store that reports none has the object read back and its bytes measured instead.
 * Resolves to the version id the verification saw (the multipart path's only source of it).
 */
async function verify(s3: S3Client, where: Target, digest: LogDigest): Promise<string | undefined> {
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
        'reported as ARCHIVE_OBJECT_INVALID by every run until it is removed: see docs/reliability.md, "An object at a ' +
        "window's key is not the archiver's\".",
      { key: where.key, workspace: where.workspace, window: where.window },
    );
  }
  return stored.VersionId;
}
