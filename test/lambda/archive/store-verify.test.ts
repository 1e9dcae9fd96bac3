import { afterEach, describe, expect, it } from "vitest";
import { archiveKey } from "../../../lambda/config";
import { dueWindows } from "../../../lambda/windows";
import {
  type ArchiveFixture,
  crc32Base64Of,
  PROD,
  startArchiveFixture,
  testConfig,
} from "../../support/archive-fixture";
import { largeGzip } from "../../support/large-gzip";

/** The archived logs among `keys`: without the receipts written beside them (`_receipts/`). */
const logKeys = (keys: string[]) => keys.filter((k) => !/(^|\/)_receipts\//.test(k));

// "Archived" means verified bytes at the key, also on a store that neither checks the checksum a
// client sends nor keeps one (S3-compatible stores do this).

const NOW = Date.parse("2026-11-28T15:20:00Z");
const MB = 1024 * 1024;

let fixture: ArchiveFixture;
afterEach(async () => {
  await fixture?.close();
});

describe("storeLog on a store that ignores checksums", () => {
  it("reads a small object back and reports a flipped bit as a failure, never as archived", async () => {
    fixture = await startArchiveFixture({ s3server: { checksums: false } });
    const config = testConfig(fixture.sim.baseUrl, { workspaces: [PROD] });
    fixture.s3server.inject({ op: "PutObject", kind: "corrupt" });
    const summary = await fixture.run(config, NOW);
    expect(summary.ok).toBe(false);
    expect(summary.totals).toMatchObject({ archived: 4, failed: 1, invalid: 1 });
    const failure = summary.workspaces[0]?.failed[0];
    expect(failure?.code).toBe("ARCHIVE_VERIFY_MISMATCH");
    expect(failure?.message).toContain("read back");
    // The corrupt object stays (the archiver never deletes); the next run does not count it archived.
    const key = failure?.key as string;
    expect(logKeys(await fixture.s3server.keys())).toContain(key);
    const next = await fixture.run(config, NOW);
    expect(next.totals).toMatchObject({ archived: 0, alreadyPresent: 4, failed: 1, invalid: 1 });
    expect(next.workspaces[0]?.failed[0]).toMatchObject({ code: "ARCHIVE_OBJECT_INVALID", key });
    expect(next.workspaces[0]?.failed[0]?.message).toContain("do not match the CRC32");
  });

  it("archives intact objects there, proven by reading them back, and counts them on the next run", async () => {
    fixture = await startArchiveFixture({ s3server: { checksums: false } });
    const config = testConfig(fixture.sim.baseUrl, { workspaces: [PROD] });
    const first = await fixture.run(config, NOW);
    expect(first.totals).toMatchObject({ archived: 5, failed: 0 });
    for (const key of logKeys(await fixture.s3server.keys())) {
      const stored = await fixture.s3server.getObject(key);
      expect(stored.checksum).toBeUndefined();
      expect(stored.metadata.crc32).toBe(crc32Base64Of(stored.body));
    }
    expect(fixture.s3server.operationsOf("GetObject")).toHaveLength(5);
    fixture.s3server.clearOperations();
    const second = await fixture.run(config, NOW);
    expect(second.totals).toMatchObject({ archived: 0, alreadyPresent: 5, failed: 0 });
    // Without a checksum in the listing, each object costs one HeadObject and one GetObject per run.
    expect(fixture.s3server.operationsOf("HeadObject")).toHaveLength(5);
    expect(fixture.s3server.operationsOf("GetObject")).toHaveLength(5);
  });

  it("refuses a log above the part size there at once, leaving no upload open", async () => {
    fixture = await startArchiveFixture({
      s3server: { checksums: false },
      simulator: { body: () => largeGzip(12 * MB, 4).stream },
    });
    const config = testConfig(fixture.sim.baseUrl, {
      window: { minutes: 60, lagMinutes: 15, lookbackHours: 2 },
      schedule: "rate(30 minutes)",
      workspaces: [PROD],
    });
    const summary = await fixture.run(config, NOW);
    expect(summary.workspaces[0]?.failed.map((f) => f.code)).toEqual(["S3_CHECKSUM_UNSUPPORTED"]);
    expect(fixture.s3server.operationsOf("UploadPart")).toEqual([]);
    expect(fixture.s3server.openMultipartUploads()).toEqual([]);
    expect(logKeys(await fixture.s3server.keys())).toEqual([]);
  });
});

describe("storeLog on a store that checks checksums", () => {
  it("has a flipped bit refused by S3 itself, and archives the window on the next run", async () => {
    fixture = await startArchiveFixture();
    const config = testConfig(fixture.sim.baseUrl, { workspaces: [PROD] });
    fixture.s3server.inject({ op: "PutObject", kind: "corrupt" });
    const summary = await fixture.run(config, NOW);
    expect(summary.totals).toMatchObject({ archived: 4, failed: 1, invalid: 0 });
    expect(summary.workspaces[0]?.failed[0]?.message).toMatch(/400 (BadDigest|XAmzContentSHA256Mismatch)/);
    expect(logKeys(await fixture.s3server.keys())).toHaveLength(4);
    const next = await fixture.run(config, NOW);
    expect(next.totals).toMatchObject({ archived: 1, alreadyPresent: 4, failed: 0 });
  });
});

describe("the planner's listing", () => {
  it("fails the workspace's windows when ListObjectsV2 repeats its continuation token, instead of looping", async () => {
    fixture = await startArchiveFixture();
    const config = testConfig(fixture.sim.baseUrl, { workspaces: [PROD] });
    const [window] = dueWindows(NOW, config.window);
    const key = archiveKey(config.archive.prefix, PROD, window as { startMs: number; endMs: number });
    fixture.s3server.inject({ op: "ListObjectsV2", kind: "repeat-token", times: 1_000 });
    const started = Date.now();
    const summary = await fixture.run(config, NOW);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(summary.workspaces[0]?.failed.map((f) => f.code)).toEqual(Array(5).fill("S3_LIST_LOOP"));
    expect(summary.workspaces[0]?.failed[0]?.key).toBe(key);
    expect(fixture.s3server.operationsOf("ListObjectsV2").length).toBeLessThanOrEqual(3);
  });
});
