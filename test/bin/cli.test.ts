import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RunSummary } from "../../lambda/archive/run";
import { GROUP } from "../support/archive-fixture";
import {
  type AtlasSimulator,
  DEFAULT_API_KEY,
  DEFAULT_SERVICE_ACCOUNT,
  startAtlasSimulator,
} from "../support/atlas-simulator";
import { type S3TestServer, startS3Server } from "../support/s3-server";
import { type SecretsManagerFake, startSecretsManager } from "../support/secrets-manager";

const NOW = "2026-11-28T15:20:00Z";

interface Result {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real executable, as a user would. */
function cli(args: string[], env: Record<string, string | undefined>): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["bin/atlas-audit-archiver.js", ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject).on("exit", (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
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
    [["run", "--now", "yesterday"], '--now "yesterday" is not a date'],
    [["run", "--from", "2026-11-01T00:00:00Z"], "--from and --to go together"],
    [["run", "--frobnicate"], "Unknown option '--frobnicate'"],
    [["launch"], 'Unknown command "launch"'],
  ])("exits 2 with a clear message for %j", async (args, message) => {
    const result = await cli(args, {});
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
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
