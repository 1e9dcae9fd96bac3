import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { archiveKey, RECEIPTS_FOLDER, receiptKey } from "../../../lambda/config";
import type { Receipt } from "../../../lambda/digest/format";
import { dueWindows, formatWindow } from "../../../lambda/windows";
import {
  type ArchiveFixture,
  crc32Base64Of,
  gunzip,
  PROD,
  startArchiveFixture,
  testConfig,
} from "../../support/archive-fixture";

const NOW = Date.parse("2026-11-28T15:20:00Z");
const PREFIX = "atlas/stream-audit/";

let fixture: ArchiveFixture;
afterEach(async () => {
  await fixture?.close();
});

describe("receipts", () => {
  it("are written beside each log a run stores, with what was measured in flight, and never twice", async () => {
    fixture = await startArchiveFixture();
    const config = testConfig(fixture.sim.baseUrl, { workspaces: [PROD] });
    const summary = await fixture.run(config, NOW);
    const windows = dueWindows(NOW, config.window);
    expect(summary.totals.archived).toBe(windows.length);
    for (const window of windows) {
      const key = archiveKey(PREFIX, PROD, window);
      const log = await fixture.s3server.getObject(key);
      const stored = await fixture.s3server.getObject(receiptKey(PREFIX, PROD, window));
      expect(stored.contentType).toBe("application/json");
      const receipt = JSON.parse(stored.body.toString()) as Receipt;
      const lines = (await gunzip(log.body)).split("\n").filter(Boolean).length;
      expect(receipt).toEqual({
        v: 1,
        key,
        window: formatWindow(window),
        bytes: log.contentLength,
        sha256: createHash("sha256").update(log.body).digest("hex"),
        crc32: crc32Base64Of(log.body),
        lines,
        archivedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        runId: "test-run-1",
      });
      // The receipt's own CRC32 is S3's checksum of it, like the logs'.
      expect(stored.checksum).toBeDefined();
    }
    // A second run finds every window archived: it writes no receipt (nor anything else).
    fixture.s3server.clearOperations();
    await fixture.run(config, NOW);
    expect(fixture.s3server.operationsOf("PutObject")).toEqual([]);
  });

  it("does not fail a window whose receipt cannot be written: the log is archived, the failure reported", async () => {
    fixture = await startArchiveFixture();
    const config = testConfig(fixture.sim.baseUrl, { workspaces: [PROD] });
    fixture.s3server.inject({
      op: "PutObject",
      status: 403,
      code: "AccessDenied",
      keyPrefix: `${PREFIX}${RECEIPTS_FOLDER}`,
      times: 100,
    });
    const summary = await fixture.run(config, NOW);
    expect(summary.totals).toMatchObject({ archived: dueWindows(NOW, config.window).length, failed: 0 });
    expect(await fixture.s3server.keys(`${PREFIX}${RECEIPTS_FOLDER}`)).toEqual([]);
  });
});
