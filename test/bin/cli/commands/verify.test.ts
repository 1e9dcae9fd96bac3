import { describe, expect, it } from "vitest";
import { archiveKey } from "../../../../lambda/config";
import type { TimeWindow } from "../../../../lambda/windows";
import { GROUP, PROD } from "../../../support/archive-fixture";
import { useReaderArchive, WIDEST } from "./archive";

const archive = useReaderArchive();

describe("atlas-audit-archiver verify", () => {
  it("exits 0 for an intact archive and 1 naming a corrupted object", async () => {
    const { fixture, config, configFile } = archive;
    const intact = await archive.cli(["verify", "--config", configFile]);
    expect(intact.status).toBe(0);
    expect(intact.stdout).toContain("OK: 10 object(s) in s3://");
    const key = archiveKey(config.archive.prefix, PROD, archive.windows()[0] as TimeWindow);
    const original = await fixture.s3server.getObject(key);
    await fixture.s3server.putObject(key, Buffer.from("garbage"), original.metadata);
    try {
      const result = await archive.cli(["verify", "--config", configFile, "--group", GROUP]);
      expect(result.status).toBe(1);
      expect(result.stdout).toContain(`BAD ${key}: GZIP_INVALID`);
      expect(result.stdout).toContain("FAILED: 1 problem(s)");
    } finally {
      await fixture.s3server.putObject(key, original.body, original.metadata, undefined, original.checksum);
    }
  });

  it("reads only what is archived in 1970 through 9999", async () => {
    const started = performance.now();
    const result = await archive.cli(archive.args("verify", ...WIDEST, "--json"));
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: true, checked: 10, bad: [] });
    expect(performance.now() - started).toBeLessThan(5000);
  });

  const bucket = () => ["--bucket", archive.fixture.s3server.bucket];
  it.each<[string, () => string[], string]>([
    ["half a range", () => ["verify", ...bucket(), "--from", "2026-11-28"], "--from and --to are required"],
    [
      "a --from before 1970",
      () => ["verify", ...bucket(), "--from", "1969-12-31", "--to", "2026-11-28"],
      "outside the years 1970 through 9999",
    ],
    [
      "an uppercase group id",
      () => ["verify", ...bucket(), "--group", GROUP.toUpperCase()],
      "is not an Atlas project id",
    ],
  ])("exits 2 for %s", async (_name, args, message) => {
    const result = await archive.cli(args());
    expect(result.stderr).toContain(message);
    expect(result.status).toBe(2);
  });

  it("exits 2 when no bucket is given and there is no parameter file", async () => {
    const result = await archive.cli(["verify"]);
    expect(result.stderr).toContain(
      "No bucket: pass --bucket, set ARCHIVE_BUCKET, or set archive.bucket in the parameter file (config/workspaces.json).",
    );
    expect(result.status).toBe(2);
  });
});
