import { request } from "undici";
import { describe, expect, it } from "vitest";
import { DEFAULT_SERVICE_ACCOUNT } from "./index";
import {
  auditPath,
  basic,
  fetchToken,
  findWindow,
  getWithToken,
  parseChallenge,
  postToken,
  simulatorPerTest,
} from "./test-client";

const start = simulatorPerTest();

const path = auditPath(findWindow(false));

describe("service-account token endpoint", () => {
  it("issues a bearer token for raw Basic credentials and a form grant", async () => {
    const s = await start({ tokenTtlSeconds: 1800 });
    const res = await postToken(s.baseUrl);
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("application/json");
    const body = (await res.body.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ token_type: "Bearer", expires_in: 1800 });
    expect(typeof body.access_token).toBe("string");
    expect(s.tokensIssued()).toBe(1);
    expect(s.requests[0]).toMatchObject({ endpoint: "token", method: "POST", status: 200, auth: "basic" });
  });

  it("issues a different token on every request", async () => {
    const s = await start();
    const a = await fetchToken(s.baseUrl);
    const b = await fetchToken(s.baseUrl);
    expect(a).not.toBe(b);
    expect(s.tokensIssued()).toBe(2);
  });

  it("rejects credentials that were form-encoded before base64 (_ -> %5F) with invalid_client", async () => {
    const s = await start();
    const { clientId, clientSecret } = DEFAULT_SERVICE_ACCOUNT;
    const encoded = [clientId, clientSecret].map((v) => v.replaceAll("_", "%5F"));
    expect(encoded[0]).not.toBe(clientId);
    const res = await postToken(s.baseUrl, {
      authorization: `Basic ${Buffer.from(`${encoded[0]}:${encoded[1]}`).toString("base64")}`,
    });
    expect(res.statusCode).toBe(401);
    const body = (await res.body.json()) as { error: string; error_description: string };
    expect(body.error).toBe("invalid_client");
    expect(body.error_description).toMatch(/percent-encoded/);
    expect(s.tokensIssued()).toBe(0);
  });

  it.each([
    ["no Authorization header", ""],
    ["a wrong secret", basic({ clientId: DEFAULT_SERVICE_ACCOUNT.clientId, clientSecret: "nope" })],
    ["a Bearer scheme", "Bearer abc"],
  ])("rejects %s with 401 invalid_client", async (_name, authorization) => {
    const s = await start();
    const res = await postToken(s.baseUrl, { authorization });
    expect(res.statusCode).toBe(401);
    expect(await res.body.json()).toMatchObject({ error: "invalid_client" });
  });

  it("accepts other configured service accounts", async () => {
    const account = { clientId: "mdb_sa_id_other", clientSecret: "mdb_sa_sk_other" };
    const s = await start({ serviceAccounts: [account] });
    expect((await postToken(s.baseUrl, { authorization: basic(account) })).statusCode).toBe(200);
    expect((await postToken(s.baseUrl)).statusCode).toBe(401);
  });

  it.each([
    ["an unsupported grant", { body: "grant_type=password" }, "unsupported_grant_type"],
    ["a missing grant", { body: "scope=x" }, "invalid_request"],
    [
      "a JSON body",
      { body: '{"grant_type":"client_credentials"}', contentType: "application/json" },
      "invalid_request",
    ],
  ])("answers %s with 400 %s", async (_name, init, error) => {
    const s = await start();
    const res = await postToken(s.baseUrl, init);
    expect(res.statusCode).toBe(400);
    expect(await res.body.json()).toMatchObject({ error });
  });

  it("refuses a token beyond maxLiveTokens with 403 access_denied, and again once one is revoked", async () => {
    const s = await start({ maxLiveTokens: 2 });
    const first = await fetchToken(s.baseUrl);
    await fetchToken(s.baseUrl);
    const denied = await postToken(s.baseUrl);
    expect(denied.statusCode).toBe(403);
    expect(await denied.body.json()).toMatchObject({ error: "access_denied" });
    const revoke = await request(`${s.baseUrl}/api/oauth/revoke`, {
      method: "POST",
      headers: { authorization: basic(), "content-type": "application/x-www-form-urlencoded" },
      body: `token=${first}&token_type_hint=access_token`,
    });
    expect(revoke.statusCode).toBe(200);
    await revoke.body.dump();
    expect((await postToken(s.baseUrl)).statusCode).toBe(200);
    expect(s.tokensIssued()).toBe(3);
  });

  it("rejects a revoke without the service account's Basic header", async () => {
    const s = await start();
    const token = await fetchToken(s.baseUrl);
    const res = await request(`${s.baseUrl}/api/oauth/revoke`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `token=${token}&token_type_hint=access_token`,
    });
    expect(res.statusCode).toBe(401);
    await res.body.dump();
    const download = await getWithToken(s.baseUrl, path, token);
    expect(download.statusCode).toBe(200);
    await download.body.dump();
  });

  it("counts live tokens over all accounts: issued, minus revoked and expired ones", async () => {
    const other = { clientId: "mdb_sa_id_other", clientSecret: "mdb_sa_sk_other" };
    const s = await start({ serviceAccounts: [DEFAULT_SERVICE_ACCOUNT, other], tokenTtlSeconds: 0.2 });
    expect(s.liveTokens()).toBe(0);
    const first = await fetchToken(s.baseUrl);
    await fetchToken(s.baseUrl);
    const res = await postToken(s.baseUrl, { authorization: basic(other) });
    expect(res.statusCode).toBe(200);
    const third = ((await res.body.json()) as { access_token: string }).access_token;
    expect(s.liveTokens()).toBe(3);
    const revoke = (token: string, account = DEFAULT_SERVICE_ACCOUNT) =>
      request(`${s.baseUrl}/api/oauth/revoke`, {
        method: "POST",
        headers: { authorization: basic(account), "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token, token_type_hint: "access_token" }).toString(),
      }).then((r) => r.body.dump());
    await revoke(first);
    await revoke(third); // another account's token: not revoked
    expect(s.liveTokens()).toBe(2);
    await revoke(third, other);
    expect(s.liveTokens()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(s.liveTokens()).toBe(0);
    expect(s.tokensIssued()).toBe(3);
  });

  it("sends expires_in exactly as configured, a fraction too, and the token dies after it", async () => {
    const s = await start({ tokenTtlSeconds: 0.05 });
    const res = await postToken(s.baseUrl);
    const text = await res.body.text();
    expect(text).toContain('"expires_in":0.05');
    const { access_token: token, expires_in } = JSON.parse(text) as {
      access_token: string;
      expires_in: number;
    };
    expect(expires_in).toBe(0.05);
    expect(s.liveTokens()).toBe(1);
    const fresh = await getWithToken(s.baseUrl, path, token);
    expect(fresh.statusCode).toBe(200);
    await fresh.body.dump();
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(s.liveTokens()).toBe(0);
    const stale = await getWithToken(s.baseUrl, path, token);
    expect(stale.statusCode).toBe(401);
    await stale.body.dump();
  });

  it("records the token a revoke request named and whether it was still live", async () => {
    const s = await start();
    const token = await fetchToken(s.baseUrl);
    const revoke = (value: string, authorization = basic()) =>
      request(`${s.baseUrl}/api/oauth/revoke`, {
        method: "POST",
        headers: { authorization, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token: value, token_type_hint: "access_token" }).toString(),
      }).then((r) => r.body.dump());
    await revoke(token, "Basic bm9ib2R5Om5vdGhpbmc="); // refused: 401, nothing recorded
    await revoke(token);
    await revoke(token);
    await revoke("never-issued");
    expect(
      s.requests.filter((r) => r.endpoint === "revoke").map((r) => [r.status, r.revokedToken, r.revokedLive]),
    ).toEqual([
      [401, undefined, undefined],
      [200, token, true],
      [200, token, false],
      [200, "never-issued", false],
    ]);
    expect(s.liveTokens()).toBe(0);
  });

  it("rejects GET on the token endpoint with 405", async () => {
    const s = await start();
    const res = await request(`${s.baseUrl}/api/oauth/token`);
    expect(res.statusCode).toBe(405);
    await res.body.dump();
  });
});

describe("bearer downloads", () => {
  it("serves a download with a live token", async () => {
    const s = await start();
    const token = await fetchToken(s.baseUrl);
    const res = await getWithToken(s.baseUrl, path, token);
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(s.requests.at(-1)).toMatchObject({ endpoint: "download", auth: "bearer", status: 200 });
  });

  it("rejects a revoked token with 401 and a Digest challenge", async () => {
    const s = await start();
    const token = await fetchToken(s.baseUrl);
    const revoke = await request(`${s.baseUrl}/api/oauth/revoke`, {
      method: "POST",
      headers: { authorization: basic(), "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token, token_type_hint: "access_token" }).toString(),
    });
    expect(revoke.statusCode).toBe(200);
    await revoke.body.dump();
    const res = await getWithToken(s.baseUrl, path, token);
    expect(res.statusCode).toBe(401);
    expect(parseChallenge(res.headers["www-authenticate"]).realm).toBe("MMS Public API");
    expect(await res.body.json()).toMatchObject({ error: 401, errorCode: "UNAUTHORIZED" });
  });

  it("rejects a token after tokenTtlSeconds", async () => {
    const s = await start({ tokenTtlSeconds: 0.15 });
    const token = await fetchToken(s.baseUrl);
    const fresh = await getWithToken(s.baseUrl, path, token);
    expect(fresh.statusCode).toBe(200);
    await fresh.body.dump();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const stale = await getWithToken(s.baseUrl, path, token);
    expect(stale.statusCode).toBe(401);
    expect(((await stale.body.json()) as { detail: string }).detail).toMatch(/expired/);
  });

  it("rejects an unknown token and Basic credentials on the download endpoint", async () => {
    const s = await start();
    const unknown = await getWithToken(s.baseUrl, path, "not-a-token");
    expect(unknown.statusCode).toBe(401);
    await unknown.body.dump();
    const viaBasic = await request(`${s.baseUrl}${path}`, { headers: { authorization: basic() } });
    expect(viaBasic.statusCode).toBe(401);
    await viaBasic.body.dump();
    expect(s.requests.map((r) => r.auth)).toEqual(["bearer", "basic"]);
  });
});
