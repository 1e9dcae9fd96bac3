import { describe, expect, it } from "vitest";
import { describeEvent, describeSummary } from "../../bin/cli";
import type { RunSummary } from "../../lambda/archive/run";

const base = {
  runId: "cli-1",
  now: "2026-11-28T15:20:00Z",
  bucket: "b",
  prefix: "p/",
  durationMs: 1_000,
  workspaces: [],
  backlog: 0,
  ok: true,
  totals: { due: 5, archived: 5, alreadyPresent: 0, failed: 0, deferred: 0, bytes: 100, invalid: 0 },
} as unknown as RunSummary;

describe("the run's closing lines", () => {
  it("says OK only when nothing is left undone", () => {
    expect(describeSummary(base).split("\n").at(-1)).toBe("OK");
    const deferred = { ...base, backlog: 2, totals: { ...base.totals, archived: 3, deferred: 2 } };
    expect(describeSummary(deferred).split("\n").at(-1)).toBe(
      "INCOMPLETE: 2 window(s) deferred; run again to archive them.",
    );
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
});
