import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { storeLog } from "../../../lambda/bucket/store";
import { archiveKey } from "../../../lambda/config";
import {
  type ArchiveFixture,
  crc32Base64Of,
  GROUP,
  startArchiveFixture,
  testConfig,
} from "../../support/archive-fixture";
import { type LargeGzip, largeGzip } from "../../support/large-gzip";

/** The archived logs among `keys`: without the receipts written beside them (`_receipts/`). */
const logKeys = (keys: string[]) => keys.filter((k) => !/(^|\/)_receipts\//.test(k));

// Logs above the 8 MiB part size take the multipart path: parts straight to the final key, then a
// conditional CompleteMultipartUpload carrying the whole object's CRC32.
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

const completes = () =>
  fixture.s3server.operations.filter((o) => o.op === "CompleteMultipartUpload" && o.key === KEY);

describe("large logs (multipart path)", () => {
  it("a reset mid-body aborts the multipart upload: no object, no open upload; the next run heals it", async () => {
    const config = await start();
    fixture.sim.inject({ kind: "reset-mid-body", afterBytes: 12 * MB });
    const first = await fixture.run(config, NOW);
    expect(first.workspaces[0]?.failed.map((f) => [f.window, f.code])).toEqual([
      ["2026-11-28T01:00:00Z/2026-11-28T02:00:00Z", "ATLAS_NETWORK"],
    ]);
    expect(fixture.s3server.operations.some((o) => o.op === "CreateMultipartUpload")).toBe(true);
    expect(fixture.s3server.openMultipartUploads()).toEqual([]);
    expect(logKeys(await fixture.s3server.keys())).toEqual([]);
    expect(completes()).toEqual([]);

    const second = await fixture.run(config, NOW);
    expect(second.ok).toBe(true);
    expect(second.workspaces[0]?.archived.map((a) => a.key)).toEqual([KEY]);
  });

  it("a truncated gzip is refused before anything reaches the final key", async () => {
    const config = await start();
    fixture.sim.inject({ kind: "truncate-body" });
    const first = await fixture.run(config, NOW);
    expect(first.workspaces[0]?.failed[0]?.code).toBe("ARCHIVE_GZIP_INVALID");
    expect(completes()).toEqual([]);
    expect(fixture.s3server.openMultipartUploads()).toEqual([]);
    expect(logKeys(await fixture.s3server.keys())).not.toContain(KEY);
  });

  it("two runs racing: one Complete wins, the other gets 412, reports already present and aborts", async () => {
    const config = await start();
    const [a, b] = await Promise.all([fixture.run(config, NOW), fixture.run(config, NOW)]);
    expect(a.ok && b.ok).toBe(true);
    const winners = [a, b].filter((s) => s.workspaces[0]?.archived.some((w) => w.key === KEY));
    expect(winners).toHaveLength(1);
    expect(a.totals.alreadyPresent + b.totals.alreadyPresent).toBe(1);
    expect(
      completes()
        .map((o) => o.status)
        .sort(),
    ).toEqual([200, 412]);
    expect(completes().every((o) => o.ifNoneMatch === "*")).toBe(true);
    expect(fixture.s3server.openMultipartUploads()).toEqual([]);
    expect(logKeys(await fixture.s3server.keys())).toEqual([KEY]);
    const stored = await fixture.s3server.getObject(KEY);
    expect(await fixture.storedChecksum(KEY)).toEqual({
      crc32: crc32Base64Of(stored.body),
      type: "FULL_OBJECT",
    });
    expect(stored.contentLength).toBeGreaterThan(20 * MB);
  });

  it("an S3 failure while uploading parts aborts the upload and the window is retried next run", async () => {
    const config = await start();
    // Every UploadPart fails: with four parts in flight, three faults could be shared out among
    // them and each part's retry succeed.
    fixture.s3server.inject({ op: "UploadPart", status: 500, times: 1_000 });
    const first = await fixture.run(config, NOW);
    expect(first.workspaces[0]?.failed[0]?.code).toBe("S3_REQUEST_FAILED");
    expect(fixture.s3server.openMultipartUploads()).toEqual([]);
    fixture.s3server.clearFaults();
    const second = await fixture.run(config, NOW);
    expect(second.workspaces[0]?.archived.map((a) => a.key)).toEqual([KEY]);
  });

  it("uploads parts of exactly the part size but the last, and never a copy", async () => {
    const config = await start();
    const summary = await fixture.run(config, NOW);
    const bytes = summary.workspaces[0]?.archived[0]?.bytes ?? 0;
    const parts = fixture.s3server.operations.filter((o) => o.op === "UploadPart" && o.key === KEY);
    expect(parts.map((o) => o.partNumber)).toEqual(
      Array.from({ length: Math.ceil(bytes / (8 * MB)) }, (_, i) => i + 1).slice(0, parts.length),
    );
    expect(parts).toHaveLength(Math.ceil(bytes / (8 * MB)));
    expect(fixture.s3server.operations.filter((o) => o.op === "CopyObject")).toEqual([]);
    const stored = await fixture.s3server.getObject(KEY);
    expect(stored.contentLength).toBe(bytes);
    expect(await fixture.storedChecksum(KEY)).toEqual({
      crc32: crc32Base64Of(stored.body),
      type: "FULL_OBJECT",
    });
  });

  it("a failing CompleteMultipartUpload aborts the upload; nothing appears and the next run heals it", async () => {
    const config = await start();
    fixture.s3server.inject({ op: "CompleteMultipartUpload", status: 500, times: 3 });
    const first = await fixture.run(config, NOW);
    expect(first.workspaces[0]?.failed.map((f) => f.code)).toEqual(["S3_REQUEST_FAILED"]);
    expect(first.workspaces[0]?.failed[0]?.message).toContain("CompleteMultipartUpload");
    expect(fixture.s3server.openMultipartUploads()).toEqual([]);
    expect(logKeys(await fixture.s3server.keys())).toEqual([]);
    const second = await fixture.run(config, NOW);
    expect(second.workspaces[0]?.archived.map((a) => a.key)).toEqual([KEY]);
  });

  it("a log of exactly two part sizes is uploaded as two full parts, without an empty third", async () => {
    await start();
    const log = Buffer.concat(await largeGzip(10 * MB, 3).stream.toArray());
    // Make the length even with a one-byte gzip member (21 bytes), so that it splits in two halves.
    const body = log.length % 2 === 0 ? log : Buffer.concat([log, gzipSync("a")]);
    const partSizeBytes = body.length / 2;
    expect(partSizeBytes).toBeGreaterThanOrEqual(5 * MB);
    const s3 = fixture.s3server.client();
    const outcome = await storeLog({
      s3,
      bucket: fixture.s3server.bucket,
      key: "exact/two-parts.gz",
      // Odd-sized chunks, so that parts are cut across chunk boundaries.
      body: Readable.from(
        (function* () {
          for (let at = 0; at < body.length; at += 777_777) yield body.subarray(at, at + 777_777);
        })(),
      ),
      metadata: {},
      upload: { partSizeBytes, queueSize: 2 },
    });
    expect(outcome).toMatchObject({ status: "stored", multipart: true, digest: { bytes: body.length } });
    const parts = fixture.s3server.operations.filter((o) => o.op === "UploadPart");
    expect(parts.map((o) => [o.partNumber, o.status])).toEqual([
      [1, 200],
      [2, 200],
    ]);
    const stored = await fixture.s3server.getObject("exact/two-parts.gz");
    expect(stored.body.equals(body)).toBe(true);
    expect(await fixture.storedChecksum("exact/two-parts.gz")).toEqual({
      crc32: crc32Base64Of(body),
      type: "FULL_OBJECT",
    });
  });

  it("a slow S3 holds the download back instead of filling memory", async () => {
    let log: LargeGzip | undefined;
    fixture = await startArchiveFixture({
      simulator: {
        body: () => {
          log = largeGzip(120 * MB, 5);
          return log.stream;
        },
      },
    });
    const config = testConfig(fixture.sim.baseUrl, {
      window: { minutes: 60, lagMinutes: 15, lookbackHours: 2 },
      schedule: "rate(30 minutes)",
      workspaces: [WS],
    });
    // The first four parts (the whole queue) wait 4 s before S3 reads them.
    fixture.s3server.inject({ op: "UploadPart", kind: "stall", ms: 4_000, times: 4 });
    const run = fixture.run(config, NOW);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const readAhead = log?.produced().bytes ?? 0;
    const summary = await run;
    expect(summary.workspaces[0]?.archived.map((a) => a.key)).toEqual([KEY]);
    console.info(`read ahead of a stalled S3: ${(readAhead / MB).toFixed(1)} MiB`);
    // Four parts in flight, one filling, the inspector's and the sockets' buffers: about 50 MiB.
    // Without backpressure the whole 120 MB would be downloaded by now.
    expect(readAhead).toBeGreaterThan(32 * MB);
    expect(readAhead).toBeLessThan(80 * MB);
  });
});
