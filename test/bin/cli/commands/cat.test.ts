import { gzipSync } from "node:zlib";
import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { archiveKey } from "../../../../lambda/config";
import type { TimeWindow } from "../../../../lambda/windows";
import { BILLING, GROUP, PROD } from "../../../support/archive-fixture";
import { RANGE, useReaderArchive, WIDEST } from "./archive";

const archive = useReaderArchive();

const prod = () => archive.args("cat", "--tenant", "prod-workspace", ...RANGE);

describe("atlas-audit-archiver cat", () => {
  it("prints the lines of the range in order across the day boundary", async () => {
    const result = await archive.cli(prod());
    expect(result.status).toBe(0);
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe(
      archive
        .windows()
        .map((w) => archive.text(PROD, w))
        .join(""),
    );
  });

  it("ends quietly with status 0 when the pipe closes (| head -n 1)", async () => {
    const result = await archive.spawn(prod(), "head -n 1");
    expect(result.stdout).toBe(`${archive.text(PROD, archive.windows()[0] as TimeWindow).split("\n")[0]}\n`);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("reads only what is archived in 1970 through 9999", async () => {
    const started = performance.now();
    const result = await archive.cli(archive.args("cat", "--tenant", "billing", ...WIDEST));
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it("says so on stderr when the range has no window, and exits 0", async () => {
    const result = await archive.cli(
      archive.args("cat", "--tenant", "prod-workspace", "--from", "2020-01-01", "--to", "2020-01-01"),
    );
    expect(result.status).toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(`No archived window of ${GROUP}/prod-workspace in this range.\n`);
  });

  it("asks for --sp when several stream processors have logs and there is no whole-workspace log", async () => {
    const { fixture, config } = archive;
    const window = archive.windows()[0] as TimeWindow;
    const key = archiveKey(
      config.archive.prefix,
      { groupId: GROUP, tenantName: "billing", spName: "refunds" },
      window,
    );
    await fixture.s3server.putObject(key, gzipSync("{}\n"));
    try {
      const result = await archive.cli(archive.args("cat", "--tenant", "billing", ...RANGE));
      expect(result.status).toBe(2);
      expect(result.stderr).toContain("several stream processors in this range (payments, refunds)");
      expect(result.stderr).toContain("pick one with --sp NAME.");
      expect(result.stderr).toContain("Run atlas-audit-archiver cat --help for usage.");
    } finally {
      await fixture.s3server
        .client()
        .send(new DeleteObjectCommand({ Bucket: fixture.s3server.bucket, Key: key }));
    }
  });

  it.each<[string, string[], string]>([
    [
      "an --sp the tenant has no log of (a typo)",
      ["--tenant", "billing", "--sp", "paymnts"],
      'Tenant billing has no log of stream processor "paymnts" in this range; it has the logs of payments. ' +
        "Did you mean --sp payments?",
    ],
    [
      "an --sp of a tenant archived whole",
      ["--tenant", "prod-workspace", "--sp", "payments"],
      'Tenant prod-workspace has no log of stream processor "payments" in this range; it has the ' +
        "whole-workspace log (leave --sp out).",
    ],
    [
      "a --tenant the group does not have (a typo)",
      ["--tenant", "prod-worksapce"],
      `Group ${GROUP} has no archived tenant "prod-worksapce"; it has billing, prod-workspace. ` +
        "Did you mean --tenant prod-workspace?",
    ],
    [
      "a --tenant nothing like the group's",
      ["--tenant", "ledger", "--sp", "payments"],
      `Group ${GROUP} has no archived tenant "ledger"; it has billing, prod-workspace.`,
    ],
  ])("names what exists and exits 2 for %s", async (_name, selection, message) => {
    const result = await archive.cli(archive.args("cat", ...selection, ...RANGE));
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(
      `atlas-audit-archiver: ${message}\nRun atlas-audit-archiver cat --help for usage.\n`,
    );
    expect(result.status).toBe(2);
  });

  it("says the group has nothing archived, and exits 2, for a group with no tenant", async () => {
    const other = "5f1e2d3c4b5a69788796a5b4";
    const result = await archive.cli([
      "cat",
      "--config",
      archive.configFile,
      "--group",
      other,
      "--tenant",
      "prod-workspace",
      ...RANGE,
    ]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(
      `Nothing is archived for group ${other} (s3://${archive.fixture.s3server.bucket}/atlas/stream-audit/group=${other}/)`,
    );
  });

  it("reads a tenant's own processor, and an empty range of it is no error", async () => {
    const ok = await archive.cli(archive.args("cat", "--tenant", "billing", "--sp", "payments", ...RANGE));
    expect(ok.status).toBe(0);
    expect(ok.stdout).toBe(
      archive
        .windows()
        .map((w) => archive.text(BILLING, w))
        .join(""),
    );
    const empty = await archive.cli(
      archive.args(
        "cat",
        "--tenant",
        "billing",
        "--sp",
        "payments",
        "--from",
        "2020-01-01",
        "--to",
        "2020-01-01",
      ),
    );
    expect(empty.status).toBe(0);
  });

  const bucket = () => ["--bucket", archive.fixture.s3server.bucket];
  it.each<[string, () => string[], string]>([
    ["without --tenant", () => ["cat", ...bucket(), "--group", GROUP, ...RANGE], "cat needs --tenant T"],
    [
      "without a range",
      () => ["cat", ...bucket(), "--group", GROUP, "--tenant", "t"],
      "--from and --to are required",
    ],
    [
      "a --to date past the calendar",
      () => [
        "cat",
        ...bucket(),
        "--group",
        GROUP,
        "--tenant",
        "t",
        "--from",
        "2026-02-01",
        "--to",
        "2026-02-30",
      ],
      '--to "2026-02-30" is not a calendar date: February 2026 has 28 days',
    ],
    [
      "an --sp that is not a name",
      () => ["cat", ...bucket(), "--group", GROUP, "--tenant", "t", "--sp", "x y"],
      '--sp "x y" is not a valid name',
    ],
  ])("exits 2 with the usage hint for %s", async (_name, args, message) => {
    const result = await archive.cli(args());
    expect(result.stderr).toContain(message);
    expect(result.stderr).toMatch(/\nRun atlas-audit-archiver cat --help for usage\.\n$/);
    expect(result.status).toBe(2);
  });

  it("exits 2 and names the permissions when S3 denies access", async () => {
    archive.fixture.s3server.inject({ op: "ListObjectsV2", status: 403, code: "AccessDenied" });
    const result = await archive.cli(archive.args("cat", "--tenant", "billing", ...RANGE));
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("AccessDenied");
    expect(result.stderr).toContain("s3:ListBucket on the bucket and s3:GetObject on the archive prefix");
  });
});
