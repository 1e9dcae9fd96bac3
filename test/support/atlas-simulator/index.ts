/**
 * A loopback HTTP server that behaves like MongoDB Atlas for the Stream Processing audit-log download
 * endpoint, written from the project's protocol facts. It is deliberately strict: whatever a real Atlas
 * would reject, it rejects, so client bugs show up in tests.
 *
 * Error `errorCode`s other than `RATE_LIMITED_TOKEN_BUCKET` and `IP_ADDRESS_NOT_ON_ACCESS_LIST` (the
 * `accessList` option: Atlas's 403 for a caller outside the API access list, with the address in
 * `detail` and `parameters`) are the simulator's own plausible choices.
 *
 * Per-attempt faults (see {@link Fault}; queued FIFO with `times` and `match`) play a hostile Atlas:
 * error statuses with any `Retry-After` (delay-seconds, HTTP dates, huge values: sent verbatim, and
 * no timer overflows), resets before the headers or mid-body, truncated bodies, stalls before the
 * headers or mid-body (of any length; `close()` ends them), wrong content types, HTML bodies,
 * expired tokens, stale nonces, and:
 *
 * - `trickle-body`: the body a few bytes every `everyMs`, so no single silence is long but the whole is;
 * - `transfer-coding`: `Transfer-Encoding: gzip, chunked` with the gzip log gzipped again;
 * - `echo-credentials`: an error whose text (and `x-echo` header) leaks the client's credentials
 *   verbatim, on the token endpoint or a download, to test that clients redact server text;
 * - `huge-token-response`: a streamed token response of any size (e.g. 200 MB) at no memory cost.
 *
 * {@link AtlasSimulator.liveTokens} counts tokens neither revoked nor expired, to prove a client
 * revoked every token it minted; a revoke request's {@link RequestRecord} names the token it revoked
 * (`revokedToken`) and whether that token was still live (`revokedLive`). `expires_in` is exactly
 * `tokenTtlSeconds` (fractions too).
 *
 * @example
 * ```ts
 * const atlas = await startAtlasSimulator();
 * try {
 *   // ... run the client against atlas.baseUrl with DEFAULT_SERVICE_ACCOUNT ...
 * } finally {
 *   await atlas.close();
 * }
 * ```
 */
export { DEFAULT_API_KEY, DEFAULT_SERVICE_ACCOUNT, DIGEST_REALM, EMPTY_GZIP } from "./defaults";
export { expectedLines } from "./lines";
export { startAtlasSimulator } from "./server";
export type {
  ApiKey,
  AtlasSimulator,
  AuditLogRequest,
  Fault,
  FaultRule,
  RequestRecord,
  ServiceAccount,
  SimulatorOptions,
} from "./types";
