/** Public types of the Atlas simulator (see `index.ts`). */

/** Credentials of an Atlas service account (OAuth 2.0 client credentials). */
export interface ServiceAccount {
  clientId: string;
  clientSecret: string;
}

/** A legacy Atlas programmatic API key (HTTP Digest: username = publicKey, password = privateKey). */
export interface ApiKey {
  publicKey: string;
  privateKey: string;
}

/** One parsed download request; dates are epoch seconds, `spName` is absent for "all processors". */
export interface AuditLogRequest {
  groupId: string;
  tenantName: string;
  spName?: string;
  startDate: number;
  endDate: number;
}

/** How the simulator behaves; every field has a default. */
export interface SimulatorOptions {
  /** Accepted service accounts; default `[DEFAULT_SERVICE_ACCOUNT]`. */
  serviceAccounts?: ServiceAccount[];
  /** Accepted API keys; default `[DEFAULT_API_KEY]`. */
  apiKeys?: ApiKey[];
  /** Digest algorithm offered in challenges; default `"MD5"`. */
  digestAlgorithm?: "MD5" | "SHA-256";
  /** Nonce lifetime; an older nonce gets 401 with `stale=true`. Default 60 000. */
  nonceTtlMs?: number;
  /** Access-token lifetime (fractions allowed, for tests). Default 3600. */
  tokenTtlSeconds?: number;
  /** Live tokens one service account may hold; one more gets 403 `access_denied`. Default 100. */
  maxLiveTokens?: number;
  /**
   * The API access list of every key and service account: when given, an authenticated download
   * from an address not on it (the loopback client's is `127.0.0.1`) gets Atlas's 403
   * `IP_ADDRESS_NOT_ON_ACCESS_LIST` ApiError, `parameters` naming the address. Token requests are
   * not refused. Default: no access list.
   */
  accessList?: string[];
  /** When given, only these workspaces exist (others get 404); default: every valid one exists. */
  workspaces?: Array<{ groupId: string; tenantName: string }>;
  /** Lines in a window's log; default: deterministic from the request, about 1 window in 5 empty. */
  linesPerWindow?: (req: AuditLogRequest) => number;
  /** Raw gzip bytes to send instead of the default body (e.g. a huge log); undefined: the default. */
  body?: (req: AuditLogRequest) => NodeJS.ReadableStream | Buffer | undefined;
  /** Token bucket per groupId; `retryAfterSeconds` defaults to 1, `null` omits `Retry-After`. */
  rateLimit?: { capacity: number; refillPerSecond: number; retryAfterSeconds?: number | null };
  /** Delay before the response headers of every download. */
  latencyMs?: number;
  /** Throttle of download body bytes (WAN-like). */
  bytesPerSecond?: number;
  /** Send `application/gzip` (Atlas 2025 to mid-2026) instead of the versioned type. */
  legacyContentType?: boolean;
  /** API versions accepted in `Accept`; default `["2023-02-01", "2025-02-19"]`. */
  supportedApiVersions?: string[];
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
}

/** Something going wrong on purpose, consumed by the next matching attempt. */
export type Fault =
  /** An ApiError JSON response; `retryAfter` sets the `Retry-After` header verbatim. */
  | { kind: "status"; status: number; errorCode?: string; detail?: string; retryAfter?: number | string }
  /** Reset the connection without any response. */
  | { kind: "reset-before-headers" }
  /** Send the headers and `afterBytes` (default 10) body bytes, then close the connection. */
  | { kind: "reset-mid-body"; afterBytes?: number }
  /** Send only `keepBytes` body bytes (default: all but the 8-byte gzip trailer) and end cleanly, chunked. */
  | { kind: "truncate-body"; keepBytes?: number }
  /** Wait before sending the headers. */
  | { kind: "stall-headers"; ms: number }
  /** Pause after `afterBytes` (default 10) body bytes. */
  | { kind: "stall-body"; ms: number; afterBytes?: number }
  /** Send a different `Content-Type` (default `text/html; charset=utf-8`); the body is unchanged. */
  | { kind: "wrong-content-type"; contentType?: string }
  /** A 200 with the gzip content type but an HTML body. */
  | { kind: "not-gzip" }
  /** The bearer token presented is treated as expired: 401, and the token is dead from now on. */
  | { kind: "expire-token" }
  /** The digest nonce presented is treated as stale: 401 with a fresh challenge and `stale=true`. */
  | { kind: "stale-nonce" }
  /**
   * Send the body in pieces of `bytesPerChunk` (default 1) bytes (the last may be shorter), one piece
   * every `everyMs` (the first right after the headers), chunked (no `Content-Length`): no single
   * silence is long, but the whole body takes long. Applies to whatever response the attempt gets;
   * stops when the client goes away or the simulator closes.
   */
  | { kind: "trickle-body"; everyMs: number; bytesPerChunk?: number }
  /**
   * Declare `Transfer-Encoding: <coding>, chunked` (default coding `gzip`; no `Content-Length`) and
   * encode the body with it, as a server applying that transfer coding would: for `gzip` (and
   * `x-gzip`) the normal gzip log is gzip-compressed AGAIN; `deflate` (zlib) and `br` compress it
   * too; any other token (e.g. `identity`, `x-custom`) is declared with the body unchanged.
   */
  | { kind: "transfer-coding"; coding?: string }
  /**
   * Answer an error `status` (default 401 on the token endpoint, 400 on a download; 400..599) whose
   * text echoes the client's credentials verbatim: the whole `Authorization` value, the credential
   * after the scheme (bearer token, Basic base64, Digest parameters), for Basic the decoded
   * `clientId:clientSecret` and the bare clientSecret, for Digest its `response=` value, and on the
   * token endpoint the request form body. The text is the ApiError `detail` of a download (a 401
   * still carries the Digest challenge) or the OAuth `error_description` of the token endpoint (a
   * 401 carries `WWW-Authenticate: Basic`); the response header `x-echo` carries the `Authorization`
   * value (empty without one). On a download it applies to authenticated attempts, like the others.
   */
  | { kind: "echo-credentials"; status?: number }
  /**
   * Token endpoint only (the rule's `match.endpoint` defaults to `"token"` for it): a 200
   * `application/json` token response of `bytes` bytes (at least the JSON's 60-odd fixed bytes):
   * `{"access_token":"AAAA…","token_type":"Bearer","expires_in":3600}`, streamed chunked (no
   * `Content-Length`) 64 KiB at a time, never held whole, so 200 MB cost nothing. No token is issued.
   */
  | { kind: "huge-token-response"; bytes: number };

/** A fault with a repeat count and a filter on the attempts it applies to. */
export interface FaultRule {
  fault: Fault;
  /** How many matching attempts consume it; default 1 (`Infinity` allowed). */
  times?: number;
  /**
   * Default endpoint `"download"` (`"token"` for `huge-token-response`, which applies there only).
   * `startDate` (epoch seconds, as a download's query sends it) picks one window's downloads.
   */
  match?: { endpoint?: "download" | "token"; groupId?: string; tenantName?: string; startDate?: number };
}

/** What the simulator saw and answered, one per HTTP request. */
export interface RequestRecord {
  /** `Date.now()` when the request arrived. */
  at: number;
  method: string;
  endpoint: "token" | "revoke" | "download" | "other";
  /** The raw path, without the query. */
  path: string;
  query: Record<string, string>;
  /** The status sent; 0 while nothing was sent, and for a connection reset before headers. */
  status: number;
  /** The scheme of the `Authorization` header (whether or not it was valid). */
  auth: "bearer" | "digest" | "basic" | "none";
  groupId?: string;
  tenantName?: string;
  fault?: Fault["kind"];
  /** The request arrived while a `Retry-After` the simulator sent for its group had not elapsed. */
  retryAfterViolation: boolean;
  /**
   * A revoke request the simulator accepted (200): the token its form named (RFC 7009 answers 200
   * for unknown tokens too).
   */
  revokedToken?: string;
  /** With {@link revokedToken}: whether that token was live (this account's, unrevoked, unexpired) until then. */
  revokedLive?: boolean;
}

/** A running simulator. */
export interface AtlasSimulator {
  /** `http://127.0.0.1:PORT`, without a trailing slash. */
  readonly baseUrl: string;
  /** Every request, in arrival order. */
  readonly requests: RequestRecord[];
  /** Queue faults (FIFO); each is consumed by the next attempt it matches. */
  inject(...rules: Array<FaultRule | Fault>): void;
  clearFaults(): void;
  /** Faults still queued (a rule with `times: n` counts n). */
  pendingFaults(): number;
  /** Access tokens issued so far. */
  tokensIssued(): number;
  /** Access tokens issued and not revoked nor expired, over all service accounts. */
  liveTokens(): number;
  /** Requests that arrived while a `Retry-After` sent for their group was still pending. */
  rateLimitViolations(): number;
  /** Stop listening and destroy every open connection (keep-alive, stalled bodies). */
  close(): Promise<void>;
}
