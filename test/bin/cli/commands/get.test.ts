import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GROUP } from "../../../support/archive-fixture";
import { RANGE, useReaderArchive, WIDEST } from "./archive";

const archive = useReaderArchive();

const get = (out: string, ...selection: string[]) =>
  archive.args("get", ...selection, ...RANGE, "--out", out);

describe("atlas-audit-archiver get", () => {
  it("downloads without a progress bar when stderr is not a terminal, and resumes", async () => {
    const out = join(archive.dir, "get");
    const first = await archive.cli(get(out, "--tenant", "billing"));
    expect(first.status).toBe(0);
    expect(first.stderr).toMatch(/^5 downloaded \(.*\), 0 already present, 0 failed, into /);
    expect(first.stderr).not.toContain("\r");
    const files = await readdir(join(out, `group=${GROUP}`, "tenant=billing", "date=2026-11-29"));
    expect(files).toHaveLength(2);
    const second = await archive.cli(get(out, "--tenant", "billing"));
    expect(second.status).toBe(0);
    expect(second.stderr).toMatch(/^0 downloaded \(0 B\), 5 already present, 0 failed/);
  });

  it("draws one updating progress line when stderr is a terminal", async () => {
    const result = await archive.cli(get(join(archive.dir, "get-tty")), { tty: true });
    expect(result.status).toBe(0);
    expect(result.stderr).toContain("\r[##############################] 100%  10/10 files");
    expect(result.stderr).toContain("\x1b[K\n10 downloaded");
  });

  it("prints the report as JSON on stdout with --json", async () => {
    const result = await archive.cli([...get(join(archive.dir, "get-json")), "--json"]);
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: true, failed: [], skipped: [] });
    expect(result.stderr).toContain("10 downloaded");
  });

  it("reads only what is archived in 1970 through 9999", async () => {
    const started = performance.now();
    const result = await archive.cli(archive.args("get", ...WIDEST, "--out", join(archive.dir, "widest")));
    expect(result.stderr).not.toContain("FAILED");
    expect(result.status).toBe(0);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it("reports a file that cannot be written as a failed object, fetches the others, and exits 1", async () => {
    const out = join(archive.dir, "get-blocked");
    // A file where the billing tenant's directory would go.
    await mkdir(join(out, `group=${GROUP}`), { recursive: true });
    await writeFile(join(out, `group=${GROUP}`, "tenant=billing"), "x");
    const result = await archive.cli(get(out));
    expect(result.status).toBe(1);
    const failed = result.stderr.split("\n").filter((l) => l.startsWith("FAILED "));
    expect(failed).toHaveLength(5);
    expect(failed[0]).toContain(`tenant=billing`);
    expect(failed[0]).toContain(
      `ENOTDIR: not a directory, mkdir '${join(out, `group=${GROUP}`, "tenant=billing", "date=2026-11-28")}'`,
    );
    expect(result.stderr).toContain("5 downloaded");
    expect(result.stderr).toContain("5 failed");
  });

  it.each<[string, string[], string]>([
    ["without --out", ["get", "--group", GROUP, ...RANGE], "get needs --out DIR"],
    [
      "a reversed range",
      ["get", "--group", GROUP, "--from", "2026-11-29", "--to", "2026-11-28", "--out", "x"],
      "is reversed",
    ],
  ])("exits 2 for %s", async (_name, args, message) => {
    const result = await archive.cli([...args, "--bucket", archive.fixture.s3server.bucket]);
    expect(result.stderr).toContain(message);
    expect(result.status).toBe(2);
  });
});

describe("get --out that cannot be used", () => {
  it.each<[string, () => Promise<string>, string]>([
    ["under /proc", async () => "/proc/x/audit", "cannot be created (ENOENT: no such file or directory"],
    [
      "under a regular file",
      async () => {
        const file = join(archive.dir, "plain-file");
        await writeFile(file, "x");
        return join(file, "audit");
      },
      "cannot be created (ENOTDIR: not a directory",
    ],
    [
      "a regular file",
      async () => {
        const file = join(archive.dir, "plain-file-2");
        await writeFile(file, "x");
        return file;
      },
      "cannot be created (EEXIST: it exists and is not a directory",
    ],
    [
      "where nobody may create it",
      async () => "/sys/audit",
      "cannot be created (EPERM: operation not permitted",
    ],
    [
      "a directory nobody may write",
      async () => "/sys/kernel",
      "cannot be written (EACCES: permission denied",
    ],
  ])("exits 2 before downloading anything for %s", async (_name, outOf, reason) => {
    const out = await outOf();
    const started = performance.now();
    const before = archive.fixture.s3server.operations.length;
    const result = await archive.cli(get(out, "--tenant", "billing"));
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^atlas-audit-archiver: [^\n]+\n$/);
    expect(result.stderr).toContain(`The output directory ${out} ${reason}`);
    expect(result.stderr).toContain("give --out a directory this user can create and write");
    expect(performance.now() - started).toBeLessThan(1000);
    // Checked before the listing, so nothing at all was asked of S3.
    expect(archive.fixture.s3server.operations.length).toBe(before);
  });
});
