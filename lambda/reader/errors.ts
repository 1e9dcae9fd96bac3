/**
 * Errors of the archive readers' own (`ls`, `cat`, `get`, `verify`), each with a stable code, its
 * kind and a message that says what to do. S3's failures are `StorageError`s (`bucket/errors.ts`).
 */

import type { StorageErrorContext } from "../bucket/errors";
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
