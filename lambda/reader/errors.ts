/**
 * Errors of the archive readers' own (`ls`, `cat`, `get`, `verify`), each with a stable code, its
 * kind and a message that says what to do. S3's failures are `StorageError`s (`bucket/errors.ts`).
 */

import type { StorageErrorContext, StorageRole } from "../bucket/errors";
import { ArchiverError, type ErrorKind } from "../errors";

/** Stable codes of {@link ReaderError}. */
export type ReaderErrorCode =
  /** An object could not be decompressed while printing it. */
  | "READER_GZIP_INVALID"
  /** `get`'s output directory cannot be created or written. */
  | "READER_OUTPUT_UNWRITABLE";

const READER_ERROR_KINDS: Readonly<Record<ReaderErrorCode, ErrorKind>> = {
  READER_GZIP_INVALID: "permanent",
  READER_OUTPUT_UNWRITABLE: "setup",
};

/** What a reader error names: the object, and the local file for `get`. */
export interface ReaderErrorContext extends StorageErrorContext {
  readonly file?: string;
}

/** An error of the archive reader; see {@link ReaderErrorCode}. */
export class ReaderError extends ArchiverError<ReaderErrorContext> {
  declare readonly code: ReaderErrorCode;

  constructor(
    code: ReaderErrorCode,
    message: string,
    options: ReaderErrorContext & { readonly cause?: unknown } = {},
  ) {
    super(code, message, { ...options, kind: READER_ERROR_KINDS[code] });
  }
}

/** The readers' advice for S3's errors: what reading needs, where the bucket's name comes from. */
export const READER_ROLE: StorageRole = {
  advice: {
    S3_ACCESS_DENIED:
      "Reading the archive needs s3:ListBucket on the bucket and s3:GetObject on the archive prefix (and " +
      "kms:Decrypt when the bucket uses a KMS key): check the credentials in use (AWS_PROFILE, the " +
      "credentials chain) and their policies.",
    S3_NO_SUCH_BUCKET:
      "Check the bucket name (the command's bucket option, ARCHIVE_BUCKET or archive.bucket in the parameter " +
      "file) and the region (AWS_REGION).",
    S3_TIMEOUT:
      "S3 did not answer in time (see the bounds in docs/reliability.md) after the SDK's retries; try again. " +
      "Check the S3 endpoint and the network path to it.",
    S3_REQUEST_FAILED:
      "S3 or the network failed after the SDK's retries: check AWS_REGION, AWS_ENDPOINT_URL_S3 and the " +
      "network, then try again.",
  },
};
