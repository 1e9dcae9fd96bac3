/**
 * Errors of the archive pipeline: a log that is not valid gzip, S3 refusing or failing a write,
 * and an object that does not match what was received.
 */
import { ArchiverError, type ArchiverErrorOptions } from "../errors";

/** The downloaded body is not a complete, valid gzip stream (truncated, corrupt, bad CRC). */
export class GzipInvalidError extends ArchiverError {
  constructor(message: string, options: ArchiverErrorOptions = {}) {
    super("ARCHIVE_GZIP_INVALID", message, options);
  }
}

/** S3 refused or failed a request. `code` tells which kind: see {@link s3ErrorCode}. */
export class ArchiveStorageError extends ArchiverError {}

/** What was stored differs from what was received (length or CRC32). */
export class ArchiveVerificationError extends ArchiverError {
  constructor(message: string, options: ArchiverErrorOptions = {}) {
    super("ARCHIVE_VERIFY_MISMATCH", message, options);
  }
}

/**
 * The window's key holds an object that is not its verified archive: no full-object checksum,
 * metadata naming another window, or bytes that do not match. The archiver never overwrites or
 * deletes, so this repeats on every run until someone removes the object.
 */
export class ArchiveObjectInvalidError extends ArchiverError {
  constructor(message: string, options: ArchiverErrorOptions = {}) {
    super("ARCHIVE_OBJECT_INVALID", message, options);
  }
}

/** The codes of failures that leave a bad object at a window's key (the `WindowsInvalid` metric). */
export const INVALID_OBJECT_CODES: ReadonlySet<string> = new Set([
  "ARCHIVE_OBJECT_INVALID",
  "ARCHIVE_VERIFY_MISMATCH",
]);

/** An S3 error's name and HTTP status, as the AWS SDK reports them. */
export function s3Fault(err: unknown): { name: string; status: number | undefined } {
  const e = err as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  return { name: e?.Code ?? e?.name ?? "Error", status: e?.$metadata?.httpStatusCode };
}

/**
 * Whether S3 refused a conditional write because the key already exists (`If-None-Match: *`):
 * 412 only. A 409 is not that: see {@link isConditionalConflict}.
 */
export function isPreconditionFailed(err: unknown): boolean {
  const { name, status } = s3Fault(err);
  return status === 412 || name === "PreconditionFailed";
}

/**
 * Whether S3 answered 409 `ConditionalRequestConflict`: a concurrent conditional write to the key
 * was in progress. Nothing was decided: the write is to be tried again.
 */
export function isConditionalConflict(err: unknown): boolean {
  const { name, status } = s3Fault(err);
  return name === "ConditionalRequestConflict" || (status === 409 && name !== "OperationAborted");
}

/** Whether `err` is the AWS SDK giving up on a request that took too long (connect, headers, idle socket). */
function isTimeout(err: unknown): boolean {
  const e = err as { name?: string; code?: string };
  return e?.name === "TimeoutError" || e?.code === "ETIMEDOUT" || e?.code === "ECONNRESET_TIMEOUT";
}

/**
 * The stable code for an S3 failure: `S3_ACCESS_DENIED`, `S3_NO_SUCH_BUCKET`, `S3_TIMEOUT` or
 * `S3_REQUEST_FAILED`.
 */
export function s3ErrorCode(err: unknown): string {
  const { name, status } = s3Fault(err);
  if (name === "AccessDenied" || status === 403) return "S3_ACCESS_DENIED";
  if (name === "NoSuchBucket") return "S3_NO_SUCH_BUCKET";
  if (isTimeout(err)) return "S3_TIMEOUT";
  return "S3_REQUEST_FAILED";
}

/**
 * Wraps an SDK error of `operation` on `bucket`/`key` in an {@link ArchiveStorageError} whose
 * message says what to check.
 */
export function storageError(
  err: unknown,
  operation: string,
  where: {
    readonly bucket: string;
    readonly key?: string;
    readonly workspace?: string;
    readonly window?: string;
  },
): ArchiveStorageError {
  if (err instanceof ArchiverError) return err as ArchiveStorageError;
  const { name, status } = s3Fault(err);
  const code = s3ErrorCode(err);
  const target = where.key ? `s3://${where.bucket}/${where.key}` : `bucket ${where.bucket}`;
  const advice =
    code === "S3_ACCESS_DENIED"
      ? "The archiver's role needs s3:ListBucket on the bucket and s3:PutObject, s3:GetObject and " +
        "s3:AbortMultipartUpload on the archive prefix (and kms:GenerateDataKey/kms:Decrypt if the bucket uses a KMS key)."
      : code === "S3_NO_SUCH_BUCKET"
        ? "Check archive.bucket in the parameter file (or ARCHIVE_BUCKET) and the region (AWS_REGION)."
        : code === "S3_TIMEOUT"
          ? "S3 did not answer in time (see the README's reliability bounds) after the SDK's retries; the next " +
            "run retries the window. Check the S3 endpoint and the network path to it."
          : "S3 or the network failed after the SDK's retries; the next run retries the window.";
  const message = err instanceof Error ? err.message : String(err);
  return new ArchiveStorageError(
    code,
    `${operation} on ${target} failed (${status ?? "no status"} ${name}: ${message}). ${advice}`,
    { status, key: where.key, workspace: where.workspace, window: where.window, cause: err },
  );
}
