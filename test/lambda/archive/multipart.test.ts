import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { archiveKey } from "../../../lambda/config";
import { type ArchiveFixture, GROUP, startArchiveFixture, testConfig } from "../../support/archive-fixture";
import { largeGzip } from "../../support/large-gzip";

// Logs above the 8 MiB part size take the multipart path: staging key, then a conditional copy.
const NOW = Date.parse("2026-11-28T02:20:00Z");
const WINDOW = { startMs: Date.parse("2026-11-28T01:00:00Z"), endMs: Date.parse("2026-11-28T02:00:00Z") };
const WS = { groupId: GROUP, tenantName: "busy" };
const KEY = archiveKey("atlas/stream-audit/", WS, WINDOW);
const MB = 1024 * 1024;

let fixture: ArchiveFixture;
afterEach(async () => {
  await fixture?.close();
});

async function start() {
  fixture = await startArchiveFixture({
    simulator: {
      // Every request gets its own 20 MB log (the same bytes each time).
      body: () => largeGzip(20 * MB, 7).stream,
    },
  });
  // A two-hour lookback at 02:20 holds exactly one due window: 01:00-02:00.
  return testConfig(fixture.sim.baseUrl, {
    window: { minutes: 60, lagMinutes: 15, lookbackHours: 2 },
    schedule: "rate(30 minutes)",
    workspaces: [WS],
  });
}

const staging = async () => (await fixture.s3server.keys()).filter((k) => k.includes(".incoming/"));

describe("large logs (multipart path)", () => {
  it("a reset mid-body aborts the multipart upload: no object, no staging leftover, no open upload", async () => {
    const config = await start();
    fixture.sim.inject({ kind: "reset-mid-body", afterBytes: 12 * MB });
    const first = await fixture.run(config, NOW);
    expect(first.workspaces[0]?.failed.map((f) => [f.window, f.code])).toEqual([
      ["2026-11-28T01:00:00Z/2026-11-28T02:00:00Z", "ATLAS_NETWORK"],
    ]);
    expect(fixture.s3server.operations.some((o) => o.op === "CreateMultipartUpload")).toBe(true);
    expect(fixture.s3server.openMultipartUploads()).toEqual([]);
    expect(await fixture.s3server.keys()).not.toContain(KEY);
    expect(await staging()).toEqual([]);

    const second = await fixture.run(config, NOW);
    expect(second.ok).toBe(true);
    expect(second.workspaces[0]?.archived.map((a) => a.key)).toEqual([KEY]);
  });

  it("a truncated gzip is refused before anything reaches the final key", async () => {
    const config = await start();
    fixture.sim.inject({ kind: "truncate-body" });
    const first = await fixture.run(config, NOW);
    expect(first.workspaces[0]?.failed[0]?.code).toBe("ARCHIVE_GZIP_INVALID");
    expect(fixture.s3server.operations.some((o) => o.op === "CopyObject")).toBe(false);
    expect(fixture.s3server.openMultipartUploads()).toEqual([]);
    expect(await fixture.s3server.keys()).not.toContain(KEY);
  });

  it("two runs racing: one copy wins, the other reports already present, both clean up", async () => {
    const config = await start();
    const [a, b] = await Promise.all([fixture.run(config, NOW), fixture.run(config, NOW)]);
    expect(a.ok && b.ok).toBe(true);
    const winners = [a, b].filter((s) => s.workspaces[0]?.archived.some((w) => w.key === KEY));
    expect(winners).toHaveLength(1);
    expect(a.totals.alreadyPresent + b.totals.alreadyPresent).toBe(1);
    const copies = fixture.s3server.operations.filter((o) => o.op === "CopyObject" && o.key === KEY);
    expect(copies.map((o) => o.status).sort()).toEqual([200, 412]);
    expect(copies.every((o) => o.ifNoneMatch === "*")).toBe(true);
    expect(await staging()).toEqual([]);
    const stored = await fixture.s3server.getObject(KEY);
    expect(stored.metadata.sha256).toBe(createHash("sha256").update(stored.body).digest("hex"));
    expect(stored.contentLength).toBeGreaterThan(20 * MB);
  });

  it("an S3 failure while uploading parts aborts the upload and the window is retried next run", async () => {
    const config = await start();
    fixture.s3server.inject({ op: "UploadPart", status: 500, times: 3 });
    const first = await fixture.run(config, NOW);
    expect(first.workspaces[0]?.failed[0]?.code).toBe("S3_REQUEST_FAILED");
    expect(fixture.s3server.openMultipartUploads()).toEqual([]);
    const second = await fixture.run(config, NOW);
    expect(second.workspaces[0]?.archived.map((a) => a.key)).toEqual([KEY]);
    expect(await staging()).toEqual([]);
  });
});
