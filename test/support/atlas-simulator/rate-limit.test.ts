import { describe, expect, it } from "vitest";
import type { SimulatorOptions } from "./index";
import { MAX_RETRY_AFTER_MS, RetryAfterLedger, retryAfterMs } from "./rate-limit";
import { auditPath, fetchToken, findWindow, GROUP_ID, getWithToken, simulatorPerTest } from "./test-client";

const startSimulator = simulatorPerTest();

const window = findWindow(true);
const OTHER_GROUP = "ffffffffffffffffffffffff";

async function start(options: SimulatorOptions) {
  const s = await startSimulator(options);
  const token = await fetchToken(s.baseUrl);
  const get = async (groupId = GROUP_ID) => {
    const res = await getWithToken(s.baseUrl, auditPath({ ...window, groupId }), token);
    const body = (await res.body.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    return { status: res.statusCode, headers: res.headers, body };
  };
  return { sim: s, get };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("rate limiting", () => {
  it("empties a per-group token bucket into 429 RATE_LIMITED_TOKEN_BUCKET with Retry-After", async () => {
    const { sim, get } = await start({ rateLimit: { capacity: 2, refillPerSecond: 0 } });
    const first = await get();
    const second = await get();
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(first.headers["ratelimit-limit"]).toBe("2");
    expect([first.headers["ratelimit-remaining"], second.headers["ratelimit-remaining"]]).toEqual(["1", "0"]);
    const limited = await get();
    expect(limited.status).toBe(429);
    expect(limited.headers["retry-after"]).toBe("1");
    expect(limited.body).toMatchObject({
      error: 429,
      errorCode: "RATE_LIMITED_TOKEN_BUCKET",
      reason: "Too Many Requests",
    });
    expect((await get(OTHER_GROUP)).status).toBe(200);
    expect(sim.rateLimitViolations()).toBe(0);
  });

  it("counts requests for the group that arrive before Retry-After elapsed", async () => {
    const { sim, get } = await start({
      rateLimit: { capacity: 1, refillPerSecond: 0, retryAfterSeconds: 1 },
    });
    await get();
    expect((await get()).status).toBe(429);
    expect((await get()).status).toBe(429); // already on its way: not counted
    expect(sim.rateLimitViolations()).toBe(0);
    await sleep(60);
    expect((await get()).status).toBe(429); // sent after the client knew: too early
    expect(sim.rateLimitViolations()).toBe(1);
    expect((await get(OTHER_GROUP)).status).toBe(200); // another group is not affected
    expect(sim.rateLimitViolations()).toBe(1);
    expect(sim.requests.filter((r) => r.endpoint === "download").map((r) => r.retryAfterViolation)).toEqual([
      false,
      false,
      false,
      true,
      false,
    ]);
    await sleep(1050);
    await get();
    expect(sim.rateLimitViolations()).toBe(1);
  });

  it("refills the bucket over time", async () => {
    const { get } = await start({ rateLimit: { capacity: 1, refillPerSecond: 20, retryAfterSeconds: null } });
    expect((await get()).status).toBe(200);
    expect((await get()).status).toBe(429);
    await sleep(80);
    expect((await get()).status).toBe(200);
  });

  it("omits Retry-After when retryAfterSeconds is null, and then counts no violations", async () => {
    const { sim, get } = await start({
      rateLimit: { capacity: 1, refillPerSecond: 0, retryAfterSeconds: null },
    });
    await get();
    const limited = await get();
    expect(limited.status).toBe(429);
    expect(limited.headers["retry-after"]).toBeUndefined();
    await get();
    expect(sim.rateLimitViolations()).toBe(0);
  });

  it("holds clients to the Retry-After of an injected 503 too", async () => {
    const { sim, get } = await start({});
    sim.inject({ kind: "status", status: 503, retryAfter: 30 });
    expect((await get()).status).toBe(503);
    await sleep(60);
    expect((await get()).status).toBe(200);
    expect(sim.rateLimitViolations()).toBe(1);
  });

  it("sends an HTTP-date or huge Retry-After verbatim without a crash or an overflowing timer", async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    try {
      const { sim, get } = await start({});
      const values = [
        "Wed, 02 Dec 2026 10:00:00 GMT",
        "999999",
        "99999999999",
        99_999_999_999,
        "1e400",
        "soon",
      ];
      for (const retryAfter of values) {
        sim.inject({ kind: "status", status: 503, retryAfter });
        const res = await get();
        expect(res.status).toBe(503);
        expect(res.headers["retry-after"]).toBe(String(retryAfter));
      }
      await sleep(60);
      expect((await get()).status).toBe(200);
      expect(sim.rateLimitViolations()).toBe(1); // the huge delays are still pending
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.map((w) => w.name)).not.toContain("TimeoutOverflowWarning");
      expect(() => sim.inject({ kind: "status", status: 503, retryAfter: "1\r\nx-evil: 1" })).toThrow(
        /header value/,
      );
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("clamps Retry-After values in the ledger: HTTP dates, huge and endless delays stay finite and armed", async () => {
    expect(retryAfterMs("Wed, 02 Dec 2026 10:00:00 GMT")).toBeGreaterThanOrEqual(0);
    expect(retryAfterMs("Wed, 02 Dec 2026 10:00:00 GMT")).toBeLessThanOrEqual(MAX_RETRY_AFTER_MS);
    expect(retryAfterMs("Thu, 01 Jan 1970 00:00:00 GMT")).toBe(0);
    expect(retryAfterMs("999999")).toBe(999_999_000); // 11.6 days: under the cap
    expect(retryAfterMs("99999999999")).toBe(MAX_RETRY_AFTER_MS);
    expect(retryAfterMs("9".repeat(400))).toBe(MAX_RETRY_AFTER_MS);
    expect(retryAfterMs("2")).toBe(2000);
    expect(retryAfterMs("soon")).toBeUndefined();
    const ledger = new RetryAfterLedger();
    for (const ms of [Number.POSITIVE_INFINITY, 1e20, Number.NaN, -5]) {
      expect(() => ledger.promise("g", ms)).not.toThrow();
    }
    expect(ledger.violated("g")).toBe(false); // still in flight
    await sleep(30);
    expect(ledger.violated("g")).toBe(true); // the clamped ones are pending
    expect(ledger.violated("other")).toBe(false);
  });

  it("sends a counting-down RateLimit-Remaining without a configured limit", async () => {
    const { get } = await start({});
    const a = await get();
    const b = await get();
    expect(a.headers["ratelimit-limit"]).toBe("1200");
    expect(Number(b.headers["ratelimit-remaining"])).toBe(Number(a.headers["ratelimit-remaining"]) - 1);
  });
});
