import { describe, expect, it } from "vitest";
import { formatGetReport, formatProgress } from "../../../../bin/cli/format/get";

describe("get's lines for people", () => {
  it("draws a progress bar proportional to the bytes done", () => {
    expect(formatProgress({ files: 1, totalFiles: 4, bytes: 512, totalBytes: 2048 }, 10)).toBe(
      "[###.......]  25%  1/4 files  512 B/2.0 KiB",
    );
    expect(formatProgress({ files: 0, totalFiles: 0, bytes: 0, totalBytes: 0 }, 4)).toBe(
      "[####] 100%  0/0 files  0 B/0 B",
    );
  });

  it("names each failed object, then counts everything", () => {
    const report = {
      downloaded: ["a"],
      skipped: ["b", "c"],
      failed: [{ key: "k", reason: "EACCES" }],
      bytes: 1536,
      ok: false,
    };
    expect(formatGetReport(report, "out")).toBe(
      "FAILED k: EACCES\n1 downloaded (1.5 KiB), 2 already present, 1 failed, into out",
    );
  });
});
