import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunSummary } from "../../../lambda/archive/run";
import { archiveKey } from "../../../lambda/config";
import { type ArchiveFixture, GROUP, startArchiveFixture, testConfig } from "../../support/archive-fixture";
import { type LargeGzip, largeGzip } from "../../support/large-gzip";

// One log per run, of the size under test: every other window of the day is empty.
const NOW = Date.parse("2026-11-28T02:20:00Z");
const WINDOW = { startMs: Date.parse("2026-11-28T01:00:00Z"), endMs: Date.parse("2026-11-28T02:00:00Z") };
const MB = 1024 * 1024;

describe("a large log", () => {
  let fixture: ArchiveFixture;
  let current: LargeGzip | undefined;

  beforeAll(async () => {
    fixture = await startArchiveFixture({
      simulator: {
        workspaces: [
          { groupId: GROUP, tenantName: "small" },
          { groupId: GROUP, tenantName: "large" },
        ],
        body: (req) => {
          if (req.startDate * 1000 !== WINDOW.startMs || !current) {
            return Buffer.from("H4sIAAAAAAAA/wEAAP//AAAAAAAAAAA=", "base64");
          }
          return current.stream;
        },
      },
    });
  });
  afterAll(async () => {
    await fixture?.close();
  });

  /** Archives one log of `bytes` for `tenant` and returns the run and the peak RSS growth. */
  async function archive(
    tenant: string,
    bytes: number,
  ): Promise<{ summary: RunSummary; peak: number; peakGrowth: number }> {
    current = largeGzip(bytes, bytes);
    const config = testConfig(fixture.sim.baseUrl, {
      window: { minutes: 60, lagMinutes: 15, lookbackHours: 3 },
      workspaces: [{ groupId: GROUP, tenantName: tenant }],
    });
    global.gc?.();
    const baseline = process.memoryUsage.rss();
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 10);
    try {
      const summary = await fixture.run(config, NOW);
      return { summary, peak, peakGrowth: peak - baseline };
    } finally {
      clearInterval(sampler);
    }
  }

  it("streams 200 MB through in bounded memory, byte-identical, with no upload left open", async () => {
    const small = await archive("small", 64 * MB);
    const large = await archive("large", 200 * MB);
    for (const run of [small, large]) {
      expect(run.summary.workspaces.flatMap((w) => w.failed)).toEqual([]);
      expect(run.summary.ok).toBe(true);
      expect(run.summary.totals.archived).toBe(2);
    }
    const produced = current?.produced();
    const key = archiveKey("atlas/stream-audit/", { groupId: GROUP, tenantName: "large" }, WINDOW);
    // Straight to the final key: one upload, one Complete, no copy; parts of exactly 8 MiB but the last.
    const ops = fixture.s3server.operations.filter((o) => o.key === key);
    expect(ops.filter((o) => o.op === "CompleteMultipartUpload").map((o) => o.status)).toEqual([200]);
    expect(fixture.s3server.operations.filter((o) => o.op === "CopyObject")).toEqual([]);
    expect(ops.filter((o) => o.op === "UploadPart")).toHaveLength(
      Math.ceil((produced?.bytes ?? 0) / (8 * MB)),
    );
    const archived = large.summary.workspaces[0]?.archived.find((a) => a.key === key);
    expect(archived?.bytes).toBe(produced?.bytes);
    expect(archived?.bytes).toBeGreaterThan(200 * MB);
    const s3 = fixture.s3server.client();
    const stored = await s3.send(
      new HeadObjectCommand({ Bucket: fixture.s3server.bucket, Key: key, ChecksumMode: "ENABLED" }),
    );
    s3.destroy();
    expect(archived?.sha256).toBe(produced?.sha256);
    expect(stored.ContentLength).toBe(produced?.bytes);
    expect([stored.ChecksumCRC32, stored.ChecksumType]).toEqual([produced?.crc32, "FULL_OBJECT"]);
    expect(fixture.s3server.openMultipartUploads()).toEqual([]);

    const mb = (n: number) => `${(n / MB).toFixed(0)} MB`;
    console.info(
      `peak RSS (growth during the run): 64 MB log ${mb(small.peak)} (+${mb(small.peakGrowth)}), ` +
        `200 MB log ${mb(large.peak)} (+${mb(large.peakGrowth)})`,
    );
    // Memory is bounded by the part size × queue, not by the log: ten times the log, not ten
    // times the memory. (The simulator and the S3 server share this process and its RSS.)
    expect(large.peakGrowth).toBeLessThan(100 * MB);
    expect(large.peak).toBeLessThan(small.peak * 1.1 + 16 * MB);
  }, 120_000);
});
