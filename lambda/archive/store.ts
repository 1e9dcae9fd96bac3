/**
 * Writes one downloaded log to its S3 key: streamed, checked on the fly, conditional, and
 * verified afterwards. Nothing partial ever appears at the final key.
 */
import { pipeline, Readable } from "node:stream";
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { ArchiveStorageError, ArchiveVerificationError, isPreconditionFailed, storageError } from "./errors";
import { GzipInspector, type LogDigest } from "./inspect";

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
 * below 8 MiB and go in one request; a large one holds at most ~40 MiB in memory at any time.
 */
export const DEFAULT_UPLOAD_SETTINGS: UploadSettings = { partSizeBytes: 8 * 1024 * 1024, queueSize: 4 };

/** CopyObject's limit: a log above it cannot be moved from staging in one request. */
const MAX_COPY_BYTES = 5 * 1024 ** 3;

/** One object to store. */
export interface StoreRequest {
  readonly s3: S3Client;
  readonly bucket: string;
  /** The final key. */
  readonly key: string;
  /** Where a large log is uploaded before being copied to `key` with its checksum metadata. */
  readonly stagingKey: string;
  /** The raw gzip bytes, as downloaded. */
  readonly body: Readable;
  /** User metadata besides `bytes` and `sha256`, which are added here once known. */
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

const CONTENT_TYPE = "application/gzip";

/** The start of a stream: all of it, or the first part and a stream of everything. */
type Head =
  | { readonly ended: true; readonly body: Buffer }
  | { readonly ended: false; readonly whole: Readable };

/**
 * Reads from `stream` until more than `limit` bytes arrived or it ended. A small log comes back
 * whole in memory; for a large one, a stream that replays what was read and then continues.
 */
async function readHead(stream: Readable, limit: number): Promise<Head> {
  const chunks: Buffer[] = [];
  let size = 0;
  const iterator = stream[Symbol.asyncIterator]();
  while (size <= limit) {
    const next = await iterator.next();
    if (next.done) return { ended: true, body: Buffer.concat(chunks, size) };
    chunks.push(next.value as Buffer);
    size += (next.value as Buffer).length;
  }
  // `yield*` hands a consumer's early exit (destroy) on to the source iterator, so an aborted
  // upload also stops the download.
  const remainder = { [Symbol.asyncIterator]: () => iterator };
  const whole = Readable.from(
    (async function* () {
      yield* chunks.splice(0);
      yield* remainder;
    })(),
  );
  return { ended: false, whole };
}

/**
 * Streams `body` into `s3://bucket/key`, verifying gzip integrity on the way.
 *
 * - A log up to `partSizeBytes` is read into memory and stored with one `PutObject` carrying
 *   every metadata field.
 * - A larger one is streamed as a multipart upload to `stagingKey` (bounded memory; aborted on
 *   any failure, so no parts are left behind), then copied to `key` with its final metadata, and
 *   the staging object is deleted. S3 cannot add metadata to a finished multipart upload, and the
 *   SHA-256 is only known at the end, hence the copy.
 * - Writes to `key` are conditional (`If-None-Match: *`): when another run stored the window
 *   first, the outcome is `already-present` and nothing is overwritten.
 * - Afterwards the object's length, SHA-256 metadata and (where S3 reports a full-object CRC32)
 *   checksum are compared with what was received.
 */
export async function storeLog(request: StoreRequest): Promise<StoreOutcome> {
  const { s3, bucket, key, stagingKey, upload } = request;
  const where = { bucket, key, workspace: request.workspace, window: request.window };
  const inspector = new GzipInspector();
  // Either side's failure destroys both: a download error fails whoever reads the inspector, and
  // invalid gzip stops the download. The error itself surfaces through the reads below.
  pipeline(request.body, inspector, () => {});

  const first = await readHead(inspector, upload.partSizeBytes);
  if (first.ended) {
    const digest = inspector.digest();
    const body = first.body;
    try {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentLength: body.length,
          ContentType: CONTENT_TYPE,
          Metadata: withDigest(request.metadata, digest),
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

  const staged = new Upload({
    client: s3,
    params: {
      Bucket: bucket,
      Key: stagingKey,
      Body: first.whole,
      ContentType: CONTENT_TYPE,
      Metadata: { ...request.metadata },
    },
    partSize: upload.partSizeBytes,
    queueSize: upload.queueSize,
    leavePartsOnError: false,
  });
  let stagedOk = false;
  try {
    try {
      await staged.done();
      stagedOk = true;
    } catch (err) {
      // Upload has aborted the multipart upload; surface the original cause (invalid gzip,
      // network) rather than S3's view of it.
      if (inspector.errored) throw inspector.errored;
      throw storageError(err, "Multipart upload", { ...where, key: stagingKey });
    }
    const digest = inspector.digest();
    if (digest.bytes > MAX_COPY_BYTES) {
      throw new ArchiveStorageError(
        "S3_OBJECT_TOO_LARGE",
        `The log for ${request.window} is ${digest.bytes} bytes, above the 5 GiB a single CopyObject can ` +
          `move from ${stagingKey} to ${key}. Use shorter windows (window.minutes) for this workspace.`,
        where,
      );
    }
    try {
      await s3.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: key,
          CopySource: `${bucket}/${stagingKey.split("/").map(encodeURIComponent).join("/")}`,
          MetadataDirective: "REPLACE",
          ContentType: CONTENT_TYPE,
          Metadata: withDigest(request.metadata, digest),
          IfNoneMatch: "*",
        }),
      );
    } catch (err) {
      if (isPreconditionFailed(err)) return { status: "already-present", digest };
      throw storageError(err, "CopyObject", where);
    }
    await verify(s3, where, digest);
    return { status: "stored", digest, multipart: true };
  } finally {
    if (stagedOk) {
      // Best effort: a leftover staging object expires by the bucket's lifecycle rule.
      await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: stagingKey })).catch(() => {});
    }
  }
}

/** The metadata with the measured `bytes` and `sha256` added. */
function withDigest(metadata: Readonly<Record<string, string>>, digest: LogDigest): Record<string, string> {
  return { ...metadata, bytes: String(digest.bytes), sha256: digest.sha256 };
}

/** Base64 of the big-endian CRC32, as S3 reports `x-amz-checksum-crc32`. */
function crc32Base64(crc: number): string {
  const buf = Buffer.alloc(4);
  buf.writeUInt32BE(crc >>> 0);
  return buf.toString("base64");
}

/** Checks that the stored object is what was received. */
async function verify(
  s3: S3Client,
  where: { bucket: string; key: string; workspace?: string; window?: string },
  digest: LogDigest,
): Promise<void> {
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
  if (head.Metadata?.sha256 !== digest.sha256)
    problems.push(`sha256 metadata ${head.Metadata?.sha256} != ${digest.sha256}`);
  if (
    head.ChecksumCRC32 &&
    head.ChecksumType === "FULL_OBJECT" &&
    head.ChecksumCRC32 !== crc32Base64(digest.crc32)
  ) {
    problems.push(`CRC32 ${head.ChecksumCRC32} != ${crc32Base64(digest.crc32)} received`);
  }
  if (problems.length > 0) {
    throw new ArchiveVerificationError(
      `s3://${where.bucket}/${where.key} does not match what was downloaded (${problems.join("; ")}). ` +
        "Inspect the object (atlas-audit-archiver verify) and check for another writer to the archive prefix.",
      { key: where.key, workspace: where.workspace, window: where.window },
    );
  }
}
