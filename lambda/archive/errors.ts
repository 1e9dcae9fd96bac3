/**
 * Errors of the archive pipeline's own checks: a log that is not valid gzip. (S3's failures, and
 * an object at a window's key that is not its archive, are `bucket/errors.ts`'s.)
 */

import type { StorageErrorContext } from "../bucket/errors";
import { ArchiverError } from "../errors";

/**
 * The downloaded body is not a complete, valid gzip stream (truncated, corrupt, bad CRC): the
 * next download may well be whole.
 */
export class GzipInvalidError extends ArchiverError<StorageErrorContext> {
  constructor(message: string, options: StorageErrorContext & { readonly cause?: unknown } = {}) {
    super("ARCHIVE_GZIP_INVALID", message, { ...options, kind: "transient" });
  }
}

/** The run reached its deadline: the reason the work in flight is aborted with; what is left is deferred. */
export class RunDeadlineError extends ArchiverError {
  constructor(runId: string) {
    super("RUN_DEADLINE", `Run ${runId} reached its deadline; what is left is deferred.`, {
      kind: "transient",
    });
  }
}
