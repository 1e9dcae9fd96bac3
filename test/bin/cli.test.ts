import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { main } from "../../bin/cli";
import type { RunSummary } from "../../lambda/archive/run";
import { GROUP } from "../support/archive-fixture";
import {
  type AtlasSimulator,
  DEFAULT_API_KEY,
  DEFAULT_SERVICE_ACCOUNT,
  startAtlasSimulator,
} from "../support/atlas-simulator";
import { type CliResult, runCli } from "../support/cli";
import { type S3TestServer, startS3Server } from "../support/s3-server";
import { type SecretsManagerFake, startSecretsManager } from "../support/secrets-manager";

const NOW = "2026-11-28T15:20:00Z";

/** Runs the real executable, as a user would, with exactly `env` (and PATH, HOME). */
function cli(args: string[], env: Record<string, string | undefined>): Promise<CliResult> {
  return runCli(args, { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } });
}

/** Runs the command line in this process (fast), with exactly `env`, capturing what it prints. */
async function inProcess(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
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
  try {
    const status = await main(args, env);
    return { status, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/** Exit 2 with one message (and the usage hint), no stack trace. */
function expectRefused(result: CliResult, message: string): void {
  expect(result.status).toBe(2);
  expect(result.stderr).toContain(message);
  expect(result.stderr).toMatch(
    /^atlas-audit-archiver: [^\n]+\n(Run atlas-audit-archiver --help for usage\.\n)?$/,
  );
}

describe("atlas-audit-archiver run", () => {
  let sim: AtlasSimulator;
  let s3: S3TestServer;
  let dir: string;
  let configFile: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "cli-test-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await sim?.close();
    await s3?.close();
  });

  async function start(workspaces = [{ groupId: GROUP, tenantName: "prod-workspace" }]) {
    sim = await startAtlasSimulator({ workspaces: [{ groupId: GROUP, tenantName: "prod-workspace" }] });
    s3 = await startS3Server();
    configFile = join(dir, `config-${Date.now()}.json`);
    await writeFile(
      configFile,
      JSON.stringify({
        atlas: { baseUrl: "https://cloud.mongodb.com" },
        window: { lookbackHours: 4 },
        workspaces,
      }),
    );
  }

  function awsEnv(): Record<string, string> {
    return {
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      ARCHIVE_BUCKET: s3.bucket,
      ATLAS_BASE_URL: sim.baseUrl,
    };
  }

  it("archives with a service account from the environment and prints the summary as JSON", async () => {
    await start();
    const result = await cli(["run", "--config", configFile, "--now", NOW, "--json"], {
      ...awsEnv(),
      ATLAS_CLIENT_ID: DEFAULT_SERVICE_ACCOUNT.clientId,
      ATLAS_CLIENT_SECRET: DEFAULT_SERVICE_ACCOUNT.clientSecret,
    });
    expect(result.stderr).toContain("prod-workspace: 3 due window(s), 3 missing");
    expect(result.status).toBe(0);
    const summary = JSON.parse(result.stdout) as RunSummary;
    expect(summary).toMatchObject({
      ok: true,
      now: NOW,
      bucket: s3.bucket,
      totals: { archived: 3, failed: 0 },
    });
    expect(await s3.keys()).toHaveLength(3);
    // The CLI revokes its token on the way out, so frequent runs never pile up live tokens.
    expect(sim.requests.filter((r) => r.endpoint === "revoke")).toHaveLength(1);
  });

  it("archives with an API key, and exits 1 when a window failed", async () => {
    await start([
      { groupId: GROUP, tenantName: "prod-workspace" },
      { groupId: GROUP, tenantName: "gone" },
    ]);
    const result = await cli(["run", "--config", configFile, "--now", NOW], {
      ...awsEnv(),
      ATLAS_PUBLIC_KEY: DEFAULT_API_KEY.publicKey,
      ATLAS_PRIVATE_KEY: DEFAULT_API_KEY.privateKey,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("FAILED ATLAS_NOT_FOUND");
    expect(result.stderr).toContain("archived 3");
    expect(result.stdout).toBe("");
  });

  it("reads the credentials from Secrets Manager with --secret-id", async () => {
    await start();
    const secrets: SecretsManagerFake = await startSecretsManager();
    try {
      secrets.setSecret("atlas/archiver", JSON.stringify(DEFAULT_SERVICE_ACCOUNT));
      const result = await cli(
        ["run", "--config", configFile, "--now", NOW, "--secret-id", "atlas/archiver"],
        {
          ...awsEnv(),
          AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
        },
      );
      expect(result.status).toBe(0);
      expect(secrets.calls.map((c) => c.secretId)).toEqual(["atlas/archiver"]);
    } finally {
      await secrets.close();
    }
  });

  it.each([
    [["run", "--config", "missing.json"], "does not exist"],
    [["run", "--now", "yesterday"], '--now "yesterday" is not an instant'],
    [["run", "--from", "2026-11-01T00:00:00Z"], "--from and --to are required together: give --to too"],
    [["run", "--frobnicate"], "Unknown option '--frobnicate'"],
    [["launch"], 'Unknown command "launch"'],
  ])("exits 2 with a clear message for %j", async (args, message) => {
    const result = await cli(args, {});
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it.each([
    ["275760-09-13T00:00:00.001Z", "is not an instant"],
    ["+275760-09-13T00:00:00Z", "is not an instant"],
    ["-271821-04-19T00:00:00Z", "is not an instant"],
    ["12345678901234567890-01-01T00:00:00Z", "is not an instant"],
    ["1", "is not an instant"],
    ["2026-02-30T00:00:00Z", "is not a calendar date: February 2026 has 28 days"],
    ["2026-11-28T13:00:00", "The zone is missing"],
    ["1969-12-31T23:59:59Z", "outside the years 1970 through 9999"],
    ["9999-12-31T23:30:00-01:00", "outside the years 1970 through 9999"],
    ["2026-11-28", "is a date, not an instant"],
  ])("exits 2 for --now %j", async (now, message) => {
    const result = await inProcess(["run", `--now=${now}`]);
    expectRefused(result, `--now ${JSON.stringify(now)} `);
    expect(result.stderr).toContain(message);
  });

  it.each([
    [
      ["--from", "2026-11-28T00:00:00", "--to", "2026-11-29T00:00:00Z"],
      '--from "2026-11-28T00:00:00" is not a date',
    ],
    [["--from", "2026-11-29", "--to", "2026-11-28"], "is reversed"],
    [["--from", "2026-11-28T12:00:00Z", "--to", "2026-11-28T12:00:00Z"], "is empty"],
    [["--to", "2026-11-28"], "--from and --to are required together: give --from too"],
    [["--from", "0001-01-01", "--to", "2026-11-28"], "outside the years 1970 through 9999"],
    [
      ["--from", "1970-01-01", "--to", "9999-12-31"],
      "covers 2932897 days, more than the 366 allowed: split it",
    ],
  ])("exits 2 for the range %j, as the readers would", async (range, message) => {
    expectRefused(await inProcess(["run", ...range]), message);
  });

  it("takes a --from and --to date as whole UTC days, as the readers do", async () => {
    await start();
    const result = await cli(
      ["run", "--config", configFile, "--now", NOW, "--from", "2026-11-28", "--to", "2026-11-28", "--json"],
      {
        ...awsEnv(),
        ATLAS_CLIENT_ID: DEFAULT_SERVICE_ACCOUNT.clientId,
        ATLAS_CLIENT_SECRET: DEFAULT_SERVICE_ACCOUNT.clientSecret,
      },
    );
    expect(result.stderr).toContain("prod-workspace: 15 due window(s), 15 missing");
    expect(result.status).toBe(0);
    expect((JSON.parse(result.stdout) as RunSummary).totals.archived).toBe(15);
  });

  it.each([
    "x@SEKRET",
    "x:SEKRET",
    "a/SEKRET",
    "a#SEKRET",
    "a%40SEKRET",
    "a SEKRET",
    'a"SEKRET',
    "a\\SEKRET",
    "SEKRET?x",
    "a@b@SEKRET",
  ])("exits 2 for an ATLAS_BASE_URL with the password %j, and never prints it", async (password) => {
    const file = join(dir, "base-url.json");
    await writeFile(file, JSON.stringify({ workspaces: [{ groupId: GROUP, tenantName: "prod-workspace" }] }));
    const result = await inProcess(["run", "--config", file], {
      ATLAS_BASE_URL: `https://svc:${password}@cloud.mongodb.com`,
      ARCHIVE_BUCKET: "b",
      ATLAS_CLIENT_ID: "id",
      ATLAS_CLIENT_SECRET: "secret",
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(
      '$.atlas.baseUrl = "https://***@cloud.mongodb.com": must not contain credentials',
    );
    expect(result.stderr + result.stdout).not.toContain("SEKRET");
  });

  it("never prints the password of a base URL in the parameter file", async () => {
    const file = join(dir, "base-url-file.json");
    await writeFile(
      file,
      JSON.stringify({
        atlas: { baseUrl: "https://svc:x@SEKRET@cloud.mongodb.com" },
        workspaces: [{ groupId: GROUP, tenantName: "prod-workspace" }],
      }),
    );
    const result = await inProcess(["run", "--config", file]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("https://***@cloud.mongodb.com");
    expect(result.stderr).not.toContain("SEKRET");
  });

  it("exits 2 at once for a parameter file that never ends, or a pipe that nobody writes", async () => {
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    for (const [file, message] of [
      ["/dev/zero", "Parameter file /dev/zero is larger than 4 MiB"],
      [fifo, `Parameter file ${fifo} is a named pipe (FIFO) that nothing was written to`],
    ] as const) {
      const started = performance.now();
      expectRefused(await inProcess(["run", "--config", file]), message);
      expect(performance.now() - started).toBeLessThan(1000);
    }
  });

  it("exits 2 and says which variables to set when there are no credentials", async () => {
    await start();
    const result = await cli(["run", "--config", configFile], awsEnv());
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("ATLAS_CLIENT_ID and ATLAS_CLIENT_SECRET");
  });

  it("holds ATLAS_BASE_URL to the parameter file's rule: https, or http only to loopback", async () => {
    const file = join(dir, "ok.json");
    await writeFile(file, JSON.stringify({ workspaces: [{ groupId: GROUP, tenantName: "prod-workspace" }] }));
    const result = await cli(["run", "--config", file], {
      ATLAS_BASE_URL: "http://atlas.example.com",
      ARCHIVE_BUCKET: "b",
      ATLAS_CLIENT_ID: "id",
      ATLAS_CLIENT_SECRET: "secret",
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("ATLAS_BASE_URL");
    expect(result.stderr).toContain("$.atlas.baseUrl");
  });

  it("exits 2 and lists every problem of a bad parameter file", async () => {
    const bad = join(dir, "bad.json");
    await writeFile(
      bad,
      JSON.stringify({ window: { minutes: 7 }, workspaces: [{ groupId: "XYZ", tenantName: "a/b" }] }),
    );
    const result = await cli(["run", "--config", bad], {});
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("$.window.minutes");
    expect(result.stderr).toContain("$.workspaces[0].groupId");
    expect(result.stderr).toContain("$.workspaces[0].tenantName");
  });
});
