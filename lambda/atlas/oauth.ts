/**
 * OAuth 2.0 client-credentials tokens for Atlas service accounts, cached per process so that
 * calls and warm Lambda invocations share one token (a service account may hold at most 100
 * live tokens).
 */
import { createHash } from "node:crypto";
import type { Dispatcher } from "undici";
import { atlasEndpoint } from "./base-url";
import { AtlasUnexpectedResponseError } from "./errors";
import { SecretRedactor } from "./redact";
import { discard, readErrorBody, statusFailure, transportFailure } from "./responses";
import { parseRetryAfter, type RetryContext, retrying } from "./retry";

/** A service account's credentials, exactly as Atlas shows them. */
export interface ServiceAccountCredentials {
  readonly clientId: string;
  readonly clientSecret: string;
}

interface CachedToken {
  readonly accessToken: string;
  readonly expiresAtMs: number;
  /** When to stop handing it out: before its expiry by {@link refreshMargin} of its life. */
  readonly refreshAtMs: number;
}

/**
 * Where tokens live between calls. One per process ({@link processTokenCache}) is the normal
 * case; tests make their own.
 */
export class TokenCache {
  readonly tokens = new Map<string, CachedToken>();
  readonly inflight = new Map<string, Promise<CachedToken>>();
  /** Every token minted per account and not revoked yet (expired ones are dropped), for `revoke()`. */
  readonly minted = new Map<string, CachedToken[]>();
}

/** The process-wide token cache: survives across calls and warm Lambda invocations. */
export const processTokenCache = new TokenCache();

/**
 * Refresh this long before the token's stated expiry, so a token never expires between the
 * cache check and the end of a request's headers: five minutes of an hour's token, and a quarter
 * of a shorter one, so that a short-lived token is still used for most of its life instead of
 * one token being minted per request.
 */
const EXPIRY_MARGIN_MS = 5 * 60_000;

function refreshMargin(lifetimeMs: number): number {
  return Math.min(EXPIRY_MARGIN_MS, lifetimeMs / 4);
}

/** The largest token reply read (Atlas's is about 1 KB): a larger one is refused, never buffered. */
const MAX_TOKEN_REPLY_BYTES = 64 * 1024;

/** The longest `revoke()` spends on revoking the tokens it minted (it is best effort). */
const REVOKE_BUDGET_MS = 10_000;

/** Tokens kept for `revoke()` per account at most; an older one simply expires within its hour. */
const MAX_MINTED = 100;

/** What {@link OAuthTokenSource} needs. */
export interface OAuthTokenSourceOptions {
  readonly baseUrl: string;
  readonly credentials: ServiceAccountCredentials;
  readonly dispatcher: Dispatcher;
  readonly retry: Omit<RetryContext, "signal">;
  readonly headersTimeoutMs: number;
  readonly userAgent: string;
  readonly cache?: TokenCache;
  /** Where the credentials and every minted token are registered. @default a private one */
  readonly redactor?: SecretRedactor;
}

/**
 * Basic credentials from the RAW id and secret. Generic OAuth libraries form-encode both first
 * (RFC 6749 §2.3.1), which turns the `_` in Atlas client ids into `%5F`; Atlas rejects that.
 */
export function basicAuthorization(credentials: ServiceAccountCredentials): string {
  return `Basic ${Buffer.from(`${credentials.clientId}:${credentials.clientSecret}`, "utf8").toString("base64")}`;
}

/**
 * Gets, caches and refreshes Atlas access tokens for one service account.
 *
 * @example
 * ```ts
 * const tokens = new OAuthTokenSource({ baseUrl, credentials, dispatcher, retry, headersTimeoutMs: 30_000, userAgent });
 * const header = `Bearer ${await tokens.token()}`;
 * ```
 */
export class OAuthTokenSource {
  private readonly cache: TokenCache;
  private readonly key: string;
  private readonly redactor: SecretRedactor;
  private readonly origin: string;
  private readonly basePath: string;

  constructor(private readonly options: OAuthTokenSourceOptions) {
    this.cache = options.cache ?? processTokenCache;
    this.redactor = options.redactor ?? new SecretRedactor();
    this.redactor.addCredential(options.credentials.clientSecret);
    this.redactor.addAuthorization(basicAuthorization(options.credentials), true);
    ({ origin: this.origin, basePath: this.basePath } = atlasEndpoint(options.baseUrl));
    // The key identifies the account without keeping the secret in a readable form.
    this.key = createHash("sha256")
      .update(`${options.baseUrl}\0${options.credentials.clientId}\0${options.credentials.clientSecret}`)
      .digest("hex");
  }

  /** A valid access token: the cached one, or a new one (one request even when many ask at once). */
  async token(signal?: AbortSignal): Promise<string> {
    const cached = this.cache.tokens.get(this.key);
    if (cached && cached.refreshAtMs > this.options.retry.clock.now()) return cached.accessToken;
    let pending = this.cache.inflight.get(this.key);
    if (!pending) {
      pending = this.fetchToken(signal).finally(() => this.cache.inflight.delete(this.key));
      this.cache.inflight.set(this.key, pending);
    }
    return (await pending).accessToken;
  }

  /** Forgets `accessToken` (after Atlas answered 401 to it), unless a newer token already replaced it. */
  invalidate(accessToken: string): void {
    if (this.cache.tokens.get(this.key)?.accessToken === accessToken) this.cache.tokens.delete(this.key);
    // Atlas refused it: it is dead already, and needs no revoking.
    const minted = this.cache.minted.get(this.key);
    if (minted)
      this.cache.minted.set(
        this.key,
        minted.filter((t) => t.accessToken !== accessToken),
      );
  }

  /**
   * Revokes every token this account minted in this process that has not expired (the cached one
   * and any it replaced). Short-lived callers (the CLI) do this when done so that frequent runs
   * never approach the 100-live-token limit. Best effort, and bounded: at most 10 seconds in all;
   * failures are ignored (a token expires within its hour anyway).
   */
  async revoke(): Promise<void> {
    const now = this.options.retry.clock.now();
    const live = (this.cache.minted.get(this.key) ?? []).filter((t) => t.expiresAtMs > now);
    this.cache.tokens.delete(this.key);
    this.cache.minted.delete(this.key);
    const signal = AbortSignal.timeout(REVOKE_BUDGET_MS);
    for (const token of live) {
      if (signal.aborted) return;
      try {
        const response = await this.options.dispatcher.request({
          origin: this.origin,
          path: `${this.basePath}/api/oauth/revoke`,
          method: "POST",
          headers: this.formHeaders(),
          body: new URLSearchParams({ token: token.accessToken, token_type_hint: "access_token" }).toString(),
          headersTimeout: Math.min(this.options.headersTimeoutMs, REVOKE_BUDGET_MS),
          signal,
        });
        await response.body.dump({ signal, limit: 64 * 1024 });
      } catch {
        // Best effort: the others are still worth revoking.
      }
    }
  }

  private formHeaders(): Record<string, string> {
    return {
      authorization: basicAuthorization(this.options.credentials),
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
      "user-agent": this.options.userAgent,
    };
  }

  private async fetchToken(signal?: AbortSignal): Promise<CachedToken> {
    const { clock } = this.options.retry;
    const context = { what: "token request", credentialKind: "service account" };
    return retrying(
      async () => {
        const requestedAt = clock.now();
        let response: Dispatcher.ResponseData;
        try {
          response = await this.options.dispatcher.request({
            origin: this.origin,
            path: `${this.basePath}/api/oauth/token`,
            method: "POST",
            headers: this.formHeaders(),
            body: "grant_type=client_credentials",
            headersTimeout: this.options.headersTimeoutMs,
            signal,
          });
        } catch (err) {
          return transportFailure(err, context);
        }
        if (response.statusCode !== 200) {
          const body = await readErrorBody(response.body, this.redactor);
          const header = response.headers["retry-after"];
          const raw = this.redactor.redact(Array.isArray(header) ? header[0] : header);
          const retryAfterMs = parseRetryAfter(raw, clock.now());
          return statusFailure(
            response.statusCode,
            body,
            context,
            raw !== undefined && retryAfterMs !== undefined ? { ms: retryAfterMs, raw } : undefined,
          );
        }
        const text = await readLimited(response.body, MAX_TOKEN_REPLY_BYTES).catch(() => undefined);
        if (text === null) {
          return {
            ok: false,
            retryable: false,
            reason: "oversized token reply",
            error: (attempts) =>
              new AtlasUnexpectedResponseError(
                `Atlas's token endpoint at ${this.options.baseUrl} answered 200 with more than ` +
                  `${MAX_TOKEN_REPLY_BYTES / 1024} KiB (a token reply is about 1 KB), so it was not read; check ` +
                  "atlas.baseUrl in the parameter file (ATLAS_BASE_URL) and any proxy on the way.",
                { status: 200, attempts },
              ),
          };
        }
        const reply = parseJsonObject(text) as { access_token?: unknown; expires_in?: unknown } | undefined;
        if (
          typeof reply?.access_token !== "string" ||
          reply.access_token === "" ||
          typeof reply.expires_in !== "number" ||
          !(reply.expires_in > 0)
        ) {
          return {
            ok: false,
            retryable: false,
            reason: "malformed token reply",
            error: (attempts) =>
              new AtlasUnexpectedResponseError(
                `Atlas's token endpoint at ${this.options.baseUrl} answered 200 without an access_token and a ` +
                  `positive expires_in; check atlas.baseUrl in the parameter file (ATLAS_BASE_URL).`,
                { status: 200, attempts },
              ),
          };
        }
        const lifetimeMs = reply.expires_in * 1000;
        const token = {
          accessToken: reply.access_token,
          expiresAtMs: requestedAt + lifetimeMs,
          refreshAtMs: requestedAt + lifetimeMs - refreshMargin(lifetimeMs),
        };
        this.redactor.addAuthorization(`Bearer ${token.accessToken}`);
        this.cache.tokens.set(this.key, token);
        const minted = (this.cache.minted.get(this.key) ?? []).filter((t) => t.expiresAtMs > requestedAt);
        minted.push(token);
        this.cache.minted.set(this.key, minted.slice(-MAX_MINTED));
        return { ok: true, value: token };
      },
      { ...this.options.retry, signal },
    );
  }
}

/**
 * A response body as text, or `null` when it is longer than `limit` bytes (then the rest is not
 * read: the body is destroyed).
 */
async function readLimited(body: Dispatcher.ResponseData["body"], limit: number): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      discard(body);
      return null;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function parseJsonObject(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === "object" ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
