import { DeleteObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planRun } from "../../../lambda/archive/execute";
import { candidateWindows, expiringWindows } from "../../../lambda/archive/plan";
import type { RunEvent } from "../../../lambda/archive/summary";
import { archiveKey } from "../../../lambda/config";
import { EMPTY_GZIP_BYTES, previewRun } from "../../../lambda/plan/preview";
import { formatWindow } from "../../../lambda/windows";
import { BILLING, GROUP, PROD } from "../../support/archive-fixture";
import {
  BILLING_GAP,
  type GapArchive,
  hour,
  NOW,
  PROD_EMPTY,
  PROD_GAP,
  startGapArchive,
} from "./gap-archive";

let archive: GapArchive;
let s3: S3Client;
const nowMs = Date.parse(NOW);

beforeAll(async () => {
  archive = await startGapArchive();
  s3 = archive.fixture.s3server.client();
});
afterAll(async () => {
  await archive?.close();
});

const plan = (overrides: Partial<Parameters<typeof previewRun>[0]> = {}) =>
  previewRun({ config: archive.config, bucket: archive.fixture.s3server.bucket, s3, nowMs, ...overrides });

describe("previewRun", () => {
  it("counts each workspace's due, present (archived or empty) and missing windows and names the missing ones", async () => {
    expect(
      (await archive.fixture.s3server.getObject(archiveKey(archive.config.archive.prefix, PROD, PROD_EMPTY)))
        .body.length,
    ).toBe(EMPTY_GZIP_BYTES);
    const report = await plan();
    expect(report).toMatchObject({
      mode: "lookback",
      now: NOW,
      range: { from: "2026-11-28T20:20:00Z", to: NOW },
      runIntervalMinutes: 60,
      // now + 2 hours - 6 hours of lookback
      expiringSoonBefore: "2026-11-28T22:20:00Z",
      slices: 1,
      ok: false,
    });
    const [prod, billing] = report.workspaces;
    expect(prod).toEqual({
      workspace: `${GROUP}/prod-workspace`,
      groupId: GROUP,
      tenantName: "prod-workspace",
      due: 5,
      present: 4,
      archived: 3,
      empty: 1,
      toCheck: 0,
      missing: 1,
      expiringSoon: 0,
      outsideLookback: 0,
      expired: 0,
      missingRuns: [{ from: "2026-11-29T00:00:00Z", to: "2026-11-29T01:00:00Z", windows: 1 }],
      expiringSoonWindows: [],
      expiredWindows: [],
    });
    expect(billing).toMatchObject({
      workspace: `${GROUP}/billing/payments`,
      spName: "payments",
      due: 5,
      present: 4,
      archived: 4,
      empty: 0,
      missing: 1,
      expiringSoon: 1,
      missingRuns: [{ from: "2026-11-28T21:00:00Z", to: "2026-11-28T22:00:00Z", windows: 1 }],
      expiringSoonWindows: [formatWindow(BILLING_GAP)],
    });
    expect(report.totals).toEqual({
      due: 10,
      present: 8,
      archived: 7,
      empty: 1,
      toCheck: 0,
      missing: 2,
      expiringSoon: 1,
      outsideLookback: 0,
      expired: 0,
    });
  });

  it.each([
    ["now", 0],
    ["an hour later", 3_600_000],
  ])(
    "misses and expires exactly what the planner would (%s), listing each workspace once, reading and writing nothing",
    async (_when, laterMs) => {
      // A third workspace never archived here: nothing behind its lookback counts as expired.
      const config = {
        ...archive.config,
        workspaces: [...archive.config.workspaces, { groupId: GROUP, tenantName: "new-workspace" }],
      };
      const at = nowMs + laterMs;
      const events: RunEvent[] = [];
      const tasks = await planRun({
        config,
        bucket: archive.fixture.s3server.bucket,
        s3,
        candidates: candidateWindows(config, at),
        expiring: expiringWindows(config.window, at, at - 3_600_000),
        concurrency: 4,
        lanesPerProject: 2,
        rotation: 0,
        signal: new AbortController().signal,
        emit: (e) => events.push(e),
      });
      archive.fixture.s3server.clearOperations();
      const requestsBefore = archive.fixture.sim.requests.length;
      const report = await plan({ config, nowMs: at });
      expect(archive.fixture.s3server.operations.map((o) => o.op)).toEqual(Array(3).fill("ListObjectsV2"));
      expect(archive.fixture.sim.requests.length).toBe(requestsBefore);

      const windowsOf = (run: { from: string; to: string }) => {
        const out: string[] = [];
        for (let t = Date.parse(run.from); t < Date.parse(run.to); t += 3_600_000) {
          out.push(formatWindow({ startMs: t, endMs: t + 3_600_000 }));
        }
        return out;
      };
      const missing = report.workspaces.flatMap((w) =>
        w.missingRuns.flatMap(windowsOf).map((window) => `${w.workspace} ${window}`),
      );
      expect(missing.sort()).toEqual(tasks.map((t) => `${t.label} ${formatWindow(t.window)}`).sort());
      for (const w of report.workspaces) {
        expect(events).toContainEqual({
          type: "planned",
          workspace: w.workspace,
          due: w.due,
          missing: w.missing,
          present: w.present,
        });
      }
      const expired = report.workspaces.flatMap((w) =>
        w.expiredWindows.map((window) => `${w.workspace} ${window}`),
      );
      expect(expired).toEqual(
        events.flatMap((e) => (e.type === "expired" ? [`${e.workspace} ${e.window}`] : [])),
      );
      expect(report.workspaces[2]).toMatchObject({ due: 5, missing: 5, expired: 0 });
      expect(expired).toHaveLength(laterMs === 0 ? 0 : 1);
    },
  );

  it("counts as expired, as a run does, a window that left the lookback since the previous run unarchived", async () => {
    // An hour later 21:00 has left the lookback: BILLING's is missing, PROD's archived.
    const later = await plan({ nowMs: nowMs + 3_600_000 });
    const [prod, billing] = later.workspaces;
    expect(prod).toMatchObject({ expired: 0, expiredWindows: [] });
    expect(billing).toMatchObject({ expired: 1, expiredWindows: [formatWindow(BILLING_GAP)] });
    // 02:00 is due and was never archived; PROD's 00:00 is still missing, and now expiring soon.
    expect(prod).toMatchObject({
      due: 5,
      missing: 2,
      expiringSoon: 0,
      missingRuns: [
        { from: "2026-11-29T00:00:00Z", to: "2026-11-29T01:00:00Z", windows: 1 },
        { from: "2026-11-29T02:00:00Z", to: "2026-11-29T03:00:00Z", windows: 1 },
      ],
    });
    expect(later.expiringSoonBefore).toBe("2026-11-28T23:20:00Z");
    expect(later.ok).toBe(false);
  });

  it("judges expiring soon against two schedule intervals: the run after next no longer looks", async () => {
    // Every 2 hours: the run 4 hours from now looks back to 00:20, so 21:00 and 00:00 are expiring.
    const config = { ...archive.config, schedule: "rate(2 hours)" };
    const report = await plan({ config });
    expect(report.expiringSoonBefore).toBe("2026-11-29T00:20:00Z");
    expect(report.workspaces.map((w) => w.expiringSoonWindows)).toEqual([
      [formatWindow(PROD_GAP)],
      [formatWindow(BILLING_GAP)],
    ]);
    // A cron that fires every 2 hours all day is judged as rate(2 hours) is ...
    const everyTwoHours = await plan({ config: { ...archive.config, schedule: "cron(5 */2 * * ? *)" } });
    expect(everyTwoHours).toMatchObject({
      runIntervalMinutes: 120,
      expiringSoonBefore: "2026-11-29T00:20:00Z",
    });
    expect(everyTwoHours.workspaces.map((w) => w.expiringSoonWindows)).toEqual(
      report.workspaces.map((w) => w.expiringSoonWindows),
    );
    // ... one whose gaps differ (weekdays only) is not judged; expired windows stay rate(...)'s.
    const weekdays = await plan({ config: { ...archive.config, schedule: "cron(5 * ? * MON-FRI *)" } });
    expect(weekdays).toMatchObject({ runIntervalMinutes: null, expiringSoonBefore: null });
    expect(weekdays.totals).toMatchObject({ missing: 2, expiringSoon: 0, expired: 0 });
    expect(everyTwoHours.totals.expired).toBe(0);
  });

  it("plans a range like a backfill: every due window overlapping it, those before the lookback apart", async () => {
    const day = { fromMs: hour(0).startMs, toMs: hour(24).startMs };
    const report = await plan({ range: day });
    expect(report).toMatchObject({
      mode: "range",
      range: { from: "2026-11-28T00:00:00Z", to: "2026-11-29T00:00:00Z" },
    });
    const [prod, billing] = report.workspaces;
    // 20:00 to 23:00 archived (22:00 empty for PROD); 00:00-19:00 before the lookback.
    expect(prod).toMatchObject({
      due: 24,
      present: 4,
      empty: 1,
      missing: 20,
      outsideLookback: 20,
      expiringSoon: 0,
    });
    expect(prod?.missingRuns).toEqual([
      { from: "2026-11-28T00:00:00Z", to: "2026-11-28T20:00:00Z", windows: 20 },
    ]);
    expect(billing).toMatchObject({ due: 24, present: 3, missing: 21, outsideLookback: 20, expiringSoon: 1 });
    expect(billing?.missingRuns).toEqual([
      { from: "2026-11-28T00:00:00Z", to: "2026-11-28T20:00:00Z", windows: 20 },
      { from: "2026-11-28T21:00:00Z", to: "2026-11-28T22:00:00Z", windows: 1 },
    ]);
    // A range counts nothing as expired: the previous run is a scheduled run's notion.
    expect(report.totals.expired).toBe(0);
  });

  it("plans a long range in the planner's slices, listing each workspace once per slice, with the same result", async () => {
    const range = { fromMs: hour(0).startMs, toMs: hour(27).startMs };
    const whole = await plan({ range });
    archive.fixture.s3server.clearOperations();
    // 30 windows over two workspaces: 15 per workspace and slice, so a whole day never fits: 24-hour
    // days cut into slices of their own (2 for the 28th, 1 for the 29th).
    const sliced = await plan({ range, sliceWindows: 30 });
    expect(sliced.slices).toBe(3);
    expect(archive.fixture.s3server.operationsOf("ListObjectsV2")).toHaveLength(6);
    expect({ ...sliced, slices: 1 }).toEqual(whole);
  });

  it("counts an object listed without a full-object CRC32 to check, not present nor missing", async () => {
    const { config, fixture } = archive;
    const key = archiveKey(config.archive.prefix, PROD, PROD_GAP);
    await fixture.s3server.putObject(key, "not the archiver's");
    try {
      const [prod] = (await plan()).workspaces;
      expect(prod).toMatchObject({ due: 5, present: 4, toCheck: 1, missing: 0, missingRuns: [] });
    } finally {
      await s3.send(new DeleteObjectCommand({ Bucket: fixture.s3server.bucket, Key: key }));
    }
  });

  it("says ok when nothing is missing", async () => {
    const config = { ...archive.config, workspaces: [BILLING] };
    const report = await plan({
      config,
      range: { fromMs: hour(22).startMs, toMs: hour(24).startMs },
    });
    expect(report.totals).toMatchObject({ due: 2, present: 2, missing: 0 });
    expect(report.ok).toBe(true);
  });

  it("refuses an empty range", async () => {
    await expect(plan({ range: { fromMs: hour(3).startMs, toMs: hour(3).startMs } })).rejects.toMatchObject({
      code: "RUN_RANGE_INVALID",
      kind: "usage",
    });
  });
});
