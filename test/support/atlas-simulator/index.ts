/**
 * A loopback HTTP server that behaves like MongoDB Atlas for the Stream Processing audit-log download
 * endpoint, written from the project's protocol facts. It is deliberately strict: whatever a real Atlas
 * would reject, it rejects, so client bugs show up in tests.
 *
 * Error `errorCode`s other than `RATE_LIMITED_TOKEN_BUCKET` are the simulator's own plausible choices.
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
