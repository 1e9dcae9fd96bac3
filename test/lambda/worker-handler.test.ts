import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context } from "aws-lambda";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { renderBundledConfig, type Workspace } from "../../lambda/config";
import { createWorkerHandler } from "../../lambda/worker-handler";
import { GROUP, testConfig } from "../support/archive-fixture";
import {
  type AtlasSimulator,
  DEFAULT_SERVICE_ACCOUNT,
  startAtlasSimulator,
} from "../support/atlas-simulator";
import { S3RVER_CREDENTIALS, type S3TestServer, startS3Server } from "../support/s3-server";
import { type SecretsManagerFake, startSecretsManager } from "../support/secrets-manager";

const PROD: Workspace = { groupId: GROUP, tenantName: "prod-workspace" };
const context = { awsRequestId: "doctor-1", getRemainingTimeInMillis: () => 600_000 } as unknown as Context;

describe('the worker function invoked with {"doctor": true}', () => {
  let sim: AtlasSimulator;
  let s3: S3TestServer;
  let secrets: SecretsManagerFake;
  let dir: string;
  let logged: string[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "worker-doctor-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    sim = await startAtlasSimulator({ workspaces: [PROD] });
    s3 = await startS3Server();
    secrets = await startSecretsManager();
    secrets.setSecret("atlas/archiver", JSON.stringify(DEFAULT_SERVICE_ACCOUNT));
    const file = join(dir, `config-${Date.now()}.json`);
    await writeFile(file, renderBundledConfig(testConfig(sim.baseUrl, { workspaces: [PROD] })));
    vi.stubEnv("ARCHIVER_CONFIG_FILE", file);
    vi.stubEnv("ARCHIVE_BUCKET", s3.bucket);
    // The doctor sends no message: the queue is never called.
    vi.stubEnv("QUEUE_URL", "http://127.0.0.1:9/000000000000/windows.fifo");
    vi.stubEnv("ATLAS_SECRET_ARN", "atlas/archiver");
    vi.stubEnv("AWS_REGION", "us-east-1");
    vi.stubEnv("AWS_ACCESS_KEY_ID", S3RVER_CREDENTIALS.accessKeyId);
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", S3RVER_CREDENTIALS.secretAccessKey);
    vi.stubEnv("AWS_ENDPOINT_URL_S3", s3.endpoint);
    vi.stubEnv("AWS_ENDPOINT_URL_SECRETS_MANAGER", secrets.endpoint);
    logged = [];
    for (const level of ["info", "warn", "error"] as const) {
      vi.spyOn(console, level).mockImplementation((line: unknown) => {
        logged.push(String(line));
      });
    }
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
    await sim?.close();
    await s3?.close();
    await secrets?.close();
  });

  it("answers its own report: the secret's credentials, the workspace, the access list, the bucket and a write that stores nothing; the digest key is the planner's", async () => {
    const report = await createWorkerHandler()({ doctor: true }, context);
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([
      ["config", "ok"],
      ["credentials", "ok"],
      ["workspace", "ok"],
      ["access-list", "ok"],
      ["bucket", "ok"],
      ["bucket-region", "ok"],
      ["bucket-encryption", "warn"],
      ["bucket-versioning", "warn"],
      ["bucket-object-lock", "warn"],
      ["write", "ok"],
      ["kms", "skip"],
    ]);
    expect(report.checks.at(-1)?.detail).toContain("the planner seals the digests");
    expect(secrets.calls.length).toBeGreaterThanOrEqual(1);
    expect(await s3.keys()).toEqual([]);
    expect(logged.some((l) => l.includes('"doctor"'))).toBe(true);
  });

  it("names a secret it cannot read, and an access list that refuses its egress address", async () => {
    await sim.close();
    sim = await startAtlasSimulator({ workspaces: [PROD], accessList: ["198.51.100.4"] });
    const file = join(dir, `config-list-${Date.now()}.json`);
    await writeFile(file, renderBundledConfig(testConfig(sim.baseUrl, { workspaces: [PROD] })));
    vi.stubEnv("ARCHIVER_CONFIG_FILE", file);
    const refused = await createWorkerHandler()({ doctor: true }, context);
    expect(refused.ok).toBe(false);
    expect(refused.checks.find((c) => c.id === "access-list")).toMatchObject({
      status: "fail",
      code: "IP_ADDRESS_NOT_ON_ACCESS_LIST",
    });

    vi.stubEnv("ATLAS_SECRET_ARN", "no/such/secret");
    const report = await createWorkerHandler()({ doctor: true }, context);
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.id === "credentials")).toMatchObject({
      status: "fail",
      code: "ATLAS_CREDENTIALS_INVALID",
      detail: expect.stringContaining("no/such/secret"),
    });
  });

  it("answers a report, not a throw, when its bundle is broken", async () => {
    vi.stubEnv("ARCHIVER_CONFIG_FILE", join(dir, "missing.json"));
    const report = await createWorkerHandler()({ doctor: true }, context);
    expect(report.ok).toBe(false);
    expect(report.checks[0]).toMatchObject({ id: "config", status: "fail", code: "CONFIG_UNREADABLE" });
    expect(report.checks.slice(1).every((c) => c.status === "skip")).toBe(true);
  });
});
