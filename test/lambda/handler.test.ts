import { type ChildProcess, fork } from "node:child_process";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunSummary } from "../../lambda/archive/run";
import { type ArchiverConfig, archiveKey, HANDLER_ENVIRONMENT, RUN_METRICS } from "../../lambda/config";
import { dueWindows } from "../../lambda/windows";
import { AtlasAuditArchiver } from "../../lib";
import { functionAssetHash, TestApps } from "../lib/support";
import { GROUP, testConfig } from "../support/archive-fixture";
import {
  type AtlasSimulator,
  DEFAULT_SERVICE_ACCOUNT,
  startAtlasSimulator,
} from "../support/atlas-simulator";
import { type LargeGzip, largeGzip } from "../support/large-gzip";
import { type S3TestServer, startS3Server } from "../support/s3-server";
import { type SecretsManagerFake, startSecretsManager } from "../support/secrets-manager";

// The deployed artifact, run as Lambda would run it: the esbuild bundle that `cdk synth` stages
// (minified, with the parameter file inside), loaded in a fresh Node process, against loopback
// stand-ins for Atlas, S3 and Secrets Manager.

const MB = 1024 * 1024;
const PROD = { groupId: GROUP, tenantName: "prod-workspace" };
/** The one window whose log is above the 8 MiB part size: it takes the multipart path. */
const BIG_WINDOW = {
  startMs: Date.parse("2026-10-01T00:00:00Z"),
  endMs: Date.parse("2026-10-01T01:00:00Z"),
};

interface Reply {
  readonly ok: boolean;
  readonly result?: RunSummary;
  readonly error?: { name: string; code: string; message: string };
}

describe("the bundled Lambda handler", () => {
  const apps = new TestApps();
  let sim: AtlasSimulator;
  let s3: S3TestServer;
  let secrets: SecretsManagerFake;
  let secretArn: string;
  let bundleDir: string;
  let lambda: ChildProcess;
  let stdout = "";
  let config: ArchiverConfig;
  /** The last large log the simulator served (a retry gets the same bytes anew). */
  let big: LargeGzip | undefined;
  /** The handler runs on the real clock: how many windows are due now. */
  const dueNow = () => dueWindows(Date.now(), config.window).length;

  beforeAll(async () => {
    sim = await startAtlasSimulator({
      workspaces: [PROD],
      body: (req) => {
        if (req.startDate * 1000 !== BIG_WINDOW.startMs) return undefined;
        big = largeGzip(20 * MB, 11);
        return big.stream;
      },
    });
    s3 = await startS3Server();
    secrets = await startSecretsManager();
    secretArn = secrets.setSecret(
      "atlas/archiver",
      JSON.stringify({ clientId: "mdb_sa_id_old", clientSecret: "nope" }),
    ).arn;

    config = testConfig(sim.baseUrl, {
      window: { minutes: 60, lagMinutes: 0, lookbackHours: 3 },
      workspaces: [PROD],
    });
    const app = apps.app();
    const stack = new Stack(app, "HandlerE2E");
    new AtlasAuditArchiver(stack, "Archiver", { config });
    const template = Template.fromStack(stack);
    bundleDir = join(app.outdir, `asset.${functionAssetHash(template)}`);

    lambda = await startDriver();
  }, 120_000);

  /** A fresh process that loads the bundle as Lambda would, with the stack's environment plus `env`. */
  async function startDriver(env: Record<string, string> = {}): Promise<ChildProcess> {
    const child = fork(join(import.meta.dirname, "../support/lambda-driver.cjs"), {
      env: {
        PATH: process.env.PATH,
        DRIVER_BUNDLE: join(bundleDir, "index.js"),
        LAMBDA_TASK_ROOT: bundleDir,
        AWS_LAMBDA_FUNCTION_NAME: "archiver-e2e",
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "test",
        AWS_SECRET_ACCESS_KEY: "test",
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
        [HANDLER_ENVIRONMENT.secretArn]: secretArn,
        [HANDLER_ENVIRONMENT.bucket]: s3.bucket,
        [HANDLER_ENVIRONMENT.metricsNamespace]: "ArchiverE2E",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    drivers.push(child);
    child.stdout?.on("data", (d) => (stdout += d));
    child.stderr?.on("data", (d) => (stdout += d));
    await new Promise((resolve) => child.once("message", resolve));
    return child;
  }
  const drivers: ChildProcess[] = [];

  afterAll(async () => {
    for (const driver of drivers) driver.kill();
    await sim?.close();
    await s3?.close();
    await secrets?.close();
    apps.cleanup();
  });

  let due = 0;

  function invoke(event: unknown = {}, driver: ChildProcess = lambda): Promise<Reply> {
    return new Promise((resolve) => {
      driver.once("message", (reply) => resolve(reply as Reply));
      driver.send({ event });
    });
  }

  it("fails once, before any window, when Atlas refuses the secret's credentials, and still writes its metrics", async () => {
    const reply = await invoke();
    expect(reply.ok).toBe(false);
    expect(reply.error?.code).toBe("ATLAS_UNAUTHORIZED");
    expect(reply.error?.message).toContain("Project Stream Processing Manager");
    expect(sim.requests.filter((r) => r.endpoint === "download")).toEqual([]);
    const emf = stdout.split("\n").filter((line) => line.startsWith('{"_aws"'));
    expect(emf.map((line) => JSON.parse(line) as Record<string, unknown>)).toMatchObject([
      { [RUN_METRICS.setupFailures]: 1, [RUN_METRICS.windowsFailed]: 0, FunctionName: "archiver-e2e" },
    ]);
    expect(stdout.match(/run could not start/g)).toHaveLength(1);
    expect(stdout).not.toContain("nope");
  });

  it("picks up a rotated secret on the next warm invocation, and archives every due window", async () => {
    secrets.setSecret("atlas/archiver", JSON.stringify(DEFAULT_SERVICE_ACCOUNT));
    const reads = secrets.calls.length;
    stdout = "";
    due = dueNow();
    const reply = await invoke();
    expect(reply.error).toBeUndefined();
    expect(reply.ok).toBe(true);
    expect(secrets.calls.length).toBe(reads + 1); // the cached wrong secret was read again once, after the 401
    const summary = reply.result as RunSummary;
    expect(summary.totals.archived).toBe(due);
    expect(summary.runId).toBe("request-2");
    const keys = await s3.keys();
    expect(keys).toHaveLength(due);
    expect(
      keys.every((k) =>
        k.startsWith("atlas/stream-audit/group=32b6e34b3d91647abb20e7b8/tenant=prod-workspace/"),
      ),
    ).toBe(true);
    expect(Object.values(await s3.getObject(keys[0] as string).then((o) => o.metadata))).toContain(
      "request-2",
    );
  });

  it("writes its metrics as one embedded-metric-format line on stdout", () => {
    const emf = stdout
      .split("\n")
      .filter((line) => line.startsWith('{"_aws"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(emf).toHaveLength(1);
    expect(emf[0]).toMatchObject({
      FunctionName: "archiver-e2e",
      [RUN_METRICS.windowsArchived]: due,
      [RUN_METRICS.windowsFailed]: 0,
      [RUN_METRICS.backlogWindows]: 0,
      _aws: { CloudWatchMetrics: [{ Namespace: "ArchiverE2E", Dimensions: [["FunctionName"]] }] },
    });
  });

  it("archives nothing new when invoked again, and backfills a range on request", async () => {
    const again = await invoke();
    expect(again.result?.totals).toMatchObject({ archived: 0, alreadyPresent: due });
    const backfill = await invoke({ from: "2026-11-01T00:00:00Z", to: "2026-11-01T03:00:00Z" });
    expect(backfill.result?.totals.archived).toBe(3);
    const bad = await invoke({ from: "2026-11-01T00:00:00Z" });
    expect(bad.error?.code).toBe("HANDLER_BAD_EVENT");
    // Only real instants with a zone, or dates; a --to date includes its whole day.
    for (const from of ["2026-02-30T00:00:00Z", "2026-11-01T00:00:00", "+275760-09-13T00:00:00Z", 1]) {
      const refused = await invoke({ from, to: "2026-11-02T00:00:00Z" });
      expect(refused.error?.code).toBe("HANDLER_BAD_EVENT");
      expect(refused.error?.message).toContain('Event field "from"');
    }
    const day = await invoke({ from: "2026-09-01", to: "2026-09-01" });
    expect(day.result?.range).toEqual({ from: "2026-09-01T00:00:00Z", to: "2026-09-02T00:00:00Z" });
    expect(day.result?.totals.archived).toBe(24);
  });

  it("stores a log above the part size with a conditional, full-object-CRC32 multipart upload", async () => {
    const key = archiveKey(config.archive.prefix, PROD, BIG_WINDOW);
    stdout = "";
    const reply = await invoke({
      from: new Date(BIG_WINDOW.startMs).toISOString(),
      to: new Date(BIG_WINDOW.endMs).toISOString(),
    });
    expect(reply.error).toBeUndefined();
    expect(reply.ok).toBe(true);
    expect(big, "the simulator served the large log").toBeDefined();
    const produced = (big as LargeGzip).produced();
    expect(produced.bytes).toBeGreaterThan(20 * MB);
    const summary = reply.result as RunSummary;
    expect(summary.totals).toMatchObject({ archived: 1, failed: 0, bytes: produced.bytes });
    expect(summary.workspaces[0]?.archived).toMatchObject([
      { key, bytes: produced.bytes, sha256: produced.sha256 },
    ]);

    const ops = s3.operations.filter((o) => o.key === key && o.op !== "HeadObject");
    expect(ops.filter((o) => o.op === "PutObject")).toEqual([]);
    expect(ops.filter((o) => o.op === "CreateMultipartUpload").map((o) => o.status)).toEqual([200]);
    const parts = ops.filter((o) => o.op === "UploadPart");
    expect(parts.length).toBeGreaterThanOrEqual(3);
    expect(parts.every((o) => o.status === 200)).toBe(true);
    expect(
      ops.filter((o) => o.op === "CompleteMultipartUpload").map((o) => [o.status, o.ifNoneMatch]),
    ).toEqual([[200, "*"]]);
    expect(s3.openMultipartUploads()).toEqual([]);

    const stored = await s3.getObject(key);
    expect(stored.contentLength).toBe(produced.bytes);
    expect(createHash("sha256").update(stored.body).digest("hex")).toBe(produced.sha256);
    const head = await s3
      .client()
      .send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key, ChecksumMode: "ENABLED" }));
    expect({ crc32: head.ChecksumCRC32, type: head.ChecksumType }).toEqual({
      crc32: produced.crc32,
      type: "FULL_OBJECT",
    });

    const emf = stdout.split("\n").filter((line) => line.startsWith('{"_aws"'));
    expect(emf.map((line) => JSON.parse(line) as Record<string, unknown>)).toMatchObject([
      {
        [RUN_METRICS.windowsArchived]: 1,
        [RUN_METRICS.windowsFailed]: 0,
        [RUN_METRICS.bytesArchived]: produced.bytes,
      },
    ]);
  });

  it("returns its summary and writes its metrics before the function's timeout, against an Atlas that never answers", async () => {
    // A fake context with 4 s left: the run stops at 3 s (a quarter is kept), aborting the
    // download in flight, and the handler answers before the 4 s are up.
    const driver = await startDriver({ DRIVER_TIMEOUT_MS: "4000" });
    sim.inject({ fault: { kind: "stall-headers", ms: 3_600_000 }, times: Number.POSITIVE_INFINITY });
    stdout = "";
    const started = Date.now();
    const reply = await invoke({ from: "2026-10-02T00:00:00Z", to: "2026-10-02T03:00:00Z" }, driver);
    const elapsed = Date.now() - started;
    sim.clearFaults();
    expect(reply.error).toBeUndefined();
    expect(elapsed).toBeGreaterThanOrEqual(2_900);
    expect(elapsed).toBeLessThan(4_000);
    expect(reply.result?.totals).toMatchObject({ archived: 0, failed: 0, deferred: 3 });
    const emf = stdout.split("\n").filter((line) => line.startsWith('{"_aws"'));
    expect(emf.map((line) => JSON.parse(line) as Record<string, unknown>)).toMatchObject([
      { [RUN_METRICS.windowsDeferred]: 3, [RUN_METRICS.backlogWindows]: 3, [RUN_METRICS.windowsFailed]: 0 },
    ]);
  });

  it("refuses a configuration that cdk synth did not bundle, before calling anyone", async () => {
    const raw = join(bundleDir, "workspaces.json");
    writeFileSync(raw, JSON.stringify({ workspaces: [{ groupId: GROUP, tenantName: "prod-workspace" }] }));
    const driver = await startDriver({ [HANDLER_ENVIRONMENT.configFile]: raw });
    const calls = { atlas: sim.requests.length, secrets: secrets.calls.length };
    const reply = await invoke({}, driver);
    expect(reply.ok).toBe(false);
    expect(reply.error).toMatchObject({ name: "ConfigError", code: "CONFIG_INVALID" });
    expect(reply.error?.message).toContain(`${raw} is not a configuration bundled by cdk synth`);
    expect({ atlas: sim.requests.length, secrets: secrets.calls.length }).toEqual(calls);
  });
});
