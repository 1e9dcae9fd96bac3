import { describe, expect, it } from "vitest";
import { formatListReport } from "../../../../bin/cli/format/ls";
import type { ListReport } from "../../../../lambda/reader/ls";

const GROUP = "32b6e34b3d91647abb20e7b8";
const PREFIX = "atlas/stream-audit/";

const report: ListReport = {
  bucket: "b",
  prefix: PREFIX,
  range: { from: "2026-11-28T21:00:00Z", to: "2026-11-29T02:00:00Z" },
  now: "2026-11-29T02:20:00Z",
  windowMinutes: 60,
  workspaces: [
    {
      workspace: `${GROUP}/prod-workspace`,
      groupId: GROUP,
      tenantName: "prod-workspace",
      windows: [{ window: "2026-11-28T21:00:00Z/2026-11-28T22:00:00Z", key: "k", bytes: 2048 }],
      bytes: 2048,
      gaps: [
        { from: "2026-11-28T19:00:00Z", to: "2026-11-28T20:00:00Z", windows: 1 },
        { from: "2026-11-28T22:00:00Z", to: "2026-11-29T00:00:00Z", windows: 2 },
      ],
      missing: 3,
    },
  ],
  unparsed: [],
  totals: { objects: 1, bytes: 2048, missing: 3 },
  ok: false,
};

describe("ls's table", () => {
  it("shows windows and gaps (runs of consecutive missing windows) in time order, and how to fill them", () => {
    const text = formatListReport(report);
    expect(text).toContain("prod-workspace: 1 window(s), 2.0 KiB, 3 missing");
    const rows = text.split("\n").filter((l) => l.startsWith("  "));
    expect(rows).toEqual([
      "  GAP 2026-11-28T19:00:00Z/2026-11-28T20:00:00Z  (1 window(s) missing)",
      "  2026-11-28T21:00:00Z/2026-11-28T22:00:00Z     2.0 KiB",
      "  GAP 2026-11-28T22:00:00Z/2026-11-29T00:00:00Z  (2 window(s) missing)",
    ]);
    expect(text).toContain("GAPS: 3 due window(s) missing");
  });

  it("says which flags to check when nothing is known of the group", () => {
    const text = formatListReport({
      ...report,
      workspaces: [],
      totals: { objects: 0, bytes: 0, missing: 0 },
    });
    expect(text).toContain("check --group, --tenant and --config.");
    expect(text.split("\n").at(-1)).toBe("NOTHING FOUND.");
  });
});
