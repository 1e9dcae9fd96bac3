/**
 * The coverage report's model, from verify's report of a known sealed archive in the S3 test
 * server: two days sealed clean, a day with a gap (a window sealed missing), a day sealed empty,
 * a day with an object overwritten (other valid gzip, its metadata, a correct CRC32), a day
 * archived but never sealed, and a day of the range before the first.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { archiveKey, digestKey } from "../../../lambda/config";
import { verifyDigestSignature } from "../../../lambda/digest/format";
import { type CoverageReport, coverageReport, windowState } from "../../../lambda/reader/report";
import { type VerifyReport, verifyArchive } from "../../../lambda/reader/verify";
import { type TimeWindow, windowsInRange } from "../../../lambda/windows";
import { GROUP, PROD } from "../../support/archive-fixture";
import { localKey, logBytes, putLog, writeSealedArchive } from "../../support/digest-fixture";
import { type S3TestServer, startS3Server } from "../../support/s3-server";

const MINUTES = 360;
const SEALED = ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24"];
const NOW = Date.parse("2026-11-30T00:00:00Z");
const PREFIX = "report/";

let s3server: S3TestServer;
let s3: S3Client;
let verified: VerifyReport;
let model: CoverageReport;

const windowOf = (date: string, i: number): TimeWindow => {
  const start = Date.parse(`${date}T00:00:00Z`);
  return windowsInRange(start, start + 86_400_000, MINUTES)[i] as TimeWindow;
};

beforeAll(async () => {
  s3server = await startS3Server();
  s3 = s3server.client();
  const key = localKey();
  // 4 windows a day: 20, 21 clean; 22 window 1 missing; 23 all empty; 24 window 1 overwritten; 25 unsealed.
  await writeSealedArchive({
    s3server,
    prefix: PREFIX,
    workspaces: [PROD],
    days: SEALED,
    unsealedDays: ["2026-11-25"],
    windowMinutes: MINUTES,
    signer: key.signer,
    state: (_w, _window, i) => (i === 9 ? "missing" : i >= 12 && i < 16 ? "empty" : "archived"),
  });
  const tampered = windowOf("2026-11-24", 1);
  await putLog(
    s3server,
    archiveKey(PREFIX, PROD, tampered),
    PROD,
    tampered,
    logBytes(PROD, tampered, 3, "forged"),
  );
  verified = await verifyArchive({
    s3,
    location: { bucket: s3server.bucket, prefix: PREFIX },
    groupId: GROUP,
    range: { fromMs: Date.parse("2026-11-19T00:00:00Z"), toMs: Date.parse("2026-11-26T00:00:00Z") },
    signatures: {
      method: "public-key",
      verify: async (bytes, sig) => verifyDigestSignature(bytes, sig, key.publicKeyPem),
    },
    window: { minutes: MINUTES, lagMinutes: 15, lookbackHours: 72 },
    nowMs: NOW,
  });
  model = coverageReport(verified, {
    generatedAtMs: NOW,
    command: "atlas-audit-archiver report --group G",
    group: GROUP,
  });
});
afterAll(async () => {
  await s3server?.close();
});

describe("coverageReport", () => {
  it("says where, when, how and the verdict, with the counts", () => {
    expect(model).toMatchObject({
      v: 1,
      generatedAt: "2026-11-30T00:00:00Z",
      command: "atlas-audit-archiver report --group G",
      bucket: s3server.bucket,
      prefix: PREFIX,
      group: GROUP,
      from: "2026-11-19T00:00:00Z",
      to: "2026-11-26T00:00:00Z",
      firstDate: "2026-11-19",
      lastDate: "2026-11-25",
      signatures: "public-key",
      sealed: true,
      ok: false,
      digests: 5,
      counts: {
        days: { sealed: 5, pending: 0, unsealed: 1 },
        windows: { archived: 14, empty: 4, missing: 1, failed: 1, pending: 0, unsealed: 4 },
      },
      problems: 2,
      otherProblems: [],
    });
  });

  it("gives every day of the range its state, and each window its own", () => {
    expect(model.workspaces).toHaveLength(1);
    const [ws] = model.workspaces;
    expect(ws?.label).toBe(`${GROUP}/prod-workspace`);
    expect(ws?.chain).toBe("intact");
    expect(ws?.days.map((d) => [d.date, d.state, d.clean])).toEqual([
      ["2026-11-19", "none", true],
      ["2026-11-20", "verified", true],
      ["2026-11-21", "verified", true],
      ["2026-11-22", "missing", false],
      ["2026-11-23", "empty", true],
      ["2026-11-24", "failed", false],
      ["2026-11-25", "unsealed", false],
    ]);
    expect(ws?.counts.days).toEqual({
      verified: 2,
      empty: 1,
      missing: 1,
      failed: 1,
      pending: 0,
      unsealed: 1,
      none: 1,
    });

    const day = (date: string) => ws?.days.find((d) => d.date === date);
    expect(day("2026-11-22")?.windows.map((w) => [w.state, w.sealedAs, w.result])).toEqual([
      ["verified", "archived", "verified"],
      ["missing", "missing", "verified"],
      ["verified", "archived", "verified"],
      ["verified", "archived", "verified"],
    ]);
    expect(day("2026-11-22")?.counts).toEqual({
      archived: 3,
      empty: 0,
      missing: 1,
      failed: 0,
      pending: 0,
      unsealed: 0,
    });
    expect(day("2026-11-22")?.digest).toEqual({
      key: digestKey(PREFIX, PROD, "2026-11-22"),
      sequence: 3,
      signature: "valid",
    });

    const failed = day("2026-11-24");
    const forged = archiveKey(PREFIX, PROD, windowOf("2026-11-24", 1));
    expect(failed?.windows[1]).toMatchObject({
      window: "2026-11-24T06:00:00Z/2026-11-24T12:00:00Z",
      key: forged,
      state: "failed",
      sealedAs: "archived",
      result: "failed",
      problems: [{ code: "SHA256_MISMATCH", key: forged, reason: expect.stringContaining("overwritten") }],
    });
    expect(failed?.windows.filter((w) => w.state === "failed")).toHaveLength(1);

    const unsealed = day("2026-11-25");
    expect(unsealed?.status).toBe("unsealed");
    expect(unsealed?.digest).toBeNull();
    expect(unsealed?.windows.map((w) => w.state)).toEqual(["unsealed", "unsealed", "unsealed", "unsealed"]);
    expect(unsealed?.problems).toEqual([
      { code: "UNSEALED", key: digestKey(PREFIX, PROD, "2026-11-25"), reason: expect.any(String) },
    ]);

    expect(day("2026-11-19")).toMatchObject({ status: null, digest: null, windows: [], problems: [] });
  });

  it("is plain data: JSON round-trips it", () => {
    expect(JSON.parse(JSON.stringify(model))).toEqual(model);
  });
});

describe("windowState", () => {
  it.each([
    ["verified", "archived", "sealed", "verified"],
    ["verified", "empty", "sealed", "empty"],
    ["verified", "missing", "sealed", "missing"],
    ["failed", "archived", "sealed", "failed"],
    ["unaccounted", null, "sealed", "failed"],
    ["unproven", "unreceipted", "sealed", "failed"],
    ["intact", null, "pending", "pending"],
    ["intact", null, "unsealed", "unsealed"],
    ["absent", null, "pending", "pending"],
    ["absent", null, "unsealed", "missing"],
  ] as const)("%s (sealed %s, day %s) is %s", (result, sealedAs, day, state) => {
    expect(windowState(result, sealedAs, day)).toBe(state);
  });
});

describe("coverageReport of an archive without digests, unchecked", () => {
  it("marks a sealed day whose signature was not checked as failed, and keeps problems of no day", () => {
    const report: VerifyReport = {
      ...verified,
      signatures: "none",
      bad: [{ key: `${PREFIX}_digests/`, problem: "SIGNATURE_UNCHECKED", reason: "not checked" }],
      workspaces: verified.workspaces.map((w) => ({
        ...w,
        days: w.days
          .filter((d) => d.date === "2026-11-20")
          .map((d) => ({ ...d, digest: d.digest && { ...d.digest, signature: "unchecked" as const } })),
      })),
    };
    const m = coverageReport(report, { generatedAtMs: NOW, command: "x" });
    expect(m.group).toBeNull();
    const day = m.workspaces[0]?.days.find((d) => d.date === "2026-11-20");
    expect(day?.state).toBe("failed");
    expect(day?.problems.map((p) => p.code)).toEqual(["SIGNATURE_UNCHECKED"]);
    expect(m.otherProblems).toEqual([
      { code: "SIGNATURE_UNCHECKED", key: `${PREFIX}_digests/`, reason: "not checked" },
    ]);
  });
});
