import { constants, gunzipSync, inflateSync } from "node:zlib";
import { type Dispatcher, request } from "undici";
import { describe, expect, it } from "vitest";
import {
  type AtlasSimulator,
  DEFAULT_SERVICE_ACCOUNT,
  EMPTY_GZIP,
  expectedLines,
  type SimulatorOptions,
} from "./index";
import {
  ACCEPT,
  auditPath,
  basic,
  challengeFor,
  digestAuthorization,
  fetchToken,
  findWindow,
  getWithToken,
  parseChallenge,
  postToken,
  simulatorPerTest,
} from "./test-client";

const startSimulator = simulatorPerTest();
async function start(
  options?: SimulatorOptions,
): Promise<{ sim: AtlasSimulator; token: string; get: () => Promise<Dispatcher.ResponseData> }> {
  const sim = await startSimulator(options);
  const token = await fetchToken(sim.baseUrl);
  return { sim, token, get: () => getWithToken(sim.baseUrl, path, token) };
}

const window = findWindow(false);
const path = auditPath(window);
const emptyPath = auditPath(findWindow(true));
const fullBody = `${expectedLines(window).join("\n")}\n`;

async function startAndInject(...faults: Parameters<AtlasSimulator["inject"]>) {
  const started = await start();
  started.sim.inject(...faults);
  return started;
}

/** Read a body chunk by chunk; returns the bytes received and the error that ended it, if any. */
async function drain(res: Dispatcher.ResponseData): Promise<{ bytes: Buffer; error?: unknown }> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of res.body) chunks.push(chunk as Buffer);
    return { bytes: Buffer.concat(chunks) };
  } catch (error) {
    return { bytes: Buffer.concat(chunks), error };
  }
}

describe("fault injection", () => {
  it("answers a status fault with an ApiError and Retry-After verbatim, once", async () => {
    const { sim, get } = await start();
    sim.inject({ kind: "status", status: 503, retryAfter: "7" });
    expect(sim.pendingFaults()).toBe(1);
    const res = await get();
    expect(res.statusCode).toBe(503);
    expect(res.headers["retry-after"]).toBe("7");
    expect(res.headers["content-type"]).toBe("application/json");
    expect(await res.body.json()).toMatchObject({
      error: 503,
      errorCode: "SERVICE_UNAVAILABLE",
      reason: "Service Unavailable",
    });
    expect(sim.requests.at(-1)).toMatchObject({ status: 503, fault: "status" });
    expect(sim.pendingFaults()).toBe(0);
    const next = await get();
    expect(next.statusCode).toBe(200);
    await next.body.dump();
  });

  it("uses a given errorCode and detail, and adds a Digest challenge to an injected 401", async () => {
    const { sim, get } = await start();
    sim.inject({ kind: "status", status: 401, errorCode: "CUSTOM", detail: "nope" });
    const res = await get();
    expect(res.statusCode).toBe(401);
    expect(parseChallenge(res.headers["www-authenticate"]).realm).toBe("MMS Public API");
    expect(await res.body.json()).toMatchObject({ errorCode: "CUSTOM", detail: "nope" });
  });

  it("consumes rules first in, first out, `times` attempts each", async () => {
    const { sim, get } = await start();
    sim.inject({ fault: { kind: "status", status: 500 }, times: 2 }, { kind: "status", status: 502 });
    expect(sim.pendingFaults()).toBe(3);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await get();
      statuses.push(res.statusCode);
      await res.body.dump();
    }
    expect(statuses).toEqual([500, 500, 502, 200]);
  });

  it("applies a rule only to the workspace it matches", async () => {
    const { sim, token, get } = await start();
    sim.inject({ fault: { kind: "status", status: 500 }, match: { tenantName: "other" } });
    const unaffected = await get();
    expect(unaffected.statusCode).toBe(200);
    await unaffected.body.dump();
    const affected = await getWithToken(sim.baseUrl, auditPath({ ...window, tenantName: "other" }), token);
    expect(affected.statusCode).toBe(500);
    await affected.body.dump();
    sim.inject({ fault: { kind: "status", status: 500 }, match: { groupId: "ffffffffffffffffffffffff" } });
    const otherGroup = await get();
    expect(otherGroup.statusCode).toBe(200);
    await otherGroup.body.dump();
    sim.clearFaults();
    expect(sim.pendingFaults()).toBe(0);
  });

  it("applies a rule with match.startDate only to that window's downloads, every time", async () => {
    const { sim, token, get } = await start();
    sim.inject({
      fault: { kind: "status", status: 503 },
      times: Number.POSITIVE_INFINITY,
      match: { startDate: window.startDate },
    });
    const next = { ...window, startDate: window.endDate, endDate: window.endDate + 600 };
    const other = await getWithToken(sim.baseUrl, auditPath(next), token);
    expect(other.statusCode).toBe(200);
    await other.body.dump();
    for (let i = 0; i < 2; i++) {
      const struck = await get();
      expect(struck.statusCode).toBe(503);
      await struck.body.dump();
    }
    expect(sim.requests.map((r) => r.fault)).toEqual([undefined, undefined, "status", "status"]);
  });

  it("is not consumed by an unauthenticated Digest challenge round trip", async () => {
    const { sim } = await startAndInject({ kind: "status", status: 500 });
    const challenge = await challengeFor(sim.baseUrl, path);
    expect(sim.pendingFaults()).toBe(1);
    const res = await request(`${sim.baseUrl}${path}`, {
      headers: {
        accept: ACCEPT,
        authorization: digestAuthorization({ challenge, method: "GET", uri: path, nc: 1 }),
      },
    });
    expect(res.statusCode).toBe(500);
    await res.body.dump();
  });

  it("resets the connection before headers", async () => {
    const { sim, get } = await start();
    sim.inject({ kind: "reset-before-headers" });
    await expect(get()).rejects.toThrow();
    expect(sim.requests.at(-1)).toMatchObject({ status: 0, fault: "reset-before-headers" });
    const next = await get();
    expect(next.statusCode).toBe(200);
    await next.body.dump();
  });

  it("closes the connection mid-body after afterBytes", async () => {
    const { sim, token, get } = await start();
    sim.inject({ kind: "reset-mid-body", afterBytes: 40 }, { kind: "reset-mid-body" });
    const res = await get();
    expect(res.statusCode).toBe(200);
    const { bytes, error } = await drain(res);
    expect(error).toBeDefined();
    expect(bytes).toHaveLength(40);
    const emptyRes = await getWithToken(sim.baseUrl, emptyPath, token);
    expect(emptyRes.headers["content-length"]).toBe("23");
    const cut = await drain(emptyRes);
    expect(cut.error).toBeDefined();
    expect(cut.bytes.equals(EMPTY_GZIP.subarray(0, 10))).toBe(true);
  });

  it("truncates the body cleanly: all but the gzip trailer by default, or keepBytes", async () => {
    const { sim, get } = await start();
    sim.inject({ kind: "truncate-body" }, { kind: "truncate-body", keepBytes: 12 });
    const whole = await get();
    expect(whole.headers["content-length"]).toBeUndefined();
    const { bytes, error } = await drain(whole);
    expect(error).toBeUndefined();
    expect(() => gunzipSync(bytes)).toThrow(/unexpected end/i);
    expect(gunzipSync(bytes, { finishFlush: constants.Z_SYNC_FLUSH }).toString("utf8")).toBe(fullBody);
    const short = await drain(await get());
    expect(short.error).toBeUndefined();
    expect(short.bytes).toHaveLength(12);
  });

  it("truncates the empty gzip member too", async () => {
    const { sim, token } = await start();
    sim.inject({ kind: "truncate-body" });
    const res = await getWithToken(sim.baseUrl, emptyPath, token);
    const { bytes, error } = await drain(res);
    expect(error).toBeUndefined();
    expect(bytes.equals(EMPTY_GZIP.subarray(0, 15))).toBe(true);
  });

  it("stalls before the headers", async () => {
    const { sim, get } = await start();
    sim.inject({ kind: "stall-headers", ms: 150 });
    const t0 = performance.now();
    const res = await get();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    expect(gunzipSync(Buffer.from(await res.body.arrayBuffer())).toString("utf8")).toBe(fullBody);
  });

  it("stalls mid-body, then finishes the body", async () => {
    const { sim, get } = await start();
    sim.inject({ kind: "stall-body", ms: 150, afterBytes: 20 });
    const t0 = performance.now();
    const res = await get();
    expect(performance.now() - t0).toBeLessThan(140);
    const { bytes, error } = await drain(res);
    expect(error).toBeUndefined();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    expect(gunzipSync(bytes).toString("utf8")).toBe(fullBody);
  });

  it("sends a wrong Content-Type with the gzip body unchanged", async () => {
    const { sim, get } = await start();
    sim.inject(
      { kind: "wrong-content-type" },
      { kind: "wrong-content-type", contentType: "application/json" },
    );
    const first = await get();
    expect(first.statusCode).toBe(200);
    expect(first.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(gunzipSync(Buffer.from(await first.body.arrayBuffer())).toString("utf8")).toBe(fullBody);
    const second = await get();
    expect(second.headers["content-type"]).toBe("application/json");
    await second.body.dump();
  });

  it("sends an HTML body under the gzip Content-Type", async () => {
    const { sim, get } = await start();
    sim.inject({ kind: "not-gzip" });
    const res = await get();
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("application/vnd.atlas.2023-02-01+gzip");
    const body = Buffer.from(await res.body.arrayBuffer());
    expect(body.toString("utf8")).toMatch(/^<!DOCTYPE html>/);
    expect(res.headers["content-length"]).toBe(String(body.length));
  });

  it("expires the presented bearer token", async () => {
    const { sim, token, get } = await start();
    sim.inject({ kind: "expire-token" });
    const res = await get();
    expect(res.statusCode).toBe(401);
    expect(parseChallenge(res.headers["www-authenticate"]).stale).toBe("false");
    await res.body.dump();
    const again = await getWithToken(sim.baseUrl, path, token);
    expect(again.statusCode).toBe(401);
    await again.body.dump();
    const fresh = await getWithToken(sim.baseUrl, path, await fetchToken(sim.baseUrl));
    expect(fresh.statusCode).toBe(200);
    await fresh.body.dump();
  });

  it("makes the presented digest nonce stale, and skips it for bearer attempts", async () => {
    const { sim, get } = await start();
    sim.inject({ kind: "stale-nonce" });
    const bearer = await get();
    expect(bearer.statusCode).toBe(200);
    await bearer.body.dump();
    const challenge = await challengeFor(sim.baseUrl, path);
    const send = (c: Record<string, string>, nc: number) =>
      request(`${sim.baseUrl}${path}`, {
        headers: {
          accept: ACCEPT,
          authorization: digestAuthorization({ challenge: c, method: "GET", uri: path, nc }),
        },
      });
    const stale = await send(challenge, 1);
    expect(stale.statusCode).toBe(401);
    await stale.body.dump();
    const next = parseChallenge(stale.headers["www-authenticate"]);
    expect(next.stale).toBe("true");
    const reused = await send(challenge, 2);
    expect(reused.statusCode).toBe(401);
    await reused.body.dump();
    const ok = await send(next, 1);
    expect(ok.statusCode).toBe(200);
    await ok.body.dump();
  });

  it("applies faults to the token endpoint when asked", async () => {
    const { sim } = await start();
    sim.inject(
      { fault: { kind: "status", status: 503 }, match: { endpoint: "token" } },
      { fault: { kind: "reset-before-headers" }, match: { endpoint: "token" } },
    );
    const unavailable = await postToken(sim.baseUrl);
    expect(unavailable.statusCode).toBe(503);
    await unavailable.body.dump();
    await expect(postToken(sim.baseUrl)).rejects.toThrow();
    expect(sim.tokensIssued()).toBe(1);
    expect((await postToken(sim.baseUrl)).statusCode).toBe(200);
    expect(sim.requests.filter((r) => r.endpoint === "token").map((r) => r.fault)).toEqual([
      undefined,
      "status",
      "reset-before-headers",
      undefined,
    ]);
  });

  it.each([{ kind: "status", status: 200 }, { kind: "stall-body", ms: -1 }, { kind: "explode" }])(
    "refuses to inject %o",
    async (fault) => {
      const { sim } = await start();
      expect(() => sim.inject(fault as never)).toThrow();
      expect(() => sim.inject({ fault: { kind: "not-gzip" }, times: 0 })).toThrow(/times/);
    },
  );
});

describe("hostile faults", () => {
  it("trickles the body a few bytes every everyMs, chunked: short silences, long whole", async () => {
    const { sim, get } = await start();
    sim.inject({ kind: "trickle-body", everyMs: 4, bytesPerChunk: 50 });
    const t0 = performance.now();
    const res = await get();
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-length"]).toBeUndefined();
    expect(res.headers["transfer-encoding"]).toBe("chunked");
    const chunks: Buffer[] = [];
    const arrivals: number[] = [];
    for await (const chunk of res.body) {
      chunks.push(chunk as Buffer);
      arrivals.push(performance.now());
    }
    const bytes = Buffer.concat(chunks);
    expect(gunzipSync(bytes).toString("utf8")).toBe(fullBody);
    const pieces = Math.ceil(bytes.length / 50);
    expect(pieces).toBeGreaterThan(5);
    expect(chunks.length).toBeGreaterThanOrEqual(pieces / 2);
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThanOrEqual(100);
    expect(performance.now() - t0).toBeGreaterThanOrEqual((pieces - 1) * 4 * 0.9);
    const gaps = arrivals.slice(1).map((at, i) => at - (arrivals[i] ?? at));
    expect(Math.max(...gaps)).toBeLessThan(250);
    expect(sim.requests.at(-1)).toMatchObject({ status: 200, fault: "trickle-body" });
  });

  it("trickles one byte at a time by default and stops when the client goes away", async () => {
    const { sim, get } = await start();
    sim.inject({ kind: "trickle-body", everyMs: 2 });
    const res = await get();
    const first: Buffer[] = [];
    for await (const chunk of res.body) {
      first.push(chunk as Buffer);
      if (Buffer.concat(first).length >= 3) break;
    }
    expect(first.every((c) => c.length <= 2)).toBe(true); // undici may join two 1-byte pieces
    const next = await get();
    expect(next.statusCode).toBe(200);
    expect(gunzipSync(Buffer.from(await next.body.arrayBuffer())).toString("utf8")).toBe(fullBody);
    const t0 = performance.now();
    await sim.close();
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it("declares Transfer-Encoding: gzip, chunked and gzips the gzip log again, which undici hands over as is", async () => {
    const { sim, get } = await start();
    sim.inject({ kind: "transfer-coding" });
    const res = await get();
    expect(res.statusCode).toBe(200);
    expect(res.headers["transfer-encoding"]).toBe("gzip, chunked");
    expect(res.headers["content-length"]).toBeUndefined();
    expect(res.headers["content-encoding"]).toBeUndefined();
    const bytes = Buffer.from(await res.body.arrayBuffer());
    const once = gunzipSync(bytes);
    expect(once.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(gunzipSync(once).toString("utf8")).toBe(fullBody);
    expect(sim.requests.at(-1)).toMatchObject({ status: 200, fault: "transfer-coding" });
  });

  it("applies a deflate transfer coding, and declares an unknown one with the body unchanged", async () => {
    const { sim, get } = await start();
    sim.inject(
      { kind: "transfer-coding", coding: "deflate" },
      { kind: "transfer-coding", coding: "x-custom" },
    );
    const deflated = await get();
    expect(deflated.headers["transfer-encoding"]).toBe("deflate, chunked");
    const bytes = Buffer.from(await deflated.body.arrayBuffer());
    expect(gunzipSync(inflateSync(bytes)).toString("utf8")).toBe(fullBody);
    const custom = await get();
    expect(custom.headers["transfer-encoding"]).toBe("x-custom, chunked");
    expect(gunzipSync(Buffer.from(await custom.body.arrayBuffer())).toString("utf8")).toBe(fullBody);
    expect(() => sim.inject({ kind: "transfer-coding", coding: "chunked" })).toThrow(/coding/);
    expect(() => sim.inject({ kind: "transfer-coding", coding: "gzip, chunked" })).toThrow(/coding/);
  });

  it("echoes the token request's Basic credentials and form in a 401 OAuth error and x-echo", async () => {
    const { sim } = await start();
    sim.inject({ fault: { kind: "echo-credentials" }, match: { endpoint: "token" } });
    const res = await postToken(sim.baseUrl);
    expect(res.statusCode).toBe(401);
    expect(res.headers["www-authenticate"]).toBe('Basic realm="MongoDB Atlas"');
    const header = basic();
    expect(res.headers["x-echo"]).toBe(header);
    const body = (await res.body.json()) as { error: string; error_description: string };
    expect(body.error).toBe("invalid_client");
    const { clientId, clientSecret } = DEFAULT_SERVICE_ACCOUNT;
    for (const leaked of [
      header,
      header.slice("Basic ".length),
      `${clientId}:${clientSecret}`,
      clientSecret,
      "grant_type=client_credentials",
    ]) {
      expect(body.error_description).toContain(leaked);
    }
    expect(sim.tokensIssued()).toBe(1); // the one start() fetched
    expect(sim.requests.at(-1)).toMatchObject({ endpoint: "token", status: 401, fault: "echo-credentials" });
  });

  it("echoes the bearer token of a download in an ApiError detail, with the given status", async () => {
    const { sim, token, get } = await start();
    sim.inject({ kind: "echo-credentials" }, { kind: "echo-credentials", status: 503 });
    const res = await get();
    expect(res.statusCode).toBe(400);
    expect(res.headers["x-echo"]).toBe(`Bearer ${token}`);
    const body = (await res.body.json()) as { error: number; detail: string };
    expect(body.error).toBe(400);
    expect(body.detail).toContain(`Bearer ${token}`);
    const other = await get();
    expect(other.statusCode).toBe(503);
    expect(((await other.body.json()) as { detail: string }).detail).toContain(token);
  });

  it("echoes a Digest header and its response in a 401 that still carries the Digest challenge", async () => {
    const { sim } = await startAndInject({ kind: "echo-credentials", status: 401 });
    const challenge = await challengeFor(sim.baseUrl, path);
    expect(sim.pendingFaults()).toBe(1);
    const authorization = digestAuthorization({ challenge, method: "GET", uri: path, nc: 1 });
    const res = await request(`${sim.baseUrl}${path}`, { headers: { accept: ACCEPT, authorization } });
    expect(res.statusCode).toBe(401);
    expect(parseChallenge(res.headers["www-authenticate"]).realm).toBe("MMS Public API");
    expect(res.headers["x-echo"]).toBe(authorization);
    const detail = ((await res.body.json()) as { detail: string }).detail;
    const response = /response="([^"]+)"/.exec(authorization)?.[1] ?? "";
    expect(response).toMatch(/^[0-9a-f]{32}$/);
    for (const leaked of [authorization, authorization.slice("Digest ".length), response]) {
      expect(detail).toContain(leaked);
    }
    expect(() => sim.inject({ kind: "echo-credentials", status: 200 })).toThrow(/status/);
  });

  it("streams a huge 200 token response of exactly `bytes` bytes, chunked, issuing no token", async () => {
    const { sim } = await start();
    sim.inject({ kind: "huge-token-response", bytes: 2 * 1024 * 1024 });
    const res = await postToken(sim.baseUrl);
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("application/json");
    expect(res.headers["content-length"]).toBeUndefined();
    const text = Buffer.from(await res.body.arrayBuffer()).toString("utf8");
    expect(text).toHaveLength(2 * 1024 * 1024);
    const json = JSON.parse(text) as { access_token: string; token_type: string };
    expect(json.token_type).toBe("Bearer");
    expect(json.access_token.length).toBeGreaterThan(2_000_000);
    expect(sim.tokensIssued()).toBe(1);
    expect(sim.requests.at(-1)).toMatchObject({ endpoint: "token", fault: "huge-token-response" });
  });

  it("generates a huge token response as it is read, so a gigabyte costs only what the client reads", async () => {
    const { sim } = await start();
    sim.inject({ kind: "huge-token-response", bytes: 1_000_000_000 });
    const before = process.memoryUsage().rss;
    const t0 = performance.now();
    const res = await postToken(sim.baseUrl);
    let read = 0;
    for await (const chunk of res.body) {
      read += (chunk as Buffer).length;
      if (read >= 4 * 1024 * 1024) break;
    }
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
    expect(() =>
      sim.inject({ fault: { kind: "huge-token-response", bytes: 10 }, match: { endpoint: "download" } }),
    ).toThrow(/token endpoint/);
    expect(() => sim.inject({ kind: "huge-token-response", bytes: 0 })).toThrow(/bytes/);
  });
});

describe("close", () => {
  it("does not hang on an idle keep-alive connection", async () => {
    const { sim, get } = await start();
    const res = await get();
    await res.body.dump();
    const t0 = performance.now();
    await sim.close();
    expect(performance.now() - t0).toBeLessThan(1000);
    await expect(get()).rejects.toThrow();
  });

  it("does not hang on a stalled body", async () => {
    const { sim, get } = await start();
    sim.inject({ kind: "stall-body", ms: 60_000 });
    const res = await get();
    expect(res.statusCode).toBe(200);
    const reading = drain(res);
    const t0 = performance.now();
    await sim.close();
    expect(performance.now() - t0).toBeLessThan(1000);
    const { error } = await reading;
    expect(error).toBeDefined();
  });

  it("holds an hour-long or longer-than-a-timer stall-headers without a timer overflow, and close() ends it", async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    try {
      const { sim, get } = await start();
      sim.inject({ kind: "stall-headers", ms: 3_600_000 }, { kind: "stall-headers", ms: 3_000_000_000 });
      const pending = [get(), get()];
      for (const p of pending) p.catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(sim.requests.filter((r) => r.endpoint === "download").map((r) => [r.status, r.fault])).toEqual([
        [0, "stall-headers"],
        [0, "stall-headers"],
      ]);
      const t0 = performance.now();
      await sim.close();
      expect(performance.now() - t0).toBeLessThan(1000);
      for (const p of pending) await expect(p).rejects.toThrow();
      expect(warnings.map((w) => w.name)).not.toContain("TimeoutOverflowWarning");
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("does not hang on a request waiting for its headers", async () => {
    const { sim, get } = await start();
    sim.inject({ kind: "stall-headers", ms: 60_000 });
    const pending = get();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const t0 = performance.now();
    await sim.close();
    expect(performance.now() - t0).toBeLessThan(1000);
    await expect(pending).rejects.toThrow();
  });
});
