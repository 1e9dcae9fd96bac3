/**
 * Typed errors of the Atlas client. Each says what went wrong with which workspace and window,
 * and what to do about it.
 */
import { ArchiverError, type ArchiverErrorOptions } from "../errors";

/** The Atlas roles that may download Stream Processing audit logs, for 401/403 messages. */
export const REQUIRED_ROLES =
  "Organization Stream Processing Admin, Project Stream Processing Manager, " +
  "or Project Data Access Admin / Read Write / Read Only";

/** Extra context an Atlas error carries beyond {@link ArchiverErrorOptions}. */
export interface AtlasErrorOptions extends ArchiverErrorOptions {
  /** How many HTTP attempts were made before giving up. */
  readonly attempts?: number;
  /** Whether another attempt later (e.g. the next scheduled run) may succeed. */
  readonly retryable?: boolean;
}

/** Base class of every error that comes from talking to Atlas. */
export class AtlasError extends ArchiverError {
  readonly attempts: number | undefined;
  readonly retryable: boolean;

  constructor(code: string, message: string, options: AtlasErrorOptions = {}) {
    const { attempts, retryable, ...rest } = options;
    super(code, message, rest);
    this.attempts = attempts;
    this.retryable = retryable ?? false;
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
    super("ATLAS_UNAUTHORIZED", message, options);
  }
}

/** 403: the credentials are valid but may not do this (role, IP access list, token limit). */
export class AtlasForbiddenError extends AtlasError {
  constructor(message: string, options: AtlasErrorOptions = {}) {
    super("ATLAS_FORBIDDEN", message, options);
  }
}

/** 404: the project (group) or the Stream Processing workspace does not exist. */
export class AtlasNotFoundError extends AtlasError {
  constructor(message: string, options: AtlasErrorOptions = {}) {
    super("ATLAS_NOT_FOUND", message, options);
  }
}

/** 400, 406 and other 4xx that retrying cannot fix: the request itself is wrong. */
export class AtlasRequestError extends AtlasError {
  constructor(message: string, options: AtlasErrorOptions = {}) {
    super("ATLAS_BAD_REQUEST", message, options);
  }
}

/** 429 (or 503 with Retry-After) that outlasted the retry budget. */
export class AtlasRateLimitedError extends AtlasError {
  constructor(message: string, options: AtlasErrorOptions = {}) {
    super("ATLAS_RATE_LIMITED", message, { retryable: true, ...options });
  }
}

/** 5xx that outlasted the retry budget. */
export class AtlasServerError extends AtlasError {
  constructor(message: string, options: AtlasErrorOptions = {}) {
    super("ATLAS_SERVER_ERROR", message, { retryable: true, ...options });
  }
}

/** The connection failed, was reset, or went silent longer than a timeout allows. */
export class AtlasNetworkError extends AtlasError {
  constructor(message: string, options: AtlasErrorOptions = {}) {
    super("ATLAS_NETWORK", message, { retryable: true, ...options });
  }
}

/**
 * A call ran out of time as a whole: no answer within its retry budget (or before the run's
 * deadline), or a download, body included, longer than its overall bound.
 */
export class AtlasTimeoutError extends AtlasError {
  constructor(message: string, options: AtlasErrorOptions = {}) {
    super("ATLAS_TIMEOUT", message, { retryable: true, ...options });
  }
}

/**
 * Not attempted: Atlas asked (`Retry-After`) not to call this project again before a time after
 * the call's budget or the run's deadline. The window is left for a later run, not failed.
 */
export class AtlasPausedError extends AtlasError {
  constructor(message: string, options: AtlasErrorOptions = {}) {
    super("ATLAS_PAUSED", message, { retryable: true, ...options });
  }
}

/** A 200 that is not an audit log: wrong content type, or a body that is not gzip. */
export class AtlasUnexpectedResponseError extends AtlasError {
  constructor(message: string, options: AtlasErrorOptions = {}) {
    super("ATLAS_UNEXPECTED_RESPONSE", message, options);
  }
}

/** The secret or environment does not hold a usable pair of Atlas credentials. */
export class AtlasCredentialsError extends AtlasError {
  constructor(message: string, options: AtlasErrorOptions = {}) {
    super("ATLAS_CREDENTIALS_INVALID", message, options);
  }
}
