/**
 * Errors of the archive reader (`ls`, `cat`, `get`, `verify`): a bad selection or date range, and
 * S3 refusing or failing a read, each with a stable code and a message that says what to do.
 */
import { s3Fault } from "../archive/errors";
import { ArchiverError, type ArchiverErrorOptions } from "../errors";

/** Stable codes of {@link ReaderError}. */
export type ReaderErrorCode =
  /** A missing, malformed or contradictory option (date range, group, tenant, workspace choice). */
  | "READER_USAGE"
  /** The bucket does not exist (or is in another region / another account's namespace). */
  | "READER_NO_SUCH_BUCKET"
  /** S3 answered 403: the caller may not list or read the archive. */
  | "READER_ACCESS_DENIED"
  /** Any other S3 or network failure, after the SDK's retries. */
  | "READER_S3_FAILED"
  /** An object could not be decompressed while printing it. */
  | "READER_GZIP_INVALID"
  /** An object's bytes do not match the full-object checksum S3 stored with it. */
  | "READER_CHECKSUM_MISMATCH"
  /** `get`'s output directory cannot be created or written. */
  | "READER_OUTPUT_UNWRITABLE";

/** An error of the archive reader; see {@link ReaderErrorCode}. */
export class ReaderError extends ArchiverError {
  declare readonly code: ReaderErrorCode;

  constructor(code: ReaderErrorCode, message: string, options: ArchiverErrorOptions = {}) {
    super(code, message, options);
  }
}

/**
 * Whether `err` is the AWS SDK's refusal of a response body whose bytes do not match the checksum
 * S3 stored with the object (it validates full-object checksums while the body streams).
 */
export function isChecksumMismatch(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith("Checksum mismatch");
}

/**
 * Whether `err` is a problem of how the reader was called or where it points (usage, range,
 * bucket, permissions, output directory), as opposed to a failure while reading: the CLI exits 2
 * for these.
 */
export function isReaderSetupProblem(err: unknown): boolean {
  return (
    err instanceof ReaderError &&
    ["READER_USAGE", "READER_NO_SUCH_BUCKET", "READER_ACCESS_DENIED", "READER_OUTPUT_UNWRITABLE"].includes(
      err.code,
    )
  );
}

/**
 * Wraps an SDK error of `operation` on `bucket` (and `key`) in a {@link ReaderError} whose message
 * names the target and says what to check.
 */
export function readError(err: unknown, operation: string, bucket: string, key?: string): ReaderError {
  if (err instanceof ReaderError) return err;
  const { name, status } = s3Fault(err);
  const target = key === undefined ? `bucket ${bucket}` : `s3://${bucket}/${key}`;
  const detail = `${operation} on ${target} failed (${status ?? "no status"} ${name}: ${
    err instanceof Error ? err.message : String(err)
  })`;
  if (isChecksumMismatch(err)) {
    return new ReaderError(
      "READER_CHECKSUM_MISMATCH",
      `${detail}. The bytes S3 returned are not the ones it stored a checksum for: read the object again, and ` +
        "if this persists run atlas-audit-archiver verify and restore the object from a previous version.",
      { status, key, cause: err },
    );
  }
  if (name === "InvalidObjectState") {
    return new ReaderError(
      "READER_S3_FAILED",
      `${detail}. The object is in an archive storage class (Glacier Flexible Retrieval or Deep Archive): ` +
        "restore it first (aws s3api restore-object), then read it again.",
      { status, key, cause: err },
    );
  }
  if (name === "AccessDenied" || status === 403) {
    return new ReaderError(
      "READER_ACCESS_DENIED",
      `${detail}. Reading the archive needs s3:ListBucket on the bucket and s3:GetObject on the archive ` +
        "prefix (and kms:Decrypt when the bucket uses a KMS key): check the credentials in use (AWS_PROFILE, " +
        "the credentials chain) and their policies.",
      { status, key, cause: err },
    );
  }
  if (name === "NoSuchBucket" || name === "PermanentRedirect" || name === "AuthorizationHeaderMalformed") {
    return new ReaderError(
      "READER_NO_SUCH_BUCKET",
      `${detail}. Check the bucket name (--bucket, ARCHIVE_BUCKET or archive.bucket in the parameter file) ` +
        "and the region (AWS_REGION).",
      { status, key, cause: err },
    );
  }
  return new ReaderError(
    "READER_S3_FAILED",
    `${detail}. S3 or the network failed after the SDK's retries: check AWS_REGION, AWS_ENDPOINT_URL_S3 and ` +
      "the network, then try again.",
    { status, key, cause: err },
  );
}
