import { execFile } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Stack } from "aws-cdk-lib";
import * as s3 from "aws-cdk-lib/aws-s3";
import { afterAll, describe, expect, it, vi } from "vitest";
import { createApp, EXAMPLE_CONFIG_PATH, main } from "../../bin/app";
import { ConfigError, loadConfig, parseBundledConfig } from "../../lambda/config";
import { DeploymentError } from "../../lib/errors";
import { cdkJsonContext, GROUP, NO_BUNDLING, ROOT, type TemplateResource } from "../lib/support";

const run = promisify(execFile);
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "archiver-app-"));
  dirs.push(dir);
  return dir;
}

/** The environment of a fresh clone in CI: no AWS credentials or profile, no version check, no telemetry. */
function offlineEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(AWS_|CDK_)/.test(key)));
  return {
    ...env,
    AWS_CONFIG_FILE: join(tempDir(), "none"),
    AWS_SHARED_CREDENTIALS_FILE: join(tempDir(), "none"),
    CDK_DISABLE_VERSION_CHECK: "1",
    CDK_DISABLE_CLI_TELEMETRY: "true",
    ...extra,
  };
}

/** A context as `cdk synth` passes it to the app: cdk.json's, plus the `-c` values. */
function context(values: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...cdkJsonContext(), ...NO_BUNDLING, ...values };
}

/** The warnings added to the stack itself (read from its metadata, without synthesizing). */
function warnings(stack: Stack): string[] {
  return stack.node.metadata.filter((m) => m.type === "aws:cdk:warning").map((m) => String(m.data));
}

const BAD_FILE = JSON.stringify({
  schedule: "rate(0 hours)",
  workspaces: [{ groupId: GROUP.toUpperCase(), tenantName: "prod-workspace" }],
});

describe("the CDK app, as the CDK CLI runs it", () => {
  it("synthesizes offline with npx cdk synth, bundling the parameter file with each handler", async () => {
    const out = join(tempDir(), "cdk.out");
    await run(
      "npx",
      ["cdk", "synth", "--no-notices", "-q", "-o", out, "-c", `config=${EXAMPLE_CONFIG_PATH}`],
      { cwd: ROOT, env: offlineEnv(), timeout: 90_000 },
    );
    const template = JSON.parse(readFileSync(join(out, "AtlasAuditArchiver.template.json"), "utf8"));
    const fns = Object.entries(
      template.Resources as Record<string, TemplateResource & { Type: string }>,
    ).filter(([, r]) => r.Type === "AWS::Lambda::Function");
    expect(fns.map(([id]) => id.replace(/[0-9A-F]{8}$/, "")).sort()).toEqual([
      // The deploy-time reader of the digest key's public key: inline code, no bundle.
      "ArchiverDigestPublicKeyFunction",
      "ArchiverPlannerFunction",
      "ArchiverWorkerFunction",
    ]);
    const bundled = fns.filter(([id]) => !id.startsWith("ArchiverDigestPublicKeyFunction"));
    const expected = await loadConfig(join(ROOT, EXAMPLE_CONFIG_PATH));
    for (const [, fn] of bundled) {
      expect(fn.Properties.Runtime).toBe("nodejs24.x");
      const asset = join(out, `asset.${String(fn.Properties.Code.S3Key).replace(/\.zip$/, "")}`);
      expect(readdirSync(asset).sort()).toEqual([
        "archiver-config.json",
        "index.js",
        "index.js.map",
        "package.json",
      ]);
      const bundled = join(asset, "archiver-config.json");
      expect(parseBundledConfig(readFileSync(bundled, "utf8"), bundled)).toEqual(expected);
    }
  }, 120_000);

  it("fails with exit code 1 and exactly the parameter file's message, without a stack trace", async () => {
    const file = join(tempDir(), "workspaces.json");
    writeFileSync(file, BAD_FILE);
    const expected = await loadConfig(file).then(
      () => "no error",
      (e: unknown) => (e as Error).message,
    );
    expect(expected).toMatch(/\$\.schedule = "rate\(0 hours\)"/);
    const failure = await run("npx", ["tsx", "bin/app.ts"], {
      cwd: ROOT,
      env: offlineEnv({ CDK_OUTDIR: tempDir(), CDK_CONTEXT_JSON: JSON.stringify({ config: file }) }),
      timeout: 60_000,
    }).then(
      () => undefined,
      (e: unknown) => e as { code: number; stderr: string },
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr.trim()).toBe(expected);
  }, 90_000);
});

describe("createApp", () => {
  it("builds an environment-agnostic stack from the parameter file and the context values", async () => {
    const { stack, configPath } = await createApp({
      outdir: tempDir(),
      context: context({
        config: EXAMPLE_CONFIG_PATH,
        stackName: "ArchiverProd",
        alarmEmail: "ops@example.com",
        memorySize: "1024",
        timeoutMinutes: "10",
        logRetentionDays: "90",
        bucketEncryption: "KMS",
        objectLockMode: "GOVERNANCE",
        objectLockDays: "365",
        transitionDays: "30",
        transitionStorageClass: "STANDARD_IA",
        expireAfterDays: 3650,
        serverAccessLogs: "false",
        workerConcurrency: "25",
        lanesPerProject: "3",
        batchSize: "5",
        maxReceiveCount: 20,
      }),
      cwd: ROOT,
    });
    expect(configPath).toBe(EXAMPLE_CONFIG_PATH);
    expect(stack.stackName).toBe("ArchiverProd");
    expect(stack.resolve(stack.account)).toEqual({ Ref: "AWS::AccountId" });
    expect(stack.archiver.settings).toMatchObject({
      config: await loadConfig(join(ROOT, EXAMPLE_CONFIG_PATH)),
      alarmEmail: "ops@example.com",
      memorySize: 1024,
      logRetention: 90,
      encryption: "KMS",
      objectLock: { mode: "GOVERNANCE", retentionDays: 365 },
      transition: { storageClass: s3.StorageClass.INFREQUENT_ACCESS, afterDays: 30 },
      expireAfterDays: 3650,
      serverAccessLogs: false,
      workerConcurrency: 25,
      lanesPerProject: 3,
      batchSize: 5,
      maxReceiveCount: 20,
    });
    expect(stack.archiver.settings.timeout.toMinutes()).toBe(10);
  });

  it("pins the environment when given an account and region", async () => {
    const { stack } = await createApp({
      outdir: tempDir(),
      context: context({ config: EXAMPLE_CONFIG_PATH, account: "123456789012", region: "eu-west-1" }),
      cwd: ROOT,
    });
    expect([stack.account, stack.region]).toEqual(["123456789012", "eu-west-1"]);
  });

  it("falls back to the example, with a warning on the stack, when the default file is missing", async () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, "config"));
    copyFileSync(join(ROOT, EXAMPLE_CONFIG_PATH), join(cwd, EXAMPLE_CONFIG_PATH));
    const { stack, configPath } = await createApp({
      outdir: tempDir(),
      context: context(),
      cwd,
    });
    expect(configPath).toBe(EXAMPLE_CONFIG_PATH);
    expect(warnings(stack)).toEqual([
      expect.stringMatching(/^config\/workspaces.json does not exist.*do not deploy it/),
    ]);
  });

  it("uses the default file when it exists, and never falls back for a path given with -c config", async () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, "config"));
    copyFileSync(join(ROOT, EXAMPLE_CONFIG_PATH), join(cwd, EXAMPLE_CONFIG_PATH));
    writeFileSync(
      join(cwd, "config", "workspaces.json"),
      JSON.stringify({ workspaces: [{ groupId: GROUP, tenantName: "mine" }] }),
    );
    const { stack, configPath } = await createApp({
      outdir: tempDir(),
      context: context(),
      cwd,
    });
    expect(configPath).toBe("config/workspaces.json");
    expect(stack.archiver.settings.config.workspaces).toEqual([{ groupId: GROUP, tenantName: "mine" }]);
    expect(warnings(stack)).toEqual([]);

    const missing = await createApp({
      outdir: tempDir(),
      context: context({ config: "config/other.json" }),
      cwd,
    }).catch((e) => e);
    expect(missing).toBeInstanceOf(ConfigError);
    expect((missing as ConfigError).code).toBe("CONFIG_UNREADABLE");
  });

  it.each<[Record<string, unknown>, RegExp]>([
    [{ memorySize: "abc" }, /^-c memorySize=abc: must be a whole number from 128 to 10240$/],
    [{ memorySize: "100" }, /^-c memorySize=100: must be a whole number from 128 to 10240$/],
    [{ expireAfterDays: "0" }, /^-c expireAfterDays=0: must be a whole number from 1 to 36500$/],
    [{ expireAfterDays: "50" }, /^-c expireAfterDays=50: must be later than transition.afterDays \(90\)/],
    [{ transitionDays: "x" }, /^-c transitionDays=x: must be a whole number from 0 to 36500$/],
    [
      { transitionDays: "10", transitionStorageClass: "STANDARD_IA" },
      /^-c transitionDays=10: must be at least 30 for STANDARD_IA/,
    ],
    [
      { objectLockMode: "GOVERNANCE", objectLockDays: "0" },
      /^-c objectLockDays=0: must be a whole number from 1 to 36500$/,
    ],
    [
      { objectLockMode: "WORM", objectLockDays: "30" },
      /^-c objectLockMode=WORM: must be "GOVERNANCE" or "COMPLIANCE"$/,
    ],
    [{ runIntervalMinutes: "0" }, /^-c runIntervalMinutes=0: must be a whole number from 1 to 43200$/],
    [
      { timeoutMinutes: "20" },
      /^-c timeoutMinutes=20: must be 1 to 15 minutes, in whole seconds: a run needs/,
    ],
    [{ timeoutMinutes: "1.01" }, /^-c timeoutMinutes=1.01: must be 1 to 15 minutes, in whole seconds/],
    [{ alarmEmail: "ops" }, /^-c alarmEmail=ops: must be an email address/],
    [{ workerConcurrency: "1" }, /^-c workerConcurrency=1: must be a whole number from 2 to 1000$/],
    [{ lanesPerProject: "x" }, /^-c lanesPerProject=x: must be a whole number from 1 to 64$/],
    [{ batchSize: "11" }, /^-c batchSize=11: must be a whole number from 1 to 10$/],
    [{ maxReceiveCount: "0" }, /^-c maxReceiveCount=0: must be a whole number from 1 to 1000$/],
    [{ athenaDatabaseName: "Audit" }, /^-c athenaDatabaseName=Audit: must be 1 to 255 lowercase letters/],
    [
      { secretArn: "atlas/audit-archiver" },
      /^-c secretArn=atlas\/audit-archiver: must be the complete secret ARN/,
    ],
    [
      { logRetentionDays: "2" },
      /^-c logRetentionDays=2: must be one of CloudWatch Logs' retention periods: 1, 3, 5/,
    ],
    [{ bucketEncryption: "AES256" }, /^-c bucketEncryption=AES256: must be "S3_MANAGED" or "KMS"$/],
    [{ objectLockMode: "COMPLIANCE" }, /^-c objectLockDays is needed too/],
    [
      { transitionStorageClass: "COLD" },
      /^-c transitionStorageClass=COLD: must be one of GLACIER_IR, STANDARD_IA/,
    ],
    [{ transitionDays: "off", transitionStorageClass: "GLACIER" }, /contradicts transitionDays=off/],
    [{ serverAccessLogs: "yes" }, /^-c serverAccessLogs=yes: must be true or false$/],
    [{ stackName: "" }, /^-c stackName="": must be a non-empty string$/],
    [{ vpcId: "vpc-0123456789abcdef0" }, /needs the stack's account and region/],
  ])(
    "refuses the context %j with a message naming it, checked where the props are resolved",
    async (values, message) => {
      const error = await createApp({
        outdir: tempDir(),
        context: context({ config: EXAMPLE_CONFIG_PATH, ...values }),
        cwd: ROOT,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DeploymentError);
      expect((error as DeploymentError).code).toBe("DEPLOY_CONTEXT_INVALID");
      expect((error as DeploymentError).message).toMatch(message);
    },
  );
});

describe("main", () => {
  it("prints only the message of a user error and returns exit code 1", async () => {
    const errors: unknown[][] = [];
    const spy = vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => {
      errors.push(args);
    });
    try {
      const code = await main({
        context: context({ config: "no/such/file.json" }),
        cwd: ROOT,
        outdir: tempDir(),
      });
      expect(code).toBe(1);
    } finally {
      spy.mockRestore();
    }
    expect(errors).toHaveLength(1);
    expect(errors[0]?.[0]).toMatch(/^Parameter file no\/such\/file\.json does not exist/);
  });

  it("synthesizes the assembly and returns 0 for a good setup", async () => {
    const outdir = tempDir();
    const code = await main({ context: context({ config: EXAMPLE_CONFIG_PATH }), cwd: ROOT, outdir });
    expect(code).toBe(0);
    expect(existsSync(join(outdir, "AtlasAuditArchiver.template.json"))).toBe(true);
  });
});
