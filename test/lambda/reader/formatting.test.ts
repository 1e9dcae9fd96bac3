import { describe, expect, it } from "vitest";
import { checkSelection } from "../../../bin/cli/target";
import { formatProgress } from "../../../lambda/reader/get";
import { formatListReport } from "../../../lambda/reader/ls";

const PREFIX = "atlas/stream-audit/";
const GROUP = "32b6e34b3d91647abb20e7b8";
const WINDOW = { startMs: Date.parse("2026-11-28T23:00:00Z"), endMs: Date.parse("2026-11-29T00:00:00Z") };

describe("checkSelection", () => {
  it.each([
    [{ group: "32B6E34B3D91647ABB20E7B8" }, "--group"],
    [{ group: GROUP, tenant: "a/b" }, '--tenant "a/b"'],
    [{ group: GROUP, tenant: "t", sp: "x y" }, '--sp "x y"'],
  ])("refuses %j", (selection, message) => {
    expect(() => checkSelection(selection)).toThrow(message);
  });
});

describe("formatting", () => {
  it("draws a progress bar proportional to the bytes done", () => {
    expect(formatProgress({ files: 1, totalFiles: 4, bytes: 512, totalBytes: 2048 }, 10)).toBe(
      "[###.......]  25%  1/4 files  512 B/2.0 KiB",
    );
    expect(formatProgress({ files: 0, totalFiles: 0, bytes: 0, totalBytes: 0 }, 4)).toBe(
      "[####] 100%  0/0 files  0 B/0 B",
    );
  });

  it("shows windows and gaps (runs of consecutive missing windows) in time order, and how to fill them", () => {
    const text = formatListReport({
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
    });
    expect(text).toContain("prod-workspace: 1 window(s), 2.0 KiB, 3 missing");
    const rows = text.split("\n").filter((l) => l.startsWith("  "));
    expect(rows).toEqual([
      "  GAP 2026-11-28T19:00:00Z/2026-11-28T20:00:00Z  (1 window(s) missing)",
      "  2026-11-28T21:00:00Z/2026-11-28T22:00:00Z     2.0 KiB",
      "  GAP 2026-11-28T22:00:00Z/2026-11-29T00:00:00Z  (2 window(s) missing)",
    ]);
    expect(text).toContain("GAPS: 3 due window(s) missing");
  });
});
