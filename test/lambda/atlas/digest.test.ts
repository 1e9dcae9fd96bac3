import { createHash } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { inspect } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type DigestAlgorithm,
  type DigestChallenge,
  DigestError,
  DigestSession,
  digestResponse,
  parseAuthChallenges,
  parseDigestChallenge,
} from "../../../lambda/atlas/digest";
import { ArchiverError } from "../../../lambda/errors";

const ATLAS_CHALLENGE =
  'Digest realm="MMS Public API", domain="", nonce="Z3Kp1HyV+Zq6QO6rXEQlRrUQpi0aVnx1", algorithm=MD5, qop="auth", stale=false';

// RFC 7616 §3.9.1: the same challenge offered with SHA-256 first, then MD5.
const RFC7616 = {
  realm: "http-auth@example.org",
  nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
  opaque: "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
  cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
};
const rfc7616Challenge = (algorithm: string): string =>
  `Digest realm="${RFC7616.realm}", qop="auth, auth-int", algorithm=${algorithm}, nonce="${RFC7616.nonce}", opaque="${RFC7616.opaque}"`;

/** RFC 7616 §3.4.1 written out independently, for checking headers the session produced. */
function expectedResponse(p: ReadonlyMap<string, string>, password: string, method: string): string {
  const algorithm = p.get("algorithm") ?? "MD5";
  const h = (s: string) =>
    createHash(algorithm.startsWith("SHA-256") ? "sha256" : "md5")
      .update(s)
      .digest("hex");
  let ha1 = h(`${p.get("username")}:${p.get("realm")}:${password}`);
  if (algorithm.endsWith("-sess")) ha1 = h(`${ha1}:${p.get("nonce")}:${p.get("cnonce")}`);
  const ha2 = h(`${method}:${p.get("uri")}`);
  return p.get("qop") === "auth"
    ? h(`${ha1}:${p.get("nonce")}:${p.get("nc")}:${p.get("cnonce")}:auth:${ha2}`)
    : h(`${ha1}:${p.get("nonce")}:${ha2}`);
}

function parseAuthorization(header: string): ReadonlyMap<string, string> {
  const [credentials, ...rest] = parseAuthChallenges(header);
  expect(rest).toEqual([]);
  expect(credentials?.scheme).toBe("Digest");
  return credentials?.params ?? new Map();
}

function challenge(overrides: Partial<DigestChallenge> = {}): DigestChallenge {
  return {
    realm: "MMS Public API",
    nonce: "n0nce",
    algorithm: "MD5",
    qop: "auth",
    stale: false,
    ...overrides,
  };
}

const fixedBytes = (n: number): Buffer => Buffer.alloc(n, 7);

describe("digestResponse", () => {
  it("matches the RFC 2617 §3.5 example", () => {
    expect(
      digestResponse({
        algorithm: "MD5",
        username: "Mufasa",
        realm: "testrealm@host.com",
        password: "Circle Of Life",
        method: "GET",
        uri: "/dir/index.html",
        nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        nc: "00000001",
        cnonce: "0a4f113b",
        qop: "auth",
      }),
    ).toBe("6629fae49393a05397450978507c4ef1");
  });

  it.each([
    ["MD5", "8ca523f5e9506fed4657c9700eebdbec"],
    ["SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"],
  ] as const)("matches the RFC 7616 §3.9.1 %s example", (algorithm, expected) => {
    expect(
      digestResponse({
        algorithm,
        username: "Mufasa",
        realm: RFC7616.realm,
        password: "Circle of Life",
        method: "GET",
        uri: "/dir/index.html",
        nonce: RFC7616.nonce,
        nc: "00000001",
        cnonce: RFC7616.cnonce,
        qop: "auth",
      }),
    ).toBe(expected);
  });

  it("computes the -sess variants and the RFC 2069 form without qop from the RFC formulas", () => {
    const base = {
      username: "Mufasa",
      realm: "testrealm@host.com",
      password: "Circle Of Life",
      method: "GET",
      uri: "/dir/index.html",
      nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
      nc: "00000001",
      cnonce: "0a4f113b",
    };
    const md5 = (s: string) => createHash("md5").update(s).digest("hex");
    const sha = (s: string) => createHash("sha256").update(s).digest("hex");
    const ha2 = "GET:/dir/index.html";
    const sessMd5 = md5(`${md5("Mufasa:testrealm@host.com:Circle Of Life")}:${base.nonce}:0a4f113b`);
    expect(digestResponse({ ...base, algorithm: "MD5-sess", qop: "auth" })).toBe(
      md5(`${sessMd5}:${base.nonce}:00000001:0a4f113b:auth:${md5(ha2)}`),
    );
    const sessSha = sha(`${sha("Mufasa:testrealm@host.com:Circle Of Life")}:${base.nonce}:0a4f113b`);
    expect(digestResponse({ ...base, algorithm: "SHA-256-sess", qop: "auth" })).toBe(
      sha(`${sessSha}:${base.nonce}:00000001:0a4f113b:auth:${sha(ha2)}`),
    );
    // RFC 2069: response = H(HA1:nonce:HA2), no nc or cnonce.
    expect(digestResponse({ ...base, algorithm: "MD5" })).toBe(
      md5(`${md5("Mufasa:testrealm@host.com:Circle Of Life")}:${base.nonce}:${md5(ha2)}`),
    );
  });

  it("refuses a -sess algorithm without qop and an unknown algorithm", () => {
    const base = {
      username: "u",
      realm: "r",
      password: "p",
      method: "GET",
      uri: "/",
      nonce: "n",
      nc: "00000001",
    };
    expect(() => digestResponse({ ...base, cnonce: "c", algorithm: "MD5-sess" })).toThrow(DigestError);
    expect(() =>
      digestResponse({ ...base, cnonce: "c", algorithm: "SHA-512-256" as "MD5", qop: "auth" }),
    ).toThrow(/SHA-512-256 is not supported/);
  });
});

describe("parseAuthChallenges", () => {
  it("splits several challenges and keeps commas and escapes inside quoted strings", () => {
    const got = parseAuthChallenges(
      'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple, really",Digest realm="a\\\\b", nonce="x,y"',
    );
    expect(got.map((c) => [c.scheme, Object.fromEntries(c.params)])).toEqual([
      ["Newauth", { realm: "apps", type: "1", title: 'Login to "apps"' }],
      ["Basic", { realm: "simple, really" }],
      ["Digest", { realm: "a\\b", nonce: "x,y" }],
    ]);
  });

  it("reads token68 credentials, schemes without parameters, and spaces around '='", () => {
    const got = parseAuthChallenges('Negotiate, Basic dXNlcjpwYXNz==, Digest  REALM = "r" ,Nonce=abc');
    expect(got.map((c) => [c.scheme, c.token68, Object.fromEntries(c.params)])).toEqual([
      ["Negotiate", undefined, {}],
      ["Basic", "dXNlcjpwYXNz==", {}],
      ["Digest", undefined, { realm: "r", nonce: "abc" }],
    ]);
  });

  it("never throws or loops on arbitrary input", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...' ,="\\aDigest\trealm') }), (s) => {
        expect(Array.isArray(parseAuthChallenges(s))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

describe("parseDigestChallenge", () => {
  it("parses the exact challenge Atlas sends", () => {
    expect(parseDigestChallenge(ATLAS_CHALLENGE)).toEqual({
      realm: "MMS Public API",
      domain: "",
      nonce: "Z3Kp1HyV+Zq6QO6rXEQlRrUQpi0aVnx1",
      algorithm: "MD5",
      qop: "auth",
      stale: false,
    });
  });

  it("finds the Digest challenge after another scheme in the same header", () => {
    const got = parseDigestChallenge(`Bearer realm="x", error="invalid_token", ${ATLAS_CHALLENGE}`);
    expect(got?.realm).toBe("MMS Public API");
    expect(got?.nonce).toBe("Z3Kp1HyV+Zq6QO6rXEQlRrUQpi0aVnx1");
  });

  it("takes the first supported challenge in server order across several header values", () => {
    const got = parseDigestChallenge([rfc7616Challenge("SHA-256"), rfc7616Challenge("MD5")]);
    expect(got).toEqual({
      realm: RFC7616.realm,
      nonce: RFC7616.nonce,
      opaque: RFC7616.opaque,
      algorithm: "SHA-256",
      qop: "auth",
      stale: false,
    });
    // An unsupported first choice is passed over.
    expect(parseDigestChallenge([rfc7616Challenge("SHA-512-256"), rfc7616Challenge("MD5")])?.algorithm).toBe(
      "MD5",
    );
  });

  it("reads parameter names, the scheme, algorithm and stale case-insensitively", () => {
    const got = parseDigestChallenge(
      'digest REALM="r", Nonce="n", Algorithm=sha-256-SESS, QOP="AUTH", Stale=TRUE',
    );
    expect(got).toEqual({ realm: "r", nonce: "n", algorithm: "SHA-256-sess", qop: "auth", stale: true });
  });

  it("keeps the first of duplicate parameters", () => {
    expect(parseDigestChallenge('Digest realm="first", nonce="n", REALM="second"')?.realm).toBe("first");
  });

  it("defaults to MD5 and accepts an RFC 2069 challenge without qop", () => {
    expect(parseDigestChallenge('Digest realm="r", nonce="n"')).toEqual({
      realm: "r",
      nonce: "n",
      algorithm: "MD5",
      stale: false,
    });
  });

  it("returns undefined when no Digest challenge is offered", () => {
    expect(parseDigestChallenge(undefined)).toBeUndefined();
    expect(parseDigestChallenge("")).toBeUndefined();
    expect(parseDigestChallenge('Bearer realm="atlas"')).toBeUndefined();
    expect(parseDigestChallenge(['Basic realm="x"', "Negotiate"])).toBeUndefined();
  });

  it.each([
    ['Digest realm="r", nonce="n", algorithm=SHA-512-256, qop="auth"', /algorithm=SHA-512-256/],
    ['Digest realm="r", nonce="n", algorithm=MD5, qop="auth-int"', /qop="auth-int"/],
    ['Digest realm="r", nonce="n", algorithm=MD5-sess', /algorithm=MD5-sess qop=\(none\)/],
  ])("throws ATLAS_DIGEST_UNSUPPORTED naming what was offered: %s", (header, offered) => {
    const error = (() => {
      try {
        parseDigestChallenge(header);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(DigestError);
    expect(error).toBeInstanceOf(ArchiverError);
    expect((error as DigestError).code).toBe("ATLAS_DIGEST_UNSUPPORTED");
    expect((error as DigestError).name).toBe("DigestError");
    expect((error as Error).message).toMatch(offered);
    expect((error as Error).message).toMatch(/service account/);
  });

  it("throws ATLAS_DIGEST_INVALID_CHALLENGE when the nonce or realm is missing", () => {
    expect(() => parseDigestChallenge('Digest realm="r", qop="auth"')).toThrow(
      expect.objectContaining({
        code: "ATLAS_DIGEST_INVALID_CHALLENGE",
        message: expect.stringMatching(/nonce/),
      }),
    );
    expect(() => parseDigestChallenge('Digest nonce="n"')).toThrow(
      expect.objectContaining({
        code: "ATLAS_DIGEST_INVALID_CHALLENGE",
        message: expect.stringMatching(/realm/),
      }),
    );
  });
});

describe("DigestSession", () => {
  it("reproduces the RFC 7616 §3.9.1 Authorization header exactly", () => {
    const c = parseDigestChallenge(rfc7616Challenge("MD5"));
    if (c === undefined) throw new Error("no challenge");
    const session = new DigestSession({ username: "Mufasa", password: "Circle of Life" }, c, (n) => {
      expect(n).toBe(33);
      return Buffer.from(RFC7616.cnonce, "base64");
    });
    expect(session.authorization("GET", "/dir/index.html")).toBe(
      `Digest username="Mufasa", realm="${RFC7616.realm}", uri="/dir/index.html", algorithm=MD5, ` +
        `nonce="${RFC7616.nonce}", nc=00000001, cnonce="${RFC7616.cnonce}", qop=auth, ` +
        `response="8ca523f5e9506fed4657c9700eebdbec", opaque="${RFC7616.opaque}"`,
    );
  });

  it("reuses the nonce with nc 00000001, 00000002, ... and a valid response each time", () => {
    const session = new DigestSession(
      { username: "pubkey", password: "s3cret-key" },
      challenge(),
      fixedBytes,
    );
    const ncs: string[] = [];
    for (let i = 0; i < 18; i++) {
      const params = parseAuthorization(session.authorization("GET", `/api/atlas/v2/x?i=${i}`));
      ncs.push(params.get("nc") ?? "");
      expect(params.get("response")).toBe(expectedResponse(params, "s3cret-key", "GET"));
    }
    expect(ncs.slice(0, 3)).toEqual(["00000001", "00000002", "00000003"]);
    expect(ncs.slice(15)).toEqual(["00000010", "00000011", "00000012"]);
    expect(session.nonceCount).toBe(18);
  });

  it("round-trips its header through the parser for any credentials, uri and algorithm", () => {
    const printable = fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    });
    fc.assert(
      fc.property(
        printable.filter((u) => !u.includes("secret:")),
        fc.string({ unit: "grapheme" }).map((pw) => `secret:${pw}`),
        printable.filter((u) => !u.includes("secret:")),
        fc.constantFrom<DigestAlgorithm>("MD5", "SHA-256", "MD5-sess", "SHA-256-sess"),
        fc.boolean(),
        fc.option(printable, { nil: undefined }),
        (username, password, uri, algorithm, withQop, opaque) => {
          const sess = algorithm.endsWith("-sess");
          const c = challenge({
            realm: 'MMS "Public", API\\',
            algorithm,
            ...(withQop || sess ? { qop: "auth" as const } : { qop: undefined }),
            ...(opaque === undefined ? {} : { opaque }),
          });
          const header = new DigestSession({ username, password }, c).authorization("POST", uri);
          const p = parseAuthorization(header);
          expect(p.get("username")).toBe(username);
          expect(p.get("uri")).toBe(uri);
          expect(p.get("realm")).toBe(c.realm);
          expect(p.get("opaque")).toBe(opaque);
          expect(p.get("algorithm")).toBe(algorithm);
          expect(p.get("qop")).toBe(c.qop);
          expect(p.get("response")).toBe(expectedResponse(p, password, "POST"));
          expect(header).not.toContain("secret:");
        },
      ),
      { numRuns: 300 },
    );
  });

  it("writes algorithm, qop and nc unquoted, and leaves nc/cnonce out without qop", () => {
    const withQop = new DigestSession({ username: "u", password: "p" }, challenge(), fixedBytes);
    expect(withQop.authorization("GET", "/")).toMatch(
      /^Digest username="u", realm="MMS Public API", uri="\/", algorithm=MD5, nonce="n0nce", nc=00000001, cnonce="[A-Za-z0-9+/]{44}", qop=auth, response="[0-9a-f]{32}"$/,
    );
    const rfc2069 = new DigestSession(
      { username: "u", password: "p" },
      challenge({ qop: undefined }),
      fixedBytes,
    );
    expect(rfc2069.authorization("GET", "/")).toMatch(
      /^Digest username="u", realm="MMS Public API", uri="\/", algorithm=MD5, nonce="n0nce", response="[0-9a-f]{32}"$/,
    );
  });

  it("sends a non-ASCII username as username* (RFC 7616 §3.4.4) and hashes the username itself", () => {
    const session = new DigestSession({ username: "Jäsøn Doe", password: "pw" }, challenge(), fixedBytes);
    const header = session.authorization("GET", "/");
    expect(header).toMatch(/^Digest username\*=UTF-8''J%C3%A4s%C3%B8n%20Doe, /);
    const p = parseAuthorization(header);
    const params = new Map(p).set("username", "Jäsøn Doe");
    expect(p.get("response")).toBe(expectedResponse(params, "pw", "GET"));
  });

  it("uses a fresh random client nonce per session", () => {
    const cnonce = (s: DigestSession) => parseAuthorization(s.authorization("GET", "/")).get("cnonce");
    const a = new DigestSession({ username: "u", password: "p" }, challenge());
    const b = new DigestSession({ username: "u", password: "p" }, challenge());
    expect(cnonce(a)).not.toBe(cnonce(b));
    expect(cnonce(a)).toBe(cnonce(a)); // one per session, so -sess keys stay valid
  });

  it("rejects a uri with a line break or a method that is not a token, without revealing the password", () => {
    const session = new DigestSession(
      { username: "u", password: "hunter2-private" },
      challenge(),
      fixedBytes,
    );
    for (const call of [
      () => session.authorization("GET", "/a\r\nX-Evil: 1"),
      () => session.authorization("G T", "/"),
    ]) {
      expect(call).toThrow(expect.objectContaining({ code: "ATLAS_DIGEST_INVALID_VALUE" }));
      expect(call).not.toThrow(/hunter2/);
    }
    expect(session.nonceCount).toBe(0);
  });

  it("never shows the password when logged or serialised", () => {
    const session = new DigestSession(
      { username: "u", password: "hunter2-private" },
      challenge(),
      fixedBytes,
    );
    session.authorization("GET", "/");
    expect(inspect(session, { depth: 5, showHidden: true })).not.toContain("hunter2");
    expect(JSON.stringify(session)).not.toContain("hunter2");
  });
});

describe("Digest against a loopback server that checks it like Atlas", () => {
  it("needs one 401 and then reuses the nonce with increasing nc", async () => {
    const nonce = "srv-nonce-1";
    const seen: { nc: string | undefined; ok: boolean }[] = [];
    let challenges = 0;
    const server = createServer((req, res) => {
      const auth = req.headers.authorization;
      if (auth === undefined) {
        challenges++;
        res.writeHead(401, {
          "www-authenticate": `Digest realm="MMS Public API", domain="", nonce="${nonce}", algorithm=MD5, qop="auth", stale=false`,
        });
        res.end();
        return;
      }
      const p = parseAuthChallenges(auth)[0]?.params ?? new Map<string, string>();
      const ok =
        p.get("nonce") === nonce &&
        p.get("uri") === req.url &&
        p.get("response") === expectedResponse(p, "priv-key", req.method ?? "") &&
        !seen.some((s) => s.nc === p.get("nc"));
      seen.push({ nc: p.get("nc"), ok });
      res.writeHead(ok ? 200 : 401);
      res.end(ok ? "ok" : "");
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const path =
        "/api/atlas/v2/groups/0123456789abcdef01234567/streams/my%20ws/auditLogs?startDate=1&endDate=2";
      const first = await fetch(base + path);
      expect(first.status).toBe(401);
      const c = parseDigestChallenge(first.headers.get("www-authenticate") ?? undefined);
      if (c === undefined) throw new Error("no challenge");
      const session = new DigestSession({ username: "pub-key", password: "priv-key" }, c);
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await fetch(base + path, {
          headers: { authorization: session.authorization("GET", path) },
        });
        await res.arrayBuffer();
        statuses.push(res.status);
      }
      expect(statuses).toEqual([200, 200, 200]);
      expect(challenges).toBe(1);
      expect(seen.map((s) => s.nc)).toEqual(["00000001", "00000002", "00000003"]);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
