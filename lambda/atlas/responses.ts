/**
 * Turns what Atlas (or the network) answered into typed errors whose messages say what to do.
 */
import type { Dispatcher } from "undici";
import {
  type AtlasError,
  AtlasForbiddenError,
  AtlasNetworkError,
  AtlasNotFoundError,
  AtlasRateLimitedError,
  AtlasRequestError,
  AtlasServerError,
  AtlasUnauthorizedError,
  REQUIRED_ROLES,
} from "./errors";
import type { SecretRedactor } from "./redact";
import type { AttemptOutcome } from "./retry";

/** The fields of Atlas's `ApiError` body the archiver uses. */
export interface ApiErrorBody {
  readonly error?: number;
  readonly errorCode?: string;
  readonly detail?: string;
  readonly reason?: string;
}

/** Which call failed, for messages: the workspace and window of a download, or the token endpoint. */
export interface CallContext {
  /** e.g. "download of 32b6…/prod-workspace 2026-11-28T13:00:00Z/2026-11-28T14:00:00Z". */
  readonly what: string;
  readonly workspace?: string;
  readonly window?: string;
  readonly groupId?: string;
  readonly tenantName?: string;
  /** "service account" or "API key", for 401 advice. */
  readonly credentialKind?: string;
}

const MAX_ERROR_BODY_BYTES = 64 * 1024;

/**
 * Drops a response body we will not read. undici's body emits `RequestAbortedError` when
 * destroyed before its end; nobody is listening for it here, so it is swallowed on purpose
 * instead of crashing the process as an unhandled 'error'.
 */
export function discard(body: Dispatcher.ResponseData["body"]): void {
  body.on("error", () => {});
  body.destroy();
}

/**
 * Reads a (small) error body. Atlas error bodies are JSON `ApiError`s, OAuth errors are
 * `{"error": "..."}`; proxies may send HTML. Never reads more than 64 KiB. Every text field goes
 * through `redactor`, so a credential the server echoes back never reaches a message.
 */
export async function readErrorBody(
  body: Dispatcher.ResponseData["body"],
  redactor?: SecretRedactor,
): Promise<ApiErrorBody> {
  const parsed = await parseErrorBody(body);
  const clean = (text: string | undefined) => (redactor ? redactor.redact(text) : text);
  return {
    ...(parsed.error === undefined ? {} : { error: parsed.error }),
    ...(parsed.errorCode === undefined ? {} : { errorCode: clean(parsed.errorCode)?.slice(0, 100) }),
    ...(parsed.detail === undefined ? {} : { detail: clean(parsed.detail)?.slice(0, 1_000) }),
    ...(parsed.reason === undefined ? {} : { reason: clean(parsed.reason)?.slice(0, 200) }),
  };
}

async function parseErrorBody(body: Dispatcher.ResponseData["body"]): Promise<ApiErrorBody> {
  const chunks: Buffer[] = [];
  let size = 0;
  body.on("error", () => {}); // breaking out of the loop below destroys the body: see discard()
  try {
    for await (const chunk of body) {
      const buf = chunk as Buffer;
      chunks.push(buf);
      size += buf.length;
      if (size >= MAX_ERROR_BODY_BYTES) break;
    }
  } catch {
    // A body that fails mid-way still leaves the status code to act on.
  }
  discard(body);
  const text = Buffer.concat(chunks).toString("utf8").slice(0, MAX_ERROR_BODY_BYTES);
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === "object") {
      const o = parsed as Record<string, unknown>;
      return {
        error: typeof o.error === "number" ? o.error : undefined,
        errorCode:
          typeof o.errorCode === "string" ? o.errorCode : typeof o.error === "string" ? o.error : undefined,
        detail:
          typeof o.detail === "string"
            ? o.detail
            : typeof o.error_description === "string"
              ? o.error_description
              : undefined,
        reason: typeof o.reason === "string" ? o.reason : undefined,
      };
    }
  } catch {
    // not JSON: fall through
  }
  const snippet = text.replace(/\s+/g, " ").trim().slice(0, 200);
  return snippet ? { detail: snippet } : {};
}

function describeStatus(status: number, body: ApiErrorBody): string {
  const code = body.errorCode ? ` ${body.errorCode}` : "";
  const detail = body.detail ? `: ${body.detail}` : "";
  return `${status}${code}${detail}`;
}

/** `why` a call gave up early, as a clause for a message. */
function because(why: string | undefined): string {
  return why ? `; ${why}` : "";
}

function after(attempts: number): string {
  return attempts > 1 ? ` after ${attempts} attempts` : "";
}

/**
 * The error for an HTTP error status. `attempts` is how many tries were made in all.
 */
function errorForStatus(
  status: number,
  body: ApiErrorBody,
  context: CallContext,
  attempts: number,
  why?: string,
): AtlasError {
  const options = {
    status,
    atlasErrorCode: body.errorCode,
    detail: body.detail,
    workspace: context.workspace,
    window: context.window,
    attempts,
  };
  const got = describeStatus(status, body);
  if (status === 401) {
    const kind = context.credentialKind ?? "credentials";
    return new AtlasUnauthorizedError(
      `Atlas refused the ${kind} for the ${context.what} (${got}). Check that the ${kind} exists, is not ` +
        `expired or revoked, and that the secret holds the right values; the key needs one of these roles ` +
        `on the project: ${REQUIRED_ROLES}.`,
      options,
    );
  }
  if (status === 403) {
    return new AtlasForbiddenError(
      `Atlas denied the ${context.what} (${got}). Give the key one of these roles on project ` +
        `${context.groupId ?? "(this project)"}: ${REQUIRED_ROLES}. If the organisation enforces an API access ` +
        `list, the archiver's egress IP must be on it; a service account also gets 403 when it holds 100 live tokens.`,
      options,
    );
  }
  if (status === 404) {
    const where =
      context.tenantName && context.groupId
        ? `no Stream Processing workspace "${context.tenantName}" in project ${context.groupId}`
        : "nothing at that address";
    return new AtlasNotFoundError(
      `Atlas found ${where} (${got}) for the ${context.what}. Check groupId and tenantName in the parameter ` +
        `file against the Atlas UI (Stream Processing), and that the workspace was not deleted.`,
      options,
    );
  }
  if (status === 429) {
    return new AtlasRateLimitedError(
      `Atlas kept rate-limiting the ${context.what} (${got})${after(attempts)}${because(why)}. The next run ` +
        `picks up what is missing; if this persists, lower the concurrency or run the schedule less often.`,
      options,
    );
  }
  if (status >= 500) {
    return new AtlasServerError(
      `Atlas failed the ${context.what} (${got})${after(attempts)}${because(why)}. This is on Atlas's side; ` +
        `the next run retries the window. Check https://status.mongodb.com if it persists.`,
      options,
    );
  }
  const hint =
    status === 406
      ? "Atlas does not serve that API version as gzip: check atlas.apiVersion in the parameter file."
      : "Retrying cannot fix this request; check the parameter file, and report it if it looks valid.";
  return new AtlasRequestError(`Atlas rejected the ${context.what} (${got}). ${hint}`, options);
}

/** Whether another attempt at the same request may get a different answer. */
function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENOTFOUND",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
]);

/** The most specific error code in an error or its causes (undici nests the socket error). */
function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Whether a thrown error is a transport failure worth retrying (reset, refused, timeout). */
export function isNetworkError(err: unknown): boolean {
  return errorCode(err) !== undefined;
}

/**
 * Wraps a transport failure (before or during the body) in an {@link AtlasNetworkError} that
 * names the call. Use it on errors a download body stream emits, too.
 */
export function networkError(
  err: unknown,
  context: CallContext,
  attempts: number,
  why?: string,
): AtlasNetworkError {
  const code = errorCode(err) ?? "unknown";
  const message = err instanceof Error ? err.message : String(err);
  const timeout = code.includes("TIMEOUT") || code === "ETIMEDOUT";
  const advice = timeout
    ? "Atlas went silent longer than the timeout allows"
    : "the connection to Atlas failed";
  return new AtlasNetworkError(
    `The ${context.what} failed: ${advice} (${code}: ${message})${after(attempts)}${because(why)}. The next ` +
      `run retries the window; if it persists, check the network path to Atlas (VPC, NAT, proxy).`,
    { workspace: context.workspace, window: context.window, attempts, cause: err },
  );
}

/** A failed attempt, as {@link AttemptOutcome} describes it. */
export type FailedAttempt = Extract<AttemptOutcome<never>, { ok: false }>;

/** The outcome of an attempt that Atlas answered with an error status. */
export function statusFailure(
  status: number,
  body: ApiErrorBody,
  context: CallContext,
  retryAfter?: { readonly ms: number; readonly raw: string },
): FailedAttempt {
  return {
    ok: false,
    retryable: isRetryableStatus(status),
    ...(retryAfter ? { retryAfterMs: retryAfter.ms, retryAfter: retryAfter.raw } : {}),
    reason: `${status}${body.errorCode ? ` ${body.errorCode}` : ""}`,
    error: (attempts, why) => errorForStatus(status, body, context, attempts, why),
  };
}

/** The outcome of an attempt whose connection failed; rethrows anything that is not a transport error. */
export function transportFailure(err: unknown, context: CallContext): FailedAttempt {
  if (!isNetworkError(err)) throw err;
  return {
    ok: false,
    retryable: true,
    reason: "network error",
    error: (n, why) => networkError(err, context, n, why),
  };
}
