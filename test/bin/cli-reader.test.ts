import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { main } from "../../bin/cli";
import { type ArchiverConfig, archiveKey, type Workspace } from "../../lambda/config";
import { dueWindows, type TimeWindow, toEpochSeconds } from "../../lambda/windows";
import { type ArchiveFixture, GROUP, startArchiveFixture, testConfig } from "../support/archive-fixture";
import { expectedLines } from "../support/atlas-simulator";
import { type CliResult, cliShellCommand, runCli } from "../support/cli";

const NOW = "2026-11-29T02:20:00Z";
const PROD: Workspace = { groupId: GROUP, tenantName: "prod-workspace" };
/** Enough lines that `cat` outlives a pipe buffer (64 KiB) many times over. */
const LINES = { linesPerWindow: () => 1_500 };
const RANGE = ["--from", "2026-11-28T21:00:00Z", "--to", "2026-11-29T02:00:00Z"];

let fixture: ArchiveFixture;
let config: ArchiverConfig;
let dir: string;
let configFile: string;

beforeAll(async () => {
  fixture = await startArchiveFixture({ simulator: LINES });
  config = testConfig(fixture.sim.baseUrl);
  expect((await fixture.run(config, Date.parse(NOW))).totals.archived).toBe(10);
  dir = await mkdtemp(join(tmpdir(), "cli-reader-"));
  configFile = join(dir, "workspaces.json");
  await writeFile(
    configFile,
    JSON.stringify({
      archive: { bucket: fixture.s3server.bucket, prefix: config.archive.prefix },
      window: config.window,
      workspaces: config.workspaces,
    }),
  );
});
afterAll(async () => {
  await fixture?.close();
  await rm(dir, { recursive: true, force: true });
});

function env(): Record<string, string | undefined> {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_ENDPOINT_URL_S3: fixture.s3server.endpoint,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    // Node 20 is supported by this project; the SDK's notice about Node 22 would clutter stderr.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
}

/** The CLI with `args` as one shell command line (the test's arguments hold no single quote). */

/**
 * Runs the real executable in a directory without a default parameter file; `shell` pipes its
 * stdout through a shell command (e.g. `head -n 1`) and the status is the CLI's own.
 */
function cli(args: string[], shell?: string): Promise<CliResult> {
  return runCli(args, { env: env(), cwd: dir, ...(shell ? { pipeTo: shell } : {}) });
}

/** Runs the command line in this process (fast), capturing what it prints. */
async function inProcess(args: string[]): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  const saved = { ...process.env };
  Object.assign(process.env, env());
  try {
    const status = await main(args, process.env);
    return { status, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
    process.env = saved;
  }
}

const windows = () => dueWindows(Date.parse(NOW), config.window);
const text = (ws: Workspace, w: TimeWindow) =>
  expectedLines({ ...ws, ...toEpochSeconds(w) }, LINES)
    .map((l) => `${l}\n`)
    .join("");

describe("atlas-audit-archiver ls", () => {
  it("lists the windows as JSON and exits 0 when there is no gap", async () => {
    const result = await cli([
      "ls",
      "--config",
      configFile,
      "--group",
      GROUP,
      ...RANGE,
      "--now",
      NOW,
      "--json",
    ]);
    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ ok: true, totals: { objects: 10, missing: 0 } });
  });

  it("shows a gap in the table and exits 1", async () => {
    const key = archiveKey(config.archive.prefix, PROD, windows()[3] as TimeWindow);
    const original = await fixture.s3server.getObject(key);
    const s3 = fixture.s3server.client();
    await s3.send(new DeleteObjectCommand({ Bucket: fixture.s3server.bucket, Key: key }));
    try {
      // Bucket and prefix from flags this time; the window settings are the parameter file's defaults.
      const result = await cli(
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
});

describe("atlas-audit-archiver cat", () => {
  it("prints the lines of the range in order across the day boundary", async () => {
    const result = await cli([
      "cat",
      "--config",
      configFile,
      "--group",
      GROUP,
      "--tenant",
      "prod-workspace",
      ...RANGE,
    ]);
    expect(result.status).toBe(0);
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe(
      windows()
        .map((w) => text(PROD, w))
        .join(""),
    );
  });

  it("ends quietly with status 0 when the pipe closes (| head -n 1)", async () => {
    const result = await cli(
      ["cat", "--config", configFile, "--group", GROUP, "--tenant", "prod-workspace", ...RANGE],
      "head -n 1",
    );
    expect(result.stdout).toBe(`${text(PROD, windows()[0] as TimeWindow).split("\n")[0]}\n`);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });
});

describe("atlas-audit-archiver get", () => {
  it("downloads without a progress bar when stderr is not a terminal, and resumes", async () => {
    const out = join(dir, "get");
    const args = [
      "get",
      "--config",
      configFile,
      "--group",
      GROUP,
      "--tenant",
      "billing",
      ...RANGE,
      "--out",
      out,
    ];
    const first = await cli(args);
    expect(first.status).toBe(0);
    expect(first.stderr).toMatch(/^5 downloaded \(.*\), 0 already present, 0 failed, into /);
    expect(first.stderr).not.toContain("\r");
    const files = await readdir(join(out, `group=${GROUP}`, "tenant=billing", "date=2026-11-29"));
    expect(files).toHaveLength(2);
    const second = await cli(args);
    expect(second.status).toBe(0);
    expect(second.stderr).toMatch(/^0 downloaded \(0 B\), 5 already present, 0 failed/);
  });

  it("draws one updating progress line when stderr is a terminal", async () => {
    const out = join(dir, "get-tty");
    const command = cliShellCommand([
      "get",
      "--config",
      configFile,
      "--group",
      GROUP,
      ...RANGE,
      "--out",
      out,
    ]);
    // script(1) runs the command on a pseudo-terminal and copies what it prints to our stdout.
    const result = await new Promise<CliResult>((done, reject) => {
      const child = spawn("script", ["-qefc", command, "/dev/null"], { env: env(), cwd: dir });
      let stdout = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.on("error", reject).on("exit", (code) => done({ status: code ?? -1, stdout, stderr: "" }));
    });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("\r[##############################] 100%  10/10 files");
    expect(result.stdout).toContain("10 downloaded");
  });
});

describe("get --out that cannot be used", () => {
  const getInto = (out: string) =>
    inProcess([
      "get",
      "--config",
      configFile,
      "--group",
      GROUP,
      "--tenant",
      "billing",
      ...RANGE,
      "--out",
      out,
    ]);

  it.each<[string, () => Promise<string>, string]>([
    ["under /proc", async () => "/proc/x/audit", "cannot be created (ENOENT: no such file or directory"],
    [
      "under a regular file",
      async () => {
        const file = join(dir, "plain-file");
        await writeFile(file, "x");
        return join(file, "audit");
      },
      "cannot be created (ENOTDIR: not a directory",
    ],
    [
      "a regular file",
      async () => {
        const file = join(dir, "plain-file-2");
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
    const before = fixture.s3server.operations.length;
    const result = await getInto(out);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^atlas-audit-archiver: [^\n]+\n$/);
    expect(result.stderr).toContain(`The output directory ${out} ${reason}`);
    expect(result.stderr).toContain("give --out a directory this user can create and write");
    expect(performance.now() - started).toBeLessThan(1000);
    // Checked before the listing, so nothing at all was asked of S3.
    expect(fixture.s3server.operations.length).toBe(before);
  });

  it("reports a file that cannot be written as a failed object, fetches the others, and exits 1", async () => {
    const out = join(dir, "get-blocked");
    // A file where the billing tenant's directory would go.
    await mkdir(join(out, `group=${GROUP}`), { recursive: true });
    await writeFile(join(out, `group=${GROUP}`, "tenant=billing"), "x");
    const result = await inProcess(["get", "--config", configFile, "--group", GROUP, ...RANGE, "--out", out]);
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
});

describe("atlas-audit-archiver verify", () => {
  it("exits 0 for an intact archive and 1 naming a corrupted object", async () => {
    expect((await cli(["verify", "--config", configFile])).status).toBe(0);
    const key = archiveKey(config.archive.prefix, PROD, windows()[0] as TimeWindow);
    const original = await fixture.s3server.getObject(key);
    await fixture.s3server.putObject(key, Buffer.from("garbage"), original.metadata);
    try {
      const result = await cli(["verify", "--config", configFile, "--group", GROUP]);
      expect(result.status).toBe(1);
      expect(result.stdout).toContain(`BAD ${key}: GZIP_INVALID`);
      expect(result.stdout).toContain("FAILED: 1 bad object(s)");
    } finally {
      await fixture.s3server.putObject(key, original.body, original.metadata, undefined, original.checksum);
    }
  });
});

describe("absurd ranges", () => {
  const WIDEST = ["--from", "1970-01-01", "--to", "9999-12-31"];

  it("ls finds the gaps of 1970 through 9999 at once", async () => {
    const started = performance.now();
    const result = await inProcess([
      "ls",
      "--config",
      configFile,
      "--group",
      GROUP,
      ...WIDEST,
      "--now",
      NOW,
      "--json",
    ]);
    expect(result.status).toBe(1);
    const report = JSON.parse(result.stdout);
    const missing = Date.parse("2026-11-28T21:00:00Z") / 3_600_000;
    expect(report.totals).toMatchObject({ objects: 10, missing: 2 * missing });
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it.each([
    ["cat", ["--tenant", "billing"]],
    ["verify", []],
    ["get", ["--out"]],
  ])("%s reads only what is archived in 1970 through 9999", async (command, extra) => {
    const started = performance.now();
    const out = extra[0] === "--out" ? [join(dir, "widest")] : [];
    const result = await inProcess([
      command,
      "--config",
      configFile,
      "--group",
      GROUP,
      ...WIDEST,
      ...extra,
      ...out,
    ]);
    expect(result.stderr).not.toContain("FAILED");
    expect(result.status).toBe(0);
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe("bad input", () => {
  const bucket = () => ["--bucket", fixture.s3server.bucket];
  it.each<[string, () => string[], string]>([
    ["ls without --group", () => ["ls", ...bucket()], "ls needs --group G"],
    ["cat without --tenant", () => ["cat", ...bucket(), "--group", GROUP, ...RANGE], "cat needs --tenant T"],
    [
      "cat without a range",
      () => ["cat", ...bucket(), "--group", GROUP, "--tenant", "t"],
      "--from and --to are required",
    ],
    ["get without --out", () => ["get", ...bucket(), "--group", GROUP, ...RANGE], "get needs --out DIR"],
    [
      "verify with half a range",
      () => ["verify", ...bucket(), "--from", "2026-11-28"],
      "--from and --to are required",
    ],
    [
      "a malformed date",
      () => ["ls", ...bucket(), "--group", GROUP, "--from", "28/11/2026"],
      '--from "28/11/2026" is not a date',
    ],
    [
      "a reversed range",
      () => [
        "get",
        ...bucket(),
        "--group",
        GROUP,
        "--from",
        "2026-11-29",
        "--to",
        "2026-11-28",
        "--out",
        dir,
      ],
      "is reversed",
    ],
    [
      "a --now past the years allowed",
      () => ["ls", ...bucket(), "--group", GROUP, "--now=+275760-09-13T00:00:00Z"],
      '--now "+275760-09-13T00:00:00Z" is not an instant',
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
      "a --from before 1970",
      () => ["verify", ...bucket(), "--from", "1969-12-31", "--to", "2026-11-28"],
      "outside the years 1970 through 9999",
    ],
    [
      "an uppercase group id",
      () => ["verify", ...bucket(), "--group", GROUP.toUpperCase()],
      "is not an Atlas project id",
    ],
    [
      "an option of another command",
      () => ["ls", ...bucket(), "--group", GROUP, "--out", dir],
      "Unknown option '--out'",
    ],
    [
      "a missing parameter file",
      () => ["ls", "--config", join(dir, "nope.json"), "--group", GROUP],
      "does not exist",
    ],
    [
      "a bucket that does not exist",
      () => ["ls", "--bucket", "no-such-bucket", "--group", GROUP],
      "NoSuchBucket",
    ],
  ])("exits 2 for %s", async (_name, args, message) => {
    const result = await inProcess(args());
    expect(result.stderr).toContain(message);
    expect(result.status).toBe(2);
  });

  it("exits 2 when no bucket is given and there is no parameter file", async () => {
    const result = await cli(["verify"]);
    expect(result.stderr).toContain("No bucket: pass --bucket, set ARCHIVE_BUCKET");
    expect(result.status).toBe(2);
  });

  it("exits 2 and names the permissions when S3 denies access", async () => {
    fixture.s3server.inject({ op: "ListObjectsV2", status: 403, code: "AccessDenied" });
    const result = await inProcess([
      "cat",
      "--config",
      configFile,
      "--group",
      GROUP,
      "--tenant",
      "billing",
      ...RANGE,
    ]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("AccessDenied");
    expect(result.stderr).toContain("s3:ListBucket on the bucket and s3:GetObject on the archive prefix");
  });
});
