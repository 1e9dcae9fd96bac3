import { createHash } from "node:crypto";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { type ArchiverConfig, archiveKey, type Workspace } from "../../../lambda/config";
import { dueWindows, type TimeWindow } from "../../../lambda/windows";
import {
  type ArchiveFixture,
  BILLING,
  crc32Base64Of,
  expectedText,
  GROUP,
  gunzip,
  OTHER_GROUP,
  PROD,
  startArchiveFixture,
  testConfig,
} from "../../support/archive-fixture";
import { DEFAULT_API_KEY, DEFAULT_SERVICE_ACCOUNT } from "../../support/atlas-simulator";

/** The archived logs among `keys`: without the receipts written beside them (`_receipts/`). */
const logKeys = (keys: string[]) => keys.filter((k) => !/(^|\/)_receipts\//.test(k));

const NOW = Date.parse("2026-11-28T15:20:00Z");

let fixture: ArchiveFixture;
afterEach(async () => {
  await fixture?.close();
});

/** The raw bytes the simulator serves for a window, fetched directly (no archiver involved). */
async function atlasBytes(ws: Workspace, window: TimeWindow): Promise<Buffer> {
  const token = await request(`${fixture.sim.baseUrl}/api/oauth/token`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${DEFAULT_SERVICE_ACCOUNT.clientId}:${DEFAULT_SERVICE_ACCOUNT.clientSecret}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: "grant_type=client_credentials",
  }).then((r) => r.body.json() as Promise<{ access_token: string }>);
  const query = new URLSearchParams({
    startDate: String(window.startMs / 1000),
    endDate: String(window.endMs / 1000),
  });
  if (ws.spName) query.set("spName", ws.spName);
  const res = await request(
    `${fixture.sim.baseUrl}/api/atlas/v2/groups/${ws.groupId}/streams/${ws.tenantName}/auditLogs?${query}`,
    {
      headers: {
        authorization: `Bearer ${token.access_token}`,
        accept: "application/vnd.atlas.2023-02-01+gzip",
      },
    },
  );
  return Buffer.from(await res.body.arrayBuffer());
}

function archiveKeys(config: ArchiverConfig, nowMs: number): string[] {
  return config.workspaces
    .flatMap((ws) => dueWindows(nowMs, config.window).map((w) => archiveKey(config.archive.prefix, ws, w)))
    .sort();
}

describe("archiveRun", () => {
  it("archives every due window of every workspace under the documented keys, byte for byte", async () => {
    fixture = await startArchiveFixture();
    const config = testConfig(fixture.sim.baseUrl);
    const summary = await fixture.run(config, NOW);

    expect(summary.ok).toBe(true);
    expect(summary.totals).toMatchObject({
      due: 10,
      archived: 10,
      alreadyPresent: 0,
      failed: 0,
      deferred: 0,
    });
    expect(summary.backlog).toBe(0);
    const keys = logKeys(await fixture.s3server.keys());
    expect(keys).toEqual(archiveKeys(config, NOW));
    expect(keys).toContain(
      "atlas/stream-audit/group=32b6e34b3d91647abb20e7b8/tenant=prod-workspace/date=2026-11-28/" +
        "prod-workspace_20261128T130000Z_20261128T140000Z_audit.log.gz",
    );
    expect(keys).toContain(
      "atlas/stream-audit/group=32b6e34b3d91647abb20e7b8/tenant=billing/date=2026-11-28/" +
        "billing_payments_20261128T130000Z_20261128T140000Z_audit.log.gz",
    );

    for (const ws of [PROD, BILLING]) {
      for (const window of dueWindows(NOW, config.window)) {
        const stored = await fixture.s3server.getObject(archiveKey(config.archive.prefix, ws, window));
        expect(stored.body.equals(await atlasBytes(ws, window))).toBe(true);
        expect(await gunzip(stored.body)).toBe(expectedText(ws, window));
      }
    }
  });

  it("stores the documented metadata, content type and full-object CRC32; the summary has the SHA-256", async () => {
    fixture = await startArchiveFixture();
    const config = testConfig(fixture.sim.baseUrl);
    const summary = await fixture.run(config, NOW, { runId: "run-42" });
    const window = { startMs: Date.parse("2026-11-28T13:00:00Z"), endMs: Date.parse("2026-11-28T14:00:00Z") };
    const key = archiveKey(config.archive.prefix, BILLING, window);
    const stored = await fixture.s3server.getObject(key);
    expect(stored.contentType).toBe("application/gzip");
    expect(await fixture.storedChecksum(key)).toEqual({
      crc32: crc32Base64Of(stored.body),
      type: "FULL_OBJECT",
    });
    const archived = summary.workspaces.flatMap((w) => w.archived).find((a) => a.key === key);
    expect(archived?.sha256).toBe(createHash("sha256").update(stored.body).digest("hex"));
    expect(archived?.bytes).toBe(stored.body.length);
    expect(stored.metadata).toEqual({
      "window-start": "2026-11-28T13:00:00Z",
      "window-end": "2026-11-28T14:00:00Z",
      "group-id": GROUP,
      "tenant-name": "billing",
      "sp-name": "payments",
      "atlas-api-version": "2023-02-01",
      "run-id": "run-42",
      "atlas-file-name": "billing_2026-11-28T13:00:00Z_2026-11-28T14:00:00Z_audit.log.gz",
      crc32: crc32Base64Of(stored.body),
    });
  });

  it("archives daily windows into one object per UTC day", async () => {
    fixture = await startArchiveFixture();
    const config = testConfig(fixture.sim.baseUrl, {
      window: { minutes: 1440, lagMinutes: 60, lookbackHours: 96 },
      schedule: "rate(1 day)",
      workspaces: [PROD],
    });
    const summary = await fixture.run(config, NOW);
    expect(summary.totals.archived).toBe(3);
    expect(logKeys(await fixture.s3server.keys())).toEqual([
      "atlas/stream-audit/group=32b6e34b3d91647abb20e7b8/tenant=prod-workspace/date=2026-11-25/prod-workspace_20261125T000000Z_20261126T000000Z_audit.log.gz",
      "atlas/stream-audit/group=32b6e34b3d91647abb20e7b8/tenant=prod-workspace/date=2026-11-26/prod-workspace_20261126T000000Z_20261127T000000Z_audit.log.gz",
      "atlas/stream-audit/group=32b6e34b3d91647abb20e7b8/tenant=prod-workspace/date=2026-11-27/prod-workspace_20261127T000000Z_20261128T000000Z_audit.log.gz",
    ]);
  });

  it("archives empty windows as Atlas's empty gzip: the evidence that nothing happened", async () => {
    fixture = await startArchiveFixture({ simulator: { linesPerWindow: () => 0 } });
    const config = testConfig(fixture.sim.baseUrl, { workspaces: [PROD] });
    const summary = await fixture.run(config, NOW);
    expect(summary.totals.archived).toBe(5);
    for (const archived of summary.workspaces[0]?.archived ?? []) {
      expect(archived.bytes).toBe(23);
      expect(archived.lines).toBe(0);
    }
  });

  it("archives nothing new on a second run, and only the newly due window later", async () => {
    fixture = await startArchiveFixture();
    const config = testConfig(fixture.sim.baseUrl);
    await fixture.run(config, NOW);
    const downloads = () => fixture.sim.requests.filter((r) => r.endpoint === "download").length;
    const before = downloads();
    fixture.s3server.clearOperations();
    const again = await fixture.run(config, NOW);
    expect(again.totals).toMatchObject({ archived: 0, alreadyPresent: 10, failed: 0 });
    expect(downloads()).toBe(before);
    // The listing shows each object's full-object CRC32: checking them costs no request of its own.
    expect(fixture.s3server.operations.map((o) => o.op)).toEqual(["ListObjectsV2", "ListObjectsV2"]);
    const later = await fixture.run(config, NOW + 3_600_000);
    expect(later.totals).toMatchObject({ archived: 2, failed: 0 });
    expect(
      fixture.s3server.operations.filter((o) => o.op === "PutObject").every((o) => o.ifNoneMatch === "*"),
    ).toBe(true);
  });

  it("lists each workspace once per run, however many UTC dates its lookback spans", async () => {
    fixture = await startArchiveFixture({ simulator: { linesPerWindow: () => 0 } });
    const config = testConfig(fixture.sim.baseUrl, {
      window: { minutes: 60, lagMinutes: 15, lookbackHours: 72 },
    });
    const first = await fixture.run(config, NOW);
    expect(first.totals).toMatchObject({ archived: 142, failed: 0 });
    fixture.s3server.clearOperations();
    const again = await fixture.run(config, NOW);
    expect(again.totals).toMatchObject({ archived: 0, alreadyPresent: 142 });
    // Four date partitions (2026-11-25 to 2026-11-28) per workspace, one listing each workspace.
    expect(fixture.s3server.operationsOf("ListObjectsV2")).toHaveLength(2);
  });

  it("heals a window that failed mid-body on the next run, leaving nothing behind in between", async () => {
    fixture = await startArchiveFixture();
    const config = testConfig(fixture.sim.baseUrl, { workspaces: [PROD] });
    fixture.sim.inject({ kind: "reset-mid-body", afterBytes: 15 }, { kind: "truncate-body" });
    const first = await fixture.run(config, NOW);
    expect(first.ok).toBe(false);
    expect(first.totals).toMatchObject({ archived: 3, failed: 2 });
    expect(first.workspaces[0]?.failed.map((f) => f.code).sort()).toEqual([
      "ARCHIVE_GZIP_INVALID",
      "ATLAS_NETWORK",
    ]);
    expect(logKeys(await fixture.s3server.keys()).length).toBe(3);
    expect(fixture.s3server.openMultipartUploads()).toEqual([]);

    const second = await fixture.run(config, NOW);
    expect(second.ok).toBe(true);
    expect(second.totals).toMatchObject({ archived: 2, alreadyPresent: 3 });
    expect(logKeys(await fixture.s3server.keys())).toEqual(archiveKeys(config, NOW));
  });

  it("keeps going when one workspace fails, and names the failing window and reason", async () => {
    fixture = await startArchiveFixture({
      simulator: {
        workspaces: [
          { groupId: GROUP, tenantName: "prod-workspace" },
          { groupId: OTHER_GROUP, tenantName: "eu" },
        ],
      },
    });
    const config = testConfig(fixture.sim.baseUrl, {
      workspaces: [
        PROD,
        { groupId: GROUP, tenantName: "deleted-one" },
        { groupId: OTHER_GROUP, tenantName: "eu" },
      ],
    });
    const summary = await fixture.run(config, NOW);
    expect(summary.ok).toBe(false);
    const [prod, deleted, eu] = summary.workspaces;
    expect(prod?.archived).toHaveLength(5);
    expect(eu?.archived).toHaveLength(5);
    expect(deleted?.failed).toHaveLength(5);
    expect(deleted?.failed[0]).toMatchObject({
      code: "ATLAS_NOT_FOUND",
      status: 404,
      window: "2026-11-28T10:00:00Z/2026-11-28T11:00:00Z",
    });
    // After a 404 the workspace is not asked again in this run.
    const asked = fixture.sim.requests.filter(
      (r) => r.endpoint === "download" && r.tenantName === "deleted-one",
    );
    expect(asked).toHaveLength(1);
  });

  it("defers what is left at the deadline and under the per-run cap, and the next run continues", async () => {
    fixture = await startArchiveFixture();
    const config = testConfig(fixture.sim.baseUrl);
    const capped = await fixture.run(config, NOW, { settings: { maxWindows: 3, concurrency: 1 } });
    expect(capped.ok).toBe(true);
    expect(capped.totals).toMatchObject({ archived: 3, deferred: 7 });
    expect(capped.backlog).toBe(7);
    expect(capped.workspaces.map((w) => w.deferredReason)).toContain("window cap");

    // A deadline already passed when the run starts: nothing is attempted, everything is deferred.
    const late = await fixture.run(config, NOW, { deadlineMs: Date.now() - 1 });
    expect(late.totals).toMatchObject({ archived: 0, failed: 0, deferred: 10 });
    expect(late.workspaces.every((w) => w.deferredReason === "deadline")).toBe(true);

    const rest = await fixture.run(config, NOW);
    expect(rest.backlog).toBe(0);
    expect(logKeys(await fixture.s3server.keys())).toEqual(archiveKeys(config, NOW));
  });

  it("reports an S3 failure for the window and heals it next run", async () => {
    fixture = await startArchiveFixture();
    const config = testConfig(fixture.sim.baseUrl, { workspaces: [PROD] });
    fixture.s3server.inject({ op: "PutObject", status: 500, code: "InternalError", times: 3 });
    const first = await fixture.run(config, NOW);
    expect(first.totals).toMatchObject({ archived: 4, failed: 1 });
    expect(first.workspaces[0]?.failed[0]?.code).toBe("S3_REQUEST_FAILED");
    const second = await fixture.run(config, NOW);
    expect(second.totals).toMatchObject({ archived: 1, failed: 0 });
  });

  it("stops downloading for a workspace whose writes S3 denies: the rest of its windows fail unasked", async () => {
    fixture = await startArchiveFixture();
    const config = testConfig(fixture.sim.baseUrl, { workspaces: [PROD] });
    fixture.s3server.inject({ op: "PutObject", status: 403, code: "AccessDenied", times: 1 });
    const summary = await fixture.run(config, NOW);
    expect(summary.totals).toMatchObject({ archived: 0, failed: 5 });
    expect(new Set(summary.workspaces[0]?.failed.map((f) => f.code))).toEqual(new Set(["S3_ACCESS_DENIED"]));
    const downloads = fixture.sim.requests.filter((r) => r.endpoint === "download");
    expect(downloads).toHaveLength(1);
  });

  it("says what to check when the bucket does not exist", async () => {
    fixture = await startArchiveFixture();
    const config = testConfig(fixture.sim.baseUrl, { workspaces: [PROD] });
    const summary = await fixture.run(config, NOW, { bucket: "no-such-bucket" });
    expect(summary.ok).toBe(false);
    expect(summary.workspaces[0]?.failed[0]?.code).toBe("S3_NO_SUCH_BUCKET");
    expect(summary.workspaces[0]?.failed[0]?.message).toContain("archive.bucket");
  });

  it("lets two concurrent runs race without duplicates or damage: the loser reports already present", async () => {
    fixture = await startArchiveFixture();
    const config = testConfig(fixture.sim.baseUrl);
    const [a, b] = await Promise.all([fixture.run(config, NOW), fixture.run(config, NOW)]);
    expect(a.ok && b.ok).toBe(true);
    expect(a.totals.archived + b.totals.archived).toBe(10);
    expect(a.totals.alreadyPresent + b.totals.alreadyPresent).toBe(10);
    const keys = logKeys(await fixture.s3server.keys());
    expect(keys).toEqual(archiveKeys(config, NOW));
    for (const key of keys) {
      const stored = await fixture.s3server.getObject(key);
      expect(await fixture.storedChecksum(key)).toEqual({
        crc32: crc32Base64Of(stored.body),
        type: "FULL_OBJECT",
      });
      await gunzip(stored.body);
    }
  });

  it("archives a historical range, only its due windows", async () => {
    fixture = await startArchiveFixture();
    const config = testConfig(fixture.sim.baseUrl, { workspaces: [PROD] });
    const summary = await fixture.run(config, NOW, {
      range: { fromMs: Date.parse("2026-11-01T22:30:00Z"), toMs: Date.parse("2026-11-02T01:00:00Z") },
    });
    expect(summary.range).toEqual({ from: "2026-11-01T22:30:00Z", to: "2026-11-02T01:00:00Z" });
    expect(summary.workspaces[0]?.archived.map((a) => a.window)).toEqual([
      "2026-11-01T22:00:00Z/2026-11-01T23:00:00Z",
      "2026-11-01T23:00:00Z/2026-11-02T00:00:00Z",
      "2026-11-02T00:00:00Z/2026-11-02T01:00:00Z",
    ]);
    await expect(fixture.run(config, NOW, { range: { fromMs: NOW, toMs: NOW - 1 } })).rejects.toThrow(
      /reversed/,
    );
  });

  it("works end to end with an API key too", async () => {
    fixture = await startArchiveFixture({
      credentials: { kind: "api-key", ...DEFAULT_API_KEY },
    });
    const config = testConfig(fixture.sim.baseUrl);
    const summary = await fixture.run(config, NOW);
    expect(summary.totals.archived).toBe(10);
    expect(fixture.sim.requests.filter((r) => r.auth === "digest" && r.status === 200)).toHaveLength(10);
  });
});
