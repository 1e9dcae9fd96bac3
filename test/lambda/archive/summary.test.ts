import { describe, expect, it } from "vitest";
import { type RunEvent, summarize } from "../../../lambda/archive/summary";
import { parseConfig } from "../../../lambda/config";

const GROUP = "32b6e34b3d91647abb20e7b8";
const config = parseConfig(
  JSON.stringify({
    archive: { prefix: "atlas/" },
    workspaces: [
      { groupId: GROUP, tenantName: "a" },
      { groupId: GROUP, tenantName: "b", spName: "p" },
      { groupId: GROUP, tenantName: "idle" },
    ],
  }),
  "summary test",
);
const A = `${GROUP}/a`;
const B = `${GROUP}/b/p`;
const facts = {
  config,
  bucket: "bucket",
  runId: "run-1",
  nowMs: Date.parse("2026-11-28T15:20:00Z"),
  due: 4,
  startedAtMs: Date.parse("2026-11-28T15:20:00Z"),
  finishedAtMs: Date.parse("2026-11-28T15:20:02Z"),
};
const archived = (workspace: string, window: string, bytes: number): RunEvent => ({
  type: "archived",
  workspace,
  window,
  key: `k/${window}`,
  bytes,
  lines: 3,
  sha256: "ab",
});

describe("summarize", () => {
  it("builds every workspace's outcome and the totals from the events alone", () => {
    const summary = summarize(
      [
        { type: "planned", workspace: A, due: 4, missing: 3, present: 1 },
        archived(A, "w1", 100),
        { type: "already-present", workspace: A, window: "w2", key: "k/w2" },
        {
          type: "failed",
          workspace: A,
          window: "w3",
          key: "k/w3",
          code: "ARCHIVE_OBJECT_INVALID",
          message: "m",
        },
        { type: "planned", workspace: B, due: 4, missing: 4, present: 0 },
        archived(B, "w1", 50),
        { type: "deferred", workspace: B, windows: 2, reason: "window cap" },
        { type: "deferred", workspace: B, windows: 1, reason: "deadline" },
        { type: "expired", workspace: B, window: "w0", key: "k/w0" },
      ],
      facts,
    );
    expect(
      summary.workspaces.map((w) => [w.workspace, w.archived.length, w.alreadyPresent, w.deferred]),
    ).toEqual([
      [A, 1, 2, 0],
      [B, 1, 0, 3],
      [`${GROUP}/idle`, 0, 0, 0],
    ]);
    expect(summary.workspaces[1]).toMatchObject({ spName: "p", deferredReason: "window cap" });
    expect(summary.workspaces[0]).not.toHaveProperty("deferredReason");
    expect(summary.totals).toEqual({
      due: 12,
      archived: 2,
      alreadyPresent: 2,
      failed: 1,
      deferred: 3,
      bytes: 150,
      invalid: 1,
      expired: 1,
    });
    expect(summary).toMatchObject({ backlog: 4, ok: false, durationMs: 2000, now: "2026-11-28T15:20:00Z" });
    expect(summary).not.toHaveProperty("range");
  });

  it("is ok with deferred windows only, and names the range when there was one", () => {
    const summary = summarize([{ type: "deferred", workspace: A, windows: 4, reason: "rate limit" }], {
      ...facts,
      range: { fromMs: Date.parse("2026-11-01T00:00:00Z"), toMs: Date.parse("2026-11-02T00:00:00Z") },
    });
    expect(summary).toMatchObject({
      ok: true,
      backlog: 4,
      range: { from: "2026-11-01T00:00:00Z", to: "2026-11-02T00:00:00Z" },
    });
  });
});
