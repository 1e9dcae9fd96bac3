/**
 * HTTP Digest authentication (RFC 7616) for Atlas API keys.
 *
 * Atlas answers a request without credentials with 401 and
 * `WWW-Authenticate: Digest realm="MMS Public API", domain="", nonce="...", algorithm=MD5, qop="auth", stale=false`.
 * {@link parseDigestChallenge} reads that header, and a {@link DigestSession} answers it, reusing the
 * nonce with an increasing nonce count (`nc`) so that later requests need no extra 401 round-trip.
 *
 * Supported: MD5, SHA-256 and their `-sess` variants, with `qop=auth` or (RFC 2069) without qop.
 * Not supported: `qop=auth-int` (it hashes the request body) and SHA-512-256.
 *
 * Everything here is pure apart from the random client nonce, whose source can be injected.
 */
import { createHash, randomBytes as cryptoRandomBytes } from "node:crypto";
import type { ErrorKind } from "../errors";
import { AtlasError, type AtlasErrorOptions } from "./errors";

/** The algorithms this client can answer. */
export type DigestAlgorithm = "MD5" | "SHA-256" | "MD5-sess" | "SHA-256-sess";

/** A usable Digest challenge from a `WWW-Authenticate` header, with quoted values unescaped. */
export interface DigestChallenge {
  readonly realm: string;
  readonly nonce: string;
  /** `MD5` when the server named none. */
  readonly algorithm: DigestAlgorithm;
  /** `auth` when the server offered it; absent for an RFC 2069 challenge without qop. */
  readonly qop?: "auth";
  /** Echoed back unchanged in every Authorization header. */
  readonly opaque?: string;
  /** True when the server refused the previous request only because its nonce had expired. */
  readonly stale: boolean;
  readonly domain?: string;
}

/** The stable codes of {@link DigestError}. */
export type DigestErrorCode =
  /** Only Digest challenges with an algorithm or qop this client cannot answer were offered. */
  | "ATLAS_DIGEST_UNSUPPORTED"
  /** A Digest challenge lacks its realm or nonce. */
  | "ATLAS_DIGEST_INVALID_CHALLENGE"
  /** A value to send (method, uri, ...) cannot be put into a header. */
  | "ATLAS_DIGEST_INVALID_VALUE"
  /** The nonce count passed ffffffff: a new challenge is needed. */
  | "ATLAS_DIGEST_NONCE_EXHAUSTED";

/**
 * The kind of each {@link DigestErrorCode}: a challenge this client cannot answer is the server's
 * setup (no window of any workspace can be asked for with it); an exhausted nonce count needs only
 * a new challenge.
 */
const DIGEST_ERROR_KINDS: Readonly<Record<DigestErrorCode, ErrorKind>> = {
  ATLAS_DIGEST_UNSUPPORTED: "setup",
  ATLAS_DIGEST_INVALID_CHALLENGE: "setup",
  ATLAS_DIGEST_INVALID_VALUE: "permanent",
  ATLAS_DIGEST_NONCE_EXHAUSTED: "transient",
};

/** A Digest challenge cannot be answered. The message says what the server offered, never a secret. */
export class DigestError extends AtlasError {
  declare readonly code: DigestErrorCode;

  constructor(code: DigestErrorCode, message: string, options: AtlasErrorOptions = {}) {
    super(code, DIGEST_ERROR_KINDS[code], message, options);
  }
}

/** One challenge of a `WWW-Authenticate` header (or the credentials of an `Authorization` header). */
export interface AuthChallenge {
  /** The scheme as sent, e.g. `Digest`; compare case-insensitively. */
  readonly scheme: string;
  /** Parameters by lower-cased name, quoted values unescaped. The first of duplicate names wins. */
  readonly params: ReadonlyMap<string, string>;
  /** The token68 form some schemes use instead of parameters (e.g. `Basic dXNlcjpwYXNz`). */
  readonly token68?: string;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*/;

/**
 * Splits a `WWW-Authenticate` value into its challenges (RFC 9110 §11.6.1): commas separate both
 * challenges and parameters, and may appear inside quoted strings.
 *
 * @example
 * ```ts
 * parseAuthChallenges('Bearer realm="x", Digest realm="y", nonce="a,b"');
 * // [{ scheme: "Bearer", params: {realm: "x"} }, { scheme: "Digest", params: {realm: "y", nonce: "a,b"} }]
 * ```
 */
export function parseAuthChallenges(header: string): AuthChallenge[] {
  const challenges: AuthChallenge[] = [];
  let i = 0;

  const skip = (chars: string): void => {
    while (i < header.length && chars.includes(header[i] ?? "")) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < header.length && TCHAR.test(header[i] ?? "")) i++;
    return header.slice(start, i);
  };
  const readQuoted = (): string => {
    let value = "";
    for (i++; i < header.length; i++) {
      const c = header[i];
      if (c === '"') {
        i++;
        return value;
      }
      if (c === "\\" && i + 1 < header.length) i++;
      value += header[i];
    }
    return value; // Unterminated: keep what there is; the challenge is checked afterwards.
  };

  while (i < header.length) {
    skip(" \t,");
    if (i >= header.length) break;
    const scheme = readToken();
    if (scheme === "") {
      // Not a token where a scheme must start: skip to the next comma and resynchronise.
      while (i < header.length && header[i] !== ",") i++;
      continue;
    }
    const params = new Map<string, string>();
    let token68: string | undefined;
    skip(" \t");

    const t68 = TOKEN68.exec(header.slice(i))?.[0];
    if (t68 !== undefined && /^[ \t]*(,|$)/.test(header.slice(i + t68.length))) {
      token68 = t68;
      i += t68.length;
    } else {
      for (;;) {
        skip(" \t");
        const paramStart = i;
        const name = readToken();
        skip(" \t");
        if (name === "" || header[i] !== "=") {
          i = paramStart; // The next challenge's scheme, or the end.
          break;
        }
        i++;
        skip(" \t");
        const value = header[i] === '"' ? readQuoted() : readToken();
        const key = name.toLowerCase();
        if (!params.has(key)) params.set(key, value);
        skip(" \t");
        if (header[i] !== ",") break;
        skip(" \t,");
      }
    }
    challenges.push(token68 === undefined ? { scheme, params } : { scheme, params, token68 });
  }
  return challenges;
}

const ALGORITHMS: ReadonlyMap<string, DigestAlgorithm> = new Map([
  ["MD5", "MD5"],
  ["SHA-256", "SHA-256"],
  ["MD5-SESS", "MD5-sess"],
  ["SHA-256-SESS", "SHA-256-sess"],
]);

type Checked = { ok: true; challenge: DigestChallenge } | { ok: false; invalid: boolean; offered: string };

function checkDigest(params: ReadonlyMap<string, string>): Checked {
  const algorithmText = params.get("algorithm");
  const qopText = params.get("qop");
  const offered = `algorithm=${algorithmText ?? "(none, meaning MD5)"} qop=${qopText === undefined ? "(none)" : `"${qopText}"`}`;
  const realm = params.get("realm");
  const nonce = params.get("nonce");
  if (realm === undefined || nonce === undefined || nonce === "") {
    return {
      ok: false,
      invalid: true,
      offered: `${offered} without ${realm === undefined ? "realm" : "nonce"}`,
    };
  }
  const algorithm = ALGORITHMS.get((algorithmText ?? "MD5").toUpperCase());
  const qops = qopText?.split(",").map((q) => q.trim().toLowerCase());
  const qop = qops?.includes("auth") ? "auth" : undefined;
  if (algorithm === undefined || (qops !== undefined && qop === undefined)) {
    return { ok: false, invalid: false, offered };
  }
  // -sess hashes the client nonce, which RFC 2617 only sends with a qop.
  if (algorithm.endsWith("-sess") && qop === undefined) return { ok: false, invalid: false, offered };

  const opaque = params.get("opaque");
  const domain = params.get("domain");
  return {
    ok: true,
    challenge: {
      realm,
      nonce,
      algorithm,
      ...(qop === undefined ? {} : { qop }),
      ...(opaque === undefined ? {} : { opaque }),
      stale: params.get("stale")?.toLowerCase() === "true",
      ...(domain === undefined ? {} : { domain }),
    },
  };
}

/**
 * Finds the Digest challenge to answer in one or more `WWW-Authenticate` values: the first one, in
 * the server's order of preference (RFC 7616 §3.7), whose algorithm and qop this client supports.
 *
 * Returns `undefined` when no Digest challenge is offered at all (e.g. only `Bearer`), so the caller
 * can report that the server does not accept API keys. Throws {@link DigestError} when Digest is
 * offered but none of its challenges can be answered (`ATLAS_DIGEST_UNSUPPORTED`, e.g. only
 * `qop="auth-int"` or `algorithm=SHA-512-256`; `ATLAS_DIGEST_INVALID_CHALLENGE` without realm or
 * nonce), naming what was offered.
 *
 * @example
 * ```ts
 * parseDigestChallenge('Digest realm="MMS Public API", domain="", nonce="abc", algorithm=MD5, qop="auth", stale=false');
 * // { realm: "MMS Public API", nonce: "abc", algorithm: "MD5", qop: "auth", stale: false, domain: "" }
 * ```
 */
export function parseDigestChallenge(
  wwwAuthenticate: string | string[] | undefined,
): DigestChallenge | undefined {
  const values = wwwAuthenticate === undefined ? [] : [wwwAuthenticate].flat();
  const digests = values
    .flatMap(parseAuthChallenges)
    .filter((c) => c.scheme.toLowerCase() === "digest" && c.token68 === undefined);
  if (digests.length === 0) return undefined;

  const refused: Extract<Checked, { ok: false }>[] = [];
  for (const { params } of digests) {
    const checked = checkDigest(params);
    if (checked.ok) return checked.challenge;
    refused.push(checked);
  }
  const list = refused.map((r) => r.offered).join("; ");
  if (refused.every((r) => r.invalid)) {
    throw new DigestError(
      "ATLAS_DIGEST_INVALID_CHALLENGE",
      `The server's Digest challenge is incomplete (${list}). Check that baseUrl points at the Atlas Admin API.`,
    );
  }
  throw new DigestError(
    "ATLAS_DIGEST_UNSUPPORTED",
    `The server offered only Digest challenges this client cannot answer (${list}); supported are ` +
      "MD5, SHA-256, MD5-sess and SHA-256-sess with qop=auth. Use an Atlas service account instead of an API key.",
  );
}

function hasher(algorithm: DigestAlgorithm): (text: string) => string {
  const name = algorithm.startsWith("SHA-256") ? "sha256" : "md5";
  return (text) => createHash(name).update(text, "utf8").digest("hex");
}

/**
 * The hex `response` value of RFC 7616 §3.4.1 (and RFC 2069 when `qop` is absent).
 *
 * @example
 * ```ts
 * digestResponse({ algorithm: "MD5", username: "Mufasa", realm: "testrealm@host.com", password: "Circle Of Life",
 *   method: "GET", uri: "/dir/index.html", nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", nc: "00000001",
 *   cnonce: "0a4f113b", qop: "auth" }); // "6629fae49393a05397450978507c4ef1"
 * ```
 */
export function digestResponse(input: {
  readonly algorithm: DigestAlgorithm;
  readonly username: string;
  readonly realm: string;
  readonly password: string;
  readonly method: string;
  readonly uri: string;
  readonly nonce: string;
  readonly nc: string;
  readonly cnonce: string;
  readonly qop?: "auth";
}): string {
  if (!ALGORITHMS.has(input.algorithm.toUpperCase())) {
    throw new DigestError(
      "ATLAS_DIGEST_UNSUPPORTED",
      `Digest algorithm ${input.algorithm} is not supported.`,
    );
  }
  const sess = input.algorithm.endsWith("-sess");
  if (sess && input.qop === undefined) {
    throw new DigestError("ATLAS_DIGEST_UNSUPPORTED", `Digest algorithm ${input.algorithm} needs qop=auth.`);
  }
  const h = hasher(input.algorithm);
  let ha1 = h(`${input.username}:${input.realm}:${input.password}`);
  if (sess) ha1 = h(`${ha1}:${input.nonce}:${input.cnonce}`);
  const ha2 = h(`${input.method}:${input.uri}`);
  return input.qop === "auth"
    ? h(`${ha1}:${input.nonce}:${input.nc}:${input.cnonce}:auth:${ha2}`)
    : h(`${ha1}:${input.nonce}:${ha2}`);
}

/** A quoted-string (RFC 9110 §5.6.4) of `value`, which must not contain control characters. */
function quote(field: string, value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point.
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) {
    throw new DigestError(
      "ATLAS_DIGEST_INVALID_VALUE",
      `The Digest ${field} contains a control character (e.g. a line break); it cannot be sent in a header.`,
    );
  }
  return `"${value.replace(/[\\"]/g, "\\$&")}"`;
}

/** `username="..."`, or RFC 7616 §3.4.4's `username*=UTF-8''...` when it is not printable ASCII. */
function usernameParam(username: string): string {
  if (/^[\u0020-\u007e]*$/.test(username)) return `username=${quote("username", username)}`;
  const encoded = encodeURIComponent(username).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `username*=UTF-8''${encoded}`;
}

const MAX_NONCE_COUNT = 0xffffffff;

/**
 * Answers one Digest challenge for as long as the server accepts its nonce: every
 * {@link DigestSession.authorization} call counts `nc` up (00000001, 00000002, ...), so requests
 * after the first need no 401 round-trip. When the server answers 401 again (typically with
 * `stale=true`), start a new session from the new challenge.
 *
 * One client nonce (33 random bytes in base64, as in RFC 7616's example) serves the whole session,
 * so `-sess` algorithms agree with servers that compute the session key once and with those that
 * recompute it per request.
 *
 * @example
 * ```ts
 * const challenge = parseDigestChallenge(res.headers.get("www-authenticate") ?? undefined);
 * if (challenge) {
 *   const session = new DigestSession({ username: publicKey, password: privateKey }, challenge);
 *   await fetch(url, { headers: { authorization: session.authorization("GET", "/api/atlas/v2/...?startDate=1") } });
 * }
 * ```
 */
export class DigestSession {
  readonly challenge: DigestChallenge;
  readonly #username: string;
  readonly #password: string;
  readonly #cnonce: string;
  #nonceCount = 0;

  constructor(
    credentials: { readonly username: string; readonly password: string },
    challenge: DigestChallenge,
    randomBytes: (n: number) => Buffer = cryptoRandomBytes,
  ) {
    this.challenge = challenge;
    this.#username = credentials.username;
    this.#password = credentials.password;
    this.#cnonce = randomBytes(33).toString("base64");
  }

  /** How many Authorization headers this session has produced. */
  get nonceCount(): number {
    return this.#nonceCount;
  }

  /**
   * The `Authorization` header value for one request; `uri` is the request target (path and query).
   * Counts the nonce count up.
   */
  authorization(method: string, uri: string): string {
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(method)) {
      throw new DigestError(
        "ATLAS_DIGEST_INVALID_VALUE",
        `The HTTP method ${JSON.stringify(method)} is not a token.`,
      );
    }
    if (this.#nonceCount >= MAX_NONCE_COUNT) {
      throw new DigestError(
        "ATLAS_DIGEST_NONCE_EXHAUSTED",
        "The Digest nonce count reached ffffffff: request a new challenge and start a new session.",
      );
    }
    const { realm, nonce, algorithm, qop, opaque } = this.challenge;
    const uriParam = quote("uri", uri);
    const nc = (this.#nonceCount + 1).toString(16).padStart(8, "0");
    const response = digestResponse({
      algorithm,
      username: this.#username,
      realm,
      password: this.#password,
      method,
      uri,
      nonce,
      nc,
      cnonce: this.#cnonce,
      ...(qop === undefined ? {} : { qop }),
    });
    // The order of RFC 7616 §3.9.1's example.
    const parts = [
      usernameParam(this.#username),
      `realm=${quote("realm", realm)}`,
      `uri=${uriParam}`,
      `algorithm=${algorithm}`,
      `nonce=${quote("nonce", nonce)}`,
    ];
    if (qop === "auth") parts.push(`nc=${nc}`, `cnonce=${quote("cnonce", this.#cnonce)}`, "qop=auth");
    parts.push(`response="${response}"`);
    if (opaque !== undefined) parts.push(`opaque=${quote("opaque", opaque)}`);
    this.#nonceCount++;
    return `Digest ${parts.join(", ")}`;
  }
}
