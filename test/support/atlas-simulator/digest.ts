/** HTTP Digest (RFC 7616, qop=auth) as Atlas does it for API keys, verified with node:crypto. */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { DIGEST_REALM } from "./defaults";
import type { ApiKey } from "./types";

export type DigestAlgorithm = "MD5" | "SHA-256";

/** The outcome of checking an `Authorization: Digest ...` header. */
export type DigestResult =
  | { ok: true; publicKey: string; nonce: string }
  | { ok: false; stale: boolean; reason: string };

interface NonceState {
  issuedAt: number;
  lastNc: number;
  expired: boolean;
}

/**
 * Split the parameters of an auth header (`a="x", b=y`) into a map; undefined when malformed.
 *
 * @example
 * ```ts
 * parseAuthParams('username="k", nc=00000001'); // Map { "username" => "k", "nc" => "00000001" }
 * ```
 */
export function parseAuthParams(input: string): Map<string, string> | undefined {
  const params = new Map<string, string>();
  const pattern = /\s*([A-Za-z0-9_*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s",]*))\s*(,|$)/y;
  let index = 0;
  while (index < input.length) {
    pattern.lastIndex = index;
    const match = pattern.exec(input);
    if (!match || match[0].length === 0) return undefined;
    const name = (match[1] ?? "").toLowerCase();
    if (params.has(name)) return undefined;
    params.set(name, match[2] !== undefined ? match[2].replace(/\\(.)/g, "$1") : (match[3] ?? ""));
    index = pattern.lastIndex;
  }
  return params;
}

function hash(algorithm: DigestAlgorithm, value: string): string {
  return createHash(algorithm === "MD5" ? "md5" : "sha256")
    .update(value, "utf8")
    .digest("hex");
}

/** Issues nonces and checks Digest responses against the configured API keys. */
export class DigestAuthority {
  private readonly nonces = new Map<string, NonceState>();
  private readonly keys: ReadonlyMap<string, string>;

  constructor(
    keys: readonly ApiKey[],
    readonly algorithm: DigestAlgorithm,
    private readonly nonceTtlMs: number,
  ) {
    this.keys = new Map(keys.map((k) => [k.publicKey, k.privateKey]));
  }

  /** A `WWW-Authenticate` value with a new nonce. */
  challenge(stale: boolean): string {
    this.prune();
    const nonce = randomBytes(24).toString("base64");
    this.nonces.set(nonce, { issuedAt: performance.now(), lastNc: 0, expired: false });
    return (
      `Digest realm="${DIGEST_REALM}", domain="", nonce="${nonce}", ` +
      `algorithm=${this.algorithm}, qop="auth", stale=${stale}`
    );
  }

  /** Treat a nonce as expired: its next use gets `stale=true`. */
  expire(nonce: string): void {
    const state = this.nonces.get(nonce);
    if (state) state.expired = true;
  }

  /** Check the parameters of an `Authorization: Digest` header for `method` and the raw request `uri`. */
  verify(header: string, method: string, uri: string): DigestResult {
    const fail = (reason: string, stale = false): DigestResult => ({ ok: false, stale, reason });
    const p = parseAuthParams(header);
    if (!p) return fail("the Digest header is malformed");
    const required = ["username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce"];
    const missing = required.filter((name) => !p.get(name));
    if (missing.length > 0) return fail(`the Digest header lacks ${missing.join(", ")}`);
    const get = (name: string): string => p.get(name) ?? "";

    const algorithm = p.get("algorithm") ?? "MD5";
    if (algorithm !== this.algorithm) {
      return fail(`algorithm=${algorithm} does not match the challenge's ${this.algorithm}`);
    }
    if (get("realm") !== DIGEST_REALM) return fail(`realm must be "${DIGEST_REALM}"`);
    if (get("qop") !== "auth") return fail(`qop=${get("qop")} is not supported; use qop=auth`);
    const password = this.keys.get(get("username"));
    if (password === undefined) return fail("unknown API key");

    const nonce = get("nonce");
    const state = this.nonces.get(nonce);
    if (!state) return fail("unknown nonce");
    const ncText = get("nc");
    if (!/^[0-9a-fA-F]{8}$/.test(ncText)) return fail(`nc=${ncText} must be 8 hex digits`);
    if (get("uri") !== uri) return fail(`uri="${get("uri")}" is not the request's path and query "${uri}"`);

    const ha1 = hash(this.algorithm, `${get("username")}:${DIGEST_REALM}:${password}`);
    const ha2 = hash(this.algorithm, `${method}:${uri}`);
    const expected = Buffer.from(
      hash(this.algorithm, `${ha1}:${nonce}:${ncText}:${get("cnonce")}:auth:${ha2}`),
    );
    const actual = Buffer.from(get("response"));
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
      return fail("the response does not match (wrong key, method or uri)");
    }
    // stale=true only for an otherwise valid response (RFC 7616 section 3.3).
    if (state.expired || performance.now() - state.issuedAt > this.nonceTtlMs) {
      state.expired = true;
      return fail("the nonce is stale", true);
    }
    const nc = Number.parseInt(ncText, 16);
    if (nc <= state.lastNc) return fail(`nc=${ncText} was already used with this nonce (replay)`);
    state.lastNc = nc;
    return { ok: true, publicKey: get("username"), nonce };
  }

  /** Forget nonces long past their lifetime (expired ones stay known a while, to answer stale=true). */
  private prune(): void {
    const horizon = performance.now() - Math.max(this.nonceTtlMs * 10, 600_000);
    for (const [nonce, state] of this.nonces) if (state.issuedAt < horizon) this.nonces.delete(nonce);
  }
}
