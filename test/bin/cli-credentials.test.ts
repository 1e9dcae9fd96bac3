import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { GROUP } from "../support/archive-fixture";
import {
  type AtlasSimulator,
  DEFAULT_API_KEY,
  DEFAULT_SERVICE_ACCOUNT,
  startAtlasSimulator,
} from "../support/atlas-simulator";
import { runCli } from "../support/cli";
import { type S3TestServer, startS3Server } from "../support/s3-server";
import { type SecretsManagerFake, startSecretsManager } from "../support/secrets-manager";

// `run` checks its credentials before the first window: a credentials problem is one message and
// exit status 2, never one failure per window.

const NOW = "2026-11-28T15:20:00Z";

function cli(args: string[], env: Record<string, string | undefined>) {
  return runCli(args, { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } });
}

describe("atlas-audit-archiver run: credentials are checked once, before any window", () => {
  let sim: AtlasSimulator;
  let s3: S3TestServer;
  let secrets: SecretsManagerFake;
  let dir: string;
  let configFile: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "cli-credentials-"));
    configFile = join(dir, "config.json");
    await writeFile(
      configFile,
      JSON.stringify({
        window: { lookbackHours: 24 },
        workspaces: [
          { groupId: GROUP, tenantName: "prod-workspace" },
          { groupId: GROUP, tenantName: "billing" },
        ],
      }),
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await sim?.close();
    await s3?.close();
    await secrets?.close();
  });

  async function env(extra: Record<string, string>): Promise<Record<string, string>> {
    sim = await startAtlasSimulator();
    s3 = await startS3Server();
    secrets = await startSecretsManager();
    return {
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      ARCHIVE_BUCKET: s3.bucket,
      ATLAS_BASE_URL: sim.baseUrl,
      ...extra,
    };
  }

  it("exits 2 with one message for an unknown --secret-id, asking Atlas nothing", async () => {
    const vars = await env({});
    const result = await cli(["run", "--config", configFile, "--now", NOW, "--secret-id", "no/such"], vars);
    expect(result.status).toBe(2);
    expect(result.stderr.match(/Could not read the Atlas credentials from secret no\/such/g)).toHaveLength(1);
    expect(result.stderr).not.toContain("FAILED");
    expect(sim.requests).toEqual([]);
    expect(await s3.keys()).toEqual([]);
  });

  it("exits 2 with one message when Atlas refuses the service account, downloading nothing", async () => {
    const vars = await env({
      ATLAS_CLIENT_ID: DEFAULT_SERVICE_ACCOUNT.clientId,
      ATLAS_CLIENT_SECRET: "mdb_sa_sk_WRONG_SECRET",
    });
    const result = await cli(["run", "--config", configFile, "--now", NOW], vars);
    expect(result.status).toBe(2);
    expect(result.stderr.match(/Atlas refused the service account/g)).toHaveLength(1);
    expect(result.stderr).not.toContain("mdb_sa_sk_WRONG_SECRET");
    expect(sim.requests.filter((r) => r.endpoint === "download")).toEqual([]);
  });

  it("prints no credential a server echoes back, on stderr or in the --json summary", async () => {
    const vars = await env({
      ATLAS_PUBLIC_KEY: DEFAULT_API_KEY.publicKey,
      ATLAS_PRIVATE_KEY: DEFAULT_API_KEY.privateKey,
    });
    sim.inject({ fault: { kind: "echo-credentials", status: 400 }, times: 2 });
    const result = await cli(["run", "--config", configFile, "--now", NOW, "--json"], vars);
    expect(result.status).toBe(1);
    const output = `${result.stdout}\n${result.stderr}`;
    expect(output).toContain("echoes the credentials");
    expect(output).toContain("[redacted]");
    expect(output).not.toContain(DEFAULT_API_KEY.privateKey);
    expect(output).not.toMatch(/digest response: (?!\[redacted\])/);
    expect(output).not.toMatch(/Authorization: Digest/);
  });
});
