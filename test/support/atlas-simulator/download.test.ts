import { Readable } from "node:stream";
import { gunzipSync, gzipSync } from "node:zlib";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AtlasSimulator,
  type AuditLogRequest,
  EMPTY_GZIP,
  expectedLines,
  type SimulatorOptions,
  startAtlasSimulator,
} from "./index";
import {
  ACCEPT,
  auditPath,
  fetchToken,
  findWindow,
  GROUP_ID,
  getWithToken,
  simulatorPerTest,
  TENANT,
} from "./test-client";

const nonEmpty = findWindow(false);
const empty = findWindow(true);

describe("expectedLines", () => {
  it("is deterministic and keeps ascending timestamps inside [start, end)", () => {
    expect(expectedLines(nonEmpty)).toEqual(expectedLines({ ...nonEmpty }));
    const lines = expectedLines(nonEmpty);
    expect(lines.length).toBeGreaterThan(0);
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const times = records.map((r) => Date.parse(String(r.ts)));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    for (const [i, r] of records.entries()) {
      expect(Date.parse(String(r.ts))).toBeGreaterThanOrEqual(nonEmpty.startDate * 1000);
      expect(Date.parse(String(r.ts))).toBeLessThan(nonEmpty.endDate * 1000);
      expect(r).toMatchObject({ seq: i + 1, groupId: GROUP_ID, tenantName: TENANT });
      expect(typeof r.event).toBe("string");
    }
  });

  it("differs between requests and carries the requested spName", () => {
    const other = expectedLines({ ...nonEmpty, tenantName: "other" });
    expect(other).not.toEqual(expectedLines(nonEmpty));
    const withSp = expectedLines({ ...nonEmpty, spName: "proc-1" }, { linesPerWindow: () => 3 });
    expect(withSp).toHaveLength(3);
    for (const line of withSp) expect(JSON.parse(line)).toMatchObject({ spName: "proc-1" });
  });

  it("leaves about one window in five empty and at most 40 lines in the others", () => {
    const counts = Array.from(
      { length: 500 },
      (_, i) =>
        expectedLines({ ...nonEmpty, startDate: 1_786_000_000 + i * 60, endDate: 1_786_000_060 + i * 60 })
          .length,
    );
    const empties = counts.filter((n) => n === 0).length;
    expect(empties).toBeGreaterThan(60);
    expect(empties).toBeLessThan(140);
    expect(Math.max(...counts)).toBeLessThanOrEqual(40);
  });

  it("treats an empty spName like an absent one, and rejects a bad linesPerWindow", () => {
    expect(expectedLines({ ...nonEmpty, spName: "" })).toEqual(expectedLines(nonEmpty));
    expect(() => expectedLines(nonEmpty, { linesPerWindow: () => -1 })).toThrow(/linesPerWindow/);
  });
});

describe("download endpoint", () => {
  let sim: AtlasSimulator;
  let token: string;
  beforeAll(async () => {
    sim = await startAtlasSimulator({
      workspaces: [
        { groupId: GROUP_ID, tenantName: TENANT },
        { groupId: GROUP_ID, tenantName: "a b/c" },
      ],
    });
    token = await fetchToken(sim.baseUrl);
  });
  afterAll(() => sim.close());

  it("serves the window as a streamed gzip of expectedLines, with Atlas's headers", async () => {
    const res = await getWithToken(sim.baseUrl, auditPath(nonEmpty), token);
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("application/vnd.atlas.2023-02-01+gzip");
    expect(res.headers["content-encoding"]).toBeUndefined();
    expect(res.headers["content-length"]).toBeUndefined();
    expect(res.headers["transfer-encoding"]).toBe("chunked");
    const start = new Date(nonEmpty.startDate * 1000).toISOString().replace(".000Z", "Z");
    const end = new Date(nonEmpty.endDate * 1000).toISOString().replace(".000Z", "Z");
    expect(res.headers["content-disposition"]).toBe(
      `attachment; filename="${TENANT}_${start}_${end}_audit.log.gz"`,
    );
    expect(start).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(res.headers["ratelimit-limit"]).toBe("1200");
    expect(Number(res.headers["ratelimit-remaining"])).toBeLessThan(1200);
    const body = Buffer.from(await res.body.arrayBuffer());
    expect(body.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(gunzipSync(body).toString("utf8")).toBe(`${expectedLines(nonEmpty).join("\n")}\n`);
  });

  it("sends exactly the 23-byte empty gzip member for an empty window", async () => {
    expect(EMPTY_GZIP.toString("base64")).toBe("H4sIAAAAAAAA/wEAAP//AAAAAAAAAAA=");
    expect(EMPTY_GZIP).toHaveLength(23);
    const res = await getWithToken(sim.baseUrl, auditPath(empty), token);
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-length"]).toBe("23");
    const body = Buffer.from(await res.body.arrayBuffer());
    expect(body.equals(EMPTY_GZIP)).toBe(true);
    expect(gunzipSync(body)).toHaveLength(0);
  });

  it("decodes the tenant name from the path and passes spName through", async () => {
    const req: AuditLogRequest = { ...nonEmpty, tenantName: "a b/c", spName: "proc 1" };
    const path = auditPath(req);
    expect(path).toContain("a%20b%2Fc");
    const res = await getWithToken(sim.baseUrl, path, token);
    expect(res.statusCode).toBe(200);
    const lines = gunzipSync(Buffer.from(await res.body.arrayBuffer())).toString("utf8");
    expect(lines).toBe(expectedLines(req).length ? `${expectedLines(req).join("\n")}\n` : "");
    expect(sim.requests.at(-1)).toMatchObject({
      tenantName: "a b/c",
      groupId: GROUP_ID,
      query: { spName: "proc 1", startDate: String(req.startDate) },
    });
  });

  it("accepts the other supported version and a simple Accept list", async () => {
    for (const [accept, type] of [
      ["application/vnd.atlas.2025-02-19+gzip", "application/vnd.atlas.2025-02-19+gzip"],
      [
        "application/json;q=0.5, application/vnd.atlas.2023-02-01+gzip",
        "application/vnd.atlas.2023-02-01+gzip",
      ],
    ]) {
      const res = await getWithToken(sim.baseUrl, auditPath(empty), token, { accept: accept ?? "" });
      expect(res.statusCode).toBe(200);
      expect(res.headers["content-type"]).toBe(type);
      await res.body.dump();
    }
  });

  it.each([
    "application/gzip",
    "*/*",
    "application/json",
    "application/vnd.atlas.2024-01-01+gzip",
    "application/vnd.atlas.2023-02-01+json",
    "application/vnd.atlas.2023-02-01+gzip;q=0",
  ])("answers Accept %s with 406", async (accept) => {
    const res = await getWithToken(sim.baseUrl, auditPath(empty), token, { accept });
    expect(res.statusCode).toBe(406);
    expect(res.headers["content-type"]).toBe("application/json");
    expect(await res.body.json()).toMatchObject({ error: 406, errorCode: "NOT_ACCEPTABLE", parameters: [] });
  });

  it("answers a missing Accept with 406", async () => {
    const res = await request(`${sim.baseUrl}${auditPath(empty)}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.statusCode).toBe(406);
    await res.body.dump();
  });

  const s = nonEmpty.startDate;
  it.each([
    ["a short groupId", { groupId: "abc123" }, "INVALID_GROUP_ID"],
    ["an uppercase groupId", { groupId: GROUP_ID.toUpperCase() }, "INVALID_GROUP_ID"],
    ["a missing startDate", { startDate: undefined }, "INVALID_QUERY_PARAMETER"],
    ["a missing endDate", { endDate: undefined }, "INVALID_QUERY_PARAMETER"],
    ["milliseconds", { startDate: s * 1000, endDate: (s + 600) * 1000 }, "INVALID_QUERY_PARAMETER"],
    ["start equal to end", { endDate: s }, "INVALID_QUERY_PARAMETER"],
    ["start after end", { startDate: s + 10, endDate: s }, "INVALID_QUERY_PARAMETER"],
    ["more than 30 days", { endDate: s + 30 * 86_400 + 1 }, "INVALID_QUERY_PARAMETER"],
    ["an envelope parameter", { extra: "envelope=false" }, "INVALID_QUERY_PARAMETER"],
    ["an unknown parameter", { extra: "pretty=true" }, "INVALID_QUERY_PARAMETER"],
    ["a repeated startDate", { extra: `startDate=${s}` }, "INVALID_QUERY_PARAMETER"],
  ])("rejects %s with 400", async (_name, change, errorCode) => {
    const req = { ...nonEmpty, ...change };
    const res = await getWithToken(sim.baseUrl, auditPath(req), token);
    expect(res.statusCode).toBe(400);
    expect(await res.body.json()).toMatchObject({ error: 400, errorCode, reason: "Bad Request" });
  });

  it.each(["1.5e9", "-1", "1786331400.0", "abc", ""])("rejects startDate=%s with 400", async (value) => {
    const path = `${auditPath({ ...nonEmpty, startDate: undefined })}&startDate=${value}`;
    const res = await getWithToken(sim.baseUrl, path, token);
    expect(res.statusCode).toBe(400);
    expect(((await res.body.json()) as { detail: string }).detail).toContain("startDate");
  });

  it("accepts a range of exactly 30 days", async () => {
    const res = await getWithToken(
      sim.baseUrl,
      auditPath({ ...nonEmpty, endDate: s + 30 * 86_400 }),
      token,
      {},
    );
    expect(res.statusCode).toBe(200);
    await res.body.dump();
  });

  it("answers an unknown workspace with 404 naming group and tenant", async () => {
    const res = await getWithToken(sim.baseUrl, auditPath({ ...nonEmpty, tenantName: "ghost" }), token);
    expect(res.statusCode).toBe(404);
    const body = (await res.body.json()) as { error: number; detail: string };
    expect(body.error).toBe(404);
    expect(body.detail).toContain("ghost");
    expect(body.detail).toContain(GROUP_ID);
  });

  it("answers other paths with 404 and other methods with 405, and records them", async () => {
    const other = await request(`${sim.baseUrl}/api/atlas/v2/groups/${GROUP_ID}/streams`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(other.statusCode).toBe(404);
    await other.body.dump();
    const post = await request(`${sim.baseUrl}${auditPath(nonEmpty)}`, {
      method: "POST",
      headers: { accept: ACCEPT },
    });
    expect(post.statusCode).toBe(405);
    await post.body.dump();
    expect(sim.requests.slice(-2).map((r) => [r.endpoint, r.method, r.status])).toEqual([
      ["other", "GET", 404],
      ["download", "POST", 405],
    ]);
  });
});

describe("download options", () => {
  const startSimulator = simulatorPerTest();
  async function start(options: SimulatorOptions): Promise<{ sim: AtlasSimulator; token: string }> {
    const sim = await startSimulator(options);
    return { sim, token: await fetchToken(sim.baseUrl) };
  }

  it("sends application/gzip with legacyContentType", async () => {
    const { sim, token } = await start({ legacyContentType: true });
    const res = await getWithToken(sim.baseUrl, auditPath(nonEmpty), token);
    expect(res.headers["content-type"]).toBe("application/gzip");
    await res.body.dump();
  });

  it("uses linesPerWindow for the line count", async () => {
    const linesPerWindow = (req: AuditLogRequest): number => (req.endDate - req.startDate) / 60;
    const { sim, token } = await start({ linesPerWindow });
    const res = await getWithToken(sim.baseUrl, auditPath(empty), token);
    const text = gunzipSync(Buffer.from(await res.body.arrayBuffer())).toString("utf8");
    expect(text.split("\n").slice(0, -1)).toEqual(expectedLines(empty, { linesPerWindow }));
    expect(expectedLines(empty, { linesPerWindow })).toHaveLength(10);
  });

  it("streams a large default body that gunzips correctly", async () => {
    const { sim, token } = await start({ linesPerWindow: () => 20_000 });
    const res = await getWithToken(sim.baseUrl, auditPath(nonEmpty), token);
    const text = gunzipSync(Buffer.from(await res.body.arrayBuffer())).toString("utf8");
    const lines = text.split("\n");
    expect(lines).toHaveLength(20_001);
    expect(lines.at(-2)).toBe(expectedLines(nonEmpty, { linesPerWindow: () => 20_000 }).at(-1));
  });

  it("sends a body override: a buffer with Content-Length, a stream chunked", async () => {
    const gz = gzipSync("custom\n");
    const { sim, token } = await start({
      body: (req) => (req.tenantName === "stream" ? Readable.from([gz.subarray(0, 5), gz.subarray(5)]) : gz),
    });
    const asBuffer = await getWithToken(sim.baseUrl, auditPath(nonEmpty), token);
    expect(asBuffer.headers["content-length"]).toBe(String(gz.length));
    expect(Buffer.from(await asBuffer.body.arrayBuffer()).equals(gz)).toBe(true);
    const asStream = await getWithToken(sim.baseUrl, auditPath({ ...nonEmpty, tenantName: "stream" }), token);
    expect(asStream.headers["transfer-encoding"]).toBe("chunked");
    expect(Buffer.from(await asStream.body.arrayBuffer()).equals(gz)).toBe(true);
  });

  it("delays headers by latencyMs", async () => {
    const { sim, token } = await start({ latencyMs: 150 });
    const t0 = performance.now();
    const res = await getWithToken(sim.baseUrl, auditPath(empty), token);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    await res.body.dump();
  });

  it("throttles the body to bytesPerSecond", async () => {
    const payload = Buffer.alloc(30_000, 7);
    const { sim, token } = await start({ bytesPerSecond: 100_000, body: () => payload });
    const t0 = performance.now();
    const res = await getWithToken(sim.baseUrl, auditPath(nonEmpty), token);
    const body = Buffer.from(await res.body.arrayBuffer());
    expect(body.equals(payload)).toBe(true);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(280);
  });
});
