import { describe, expect, it } from "vitest";
import { archiveKey, type Workspace } from "../../../lambda/config";
import { isReaderSetupProblem, readError } from "../../../lambda/reader/errors";
import { formatProgress } from "../../../lambda/reader/get";
import { parseArchiveKey } from "../../../lambda/reader/keys";
import { formatListReport } from "../../../lambda/reader/ls";
import { checkSelection } from "../../../lambda/reader/target";

const PREFIX = "atlas/stream-audit/";
const GROUP = "32b6e34b3d91647abb20e7b8";
const WINDOW = { startMs: Date.parse("2026-11-28T23:00:00Z"), endMs: Date.parse("2026-11-29T00:00:00Z") };

describe("parseArchiveKey", () => {
  it.each<[string, Workspace]>([
    ["a whole workspace", { groupId: GROUP, tenantName: "prod-workspace" }],
    ["a stream processor", { groupId: GROUP, tenantName: "billing", spName: "payments" }],
    ["a tenant name with underscores", { groupId: GROUP, tenantName: "eu_prod_1" }],
    ["underscores in tenant and processor", { groupId: GROUP, tenantName: "eu_prod", spName: "sp_2_x" }],
  ])("reads back what archiveKey writes for %s", (_name, workspace) => {
    for (const prefix of [PREFIX, ""]) {
      const key = archiveKey(prefix, workspace, WINDOW);
      expect(parseArchiveKey(prefix, key)).toEqual({
        ok: true,
        workspace,
        window: WINDOW,
        date: "2026-11-28",
      });
    }
  });

  it.each([
    ["atlas/stream-audit/.incoming/run-1/group=x/file", "does not follow"],
    ["other/file.gz", "not under the archive prefix"],
    [`atlas/stream-audit/group=${GROUP}/tenant=t/notes.txt`, "does not follow"],
    [
      `atlas/stream-audit/group=${GROUP}/tenant=t/date=2026-11-28/t_20261128T230000Z_20261129T000000Z.log`,
      "does not end with _audit.log.gz",
    ],
    [
      `atlas/stream-audit/group=${GROUP}/tenant=t/date=2026-11-28/t_2026-11-28_20261129T000000Z_audit.log.gz`,
      "YYYYMMDDTHHmmssZ",
    ],
    [
      `atlas/stream-audit/group=${GROUP}/tenant=t/date=2026-11-28/u_20261128T230000Z_20261129T000000Z_audit.log.gz`,
      'start with the tenant name "t"',
    ],
    [
      `atlas/stream-audit/group=${GROUP}/tenant=t/date=2026-11-29/t_20261128T230000Z_20261129T000000Z_audit.log.gz`,
      "not the UTC date of the window start",
    ],
    [
      `atlas/stream-audit/group=${GROUP}/tenant=t/date=2026-11-28/t_20261128T230000Z_20261128T220000Z_audit.log.gz`,
      "not after its start",
    ],
  ])("refuses %s", (key, reason) => {
    const parsed = parseArchiveKey(PREFIX, key);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? "" : parsed.reason).toContain(reason);
  });
});

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

describe("readError", () => {
  const sdkError = (name: string, status: number) =>
    Object.assign(new Error(`${name} message`), { name, $metadata: { httpStatusCode: status } });

  it.each([
    ["AccessDenied", 403, "READER_ACCESS_DENIED", "s3:ListBucket on the bucket and s3:GetObject"],
    ["NoSuchBucket", 404, "READER_NO_SUCH_BUCKET", "Check the bucket name"],
    ["InvalidObjectState", 403, "READER_S3_FAILED", "restore it first"],
    ["InternalError", 500, "READER_S3_FAILED", "try again"],
  ])("maps %s (%i) to %s with advice", (name, status, code, advice) => {
    const error = readError(sdkError(name, status), "GetObject", "my-bucket", "a/key");
    expect(error.code).toBe(code);
    expect(error.message).toContain(`GetObject on s3://my-bucket/a/key failed (${status} ${name}`);
    expect(error.message).toContain(advice);
    expect(isReaderSetupProblem(error)).toBe(code !== "READER_S3_FAILED");
  });
});
