import type { ApiKey, ServiceAccount } from "./types";

/** What Atlas sends for a window without events: one empty gzip member, 23 bytes. */
export const EMPTY_GZIP: Buffer = Buffer.from("H4sIAAAAAAAA/wEAAP//AAAAAAAAAAA=", "base64");

/** The service account the simulator accepts by default (the `_`s catch clients that form-encode it). */
export const DEFAULT_SERVICE_ACCOUNT: ServiceAccount = {
  clientId: "mdb_sa_id_0123456789abcdef01234567",
  clientSecret: "mdb_sa_sk_demo_secret",
};

/** The API key the simulator accepts by default. */
export const DEFAULT_API_KEY: ApiKey = {
  publicKey: "abcdefgh",
  privateKey: "00000000-1111-2222-3333-444444444444",
};

/** The realm Atlas puts in its Digest challenges. */
export const DIGEST_REALM = "MMS Public API";

/** API versions the simulator accepts in `Accept` by default. */
export const DEFAULT_API_VERSIONS: readonly string[] = ["2023-02-01", "2025-02-19"];

/** The longest window Atlas is asked for (the archiver keeps every request within 30 days). */
export const MAX_RANGE_SECONDS = 30 * 24 * 3600;
