/**
 * The one error base class of the archiver, and the context every error carries.
 *
 * Every error the archiver throws on purpose is an {@link ArchiverError}: it has a stable
 * machine-readable `code`, the context a person needs to act on it, and the original `cause`.
 * Messages name the failing value and say what to do; they never contain a secret.
 */

/** What a person needs to know to act on an error. Every field is optional: set what applies. */
export interface ErrorContext {
  /** HTTP status returned by Atlas or S3. */
  readonly status?: number;
  /** Atlas `ApiError.errorCode`, e.g. `RATE_LIMITED_TOKEN_BUCKET`. */
  readonly atlasErrorCode?: string;
  /** Atlas `ApiError.detail`. */
  readonly detail?: string;
  /** The workspace as `groupId/tenantName[/spName]`. */
  readonly workspace?: string;
  /** The window as `startISO/endISO`. */
  readonly window?: string;
  /** The S3 object key. */
  readonly key?: string;
  /** A file the error is about (e.g. the parameter file). */
  readonly file?: string;
}

/** Options accepted by every {@link ArchiverError} constructor. */
export interface ArchiverErrorOptions extends ErrorContext {
  readonly cause?: unknown;
}

/**
 * Base class of every error the archiver raises on purpose.
 *
 * @example
 * ```ts
 * try { await run(); } catch (e) {
 *   if (e instanceof ArchiverError) console.error(`${e.code}: ${e.message}`);
 * }
 * ```
 */
export class ArchiverError extends Error {
  /** Stable identifier for programs and alarms, e.g. `ATLAS_UNAUTHORIZED`. Never changes wording. */
  readonly code: string;
  readonly context: ErrorContext;

  constructor(code: string, message: string, options: ArchiverErrorOptions = {}) {
    const { cause, ...context } = options;
    super(message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    this.code = code;
    this.context = context;
  }

  /** A JSON-safe view for logs and run summaries (no stack, no cause chain beyond its message). */
  toJSON(): Record<string, unknown> {
    const cause = this.cause instanceof Error ? this.cause.message : undefined;
    return { name: this.name, code: this.code, message: this.message, ...this.context, cause };
  }
}
