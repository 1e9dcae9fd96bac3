import { gunzipSync } from "node:zlib";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { expectedLines } from "./atlas-simulator";
import {
  ACCEPT,
  auditPath,
  basic,
  digestAuthorization,
  fetchToken,
  findWindow,
  getWithToken,
  parseChallenge,
  postToken,
  simulatorPerTest,
} from "./atlas-simulator/test-client";
import { type PathPrefixProxy, startPathPrefixProxy } from "./path-prefix-proxy";

const startSimulator = simulatorPerTest();
const proxies: PathPrefixProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

async function start() {
  const sim = await startSimulator();
  const proxy = await startPathPrefixProxy({ target: sim.baseUrl, prefix: "/atlas-proxy" });
  proxies.push(proxy);
  return { sim, proxy };
}

const window = findWindow(false);
const path = auditPath(window);
const fullBody = `${expectedLines(window).join("\n")}\n`;

describe("startPathPrefixProxy", () => {
  it("serves the simulator under the prefix: a token request and a download with the prefix stripped", async () => {
    const { sim, proxy } = await start();
    expect(proxy.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/atlas-proxy$/);
    const tokenRes = await postToken(proxy.baseUrl);
    expect(tokenRes.statusCode).toBe(200);
    expect(tokenRes.headers["cache-control"]).toBe("no-store");
    const { access_token: token } = (await tokenRes.body.json()) as { access_token: string };
    const res = await getWithToken(proxy.baseUrl, path, token);
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("application/vnd.atlas.2023-02-01+gzip");
    expect(res.headers["content-disposition"]).toMatch(/^attachment; filename=/);
    expect(gunzipSync(Buffer.from(await res.body.arrayBuffer())).toString("utf8")).toBe(fullBody);
    expect(proxy.requests).toEqual([
      { method: "POST", path: "/atlas-proxy/api/oauth/token" },
      { method: "GET", path: `/atlas-proxy${path}` },
    ]);
    expect(sim.requests.map((r) => [r.endpoint, r.path, r.auth, r.status])).toEqual([
      ["token", "/api/oauth/token", "basic", 200],
      ["download", path.split("?")[0], "bearer", 200],
    ]);
    expect(sim.requests[1]?.query).toEqual({
      startDate: String(window.startDate),
      endDate: String(window.endDate),
    });
  });

  it("answers 404 in plain text, naming the path, to anything outside the prefix", async () => {
    const { sim, proxy } = await start();
    const origin = new URL(proxy.baseUrl).origin;
    for (const outside of ["/api/oauth/token", "/atlas-proxy", "/atlas-proxyx/api/oauth/token", "/"]) {
      const res = await request(`${origin}${outside}`, {
        method: "POST",
        headers: { authorization: basic(), "content-type": "application/x-www-form-urlencoded" },
        body: "grant_type=client_credentials",
      });
      expect(res.statusCode).toBe(404);
      expect(res.headers["content-type"]).toBe("text/plain; charset=utf-8");
      expect(await res.body.text()).toContain(`${outside} is not under /atlas-proxy/`);
    }
    expect(proxy.requests.map((r) => r.path)).toEqual([
      "/api/oauth/token",
      "/atlas-proxy",
      "/atlas-proxyx/api/oauth/token",
      "/",
    ]);
    expect(sim.requests).toEqual([]);
  });

  it("keeps WWW-Authenticate, Retry-After and the simulator's other headers both ways", async () => {
    const { sim, proxy } = await start();
    const token = await fetchToken(proxy.baseUrl);
    sim.inject(
      { kind: "status", status: 503, retryAfter: "Wed, 02 Dec 2026 10:00:00 GMT" },
      { kind: "echo-credentials", status: 401 },
    );
    const unavailable = await getWithToken(proxy.baseUrl, path, token);
    expect(unavailable.statusCode).toBe(503);
    expect(unavailable.headers["retry-after"]).toBe("Wed, 02 Dec 2026 10:00:00 GMT");
    await unavailable.body.dump();
    const echoed = await getWithToken(proxy.baseUrl, path, token);
    expect(echoed.statusCode).toBe(401);
    expect(parseChallenge(echoed.headers["www-authenticate"]).realm).toBe("MMS Public API");
    expect(echoed.headers["x-echo"]).toBe(`Bearer ${token}`);
    expect(((await echoed.body.json()) as { detail: string }).detail).toContain(token);
    const bad = await postToken(proxy.baseUrl, { authorization: "" });
    expect(bad.statusCode).toBe(401);
    expect(bad.headers["www-authenticate"]).toBe('Basic realm="MongoDB Atlas"');
    await bad.body.dump();
  });

  it("lets Digest through when the client signs the path the target sees, not the one it requested", async () => {
    const { proxy } = await start();
    const challengeRes = await request(`${proxy.baseUrl}${path}`, { headers: { accept: ACCEPT } });
    expect(challengeRes.statusCode).toBe(401);
    await challengeRes.body.dump();
    const challenge = parseChallenge(challengeRes.headers["www-authenticate"]);
    const get = (uri: string, nc: number) =>
      request(`${proxy.baseUrl}${path}`, {
        headers: {
          accept: ACCEPT,
          authorization: digestAuthorization({ challenge, method: "GET", uri, nc }),
        },
      });
    const prefixed = await get(`/atlas-proxy${path}`, 1);
    expect(prefixed.statusCode).toBe(401);
    expect(((await prefixed.body.json()) as { detail: string }).detail).toMatch(/uri=/);
    const stripped = await get(path, 2);
    expect(stripped.statusCode).toBe(200);
    expect(gunzipSync(Buffer.from(await stripped.body.arrayBuffer())).toString("utf8")).toBe(fullBody);
  });

  it("passes a declared transfer coding on, and a reset or cut body as a dropped connection", async () => {
    const { sim, proxy } = await start();
    const token = await fetchToken(proxy.baseUrl);
    sim.inject({ kind: "transfer-coding" }, { kind: "reset-before-headers" }, { kind: "reset-mid-body" });
    const coded = await getWithToken(proxy.baseUrl, path, token);
    expect(coded.headers["transfer-encoding"]).toBe("gzip, chunked");
    const bytes = Buffer.from(await coded.body.arrayBuffer());
    expect(gunzipSync(gunzipSync(bytes)).toString("utf8")).toBe(fullBody);
    await expect(getWithToken(proxy.baseUrl, path, token)).rejects.toThrow();
    const cut = await getWithToken(proxy.baseUrl, path, token);
    expect(cut.statusCode).toBe(200);
    await expect(cut.body.arrayBuffer()).rejects.toThrow();
    const ok = await getWithToken(proxy.baseUrl, path, token);
    expect(ok.statusCode).toBe(200);
    await ok.body.dump();
  });

  it("streams a response body while it is still arriving", async () => {
    const { sim, proxy } = await start();
    const token = await fetchToken(proxy.baseUrl);
    sim.inject({ kind: "stall-body", ms: 300, afterBytes: 10 });
    const t0 = performance.now();
    const res = await getWithToken(proxy.baseUrl, path, token);
    const reader = res.body[Symbol.asyncIterator]();
    const first = await reader.next();
    expect(performance.now() - t0).toBeLessThan(250);
    expect((first.value as Buffer).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    const rest: Buffer[] = [first.value as Buffer];
    for (let next = await reader.next(); !next.done; next = await reader.next())
      rest.push(next.value as Buffer);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    expect(gunzipSync(Buffer.concat(rest)).toString("utf8")).toBe(fullBody);
  });

  it("closes with open connections and refuses bad options", async () => {
    const { sim, proxy } = await start();
    const token = await fetchToken(proxy.baseUrl);
    sim.inject({ kind: "stall-headers", ms: 60_000 });
    const pending = getWithToken(proxy.baseUrl, path, token);
    pending.catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const t0 = performance.now();
    await proxy.close();
    expect(performance.now() - t0).toBeLessThan(1000);
    await expect(pending).rejects.toThrow();
    for (const prefix of ["", "/", "atlas", "/atlas/", "/a b"]) {
      await expect(startPathPrefixProxy({ target: sim.baseUrl, prefix })).rejects.toThrow(/prefix/);
    }
    await expect(startPathPrefixProxy({ target: "ftp://x", prefix: "/p" })).rejects.toThrow(/target/);
    await expect(startPathPrefixProxy({ target: "nonsense", prefix: "/p" })).rejects.toThrow(/target/);
  });
});
