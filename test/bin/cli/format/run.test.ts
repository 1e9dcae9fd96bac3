import { describe, expect, it } from "vitest";
import { describeEvent, describeRetry, describeSummary } from "../../../../bin/cli/format/run";
import type { RunSummary } from "../../../../lambda/archive/run";

const base = {
  runId: "cli-1",
  now: "2026-11-28T15:20:00Z",
  bucket: "b",
  prefix: "p/",
  durationMs: 1_000,
  workspaces: [],
  backlog: 0,
  ok: true,
  totals: {
    due: 5,
    archived: 5,
    alreadyPresent: 0,
    failed: 0,
    deferred: 0,
    bytes: 100,
    invalid: 0,
    expired: 0,
  },
} as unknown as RunSummary;

describe("the run's closing lines", () => {
  it("says OK only when nothing is left undone", () => {
    expect(describeSummary(base).split("\n").at(-1)).toBe("OK");
    const deferred = { ...base, backlog: 2, totals: { ...base.totals, archived: 3, deferred: 2 } };
    expect(describeSummary(deferred).split("\n").at(-1)).toBe(
      "INCOMPLETE: 2 window(s) deferred; run again to archive them.",
    );
    const expired = { ...base, totals: { ...base.totals, expired: 1 } };
    expect(describeSummary(expired).split("\n").slice(-2)).toEqual([
      "EXPIRED: 1 window(s) left the lookback unarchived; no scheduled run asks for them again: archive them " +
        "with run --from … --to ….",
      "INCOMPLETE: windows expired.",
    ]);
  });

  it("lists at most five failed windows per workspace", () => {
    const failed = Array.from({ length: 7 }, (_, i) => ({ window: `w${i}`, code: "ATLAS_SERVER_ERROR" }));
    const summary = {
      ...base,
      ok: false,
      workspaces: [{ workspace: "g/t", failed }],
      totals: { ...base.totals, failed: 7 },
    } as unknown as RunSummary;
    const lines = describeSummary(summary).split("\n");
    expect(lines.slice(2)).toEqual([
      "  g/t: 7 failed",
      ...failed.slice(0, 5).map((f) => `    ${f.window} ATLAS_SERVER_ERROR`),
      "    … and 2 more",
      "FAILED: the next run retries the failed windows.",
    ]);
  });

  it("names why windows were deferred, with what Atlas asked", () => {
    expect(
      describeEvent({
        type: "deferred",
        workspace: "g/t",
        windows: 4,
        reason: "rate limit",
        detail: "Atlas asked (Retry-After: 999999, 11.6 days) not to call project g again",
      }),
    ).toBe(
      "  … 4 window(s) left for the next run (rate limit: Atlas asked (Retry-After: 999999, 11.6 days) not to call project g again)",
    );
  });

  it("says what is retried and when", () => {
    expect(describeRetry({ what: "download g/t", reason: "HTTP 503", delayMs: 1_250, attempt: 1 })).toBe(
      "  ~ download g/t: HTTP 503, retrying in 1.3 s",
    );
  });
});
