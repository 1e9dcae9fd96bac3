import { join } from "node:path";
import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { archiveKey } from "../../../../lambda/config";
import type { TimeWindow } from "../../../../lambda/windows";
import { GROUP, PROD } from "../../../support/archive-fixture";
import { NOW, RANGE, useReaderArchive, WIDEST } from "./archive";

const archive = useReaderArchive();

describe("atlas-audit-archiver ls", () => {
  it("lists the windows as JSON and exits 0 when there is no gap", async () => {
    const result = await archive.cli(archive.args("ls", ...RANGE, "--now", NOW, "--json"));
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: true, totals: { objects: 10, missing: 0 } });
  });

  it("shows a gap in the table and exits 1", async () => {
    const { fixture, config } = archive;
    const key = archiveKey(config.archive.prefix, PROD, archive.windows()[3] as TimeWindow);
    const original = await fixture.s3server.getObject(key);
    await fixture.s3server
      .client()
      .send(new DeleteObjectCommand({ Bucket: fixture.s3server.bucket, Key: key }));
    try {
      // Bucket and prefix from flags this time; the window settings are the parameter file's defaults.
      const result = await archive.cli(
        [
          "ls",
          "--bucket",
          fixture.s3server.bucket,
          "--prefix",
          config.archive.prefix,
          "--group",
          GROUP,
        ].concat(["--tenant", "prod-workspace", ...RANGE, "--now", NOW]),
      );
      expect(result.status).toBe(1);
      expect(result.stdout).toContain("prod-workspace: 4 window(s)");
      expect(result.stdout).toContain("GAP 2026-11-29T00:00:00Z/2026-11-29T01:00:00Z  (1 window(s) missing)");
      expect(result.stdout).toContain("GAPS: 1 due window(s) missing");
    } finally {
      await fixture.s3server.putObject(key, original.body, original.metadata, undefined, original.checksum);
    }
  });

  it("finds the gaps of 1970 through 9999 at once", async () => {
    const started = performance.now();
    const result = await archive.cli(archive.args("ls", ...WIDEST, "--now", NOW, "--json"));
    expect(result.status).toBe(1);
    const missing = Date.parse("2026-11-28T21:00:00Z") / 3_600_000;
    expect(JSON.parse(result.stdout).totals).toMatchObject({ objects: 10, missing: 2 * missing });
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it("says what to check when the group has nothing, and exits 1", async () => {
    const other = "5f1e2d3c4b5a69788796a5b4";
    const result = await archive.cli(["ls", "--config", archive.configFile, "--group", other, "--now", NOW]);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain("check --group, --tenant and --config");
    expect(result.stdout).toContain("NOTHING FOUND.");
  });

  const bucket = () => ["--bucket", archive.fixture.s3server.bucket];
  it.each<[string, () => string[], string]>([
    ["without --group", () => ["ls", ...bucket()], "ls needs --group G"],
    [
      "a malformed date",
      () => ["ls", ...bucket(), "--group", GROUP, "--from", "28/11/2026"],
      '--from "28/11/2026" is not a date',
    ],
    [
      "a --now past the years allowed",
      () => ["ls", ...bucket(), "--group", GROUP, "--now=+275760-09-13T00:00:00Z"],
      '--now "+275760-09-13T00:00:00Z" is not an instant',
    ],
    [
      "an option of another command",
      () => ["ls", ...bucket(), "--group", GROUP, "--out", archive.dir],
      "Unknown option --out for ls.",
    ],
    [
      "a missing parameter file",
      () => ["ls", "--config", join(archive.dir, "nope.json"), "--group", GROUP],
      "does not exist",
    ],
    [
      "a bucket that does not exist",
      () => ["ls", "--bucket", "no-such-bucket", "--group", GROUP],
      "NoSuchBucket",
    ],
    [
      "an invalid --prefix",
      () => ["ls", ...bucket(), "--prefix", "/abs", "--group", GROUP],
      '--prefix "/abs" is invalid',
    ],
  ])("exits 2 for %s", async (_name, args, message) => {
    const result = await archive.cli(args());
    expect(result.stderr).toContain(message);
    expect(result.status).toBe(2);
  });
});
