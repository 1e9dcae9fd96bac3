import type { Readable } from "node:stream";
import { PassThrough } from "node:stream";
import { text } from "node:stream/consumers";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { Agent, type Dispatcher } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type AtlasClient,
  type AtlasCredentials,
  AtlasError,
  AtlasForbiddenError,
  AtlasNetworkError,
  AtlasNotFoundError,
  AtlasPausedError,
  AtlasRateLimitedError,
  AtlasRequestError,
  AtlasServerError,
  AtlasTimeoutError,
  AtlasUnauthorizedError,
  AtlasUnexpectedResponseError,
  type CreateAtlasClientOptions,
  createAtlasClient,
  TokenCache,
} from "../../../lambda/atlas";
import { contentDispositionFileName } from "../../../lambda/atlas/body";
import type { Workspace } from "../../../lambda/config";
import { type TimeWindow, toEpochSeconds } from "../../../lambda/windows";
import {
  type AtlasSimulator,
  DEFAULT_API_KEY,
  DEFAULT_SERVICE_ACCOUNT,
  EMPTY_GZIP,
  expectedLines,
  startAtlasSimulator,
} from "../../support/atlas-simulator";
import { fakeClock } from "../../support/fake-clock";
import { type PathPrefixProxy, startPathPrefixProxy } from "../../support/path-prefix-proxy";

const workspace: Workspace = { groupId: "32b6e34b3d91647abb20e7b8", tenantName: "prod-workspace" };
const hour = (h: number): TimeWindow => ({
  startMs: Date.UTC(2026, 10, 28, h),
  endMs: Date.UTC(2026, 10, 28, h + 1),
});
const serviceAccount: AtlasCredentials = { kind: "service-account", ...DEFAULT_SERVICE_ACCOUNT };
const apiKey: AtlasCredentials = { kind: "api-key", ...DEFAULT_API_KEY };

async function gunzipText(body: Readable): Promise<string> {
  const out = new PassThrough();
  const [, decoded] = await Promise.all([pipeline(body, createGunzip(), out), text(out)]);
  return decoded;
}

/** Reads a body to its end and throws the bytes away. */
async function drain(log: { body: Readable }): Promise<void> {
  for await (const _ of log.body);
}

function linesOf(w: Workspace, window: TimeWindow): string {
  const lines = expectedLines({ ...w, ...toEpochSeconds(window) });
  return lines.length ? `${lines.join("\n")}\n` : "";
}

/** A window the simulator fills with lines (it leaves about one in five empty). */
function nonEmptyWindow(w: Workspace = workspace): TimeWindow {
  for (let h = 0; h < 24; h++) if (linesOf(w, hour(h)) !== "") return hour(h);
  throw new Error("no non-empty window in a day");
}

function emptyWindow(w: Workspace = workspace): TimeWindow {
  for (let h = 0; h < 48; h++) {
    const window = {
      startMs: Date.UTC(2026, 10, 20) + h * 3_600_000,
      endMs: Date.UTC(2026, 10, 20) + (h + 1) * 3_600_000,
    };
    if (linesOf(w, window) === "") return window;
  }
  throw new Error("no empty window in two days");
}

let dispatcher: Agent;
beforeAll(() => {
  dispatcher = new Agent({ connect: { timeout: 2_000 } });
});
afterAll(async () => {
  await dispatcher.close();
});

/** A client of `sim` with a service account, a token cache of its own and fixed jitter. */
function clientOf(sim: AtlasSimulator, overrides: Partial<CreateAtlasClientOptions> = {}): AtlasClient {
  return createAtlasClient({
    baseUrl: sim.baseUrl,
    apiVersion: "2023-02-01",
    dispatcher,
    credentials: serviceAccount,
    tokenCache: new TokenCache(),
    random: () => 0.5,
    ...overrides,
  });
}

describe("AtlasClient against the simulator", () => {
  let sim: AtlasSimulator;
  afterEach(async () => {
    await sim?.close();
  });

  function client(overrides: Partial<CreateAtlasClientOptions> = {}): AtlasClient {
    return clientOf(sim, { clock: fakeClock(), ...overrides });
  }

  const downloads = () => sim.requests.filter((r) => r.endpoint === "download");

  describe("with a service account", () => {
    it("downloads the raw gzip of the right window, dates in epoch seconds", async () => {
      sim = await startAtlasSimulator();
      const window = nonEmptyWindow();
      const log = await client().download(workspace, window);
      expect(log.contentType).toBe("application/vnd.atlas.2023-02-01+gzip");
      expect(log.attempts).toBe(1);
      expect(await gunzipText(log.body)).toBe(linesOf(workspace, window));
      const [request] = downloads();
      expect(request?.query).toEqual({
        startDate: String(window.startMs / 1000),
        endDate: String(window.endMs / 1000),
      });
      expect(request?.auth).toBe("bearer");
    });

    it("sends spName and URL-encodes the path", async () => {
      sim = await startAtlasSimulator();
      const ws = { ...workspace, tenantName: "billing_eu-1", spName: "payments" };
      const window = nonEmptyWindow(ws);
      const log = await client().download(ws, window);
      expect(await gunzipText(log.body)).toBe(linesOf(ws, window));
      expect(downloads()[0]?.query.spName).toBe("payments");
      expect(downloads()[0]?.tenantName).toBe("billing_eu-1");
    });

    it("reports the file name, length and rate-limit headers, and passes an empty window through byte for byte", async () => {
      sim = await startAtlasSimulator();
      const window = emptyWindow();
      const log = await client().download(workspace, window);
      expect(log.contentLength).toBe(23);
      expect(log.fileName).toBe(
        `prod-workspace_${new Date(window.startMs).toISOString().replace(".000", "")}_${new Date(window.endMs)
          .toISOString()
          .replace(".000", "")}_audit.log.gz`,
      );
      expect(log.rateLimit.limit).toBeGreaterThan(0);
      expect(log.rateLimit.remaining).toBeGreaterThanOrEqual(0);
      const chunks: Buffer[] = [];
      for await (const c of log.body) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks).equals(EMPTY_GZIP)).toBe(true);
    });

    it("accepts the legacy application/gzip content type", async () => {
      sim = await startAtlasSimulator({ legacyContentType: true });
      const log = await client().download(workspace, nonEmptyWindow());
      expect(log.contentType).toBe("application/gzip");
      await drain(log);
    });

    it("gets one token for many downloads, even concurrent ones, and shares it across clients", async () => {
      sim = await startAtlasSimulator();
      const tokenCache = new TokenCache();
      const a = client({ tokenCache });
      const logs = await Promise.all([0, 1, 2, 3].map((h) => a.download(workspace, hour(h))));
      await Promise.all(logs.map(drain));
      const b = client({ tokenCache });
      await drain(await b.download(workspace, hour(5)));
      expect(sim.tokensIssued()).toBe(1);
    });

    it("authenticates with the raw client id, underscores and all", async () => {
      sim = await startAtlasSimulator({
        serviceAccounts: [{ clientId: "mdb_sa_id_a_b_c", clientSecret: "sk_with_under_scores+/=" }],
      });
      const credentials: AtlasCredentials = {
        kind: "service-account",
        clientId: "mdb_sa_id_a_b_c",
        clientSecret: "sk_with_under_scores+/=",
      };
      await drain(await client({ credentials }).download(workspace, hour(1)));
      expect(sim.tokensIssued()).toBe(1);
    });

    it("refreshes an expired token once and carries on", async () => {
      sim = await startAtlasSimulator();
      const c = client();
      await drain(await c.download(workspace, hour(1)));
      sim.inject({ kind: "expire-token" });
      const log = await c.download(workspace, hour(2));
      expect(log.attempts).toBe(1);
      await drain(log);
      expect(sim.tokensIssued()).toBe(2);
    });

    it("fails with the roles to check when the secret is wrong, and never echoes it", async () => {
      sim = await startAtlasSimulator();
      const credentials: AtlasCredentials = {
        kind: "service-account",
        clientId: DEFAULT_SERVICE_ACCOUNT.clientId,
        clientSecret: "WRONG-SECRET-VALUE",
      };
      const err = await client({ credentials })
        .download(workspace, hour(1))
        .catch((e) => e);
      expect(err).toBeInstanceOf(AtlasUnauthorizedError);
      expect(err.code).toBe("ATLAS_UNAUTHORIZED");
      expect(err.status).toBe(401);
      expect(err.message).toContain("Project Stream Processing Manager");
      expect(JSON.stringify(err)).not.toContain("WRONG-SECRET-VALUE");
      expect(err.message).not.toContain("WRONG-SECRET-VALUE");
      expect(sim.requests.filter((r) => r.endpoint === "token")).toHaveLength(1);
    });

    it("revokes its token on close", async () => {
      sim = await startAtlasSimulator();
      const c = client();
      await drain(await c.download(workspace, hour(1)));
      await c.close();
      expect(sim.requests.filter((r) => r.endpoint === "revoke")).toHaveLength(1);
    });
  });

  describe.each(["MD5", "SHA-256"] as const)("with an API key (Digest %s)", (algorithm) => {
    it("answers the challenge, then reuses it without another 401", async () => {
      sim = await startAtlasSimulator({ digestAlgorithm: algorithm });
      const c = client({ credentials: apiKey });
      const window = nonEmptyWindow();
      const log = await c.download(workspace, window);
      expect(await gunzipText(log.body)).toBe(linesOf(workspace, window));
      await drain(await c.download(workspace, hour(3)));
      expect(downloads().map((r) => r.status)).toEqual([401, 200, 200]);
      expect(downloads().map((r) => r.auth)).toEqual(["none", "digest", "digest"]);
    });

    it("takes a fresh challenge when the nonce goes stale", async () => {
      sim = await startAtlasSimulator({ digestAlgorithm: algorithm });
      const c = client({ credentials: apiKey });
      await drain(await c.download(workspace, hour(1)));
      sim.inject({ kind: "stale-nonce" });
      await drain(await c.download(workspace, hour(2)));
      expect(downloads().map((r) => r.status)).toEqual([401, 200, 401, 200]);
    });

    it("gives up on a wrong private key after one fresh challenge", async () => {
      sim = await startAtlasSimulator({ digestAlgorithm: algorithm });
      const credentials: AtlasCredentials = {
        kind: "api-key",
        publicKey: DEFAULT_API_KEY.publicKey,
        privateKey: "NOPE-NOPE",
      };
      const err = await client({ credentials })
        .download(workspace, hour(1))
        .catch((e) => e);
      expect(err).toBeInstanceOf(AtlasUnauthorizedError);
      expect(err.message).toContain("API key");
      expect(err.message).not.toContain("NOPE-NOPE");
      expect(downloads().map((r) => r.status)).toEqual([401, 401, 401]);
    });
  });

  describe("with a credentials source that can rotate", () => {
    /** A source whose cache holds `stale` until refresh() reads `fresh`. */
    function rotating(stale: AtlasCredentials, fresh: AtlasCredentials) {
      let current = stale;
      let refreshes = 0;
      return {
        source: {
          current: async () => current,
          refresh: async () => {
            refreshes++;
            current = fresh;
            return current;
          },
        },
        refreshes: () => refreshes,
      };
    }

    it("re-reads an API key refused by Digest and carries on with the new one", async () => {
      sim = await startAtlasSimulator();
      const { source, refreshes } = rotating({ ...apiKey, privateKey: "OLD-KEY" }, apiKey);
      const log = await client({ credentials: source }).download(workspace, hour(1));
      await drain(log);
      expect(refreshes()).toBe(1);
      expect(downloads().at(-1)?.status).toBe(200);
    });

    it("re-reads a service account whose token request was refused", async () => {
      sim = await startAtlasSimulator();
      const { source, refreshes } = rotating({ ...serviceAccount, clientSecret: "OLD" }, serviceAccount);
      await drain(await client({ credentials: source }).download(workspace, hour(1)));
      expect(refreshes()).toBe(1);
      expect(sim.tokensIssued()).toBe(1);
    });

    it("gives up when the source still holds the refused credentials", async () => {
      sim = await startAtlasSimulator();
      const wrong = { ...serviceAccount, clientSecret: "WRONG" };
      const { source, refreshes } = rotating(wrong, wrong);
      const err = await client({ credentials: source })
        .download(workspace, hour(1))
        .catch((e) => e);
      expect(err).toBeInstanceOf(AtlasUnauthorizedError);
      expect(refreshes()).toBe(1);
    });
  });

  describe("retries", () => {
    it("waits out a real Retry-After before trying again (no request while it is pending)", async () => {
      sim = await startAtlasSimulator();
      sim.inject({ kind: "status", status: 429, errorCode: "RATE_LIMITED_TOKEN_BUCKET", retryAfter: 1 });
      const started = Date.now();
      const log = await client({ clock: undefined, retry: { baseDelayMs: 20 } }).download(workspace, hour(1));
      await drain(log);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
      expect(log.attempts).toBe(2);
      expect(sim.rateLimitViolations()).toBe(0);
    });

    it("honours a simulated token bucket's Retry-After under concurrency", async () => {
      sim = await startAtlasSimulator({
        rateLimit: { capacity: 2, refillPerSecond: 4, retryAfterSeconds: 1 },
      });
      const c = client({ clock: undefined, retry: { baseDelayMs: 20 } });
      const logs = await Promise.all([0, 1, 2, 3].map((h) => c.download(workspace, hour(h))));
      await Promise.all(logs.map(drain));
      expect(downloads().some((r) => r.status === 429)).toBe(true);
      expect(sim.rateLimitViolations()).toBe(0);
    });

    it("holds every request to a project while its Retry-After runs, with 50 ms of latency on each answer", async () => {
      sim = await startAtlasSimulator({
        latencyMs: 50,
        rateLimit: { capacity: 3, refillPerSecond: 3, retryAfterSeconds: 1 },
      });
      const c = client({ clock: undefined, retry: { baseDelayMs: 20 } });
      const logs = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((h) => c.download(workspace, hour(h))));
      await Promise.all(logs.map(drain));
      expect(downloads().filter((r) => r.status === 429).length).toBeGreaterThan(0);
      expect(sim.rateLimitViolations()).toBe(0);
    });

    it("backs off exponentially when a 429 carries no Retry-After", async () => {
      sim = await startAtlasSimulator();
      sim.inject({
        fault: { kind: "status", status: 429, errorCode: "RATE_LIMITED_TOKEN_BUCKET" },
        times: 2,
      });
      const clock = fakeClock();
      const log = await client({ clock, random: () => 0 }).download(workspace, hour(1));
      await drain(log);
      expect(log.attempts).toBe(3);
      expect(clock.sleeps).toEqual([500, 1_000]);
    });

    it.each([500, 502, 503])("retries a %i and succeeds", async (status) => {
      sim = await startAtlasSimulator();
      sim.inject({ kind: "status", status });
      const log = await client().download(workspace, hour(1));
      await drain(log);
      expect(log.attempts).toBe(2);
    });

    it("gives up on a persistent 503 within the total time budget", async () => {
      sim = await startAtlasSimulator();
      sim.inject({ fault: { kind: "status", status: 503, retryAfter: 120 }, times: 10 });
      const clock = fakeClock();
      const err = await client({ clock })
        .download(workspace, hour(1))
        .catch((e) => e);
      expect(err).toBeInstanceOf(AtlasServerError);
      expect(err.code).toBe("ATLAS_SERVER_ERROR");
      expect(err.retryable).toBe(true);
      expect(err.message).toContain("after 3 attempts");
      expect(clock.sleeps.reduce((a: number, b: number) => a + b, 0)).toBeLessThanOrEqual(300_000);
    });

    it("retries a connection reset before the headers", async () => {
      sim = await startAtlasSimulator();
      sim.inject({ kind: "reset-before-headers" });
      const log = await client().download(workspace, hour(1));
      await drain(log);
      expect(log.attempts).toBe(2);
    });

    it("retries when the headers do not arrive in time", async () => {
      sim = await startAtlasSimulator();
      sim.inject({ kind: "stall-headers", ms: 2_000 });
      const log = await client({ timeouts: { headersMs: 200 } }).download(workspace, hour(1));
      await drain(log);
      expect(log.attempts).toBe(2);
    });

    it.each([
      [400, AtlasRequestError, "ATLAS_BAD_REQUEST"],
      [403, AtlasForbiddenError, "ATLAS_FORBIDDEN"],
      [404, AtlasNotFoundError, "ATLAS_NOT_FOUND"],
    ] as const)("never retries a %i", async (status, type, code) => {
      sim = await startAtlasSimulator();
      sim.inject({
        fault: { kind: "status", status, errorCode: "SOME_CODE", detail: "the detail" },
        times: 5,
      });
      const err = await client()
        .download(workspace, hour(1))
        .catch((e) => e);
      expect(err).toBeInstanceOf(type);
      expect(err.code).toBe(code);
      expect(err.status).toBe(status);
      expect(err.atlasErrorCode).toBe("SOME_CODE");
      expect(err.detail).toBe("the detail");
      expect(err.context.workspace).toBe("32b6e34b3d91647abb20e7b8/prod-workspace");
      expect(err.context.window).toBe("2026-11-28T01:00:00Z/2026-11-28T02:00:00Z");
      expect(downloads()).toHaveLength(1);
    });
  });

  describe("errors that name what to fix", () => {
    it("names the group and workspace on 404", async () => {
      sim = await startAtlasSimulator({ workspaces: [workspace] });
      const err = await client()
        .download({ ...workspace, tenantName: "no-such" }, hour(1))
        .catch((e) => e);
      expect(err).toBeInstanceOf(AtlasNotFoundError);
      expect(err.message).toContain('"no-such"');
      expect(err.message).toContain(workspace.groupId);
    });

    it("names the roles and the access list on 403", async () => {
      sim = await startAtlasSimulator();
      sim.inject({ kind: "status", status: 403 });
      const err = await client()
        .download(workspace, hour(1))
        .catch((e) => e);
      expect(err.message).toContain("Organization Stream Processing Admin");
      expect(err.message).toContain("access list");
    });

    it("points at apiVersion when Atlas does not serve it", async () => {
      sim = await startAtlasSimulator();
      const err = await client({ apiVersion: "2099-01-01" })
        .download(workspace, hour(1))
        .catch((e) => e);
      expect(err).toBeInstanceOf(AtlasRequestError);
      expect(err.status).toBe(406);
      expect(err.message).toContain("atlas.apiVersion");
    });
  });

  describe("a 200 that is not an audit log", () => {
    it("refuses a wrong content type without retrying", async () => {
      sim = await startAtlasSimulator();
      sim.inject({ kind: "wrong-content-type" });
      const err = await client()
        .download(workspace, hour(1))
        .catch((e) => e);
      expect(err).toBeInstanceOf(AtlasUnexpectedResponseError);
      expect(err.message).toContain("text/html");
      expect(downloads()).toHaveLength(1);
    });

    it("refuses a body without the gzip magic bytes", async () => {
      sim = await startAtlasSimulator();
      sim.inject({ kind: "not-gzip" });
      const err = await client()
        .download(workspace, hour(1))
        .catch((e) => e);
      expect(err).toBeInstanceOf(AtlasUnexpectedResponseError);
      expect(err.code).toBe("ATLAS_UNEXPECTED_RESPONSE");
      expect(err.message).toContain("gzip magic bytes");
    });
  });

  describe("body failures reach the consumer as typed errors", () => {
    it("a reset mid-body errors the stream", async () => {
      sim = await startAtlasSimulator({ linesPerWindow: () => 5_000 });
      sim.inject({ kind: "reset-mid-body", afterBytes: 1_000 });
      const c = client();
      const log = await c.download(workspace, hour(1));
      const err = await gunzipText(log.body).catch((e) => e);
      const typed = err;
      expect(typed).toBeInstanceOf(AtlasNetworkError);
      expect((typed as AtlasNetworkError).context.window).toBe("2026-11-28T01:00:00Z/2026-11-28T02:00:00Z");
    });

    it("a body that goes silent past the idle timeout errors the stream", async () => {
      sim = await startAtlasSimulator({ linesPerWindow: () => 5_000 });
      sim.inject({ kind: "stall-body", ms: 3_000, afterBytes: 1_000 });
      const c = client({ timeouts: { bodyIdleMs: 200 } });
      const log = await c.download(workspace, hour(1));
      const err = await gunzipText(log.body).catch((e) => e);
      const typed = err;
      expect(typed).toBeInstanceOf(AtlasNetworkError);
      expect(typed.message).toContain("silent");
    });
  });
});

describe("AtlasClient: every wait and every request is bounded", () => {
  let sim: AtlasSimulator;
  afterEach(async () => {
    await sim?.close();
  });
  const client = (overrides: Partial<CreateAtlasClientOptions> = {}) => clientOf(sim, overrides);
  const downloads = () => sim.requests.filter((r) => r.endpoint === "download");
  const other: Workspace = { groupId: workspace.groupId, tenantName: "billing" };

  it.each(["999999", "99999999999"])(
    "fails at once, naming it, when a 429's Retry-After (%s s) is beyond the call's budget",
    async (retryAfter) => {
      sim = await startAtlasSimulator();
      sim.inject({ kind: "status", status: 429, errorCode: "RATE_LIMITED_TOKEN_BUCKET", retryAfter });
      const warnings: Error[] = [];
      const onWarning = (w: Error) => warnings.push(w);
      process.on("warning", onWarning);
      const started = Date.now();
      const err = await client()
        .download(workspace, hour(1))
        .catch((e) => e);
      process.off("warning", onWarning);
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(err).toBeInstanceOf(AtlasRateLimitedError);
      expect(err.code).toBe("ATLAS_RATE_LIMITED");
      expect(err.message).toContain(`Retry-After: ${retryAfter}`);
      expect(err.message).toContain("retry budget of 5 min");
      expect(downloads()).toHaveLength(1);
      expect(warnings.filter((w) => w.name === "TimeoutOverflowWarning")).toEqual([]);
    },
  );

  it("reads a Retry-After HTTP date, and refuses one a day ahead", async () => {
    sim = await startAtlasSimulator();
    const clock = fakeClock(Date.now());
    const tomorrow = new Date(clock.now() + 86_400_000).toUTCString();
    sim.inject({ kind: "status", status: 429, retryAfter: tomorrow });
    const err = await client({ clock })
      .download(workspace, hour(1))
      .catch((e) => e);
    expect(err).toBeInstanceOf(AtlasRateLimitedError);
    expect(err.message).toContain(`Retry-After: ${tomorrow}`);
    expect(clock.sleeps).toEqual([]);
  });

  it("waits out a Retry-After date inside the budget", async () => {
    sim = await startAtlasSimulator();
    const clock = fakeClock(Date.now());
    sim.inject({ kind: "status", status: 429, retryAfter: new Date(clock.now() + 62_000).toUTCString() });
    const log = await client({ clock, random: () => 0 }).download(workspace, hour(1));
    await drain(log);
    expect(log.attempts).toBe(2);
    // The HTTP date has whole seconds: between 61 and 62 s, plus the 500 ms backoff.
    expect(clock.sleeps[0]).toBeGreaterThanOrEqual(61_500);
    expect(clock.sleeps[0]).toBeLessThanOrEqual(62_500);
  });

  it("never waits past the run's deadline for a Retry-After that fits the budget", async () => {
    sim = await startAtlasSimulator();
    const clock = fakeClock(Date.now());
    sim.inject({ kind: "status", status: 503, retryAfter: 30 });
    const err = await client({ clock })
      .download(workspace, hour(1), { deadlineMs: clock.now() + 10_000 })
      .catch((e) => e);
    expect(err).toBeInstanceOf(AtlasServerError);
    expect(err.message).toContain("Retry-After: 30");
    expect(err.message).toContain("the run's deadline");
    expect(clock.sleeps).toEqual([]);
  });

  it("defers the project's other downloads while a long pause runs, without a request, and not other projects", async () => {
    sim = await startAtlasSimulator();
    sim.inject({ kind: "status", status: 429, retryAfter: 999_999 });
    const c = client();
    await expect(c.download(workspace, hour(1))).rejects.toBeInstanceOf(AtlasRateLimitedError);
    const started = Date.now();
    const paused = await c.download(other, hour(1)).catch((e) => e);
    expect(Date.now() - started).toBeLessThan(500);
    expect(paused).toBeInstanceOf(AtlasPausedError);
    expect(paused.code).toBe("ATLAS_PAUSED");
    expect(paused.message).toContain("Retry-After: 999999");
    expect(paused.message).toContain(workspace.groupId);
    expect(downloads()).toHaveLength(1);
    await drain(await c.download({ groupId: "5f1e2d3c4b5a69788796a5b4", tenantName: "eu" }, hour(1)));
  });

  it("ends a call whose headers never come within its retry budget, whatever the headers timeout", async () => {
    sim = await startAtlasSimulator();
    sim.inject({ fault: { kind: "stall-headers", ms: 3_600_000 }, times: 10 });
    const started = Date.now();
    const err = await client({
      retry: { baseDelayMs: 10, maxDelayMs: 10, maxTotalMs: 700 },
      timeouts: { headersMs: 600 },
    })
      .download(workspace, hour(1))
      .catch((e) => e);
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(AtlasError);
    expect(elapsed).toBeGreaterThanOrEqual(650);
    expect(elapsed).toBeLessThan(950);
  });

  it("ends a download whose body never finishes at its overall bound, though it is never silent for long", async () => {
    sim = await startAtlasSimulator({ linesPerWindow: () => 5_000 });
    sim.inject({ kind: "stall-body", ms: 30_000, afterBytes: 1_000 });
    const c = client({ timeouts: { downloadMs: 500, bodyIdleMs: 60_000 } });
    const started = Date.now();
    const log = await c.download(workspace, hour(1));
    const err = await gunzipText(log.body).catch((e) => e);
    expect(Date.now() - started).toBeLessThan(1_000);
    const typed = err;
    expect(typed).toBeInstanceOf(AtlasTimeoutError);
    expect(typed.message).toContain("did not finish within 500 ms");
    expect((typed as AtlasTimeoutError).context.window).toBe("2026-11-28T01:00:00Z/2026-11-28T02:00:00Z");
  });

  it("aborts the request, or the body in progress, when the caller's signal aborts", async () => {
    sim = await startAtlasSimulator({ linesPerWindow: () => 5_000 });
    sim.inject({ kind: "stall-headers", ms: 3_600_000 });
    const before = new AbortController();
    setTimeout(() => before.abort(new Error("deadline")), 100);
    await expect(client().download(workspace, hour(1), { signal: before.signal })).rejects.toThrow(
      "deadline",
    );

    sim.inject({ kind: "stall-body", ms: 30_000, afterBytes: 1_000 });
    const during = new AbortController();
    const log = await client().download(workspace, hour(2), { signal: during.signal });
    setTimeout(() => during.abort(new Error("deadline")), 100);
    await expect(gunzipText(log.body)).rejects.toThrow("deadline");
  });

  it("uses a short-lived token for most of its life instead of minting one per download, and revokes every token it minted", async () => {
    // A 2-minute token (at or below the 5-minute refresh margin) is used until a quarter of its life is left.
    sim = await startAtlasSimulator({ tokenTtlSeconds: 120 });
    const clock = fakeClock();
    const c = client({ clock });
    for (let h = 0; h < 4; h++) await drain(await c.download(workspace, hour(h)));
    expect(sim.tokensIssued()).toBe(1);
    clock.advance(85_000);
    await drain(await c.download(workspace, hour(4)));
    expect(sim.tokensIssued()).toBe(1);
    // Past 90 s a new one is minted, while the first still lives at Atlas.
    clock.advance(10_000);
    await drain(await c.download(workspace, hour(5)));
    expect(sim.tokensIssued()).toBe(2);
    // One Atlas refuses is dead and needs no revoking.
    sim.inject({ kind: "expire-token" });
    await drain(await c.download(workspace, hour(6)));
    expect(sim.tokensIssued()).toBe(3);
    expect(sim.liveTokens()).toBe(2);
    await c.close();
    expect(sim.requests.filter((r) => r.endpoint === "revoke")).toHaveLength(2);
    expect(sim.liveTokens()).toBe(0);
  });

  it("ends a body that trickles (never silent for long, never done) at the download's overall bound", async () => {
    sim = await startAtlasSimulator({ linesPerWindow: () => 50 });
    sim.inject({ kind: "trickle-body", everyMs: 20 });
    const c = client({ timeouts: { downloadMs: 400, bodyIdleMs: 60_000 } });
    const started = Date.now();
    const log = await c.download(workspace, hour(1));
    const err = await gunzipText(log.body).catch((e) => e);
    expect(Date.now() - started).toBeLessThan(900);
    expect(err).toBeInstanceOf(AtlasTimeoutError);
  });
});

describe("AtlasClient against a hostile server", () => {
  let sim: AtlasSimulator;
  /** Every Authorization header the client sent, to look for in what it reports. */
  let sent: string[];
  afterEach(async () => {
    await sim?.close();
  });
  const client = (overrides: Partial<CreateAtlasClientOptions> = {}) => {
    sent = [];
    const recording = {
      request: (options: Dispatcher.RequestOptions) => {
        const authorization = (options.headers as Record<string, string> | undefined)?.authorization;
        if (authorization) sent.push(authorization);
        return dispatcher.request(options);
      },
    } as unknown as Dispatcher;
    return clientOf(sim, { dispatcher: recording, clock: fakeClock(), ...overrides });
  };
  /** The credential parts a leak would show. */
  const secretsIn = (header: string): string[] => {
    const credential = header.slice(header.indexOf(" ") + 1);
    const parts = [header, credential];
    if (header.startsWith("Basic ")) parts.push(Buffer.from(credential, "base64").toString("utf8"));
    const response = /response="?([0-9a-f]+)/.exec(header)?.[1];
    if (response) parts.push(response);
    return parts;
  };
  const expectNoLeak = (err: unknown, extra: string[]) => {
    const text = `${(err as Error).message}\n${JSON.stringify(err)}`;
    expect(text).toContain("[redacted]");
    for (const secret of [...sent.flatMap(secretsIn), ...extra]) expect(text).not.toContain(secret);
  };

  it("keeps the client secret out of a token endpoint's 401 that echoes it", async () => {
    sim = await startAtlasSimulator();
    sim.inject({ fault: { kind: "echo-credentials" }, match: { endpoint: "token" } });
    const err = await client()
      .download(workspace, hour(1))
      .catch((e) => e);
    expect(err).toBeInstanceOf(AtlasUnauthorizedError);
    expect(sent[0]).toMatch(/^Basic /);
    expectNoLeak(err, [DEFAULT_SERVICE_ACCOUNT.clientSecret]);
  });

  it("keeps the bearer token out of a download error that echoes it", async () => {
    sim = await startAtlasSimulator();
    sim.inject({ kind: "echo-credentials", status: 400 });
    const err = await client()
      .download(workspace, hour(1))
      .catch((e) => e);
    expect(err).toBeInstanceOf(AtlasRequestError);
    expect(sent.some((h) => h.startsWith("Bearer "))).toBe(true);
    expectNoLeak(err, []);
    expect(err.detail).toContain("[redacted]");
  });

  it("keeps the private key and the Digest response out of a download error that echoes them", async () => {
    sim = await startAtlasSimulator();
    sim.inject({ kind: "echo-credentials", status: 403 });
    const err = await client({ credentials: apiKey })
      .download(workspace, hour(1))
      .catch((e) => e);
    expect(err).toBeInstanceOf(AtlasForbiddenError);
    expect(sent.some((h) => h.startsWith("Digest "))).toBe(true);
    expectNoLeak(err, [DEFAULT_API_KEY.privateKey]);
  });

  it("refuses a 200 MB token reply after reading 64 KiB of it", async () => {
    sim = await startAtlasSimulator();
    sim.inject({ kind: "huge-token-response", bytes: 200 * 1024 * 1024 });
    const before = process.memoryUsage().rss;
    const started = Date.now();
    const err = await client()
      .download(workspace, hour(1))
      .catch((e) => e);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(err).toBeInstanceOf(AtlasUnexpectedResponseError);
    expect(err.message).toContain("more than 64 KiB");
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
    expect(downloadsOf(sim)).toEqual([]);
  });

  it("refuses a 200 sent with a compressing transfer coding instead of archiving it compressed twice", async () => {
    sim = await startAtlasSimulator();
    sim.inject({ kind: "transfer-coding" });
    const err = await client()
      .download(workspace, hour(1))
      .catch((e) => e);
    expect(err).toBeInstanceOf(AtlasUnexpectedResponseError);
    expect(err.message).toContain('Transfer-Encoding "gzip, chunked"');
    expect(downloadsOf(sim)).toHaveLength(1);
  });
});

describe("AtlasClient behind a path-prefix proxy (atlas.baseUrl with a path)", () => {
  let sim: AtlasSimulator;
  let proxy: PathPrefixProxy;
  afterEach(async () => {
    await proxy?.close();
    await sim?.close();
  });

  it.each([
    [
      "a service account",
      serviceAccount,
      ["POST /atlas-proxy/api/oauth/token", "GET", "POST /atlas-proxy/api/oauth/revoke"],
    ],
    ["an API key", apiKey, ["GET", "GET"]],
  ] as const)(
    "downloads, gets and revokes its token through the prefix with %s",
    async (_, credentials, calls) => {
      sim = await startAtlasSimulator();
      proxy = await startPathPrefixProxy({ target: sim.baseUrl, prefix: "/atlas-proxy" });
      const c = clientOf(sim, { baseUrl: `${proxy.baseUrl}/`, credentials });
      const window = nonEmptyWindow();
      const log = await c.download(workspace, window);
      expect(await gunzipText(log.body)).toBe(linesOf(workspace, window));
      await c.close();
      const seen = proxy.requests.map((r) => `${r.method} ${r.path}`);
      expect(seen.map((line, i) => (calls[i] === "GET" ? line.split(" ")[0] : line))).toEqual(calls);
      for (const line of seen.filter((l) => l.startsWith("GET"))) {
        expect(line.startsWith("GET /atlas-proxy/api/atlas/v2/groups/")).toBe(true);
      }
      expect(sim.liveTokens()).toBe(0);
    },
  );
});

const downloadsOf = (sim: AtlasSimulator) => sim.requests.filter((r) => r.endpoint === "download");

describe("contentDispositionFileName", () => {
  it("reads quoted and token forms", () => {
    expect(
      contentDispositionFileName(
        'attachment; filename="instance-908_2026-08-10T03:12:58Z_2026-08-10T03:13:08Z_audit.log.gz"',
      ),
    ).toBe("instance-908_2026-08-10T03:12:58Z_2026-08-10T03:13:08Z_audit.log.gz");
    expect(contentDispositionFileName("attachment; filename=a.gz")).toBe("a.gz");
    expect(contentDispositionFileName(undefined)).toBeUndefined();
    expect(contentDispositionFileName("inline")).toBeUndefined();
  });
});
