/**
 * The two ways to authenticate to the Atlas Admin API, chosen by the secret's shape: a service
 * account (OAuth bearer token) or a legacy API key (HTTP Digest).
 */

import { SECRET_PLACEHOLDER } from "../config";
import { DigestSession, parseDigestChallenge } from "./digest";
import { AtlasCredentialsError, AtlasUnauthorizedError } from "./errors";
import { OAuthTokenSource, type OAuthTokenSourceOptions } from "./oauth";

/** Atlas credentials, as stored in the secret (JSON) or given through the environment. */
export type AtlasCredentials =
  | { readonly kind: "service-account"; readonly clientId: string; readonly clientSecret: string }
  | { readonly kind: "api-key"; readonly publicKey: string; readonly privateKey: string };

/**
 * Reads credentials from a secret's JSON: `{"clientId","clientSecret"}` for a service account
 * or `{"publicKey","privateKey"}` for an API key. `source` names where it came from, for the
 * error message; values are never echoed, only the key names found.
 *
 * @example parseAtlasCredentials('{"clientId":"mdb_sa_id_…","clientSecret":"…"}', "secret atlas/archiver")
 */
export function parseAtlasCredentials(secret: unknown, source: string): AtlasCredentials {
  let value = secret;
  if (typeof secret === "string") {
    try {
      value = JSON.parse(secret);
    } catch {
      throw new AtlasCredentialsError(
        `${source} is not JSON. Store {"clientId": "...", "clientSecret": "..."} for a service account, ` +
          `or {"publicKey": "...", "privateKey": "..."} for an API key.`,
      );
    }
  }
  const o = (value && typeof value === "object" ? value : {}) as Record<string, unknown>;
  if (Object.values(o).includes(SECRET_PLACEHOLDER)) {
    throw new AtlasCredentialsError(
      `${source} still holds the placeholder "${SECRET_PLACEHOLDER}" that the stack created it with. Store the ` +
        `real credentials: {"clientId", "clientSecret"} of a service account, or {"publicKey", "privateKey"} of an API key.`,
    );
  }
  const has = (k: string) => typeof o[k] === "string" && (o[k] as string).length > 0;
  if (has("clientId") && has("clientSecret")) {
    return {
      kind: "service-account",
      clientId: o.clientId as string,
      clientSecret: o.clientSecret as string,
    };
  }
  if (has("publicKey") && has("privateKey")) {
    return { kind: "api-key", publicKey: o.publicKey as string, privateKey: o.privateKey as string };
  }
  const found = Object.keys(o).sort();
  throw new AtlasCredentialsError(
    `${source} holds no usable Atlas credentials (keys found: ${found.length ? found.join(", ") : "none"}). ` +
      `Store non-empty strings as {"clientId", "clientSecret"} (service account, recommended) or ` +
      `{"publicKey", "privateKey"} (API key).`,
  );
}

/** What the client tells an authenticator about a 401. */
export interface UnauthorizedInfo {
  /** The Authorization header value that was refused, if one was sent. */
  readonly sentAuthorization: string | undefined;
  readonly wwwAuthenticate: string | string[] | undefined;
  /** How many times credentials were sent and refused for this request so far (this one included). */
  readonly refusals: number;
}

/** Produces Authorization headers and recovers from 401s. */
export interface AtlasAuthenticator {
  /** "service account" or "API key", for messages. */
  readonly kind: string;
  /** The header for a request, or `undefined` to send none (Digest before its first challenge). */
  authorization(method: string, pathAndQuery: string, signal?: AbortSignal): Promise<string | undefined>;
  /** Prepares fresh credentials after a 401; resolves `true` when trying again may succeed. */
  onUnauthorized(info: UnauthorizedInfo): Promise<boolean>;
  /** Releases what the authenticator holds (revokes a service-account token). */
  close(): Promise<void>;
  /**
   * Gets ready before the first request: reads the credentials and, where that costs no download,
   * checks them (a service account gets its token). Throws the credentials error, if any.
   */
  prepare?(signal?: AbortSignal): Promise<void>;
}

/** Bearer tokens from a service account: one token refresh per request on 401. */
export class ServiceAccountAuthenticator implements AtlasAuthenticator {
  readonly kind = "service account";

  constructor(readonly tokens: OAuthTokenSource) {}

  async authorization(_method: string, _path: string, signal?: AbortSignal): Promise<string> {
    return `Bearer ${await this.tokens.token(signal)}`;
  }

  async prepare(signal?: AbortSignal): Promise<void> {
    await this.tokens.token(signal);
  }

  async onUnauthorized(info: UnauthorizedInfo): Promise<boolean> {
    if (info.sentAuthorization?.startsWith("Bearer ")) {
      this.tokens.invalidate(info.sentAuthorization.slice("Bearer ".length));
    }
    return info.refusals <= 1;
  }

  close(): Promise<void> {
    return this.tokens.revoke();
  }
}

/**
 * HTTP Digest with an API key. The challenge is kept and reused with an increasing nonce count,
 * so only the first request (and one after the nonce goes stale) costs a 401 round trip.
 */
export class ApiKeyAuthenticator implements AtlasAuthenticator {
  readonly kind = "API key";
  private session: DigestSession | undefined;

  constructor(
    private readonly credentials: { readonly publicKey: string; readonly privateKey: string },
    private readonly randomBytes?: (n: number) => Buffer,
  ) {}

  async authorization(method: string, pathAndQuery: string): Promise<string | undefined> {
    return this.session?.authorization(method, pathAndQuery);
  }

  async onUnauthorized(info: UnauthorizedInfo): Promise<boolean> {
    const challenge = parseDigestChallenge(info.wwwAuthenticate);
    if (!challenge) return false;
    this.session = new DigestSession(
      { username: this.credentials.publicKey, password: this.credentials.privateKey },
      challenge,
      this.randomBytes,
    );
    // A stale nonce is not a refusal of the key; a fresh challenge after a refusal gets one more
    // try (the nonce may simply have been retired), a second refusal is final.
    return challenge.stale || info.refusals <= 1;
  }

  async close(): Promise<void> {}
}

/**
 * Where credentials come from when they can change while the process lives (a rotated secret):
 * `current()` may serve a cached copy, `refresh()` reads the source again.
 */
export interface CredentialsSource {
  current(): Promise<AtlasCredentials>;
  refresh(): Promise<AtlasCredentials>;
}

function sameCredentials(a: AtlasCredentials, b: AtlasCredentials): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Follows secret rotation: when Atlas refuses the credentials for good, it reads the source
 * again and, if the secret changed, carries on with the new credentials.
 */
export class RotatingAuthenticator implements AtlasAuthenticator {
  private inner:
    | { credentials: AtlasCredentials; authenticator: AtlasAuthenticator; refusalsBefore: number }
    | undefined;

  constructor(
    private readonly source: CredentialsSource,
    private readonly build: (credentials: AtlasCredentials) => AtlasAuthenticator,
  ) {}

  get kind(): string {
    return this.inner?.authenticator.kind ?? "credentials";
  }

  private async current() {
    if (!this.inner) {
      const credentials = await this.source.current();
      this.inner ??= { credentials, authenticator: this.build(credentials), refusalsBefore: 0 };
    }
    return this.inner;
  }

  async prepare(signal?: AbortSignal): Promise<void> {
    const { authenticator } = await this.current();
    try {
      await authenticator.prepare?.(signal);
    } catch (err) {
      // The token endpoint refused a service account: the secret may have been rotated.
      if (!(err instanceof AtlasUnauthorizedError) || !(await this.reload(authenticator))) throw err;
      await (await this.current()).authenticator.prepare?.(signal);
    }
  }

  async authorization(
    method: string,
    pathAndQuery: string,
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    const { authenticator } = await this.current();
    try {
      return await authenticator.authorization(method, pathAndQuery, signal);
    } catch (err) {
      // The token endpoint refused a service account: the secret may have been rotated.
      if (!(err instanceof AtlasUnauthorizedError) || !(await this.reload(authenticator))) throw err;
      return (await this.current()).authenticator.authorization(method, pathAndQuery, signal);
    }
  }

  async onUnauthorized(info: UnauthorizedInfo): Promise<boolean> {
    const { authenticator, refusalsBefore } = await this.current();
    // The new credentials' own refusals count from zero: the old ones' do not weigh on them.
    const own = { ...info, refusals: Math.max(0, info.refusals - refusalsBefore) };
    return (await authenticator.onUnauthorized(own)) || this.reload(authenticator, info.refusals);
  }

  /**
   * Reads the source again after `refused` was refused; true when the credentials in use are
   * now different (another request may have switched them already).
   */
  private async reload(refused: AtlasAuthenticator, refusals = 0): Promise<boolean> {
    if (this.inner?.authenticator !== refused) return true;
    const fresh = await this.source.refresh();
    const inner = this.inner;
    if (inner.authenticator !== refused) return true;
    if (sameCredentials(fresh, inner.credentials)) return false;
    this.inner = { credentials: fresh, authenticator: this.build(fresh), refusalsBefore: refusals };
    await refused.close();
    return true;
  }

  async close(): Promise<void> {
    await this.inner?.authenticator.close();
  }
}

/** Everything needed to build an authenticator besides the credentials. */
export type AuthenticatorOptions = Omit<OAuthTokenSourceOptions, "credentials">;

/** The authenticator for a pair of credentials, or for a source that may rotate them. */
export function createAuthenticator(
  credentials: AtlasCredentials | CredentialsSource,
  options: AuthenticatorOptions,
): AtlasAuthenticator {
  if (!("kind" in credentials)) {
    return new RotatingAuthenticator(credentials, (fixed) => createAuthenticator(fixed, options));
  }
  if (credentials.kind === "service-account") {
    return new ServiceAccountAuthenticator(new OAuthTokenSource({ ...options, credentials }));
  }
  options.redactor?.addCredential(credentials.privateKey);
  return new ApiKeyAuthenticator(credentials);
}
