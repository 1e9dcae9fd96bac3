import { request } from "undici";
import { describe, expect, it } from "vitest";
import {
  ACCEPT,
  auditPath,
  challengeFor,
  digestAuthorization,
  findWindow,
  parseChallenge,
  simulatorPerTest,
} from "./test-client";

const start = simulatorPerTest();

const path = auditPath(findWindow(false));

function getDigest(baseUrl: string, uri: string, authorization: string) {
  return request(`${baseUrl}${uri}`, { headers: { authorization, accept: ACCEPT } });
}

describe("API-key Digest authentication", () => {
  it("challenges a request without credentials like Atlas does", async () => {
    const s = await start();
    const res = await request(`${s.baseUrl}${path}`, { headers: { accept: ACCEPT } });
    expect(res.statusCode).toBe(401);
    const header = String(res.headers["www-authenticate"]);
    expect(header).toMatch(
      /^Digest realm="MMS Public API", domain="", nonce="[^"]+", algorithm=MD5, qop="auth", stale=false$/,
    );
    expect(res.headers["content-type"]).toBe("application/json");
    expect(await res.body.json()).toMatchObject({
      error: 401,
      errorCode: "UNAUTHORIZED",
      reason: "Unauthorized",
    });
    expect(s.requests[0]).toMatchObject({ auth: "none", status: 401 });
  });

  it.each(["MD5", "SHA-256"] as const)(
    "accepts a correct %s response and counts nc upwards",
    async (algorithm) => {
      const s = await start({ digestAlgorithm: algorithm });
      const challenge = await challengeFor(s.baseUrl, path);
      expect(challenge.algorithm).toBe(algorithm);
      for (const nc of [1, 2, 7]) {
        const res = await getDigest(
          s.baseUrl,
          path,
          digestAuthorization({ challenge, method: "GET", uri: path, nc }),
        );
        expect(res.statusCode).toBe(200);
        await res.body.dump();
      }
      expect(s.requests.filter((r) => r.status === 200 && r.auth === "digest")).toHaveLength(3);
    },
  );

  it("rejects a wrong private key with a fresh, non-stale challenge", async () => {
    const s = await start();
    const challenge = await challengeFor(s.baseUrl, path);
    const key = { publicKey: "abcdefgh", privateKey: "wrong" };
    const res = await getDigest(
      s.baseUrl,
      path,
      digestAuthorization({ challenge, method: "GET", uri: path, nc: 1, key }),
    );
    expect(res.statusCode).toBe(401);
    const next = parseChallenge(res.headers["www-authenticate"]);
    expect(next.stale).toBe("false");
    expect(next.nonce).not.toBe(challenge.nonce);
    await res.body.dump();
  });

  it("rejects a replayed nc for the same nonce", async () => {
    const s = await start();
    const challenge = await challengeFor(s.baseUrl, path);
    const authorization = digestAuthorization({ challenge, method: "GET", uri: path, nc: 1 });
    const first = await getDigest(s.baseUrl, path, authorization);
    expect(first.statusCode).toBe(200);
    await first.body.dump();
    const replay = await getDigest(s.baseUrl, path, authorization);
    expect(replay.statusCode).toBe(401);
    expect(((await replay.body.json()) as { detail: string }).detail).toMatch(/replay/);
    const lower = await getDigest(
      s.baseUrl,
      path,
      digestAuthorization({ challenge, method: "GET", uri: path, nc: 1 }),
    );
    expect(lower.statusCode).toBe(401);
    await lower.body.dump();
  });

  it("answers an expired nonce with stale=true and a new nonce that works", async () => {
    const s = await start({ nonceTtlMs: 40 });
    const challenge = await challengeFor(s.baseUrl, path);
    await new Promise((resolve) => setTimeout(resolve, 80));
    const res = await getDigest(
      s.baseUrl,
      path,
      digestAuthorization({ challenge, method: "GET", uri: path, nc: 1 }),
    );
    expect(res.statusCode).toBe(401);
    await res.body.dump();
    const next = parseChallenge(res.headers["www-authenticate"]);
    expect(next.stale).toBe("true");
    expect(next.nonce).not.toBe(challenge.nonce);
    const retry = await getDigest(
      s.baseUrl,
      path,
      digestAuthorization({ challenge: next, method: "GET", uri: path, nc: 1 }),
    );
    expect(retry.statusCode).toBe(200);
    await retry.body.dump();
  });

  it("requires uri to be the exact path and query of the request", async () => {
    const s = await start();
    const challenge = await challengeFor(s.baseUrl, path);
    const pathOnly = path.split("?")[0] ?? "";
    const res = await getDigest(
      s.baseUrl,
      path,
      digestAuthorization({ challenge, method: "GET", uri: pathOnly, nc: 1 }),
    );
    expect(res.statusCode).toBe(401);
    expect(((await res.body.json()) as { detail: string }).detail).toMatch(/uri/);
  });

  it("rejects an unknown nonce, a wrong algorithm and an unknown public key", async () => {
    const s = await start({ digestAlgorithm: "SHA-256" });
    const challenge = await challengeFor(s.baseUrl, path);
    const cases = [
      digestAuthorization({ challenge: { ...challenge, nonce: "made-up" }, method: "GET", uri: path, nc: 1 }),
      digestAuthorization({ challenge: { ...challenge, algorithm: "MD5" }, method: "GET", uri: path, nc: 2 }),
      digestAuthorization({
        challenge,
        method: "GET",
        uri: path,
        nc: 3,
        key: { publicKey: "zzzzzzzz", privateKey: "00000000-1111-2222-3333-444444444444" },
      }),
    ];
    for (const authorization of cases) {
      const res = await getDigest(s.baseUrl, path, authorization);
      expect(res.statusCode).toBe(401);
      await res.body.dump();
    }
    const good = await getDigest(
      s.baseUrl,
      path,
      digestAuthorization({ challenge, method: "GET", uri: path, nc: 4 }),
    );
    expect(good.statusCode).toBe(200);
    await good.body.dump();
  });

  it("accepts other configured API keys", async () => {
    const key = { publicKey: "qwertyui", privateKey: "55555555-6666-7777-8888-999999999999" };
    const s = await start({ apiKeys: [key] });
    const challenge = await challengeFor(s.baseUrl, path);
    const res = await getDigest(
      s.baseUrl,
      path,
      digestAuthorization({ challenge, method: "GET", uri: path, nc: 1, key }),
    );
    expect(res.statusCode).toBe(200);
    await res.body.dump();
  });
});
