/**
 * OAuth 2.0 client-credentials tokens for Atlas service accounts, cached per process so that
 * calls and warm Lambda invocations share one token (a service account may hold at most 100
 * live tokens).
 */
import { createHash } from "node:crypto";
import type { Dispatcher } from "undici";
import { AtlasUnexpectedResponseError } from "./errors";
import { readErrorBody, statusFailure, transportFailure } from "./responses";
import { parseRetryAfter, type RetryContext, retrying } from "./retry";

/** A service account's credentials, exactly as Atlas shows them. */
export interface ServiceAccountCredentials {
  readonly clientId: string;
  readonly clientSecret: string;
}

interface CachedToken {
  readonly accessToken: string;
  readonly expiresAtMs: number;
}

/**
 * Where tokens live between calls. One per process ({@link processTokenCache}) is the normal
 * case; tests make their own.
 */
export class TokenCache {
  readonly tokens = new Map<string, CachedToken>();
  readonly inflight = new Map<string, Promise<CachedToken>>();
}

/** The process-wide token cache: survives across calls and warm Lambda invocations. */
export const processTokenCache = new TokenCache();

/**
 * Refresh this long before the token's stated expiry, so a token never expires between the
 * cache check and the end of a request's headers.
 */
const EXPIRY_MARGIN_MS = 5 * 60_000;

/** What {@link OAuthTokenSource} needs. */
export interface OAuthTokenSourceOptions {
  readonly baseUrl: string;
  readonly credentials: ServiceAccountCredentials;
  readonly dispatcher: Dispatcher;
  readonly retry: Omit<RetryContext, "signal">;
  readonly headersTimeoutMs: number;
  readonly userAgent: string;
  readonly cache?: TokenCache;
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

  constructor(private readonly options: OAuthTokenSourceOptions) {
    this.cache = options.cache ?? processTokenCache;
    // The key identifies the account without keeping the secret in a readable form.
    this.key = createHash("sha256")
      .update(`${options.baseUrl}\0${options.credentials.clientId}\0${options.credentials.clientSecret}`)
      .digest("hex");
  }

  /** A valid access token: the cached one, or a new one (one request even when many ask at once). */
  async token(signal?: AbortSignal): Promise<string> {
    const cached = this.cache.tokens.get(this.key);
    if (cached && cached.expiresAtMs - EXPIRY_MARGIN_MS > this.options.retry.clock.now()) {
      return cached.accessToken;
    }
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
  }

  /**
   * Revokes the cached token, if any. Short-lived callers (the CLI) do this when done so that
   * frequent runs never approach the 100-live-token limit. Best effort: failures are ignored.
   */
  async revoke(): Promise<void> {
    const cached = this.cache.tokens.get(this.key);
    if (!cached) return;
    this.cache.tokens.delete(this.key);
    try {
      const response = await this.options.dispatcher.request({
        origin: this.options.baseUrl,
        path: "/api/oauth/revoke",
        method: "POST",
        headers: this.formHeaders(),
        body: new URLSearchParams({ token: cached.accessToken, token_type_hint: "access_token" }).toString(),
        headersTimeout: this.options.headersTimeoutMs,
      });
      await response.body.dump();
    } catch {
      // The token expires within the hour anyway.
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
            origin: this.options.baseUrl,
            path: "/api/oauth/token",
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
          const body = await readErrorBody(response.body);
          const retryAfterMs = parseRetryAfter(response.headers["retry-after"], clock.now());
          return statusFailure(response.statusCode, body, context, retryAfterMs);
        }
        const reply = (await response.body.json().catch(() => undefined)) as
          | { access_token?: unknown; expires_in?: unknown }
          | undefined;
        if (typeof reply?.access_token !== "string" || typeof reply.expires_in !== "number") {
          return {
            ok: false,
            retryable: false,
            reason: "malformed token reply",
            error: (attempts) =>
              new AtlasUnexpectedResponseError(
                `Atlas's token endpoint at ${this.options.baseUrl} answered 200 without an access_token and ` +
                  `expires_in; check atlas.baseUrl in the parameter file (ATLAS_BASE_URL).`,
                { status: 200, attempts },
              ),
          };
        }
        const token = { accessToken: reply.access_token, expiresAtMs: requestedAt + reply.expires_in * 1000 };
        this.cache.tokens.set(this.key, token);
        return { ok: true, value: token };
      },
      { ...this.options.retry, signal },
    );
  }
}
