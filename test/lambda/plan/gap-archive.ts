/**
 * The archive `plan`'s tests plan against: two workspaces archived by two real runs (at 01:20 and
 * 02:20 on 2026-11-29, hourly windows, 6 hours of lookback, rate(1 hour)) from the Atlas
 * simulator into the loopback S3 server, so that at {@link NOW} every due window and the one that
 * just left the lookback are archived; then two objects deleted to make the gaps:
 *
 * - PROD: 20:00-01:00 archived, 22:00 recorded empty (Atlas had no event), 00:00 deleted;
 * - BILLING: 20:00-01:00 archived, 21:00 deleted (the oldest due window: expiring soon at NOW).
 */
import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { expect } from "vitest";
import { type ArchiverConfig, archiveKey } from "../../../lambda/config";
import type { TimeWindow } from "../../../lambda/windows";
import {
  type ArchiveFixture,
  BILLING,
  PROD,
  startArchiveFixture,
  testConfig,
} from "../../support/archive-fixture";

/** The instant `plan` is asked about (the second run's). */
export const NOW = "2026-11-29T02:20:00Z";

/** The hour `h` (0-23, or more for the next day) of 2026-11-28 as a window. */
export function hour(h: number): TimeWindow {
  const startMs = Date.parse("2026-11-28T00:00:00Z") + h * 3_600_000;
  return { startMs, endMs: startMs + 3_600_000 };
}

/** The windows deleted: PROD's 00:00 and BILLING's 21:00. */
export const PROD_GAP = hour(24);
export const BILLING_GAP = hour(21);
/** PROD's window recorded empty. */
export const PROD_EMPTY = hour(22);

export interface GapArchive {
  readonly fixture: ArchiveFixture;
  readonly config: ArchiverConfig;
  close(): Promise<void>;
}

export async function startGapArchive(): Promise<GapArchive> {
  const fixture = await startArchiveFixture({
    simulator: {
      linesPerWindow: (req) =>
        req.tenantName === PROD.tenantName && req.startDate * 1000 === PROD_EMPTY.startMs ? 0 : 3,
    },
  });
  const config = testConfig(fixture.sim.baseUrl);
  expect((await fixture.run(config, Date.parse("2026-11-29T01:20:00Z"))).totals.archived).toBe(10);
  expect((await fixture.run(config, Date.parse(NOW))).totals.archived).toBe(2);
  const s3 = fixture.s3server.client();
  for (const [workspace, window] of [
    [PROD, PROD_GAP],
    [BILLING, BILLING_GAP],
  ] as const) {
    await s3.send(
      new DeleteObjectCommand({
        Bucket: fixture.s3server.bucket,
        Key: archiveKey(config.archive.prefix, workspace, window),
      }),
    );
  }
  return { fixture, config, close: () => fixture.close() };
}
