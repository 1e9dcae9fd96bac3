import { afterEach, describe, expect, it } from "vitest";
import { archiveKey } from "../../../lambda/config";
import { dueWindows } from "../../../lambda/windows";
import {
  type ArchiveFixture,
  GROUP,
  OTHER_GROUP,
  PROD,
  startArchiveFixture,
  testConfig,
} from "../../support/archive-fixture";
import { largeGzip } from "../../support/large-gzip";

/** The archived logs among `keys`: without the receipts written beside them (`_receipts/`). */
const logKeys = (keys: string[]) => keys.filter((k) => !/(^|\/)_receipts\//.test(k));

// A run never hangs: its deadline aborts the work in flight, a long Atlas pause defers instead of
// freezing, and a hung S3 request ends at its timeout.

const NOW = Date.parse("2026-11-28T15:20:00Z");
const MB = 1024 * 1024;

let fixture: ArchiveFixture;
afterEach(async () => {
  await fixture?.close();
});

describe("archiveRun's deadline", () => {
  it("aborts a download stalled in flight at the deadline and reports the rest deferred, not failed", async () => {
    fixture = await startArchiveFixture();
    const config = testConfig(fixture.sim.baseUrl, { workspaces: [PROD] });
    fixture.sim.inject({ kind: "stall-headers", ms: 3_600_000 });
    const started = Date.now();
    const summary = await fixture.run(config, NOW, { deadlineMs: Date.now() + 400 });
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(summary.workspaces[0]?.failed).toEqual([]);
    expect(summary.ok).toBe(true);
    expect(summary.totals).toMatchObject({ archived: 0, failed: 0, deferred: 5 });
    expect(summary.workspaces[0]?.deferredReason).toBe("deadline");
    expect(summary.backlog).toBe(5);
    expect(logKeys(await fixture.s3server.keys())).toEqual([]);
  });

  it("aborts a multipart upload in flight at the deadline: nothing at the key, no upload left open", async () => {
    fixture = await startArchiveFixture({ simulator: { body: () => largeGzip(20 * MB, 9).stream } });
    const config = testConfig(fixture.sim.baseUrl, {
      window: { minutes: 60, lagMinutes: 15, lookbackHours: 2 },
      schedule: "rate(30 minutes)",
      workspaces: [PROD],
    });
    // The body stops after 12 MB: one part uploaded, the upload open, when the deadline comes.
    fixture.sim.inject({ kind: "stall-body", ms: 3_600_000, afterBytes: 12 * MB });
    const started = Date.now();
    const summary = await fixture.run(config, NOW, { deadlineMs: Date.now() + 1_500 });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(summary.totals).toMatchObject({ archived: 0, failed: 0, deferred: 1 });
    expect(fixture.s3server.operationsOf("CreateMultipartUpload").map((o) => o.status)).toEqual([200]);
    expect(fixture.s3server.operationsOf("AbortMultipartUpload").map((o) => o.status)).toEqual([204]);
    expect(fixture.s3server.openMultipartUploads()).toEqual([]);
    expect(logKeys(await fixture.s3server.keys())).toEqual([]);
  });
});

describe("archiveRun under a long Atlas pause", () => {
  it("fails the refused window naming the Retry-After, defers the project's other windows, and carries on elsewhere", async () => {
    fixture = await startArchiveFixture();
    const billing = { groupId: GROUP, tenantName: "billing" };
    const eu = { groupId: OTHER_GROUP, tenantName: "eu" };
    const config = testConfig(fixture.sim.baseUrl, { workspaces: [PROD, billing, eu] });
    fixture.sim.inject({
      fault: { kind: "status", status: 429, errorCode: "RATE_LIMITED_TOKEN_BUCKET", retryAfter: 999_999 },
      match: { tenantName: "prod-workspace" },
    });
    const started = Date.now();
    const summary = await fixture.run(config, NOW, { settings: { concurrency: 1 } });
    expect(Date.now() - started).toBeLessThan(3_000);
    const [prod, bill, other] = summary.workspaces;
    expect(prod?.failed.map((f) => f.code)).toEqual(["ATLAS_RATE_LIMITED"]);
    expect(prod?.failed[0]?.message).toContain("Retry-After: 999999");
    expect(prod).toMatchObject({ deferred: 4, deferredReason: "rate limit" });
    // Billing's windows are deferred with the project's, save any it archived before the 429.
    expect(bill).toMatchObject({ deferredReason: "rate limit", failed: [] });
    expect((bill?.deferred ?? 0) + (bill?.archived.length ?? 0)).toBe(5);
    expect(other?.archived).toHaveLength(5);
    // Nothing more was asked of the paused project after its Retry-After.
    const downloads = fixture.sim.requests.filter((r) => r.endpoint === "download");
    const refused = downloads.findIndex((r) => r.tenantName === "prod-workspace");
    expect(downloads.slice(refused + 1).filter((r) => r.groupId === GROUP)).toEqual([]);
    expect(fixture.sim.rateLimitViolations()).toBe(0);
  });
});

describe("archiveRun against a hung S3", () => {
  const quickS3 = { timeouts: { requestMs: 300, idleMs: 300 }, maxAttempts: 1 };

  it("fails the window when PutObject never answers, within the request timeout", async () => {
    fixture = await startArchiveFixture({ s3: quickS3 });
    const config = testConfig(fixture.sim.baseUrl, { workspaces: [PROD] });
    fixture.s3server.inject({ op: "PutObject", kind: "stall", ms: 3_600_000 });
    const started = Date.now();
    const summary = await fixture.run(config, NOW);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(summary.totals).toMatchObject({ archived: 4, failed: 1 });
    expect(summary.workspaces[0]?.failed[0]?.code).toBe("S3_TIMEOUT");
    expect(summary.workspaces[0]?.failed[0]?.message).toContain("PutObject");
  });

  it("fails the workspace's windows when ListObjectsV2 never answers, within the request timeout", async () => {
    fixture = await startArchiveFixture({ s3: quickS3 });
    const config = testConfig(fixture.sim.baseUrl, { workspaces: [PROD] });
    fixture.s3server.inject({ op: "ListObjectsV2", kind: "stall", ms: 3_600_000 });
    const started = Date.now();
    const summary = await fixture.run(config, NOW);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(summary.workspaces[0]?.failed.map((f) => f.code)).toEqual(Array(5).fill("S3_TIMEOUT"));
  });
});

describe("archiveRun and conditional-write conflicts", () => {
  it("retries a 409 ConditionalRequestConflict and archives the window (it is not 'already present')", async () => {
    fixture = await startArchiveFixture();
    const config = testConfig(fixture.sim.baseUrl, { workspaces: [PROD] });
    fixture.s3server.inject({ op: "PutObject", status: 409, code: "ConditionalRequestConflict", times: 2 });
    const summary = await fixture.run(config, NOW);
    expect(summary.totals).toMatchObject({ archived: 5, alreadyPresent: 0, failed: 0 });
    expect(logKeys(await fixture.s3server.keys())).toHaveLength(5);
  });

  it("fails the window, never 'already present', when the conflict persists", async () => {
    fixture = await startArchiveFixture();
    const config = testConfig(fixture.sim.baseUrl, { workspaces: [PROD] });
    fixture.s3server.inject({ op: "PutObject", status: 409, code: "ConditionalRequestConflict", times: 3 });
    const summary = await fixture.run(config, NOW);
    expect(summary.ok).toBe(false);
    expect(summary.totals).toMatchObject({ archived: 4, alreadyPresent: 0, failed: 1 });
    expect(summary.workspaces[0]?.failed[0]?.message).toContain("ConditionalRequestConflict");
  });
});

describe("archiveRun and objects it did not write", () => {
  it("counts a foreign object at a window's key as a failure on every run, never as archived", async () => {
    fixture = await startArchiveFixture();
    const config = testConfig(fixture.sim.baseUrl, { workspaces: [PROD] });
    const [first] = dueWindows(NOW, config.window);
    const key = archiveKey(config.archive.prefix, PROD, first as { startMs: number; endMs: number });
    await fixture.s3server.putObject(key, "not the archiver's");
    for (let run = 0; run < 2; run++) {
      const summary = await fixture.run(config, NOW);
      expect(summary.ok).toBe(false);
      expect(summary.totals).toMatchObject({ archived: run === 0 ? 4 : 0, failed: 1, invalid: 1 });
      const failure = summary.workspaces[0]?.failed[0];
      expect(failure).toMatchObject({ code: "ARCHIVE_OBJECT_INVALID", key });
      expect(failure?.message).toContain("is not this window's verified archive");
      expect(failure?.message).toContain("delete it with a principal other than the function");
    }
    expect((await fixture.s3server.getObject(key)).body.toString()).toBe("not the archiver's");
  });

  it("refuses an object whose metadata names another window, found when its conditional write is refused", async () => {
    fixture = await startArchiveFixture();
    const config = testConfig(fixture.sim.baseUrl, { workspaces: [PROD] });
    const [first] = dueWindows(NOW, config.window);
    const key = archiveKey(config.archive.prefix, PROD, first as { startMs: number; endMs: number });
    // Another writer stores an object at the key while this run's PutObject waits.
    fixture.s3server.inject({ op: "PutObject", kind: "stall", ms: 300, keyPrefix: key });
    const summary = await fixture.run(config, NOW, {
      onEvent: (event) => {
        if (event.type === "planned") {
          void fixture.s3server.putObject(key, "x", { "window-start": "2020-01-01T00:00:00Z" }, undefined, {
            algorithm: "crc32",
            value: "AAAAAA==",
          });
        }
      },
    });
    const puts = fixture.s3server.operationsOf("PutObject").filter((o) => o.key === key);
    expect(puts.map((o) => o.status)).toEqual([412]);
    expect(summary.totals).toMatchObject({ archived: 4, alreadyPresent: 0, failed: 1, invalid: 1 });
    expect(summary.workspaces[0]?.failed[0]?.code).toBe("ARCHIVE_OBJECT_INVALID");
    expect(summary.workspaces[0]?.failed[0]?.message).toContain("window-start");
  });
});

describe("archiveRun near the epoch", () => {
  it("never asks Atlas for a window that starts before 1970", async () => {
    fixture = await startArchiveFixture();
    const config = testConfig(fixture.sim.baseUrl, { workspaces: [PROD] });
    const summary = await fixture.run(config, Date.parse("1970-01-01T03:20:00Z"));
    expect(summary.ok).toBe(true);
    expect(summary.workspaces[0]?.archived.map((a) => a.window)).toEqual([
      "1970-01-01T00:00:00Z/1970-01-01T01:00:00Z",
      "1970-01-01T01:00:00Z/1970-01-01T02:00:00Z",
      "1970-01-01T02:00:00Z/1970-01-01T03:00:00Z",
    ]);
  });
});
