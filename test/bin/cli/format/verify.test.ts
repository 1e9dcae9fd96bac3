import { describe, expect, it } from "vitest";
import { formatVerifyReport } from "../../../../bin/cli/format/verify";
import type { VerifyReport } from "../../../../lambda/reader/verify";

describe("verify's report", () => {
  const base: VerifyReport = {
    bucket: "b",
    prefix: "p/",
    from: null,
    to: null,
    signatures: "none",
    sealed: false,
    checked: 3,
    bytes: 10,
    digests: 0,
    days: { sealed: 0, pending: 0, unsealed: 0 },
    bad: [],
    workspaces: [],
    ok: true,
  };
  const day = (date: string, status: "sealed" | "pending" | "unsealed") => ({
    date,
    status,
    digest: null,
    windows: [],
  });
  const workspace = {
    workspace: { groupId: "g", tenantName: "t" },
    label: "g/t",
    chain: "none" as const,
    days: [
      day("2026-11-27", "unsealed"),
      day("2026-11-28", "unsealed"),
      day("2026-11-30", "unsealed"),
      day("2026-12-01", "pending"),
    ],
  };

  it("ends with OK when every object is intact", () => {
    expect(formatVerifyReport(base)).toBe("OK: 3 object(s) in s3://b/p/ verified (gzip, CRC32, metadata).");
  });

  it("names each bad object and its problem, then the verdict", () => {
    const bad = [{ key: "p/k", problem: "GZIP_INVALID", reason: "incorrect header check" }];
    expect(formatVerifyReport({ ...base, bad, ok: false })).toBe(
      "BAD p/k: GZIP_INVALID: incorrect header check\nFAILED: 1 problem(s) in s3://b/p/ (3 archived object(s) read).",
    );
  });

  it("without digests, says which days are unsealed, in runs, and which are not sealed yet", () => {
    const report = { ...base, workspaces: [workspace], days: { sealed: 0, pending: 1, unsealed: 3 } };
    expect(formatVerifyReport(report).split("\n")).toEqual([
      "UNSEALED g/t 2026-11-27..2026-11-28 (2 days): no digest; its objects were checked for gzip, CRC32 and metadata only",
      "UNSEALED g/t 2026-11-30: no digest; its objects were checked for gzip, CRC32 and metadata only",
      "PENDING g/t 2026-12-01: not sealed yet (not due)",
      "OK: 3 object(s) in s3://b/p/ verified (gzip, CRC32, metadata); no digest seals their 3 day(s): " +
        "nothing proves that nothing was replaced, removed or added.",
    ]);
  });

  it("with digests, says how the signatures were checked", () => {
    const report: VerifyReport = {
      ...base,
      sealed: true,
      signatures: "kms",
      digests: 2,
      days: { sealed: 2, pending: 0, unsealed: 0 },
    };
    expect(formatVerifyReport(report)).toBe(
      "OK: 3 object(s) in s3://b/p/ verified against 2 digest(s), signatures checked through KMS, chains intact: 2 day(s) sealed.",
    );
    expect(
      formatVerifyReport({ ...report, ok: false, bad: [{ key: "d", problem: "UNSEALED", reason: "r" }] }),
    ).toBe("BAD d: UNSEALED: r\nFAILED: 1 problem(s) in s3://b/p/ (3 archived object(s) read, 2 digest(s)).");
  });
});
