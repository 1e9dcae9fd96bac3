/**
 * Typed errors of the Atlas client. Each says what went wrong with which workspace and window,
 * and what to do about it.
 */
import { ArchiverError, type ErrorContext, type ErrorKind } from "../errors";

/** The Atlas roles that may download Stream Processing audit logs, for 401/403 messages. */
export const REQUIRED_ROLES =
  "Organization Stream Processing Admin, Project Stream Processing Manager, " +
  "or Project Data Access Admin / Read Write / Read Only";

/** What an Atlas error names: the workspace and window, Atlas's answer. */
export interface AtlasErrorContext extends ErrorContext {
  /** HTTP status returned by Atlas. */
  readonly status?: number;
  /** Atlas `ApiError.errorCode`, e.g. `RATE_LIMITED_TOKEN_BUCKET`. */
  readonly atlasErrorCode?: string;
  /** Atlas `ApiError.detail`. */
  readonly detail?: string;
}

/** Options of every Atlas error. */
export interface AtlasErrorOptions extends AtlasErrorContext {
  /** How many HTTP attempts were made before giving up. */
  readonly attempts?: number;
  readonly cause?: unknown;
}

/** Base class of every error that comes from talking to Atlas. */
export class AtlasError extends ArchiverError<AtlasErrorContext> {
  readonly attempts: number | undefined;

  constructor(code: string, kind: ErrorKind, message: string, options: AtlasErrorOptions = {}) {
    const { attempts, ...rest } = options;
    super(code, message, { ...rest, kind });
    this.attempts = attempts;
  }

  get status(): number | undefined {
    return this.context.status;
  }

  get atlasErrorCode(): string | undefined {
    return this.context.atlasErrorCode;
  }

  get detail(): string | undefined {
    return this.context.detail;
  }
}

/** 401: the credentials were refused even after a fresh token or Digest challenge. */
export class AtlasUnauthorizedError extends AtlasError {
  constructor(message: string, options: AtlasErrorOptions = {}) {
    super("ATLAS_UNAUTHORIZED", "setup", message, options);
  }
}

/** 403: the credentials are valid but may not do this (role, IP access list, token limit). */
export class AtlasForbiddenError extends AtlasError {
  constructor(message: string, options: AtlasErrorOptions = {}) {
    super("ATLAS_FORBIDDEN", "setup", message, options);
  }
}

/** 404: the project (group) or the Stream Processing workspace does not exist. */
export class AtlasNotFoundError extends AtlasError {
  constructor(message: string, options: AtlasErrorOptions = {}) {
    super("ATLAS_NOT_FOUND", "setup", message, options);
  }
}

/** 400, 406 and other 4xx that retrying cannot fix: the request itself is wrong. */
export class AtlasRequestError extends AtlasError {
  constructor(message: string, options: AtlasErrorOptions = {}) {
    super("ATLAS_BAD_REQUEST", "setup", message, options);
  }
}

/** 429 (or 503 with Retry-After) that outlasted the retry budget. */
export class AtlasRateLimitedError extends AtlasError {
  constructor(message: string, options: AtlasErrorOptions = {}) {
    super("ATLAS_RATE_LIMITED", "transient", message, options);
  }
}

/** 5xx that outlasted the retry budget. */
export class AtlasServerError extends AtlasError {
  constructor(message: string, options: AtlasErrorOptions = {}) {
    super("ATLAS_SERVER_ERROR", "transient", message, options);
  }
}

/** The connection failed, was reset, or went silent longer than a timeout allows. */
export class AtlasNetworkError extends AtlasError {
  constructor(message: string, options: AtlasErrorOptions = {}) {
    super("ATLAS_NETWORK", "transient", message, options);
  }
}

/**
 * A call ran out of time as a whole: no answer within its retry budget (or before the run's
 * deadline), or a download, body included, longer than its overall bound.
 */
export class AtlasTimeoutError extends AtlasError {
  constructor(message: string, options: AtlasErrorOptions = {}) {
    super("ATLAS_TIMEOUT", "transient", message, options);
  }
}

/**
 * Not attempted: Atlas asked (`Retry-After`) not to call this project again before a time after
 * the call's budget or the run's deadline. The window is left for a later run, not failed.
 */
export class AtlasPausedError extends AtlasError {
  constructor(message: string, options: AtlasErrorOptions = {}) {
    super("ATLAS_PAUSED", "transient", message, options);
  }
}

/** A 200 that is not an audit log: wrong content type, or a body that is not gzip. */
export class AtlasUnexpectedResponseError extends AtlasError {
  constructor(message: string, options: AtlasErrorOptions = {}) {
    super("ATLAS_UNEXPECTED_RESPONSE", "transient", message, options);
  }
}

/** The secret or environment does not hold a usable pair of Atlas credentials. */
export class AtlasCredentialsError extends AtlasError {
  constructor(message: string, options: AtlasErrorOptions = {}) {
    super("ATLAS_CREDENTIALS_INVALID", "setup", message, options);
  }
}
