/**
 * The one map from S3's answers to the archiver's errors, for the writer and the readers alike:
 * a stable code, its kind, and a message naming the request, the object and what to check.
 */
import { ArchiverError, type ErrorContext, type ErrorKind } from "../errors";

/** Stable codes of {@link StorageError}. */
export type StorageErrorCode =
  /** 403: the caller may not list, read or write there (bucket policy, role, KMS key). */
  | "S3_ACCESS_DENIED"
  /** The bucket does not exist, or is in another region or another account's namespace. */
  | "S3_NO_SUCH_BUCKET"
  /** No answer in time (connect, headers, idle socket) after the SDK's retries. */
  | "S3_TIMEOUT"
  /** Any other S3 or network failure, after the SDK's retries. */
  | "S3_REQUEST_FAILED"
  /** The bytes S3 returned do not match the checksum it stored with the object. */
  | "S3_CHECKSUM_MISMATCH"
  /** The object is in an archive storage class (Glacier Flexible Retrieval, Deep Archive): restore it first. */
  | "S3_OBJECT_ARCHIVED"
  /** A listing that said it goes on without a continuation token: not S3's behaviour. */
  | "S3_LIST_INVALID"
  /** A listing that returned a continuation token it had already returned: it would never end. */
  | "S3_LIST_LOOP"
  /** A multipart upload on a store that keeps no checksums: the object could never be proven intact. */
  | "S3_CHECKSUM_UNSUPPORTED"
  /** A log above S3's limit of 10,000 parts. */
  | "S3_OBJECT_TOO_LARGE";

/** The kind of each {@link StorageErrorCode}: what the caller does about it (see `ERROR_KINDS`). */
const STORAGE_ERROR_KINDS: Readonly<Record<StorageErrorCode, ErrorKind>> = {
  S3_ACCESS_DENIED: "setup",
  S3_NO_SUCH_BUCKET: "setup",
  S3_TIMEOUT: "transient",
  S3_REQUEST_FAILED: "transient",
  S3_CHECKSUM_MISMATCH: "transient",
  S3_OBJECT_ARCHIVED: "permanent",
  S3_LIST_INVALID: "transient",
  S3_LIST_LOOP: "transient",
  S3_CHECKSUM_UNSUPPORTED: "permanent",
  S3_OBJECT_TOO_LARGE: "permanent",
};

/** What an S3 error names: the object, S3's status, and the workspace and window when there is one. */
export interface StorageErrorContext extends ErrorContext {
  /** HTTP status returned by S3. */
  readonly status?: number;
  /** The S3 object key (or the listed prefix). */
  readonly key?: string;
}

/** S3 refused or failed a request; `code` says which kind (see {@link StorageErrorCode}). */
export class StorageError extends ArchiverError<StorageErrorContext> {
  declare readonly code: StorageErrorCode;

  constructor(
    code: StorageErrorCode,
    message: string,
    options: StorageErrorContext & { readonly cause?: unknown } = {},
  ) {
    super(code, message, { ...options, kind: STORAGE_ERROR_KINDS[code] });
  }
}

/**
 * Who is asking, as the advice of its errors: what to do about each code, in that caller's terms
 * (the permissions it needs, where its bucket name comes from). Codes it has no advice for get
 * the archiver's ({@link ARCHIVER_ROLE}).
 */
export interface StorageRole {
  readonly advice: Readonly<Partial<Record<StorageErrorCode, string>>>;
}

/** The archiver's own role: the writer, in the run. */
export const ARCHIVER_ROLE: StorageRole = {
  advice: {
    S3_ACCESS_DENIED:
      "The archiver's role needs s3:ListBucket on the bucket and s3:PutObject, s3:GetObject and " +
      "s3:AbortMultipartUpload on the archive prefix (and kms:GenerateDataKey/kms:Decrypt if the bucket uses a KMS key).",
    S3_NO_SUCH_BUCKET:
      "Check archive.bucket in the parameter file (or ARCHIVE_BUCKET) and the region (AWS_REGION).",
    S3_TIMEOUT:
      "S3 did not answer in time (see the bounds in docs/reliability.md) after the SDK's retries; the next run " +
      "retries the window. Check the S3 endpoint and the network path to it.",
    S3_CHECKSUM_MISMATCH:
      "The bytes S3 returned are not the ones it stored a checksum for: read the object again, and if this " +
      "persists run atlas-audit-archiver verify and restore the object from a previous version.",
    S3_OBJECT_ARCHIVED:
      "The object is in an archive storage class (Glacier Flexible Retrieval or Deep Archive): restore it " +
      "first (aws s3api restore-object), then read it again.",
    S3_REQUEST_FAILED: "S3 or the network failed after the SDK's retries; the next run retries the window.",
  },
};

/** Where a request went, for {@link storageError}'s message. */
export interface StorageWhere {
  readonly bucket: string;
  readonly key?: string;
  readonly workspace?: string;
  readonly window?: string;
  /** @default {@link ARCHIVER_ROLE} */
  readonly role?: StorageRole;
}

/** An S3 error's name and HTTP status, as the AWS SDK reports them. */
function s3Fault(err: unknown): { name: string; status: number | undefined } {
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

/**
 * Whether `err` is the AWS SDK's refusal of a response body whose bytes do not match the checksum
 * S3 stored with the object (it validates full-object checksums while the body streams).
 */
export function isChecksumMismatch(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith("Checksum mismatch");
}

/** Whether `err` is the AWS SDK giving up on a request that took too long (connect, headers, idle socket). */
function isTimeout(err: unknown): boolean {
  const e = err as { name?: string; code?: string };
  return e?.name === "TimeoutError" || e?.code === "ETIMEDOUT" || e?.code === "ECONNRESET_TIMEOUT";
}

/** The code for an SDK error (see {@link StorageErrorCode}). */
function codeOf(err: unknown): StorageErrorCode {
  const { name, status } = s3Fault(err);
  if (isChecksumMismatch(err)) return "S3_CHECKSUM_MISMATCH";
  if (name === "InvalidObjectState") return "S3_OBJECT_ARCHIVED";
  if (name === "AccessDenied" || status === 403) return "S3_ACCESS_DENIED";
  if (name === "NoSuchBucket" || name === "PermanentRedirect" || name === "AuthorizationHeaderMalformed") {
    return "S3_NO_SUCH_BUCKET";
  }
  if (isTimeout(err)) return "S3_TIMEOUT";
  return "S3_REQUEST_FAILED";
}

/**
 * Wraps an SDK error of `operation` on `where` in a {@link StorageError} whose message names the
 * request and the object and says what to check. An archiver error passes through unchanged.
 *
 * @example
 * ```ts
 * try { await s3.send(new GetObjectCommand({ Bucket, Key })); }
 * catch (err) { throw storageError(err, "GetObject", { bucket: Bucket, key: Key }); }
 * ```
 */
export function storageError(err: unknown, operation: string, where: StorageWhere): ArchiverError {
  if (err instanceof ArchiverError) return err;
  const { name, status } = s3Fault(err);
  const code = codeOf(err);
  const target = where.key === undefined ? `bucket ${where.bucket}` : `s3://${where.bucket}/${where.key}`;
  const message = err instanceof Error ? err.message : String(err);
  const advice = where.role?.advice[code] ?? ARCHIVER_ROLE.advice[code] ?? "";
  return new StorageError(
    code,
    `${operation} on ${target} failed (${status ?? "no status"} ${name}: ${message}). ${advice}`,
    { status, key: where.key, workspace: where.workspace, window: where.window, cause: err },
  );
}

/** Options of the errors about an object at a window's key. */
type ObjectErrorOptions = StorageErrorContext & { readonly cause?: unknown };

/** What was stored differs from what was received (length or CRC32). */
export class ArchiveVerificationError extends ArchiverError<StorageErrorContext> {
  constructor(message: string, options: ObjectErrorOptions = {}) {
    super("ARCHIVE_VERIFY_MISMATCH", message, { ...options, kind: "permanent" });
  }
}

/**
 * The window's key holds an object that is not its verified archive: no full-object checksum,
 * metadata naming another window, or bytes that do not match. The archiver never overwrites or
 * deletes, so this repeats on every run until someone removes the object.
 */
export class ArchiveObjectInvalidError extends ArchiverError<StorageErrorContext> {
  constructor(message: string, options: ObjectErrorOptions = {}) {
    super("ARCHIVE_OBJECT_INVALID", message, { ...options, kind: "permanent" });
  }
}

/** The codes of failures that leave a bad object at a window's key (the `WindowsInvalid` metric). */
export const INVALID_OBJECT_CODES: ReadonlySet<string> = new Set([
  "ARCHIVE_OBJECT_INVALID",
  "ARCHIVE_VERIFY_MISMATCH",
]);
