/** OAuth 2.0 client credentials for service accounts: token issue, check, revoke. */
import { randomBytes } from "node:crypto";
import { jsonResponse, type Outgoing } from "./http";
import type { ServiceAccount } from "./types";

interface TokenState {
  clientId: string;
  expiresAt: number;
  revoked: boolean;
}

/** Issued access tokens, their lifetime and the per-account cap on live tokens. */
export class TokenStore {
  private readonly tokens = new Map<string, TokenState>();
  private issuedCount = 0;

  constructor(
    private readonly ttlSeconds: number,
    private readonly maxLive: number,
  ) {}

  get issued(): number {
    return this.issuedCount;
  }

  /** Tokens issued and neither revoked nor expired, over all accounts. */
  get live(): number {
    const now = performance.now();
    let live = 0;
    for (const state of this.tokens.values()) if (!state.revoked && state.expiresAt > now) live++;
    return live;
  }

  /** A new token for `clientId`, or undefined when it already holds `maxLive` live tokens. */
  issue(clientId: string): string | undefined {
    const now = performance.now();
    let live = 0;
    for (const [token, state] of this.tokens) {
      if (state.revoked || state.expiresAt <= now) this.tokens.delete(token);
      else if (state.clientId === clientId) live++;
    }
    if (live >= this.maxLive) return undefined;
    const token = randomBytes(32).toString("base64url");
    this.tokens.set(token, { clientId, expiresAt: now + this.ttlSeconds * 1000, revoked: false });
    this.issuedCount++;
    return token;
  }

  /** Whether a presented token is usable. Revoked and expired tokens are both "expired". */
  check(token: string): "live" | "expired" | "unknown" {
    const state = this.tokens.get(token);
    if (!state) return "unknown";
    return state.revoked || state.expiresAt <= performance.now() ? "expired" : "live";
  }

  /** Kill a token; with `clientId`, only if that account owns it. True when it was live until now. */
  revoke(token: string, clientId?: string): boolean {
    const state = this.tokens.get(token);
    if (!state || (clientId !== undefined && state.clientId !== clientId)) return false;
    const wasLive = !state.revoked && state.expiresAt > performance.now();
    state.revoked = true;
    return wasLive;
  }
}

/** An OAuth error response (RFC 6749 §5.2); a 401 carries a Basic challenge. */
export function oauthError(
  status: number,
  error: string,
  description: string,
  extraHeaders: Record<string, string> = {},
): Outgoing {
  const headers = status === 401 ? { "www-authenticate": 'Basic realm="MongoDB Atlas"' } : {};
  return jsonResponse(status, { error, error_description: description }, { ...headers, ...extraHeaders });
}

/** The account a `Basic` header names with its exact raw credentials, or an OAuth error response. */
function authenticateClient(authorization: string | undefined, accounts: readonly ServiceAccount[]) {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? "");
  if (!match?.[1]) {
    return oauthError(401, "invalid_client", "Send Authorization: Basic base64(clientId:clientSecret).");
  }
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  const id = colon === -1 ? decoded : decoded.slice(0, colon);
  const secret = colon === -1 ? "" : decoded.slice(colon + 1);
  const account = accounts.find((a) => a.clientId === id && a.clientSecret === secret);
  if (account) return account;
  let hint = "";
  try {
    const raw = [decodeURIComponent(id), decodeURIComponent(secret)];
    if (
      accounts.some((a) => a.clientId === raw[0] && a.clientSecret === raw[1]) &&
      `${id}${secret}`.includes("%")
    ) {
      hint = " The credentials look percent-encoded: build the header from the raw clientId and secret.";
    }
  } catch {
    // not percent-encoded at all
  }
  return oauthError(401, "invalid_client", `Invalid client credentials.${hint}`);
}

function parseForm(contentType: string | undefined, body: string): URLSearchParams | Outgoing {
  const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") {
    return oauthError(
      400,
      "invalid_request",
      `Content-Type ${contentType ?? "(none)"} is not application/x-www-form-urlencoded.`,
    );
  }
  return new URLSearchParams(body);
}

/** What the OAuth endpoints need from a request. */
export interface OAuthInput {
  authorization?: string;
  contentType?: string;
  body: string;
}

/** `POST /api/oauth/token` with `grant_type=client_credentials`. */
export function tokenEndpoint(
  input: OAuthInput,
  accounts: readonly ServiceAccount[],
  store: TokenStore,
  ttlSeconds: number,
): Outgoing {
  const account = authenticateClient(input.authorization, accounts);
  if ("status" in account) return account;
  const form = parseForm(input.contentType, input.body);
  if (!(form instanceof URLSearchParams)) return form;
  const grants = form.getAll("grant_type");
  if (grants.length !== 1) return oauthError(400, "invalid_request", "Send exactly one grant_type.");
  if (grants[0] !== "client_credentials") {
    return oauthError(400, "unsupported_grant_type", `grant_type=${grants[0]} is not supported.`);
  }
  const token = store.issue(account.clientId);
  if (token === undefined) {
    return oauthError(
      403,
      "access_denied",
      "Too many live access tokens for this service account; reuse or revoke one.",
    );
  }
  return jsonResponse(
    200,
    { access_token: token, token_type: "Bearer", expires_in: ttlSeconds },
    { "cache-control": "no-store", pragma: "no-cache" },
  );
}

/** `POST /api/oauth/revoke` with `token=...&token_type_hint=access_token`. */
export function revokeEndpoint(
  input: OAuthInput,
  accounts: readonly ServiceAccount[],
  store: TokenStore,
  onRevoke?: (token: string, wasLive: boolean) => void,
): Outgoing {
  const account = authenticateClient(input.authorization, accounts);
  if ("status" in account) return account;
  const form = parseForm(input.contentType, input.body);
  if (!(form instanceof URLSearchParams)) return form;
  const tokens = form.getAll("token");
  if (tokens.length !== 1 || !tokens[0]) return oauthError(400, "invalid_request", "Send exactly one token.");
  const hint = form.get("token_type_hint");
  if (hint !== null && hint !== "access_token") {
    return oauthError(400, "unsupported_token_type", `token_type_hint=${hint} is not supported.`);
  }
  onRevoke?.(tokens[0], store.revoke(tokens[0], account.clientId));
  return { status: 200, headers: {}, body: Buffer.alloc(0) };
}
