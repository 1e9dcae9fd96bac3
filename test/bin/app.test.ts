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
import type { App, Stack } from "aws-cdk-lib";
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

/** The warnings added to the stack itself (read from its metadata, without synthesizing), without their ack IDs. */
function warnings(stack: Stack): string[] {
  return stack.node.metadata
    .filter((m) => m.type === "aws:cdk:warning")
    .map((m) => String(m.data).replace(/ \[ack: [^\]]+\]$/, ""));
}

/** A project of the user's own (not the example's placeholder `GROUP`). */
const OWN_GROUP = "5f1e2d3c4b5a69788796a5b4";

/** The settings a real deploy needs: a secret and an alarm destination. */
const READY = { secretName: "atlas/audit-archiver", alarmEmail: "ops@acme.io" } as const;

const BAD_FILE = JSON.stringify({
  schedule: "rate(0 hours)",
  workspaces: [{ groupId: GROUP.toUpperCase(), tenantName: "prod-workspace" }],
});

describe("the CDK app, as the CDK CLI runs it", () => {
  it("synthesizes offline with npx cdk synth, bundling the parameter file with each handler", async () => {
    const out = join(tempDir(), "cdk.out");
    await run(
      "npx",
      [
        "cdk",
        "synth",
        "--no-notices",
        "-q",
        "-o",
        out,
        "-c",
        `config=${EXAMPLE_CONFIG_PATH}`,
        "-c",
        "example=true",
      ],
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
        example: "true",
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
      context: context({
        config: EXAMPLE_CONFIG_PATH,
        example: "true",
        account: "123456789012",
        region: "eu-west-1",
      }),
      cwd: ROOT,
    });
    expect([stack.account, stack.region]).toEqual(["123456789012", "eu-west-1"]);
  });

  it("falls back to the example only with example=true, with a warning on the stack, when the default file is missing", async () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, "config"));
    copyFileSync(join(ROOT, EXAMPLE_CONFIG_PATH), join(cwd, EXAMPLE_CONFIG_PATH));
    const { stack, configPath } = await createApp({
      outdir: tempDir(),
      context: context({ example: "true" }),
      cwd,
    });
    expect(configPath).toBe(EXAMPLE_CONFIG_PATH);
    expect(warnings(stack)).toEqual([
      expect.stringMatching(
        /^example=true: a try-out with the example's placeholder workspaces \(config\/workspaces.example.json\), a placeholder secret, alarms that notify nobody; do not deploy it/,
      ),
    ]);
    const refused = await createApp({ outdir: tempDir(), context: context(), cwd }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DeploymentError);
    expect((refused as DeploymentError).code).toBe("DEPLOY_INCOMPLETE");
    expect((refused as DeploymentError).message).toMatch(
      /^This stack is not ready to deploy:\n- config\/workspaces.json, the parameter file, does not exist: create it \(cp config\/workspaces.example.json config\/workspaces.json/,
    );
  });

  it("uses the default file when it exists, and never falls back for a path given with -c config", async () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, "config"));
    copyFileSync(join(ROOT, EXAMPLE_CONFIG_PATH), join(cwd, EXAMPLE_CONFIG_PATH));
    writeFileSync(
      join(cwd, "config", "workspaces.json"),
      JSON.stringify({ workspaces: [{ groupId: OWN_GROUP, tenantName: "mine" }] }),
    );
    const { stack, configPath } = await createApp({
      outdir: tempDir(),
      context: context(READY),
      cwd,
    });
    expect(configPath).toBe("config/workspaces.json");
    expect(stack.archiver.settings.config.workspaces).toEqual([{ groupId: OWN_GROUP, tenantName: "mine" }]);
    expect(warnings(stack)).toEqual([]);

    const missing = await createApp({
      outdir: tempDir(),
      context: context({ ...READY, config: "config/other.json", example: "true" }),
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
        context: context({ config: EXAMPLE_CONFIG_PATH, example: "true", ...values }),
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
    const code = await main({
      context: context({ config: EXAMPLE_CONFIG_PATH, example: "true" }),
      cwd: ROOT,
      outdir,
    });
    expect(code).toBe(0);
    expect(existsSync(join(outdir, "AtlasAuditArchiver.template.json"))).toBe(true);
  });
});

/** A project directory for the app: cdk.json's place, with the given files under config/. */
function project(files: { workspaces?: unknown; deploy?: unknown } = {}): string {
  const cwd = tempDir();
  mkdirSync(join(cwd, "config"));
  const workspaces = files.workspaces ?? { workspaces: [{ groupId: OWN_GROUP, tenantName: "prod" }] };
  writeFileSync(join(cwd, "config", "workspaces.json"), JSON.stringify(workspaces));
  if (files.deploy !== undefined) {
    const text = typeof files.deploy === "string" ? files.deploy : JSON.stringify(files.deploy, null, 2);
    writeFileSync(join(cwd, "config", "deploy.json"), text);
  }
  return cwd;
}

async function refusal(cwd: string, values: Record<string, unknown> = {}): Promise<DeploymentError> {
  const error = await createApp({ outdir: tempDir(), context: context(values), cwd }).catch(
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeploymentError);
  return error as DeploymentError;
}

/** The stack's CloudFormation template, synthesized into the app's cloud assembly. */
function synthesized(
  app: { synth(): { getStackByName(name: string): { template: unknown } } },
  name: string,
) {
  return app.synth().getStackByName(name).template as {
    Resources: Record<string, TemplateResource & { Type: string }>;
  };
}

describe("the deploy guards", () => {
  it("refuse the example's placeholder workspaces, by their groupId, also in a copy under another name", async () => {
    const example = JSON.parse(readFileSync(join(ROOT, EXAMPLE_CONFIG_PATH), "utf8"));
    const copied = project({ workspaces: example });
    const error = await refusal(copied, READY);
    expect([error.code, error.setting]).toEqual(["DEPLOY_INCOMPLETE", "config"]);
    expect(error.message).toBe(
      "This stack is not ready to deploy:\n" +
        `- config/workspaces.json lists the example's placeholder workspaces (${GROUP}/prod-workspace, ` +
        `${GROUP}/billing/payments), which archive nothing: replace them with yours (groupId is the 24-character ` +
        "project ID in the Atlas project's URL or its settings; tenantName the workspace's name), or set \"config\" " +
        "in config/deploy.json to your parameter file. To synthesize the example as a try-out, add -c example=true.\n" +
        "(config/deploy.json does not exist yet: cp config/deploy.example.json config/deploy.json, then edit it.)",
    );
    // One placeholder left among the user's own workspaces is refused too.
    const mixed = project({
      workspaces: { workspaces: [{ groupId: OWN_GROUP, tenantName: "prod" }, example.workspaces[0]] },
    });
    expect((await refusal(mixed, READY)).message).toMatch(
      new RegExp(`lists the example's placeholder workspaces \\(${GROUP}/prod-workspace\\)`),
    );
  });

  it("accept the example with example=true, as a try-out with a placeholder secret and silent alarms, and warn", async () => {
    const { stack } = await createApp({
      outdir: tempDir(),
      context: context({ config: EXAMPLE_CONFIG_PATH, example: "true" }),
      cwd: ROOT,
    });
    const template = synthesized(stack.node.root as App, stack.stackName);
    const types = Object.values(template.Resources).map((r) => r.Type);
    expect(types).toContain("AWS::SecretsManager::Secret");
    expect(types.filter((t) => t === "AWS::SNS::Subscription")).toEqual([]);
    expect(warnings(stack)).toEqual([
      "example=true: a try-out with the example's placeholder workspaces (config/workspaces.example.json), a " +
        "placeholder secret, alarms that notify nobody; do not deploy it. For a real stack, list your workspaces " +
        "in config/workspaces.json and your settings in config/deploy.json (from config/deploy.example.json).",
    ]);
  });

  it("refuse example=true with the user's own workspaces, so it cannot switch the other guards off", async () => {
    const error = await refusal(project(), { example: "true" });
    expect([error.code, error.setting]).toEqual(["DEPLOY_INCOMPLETE", "example"]);
    expect(error.message).toMatch(
      /^This stack is not ready to deploy:\n- example=true is only for a try-out/,
    );
  });

  it("refuse a stack without a secret or an alarm destination, naming both settings in one message", async () => {
    const error = await refusal(project());
    expect([error.code, error.setting]).toEqual(["DEPLOY_INCOMPLETE", "secretName"]);
    const lines = error.message.split("\n");
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(
      /^- No Atlas credentials secret: set "secretName" .* or "secretArn" in config\/deploy.json, or -c secretName=\.\.\.; or set "placeholderSecret": true/,
    );
    expect(lines[2]).toMatch(
      /^- No alarm destination, so a failing archive would go unnoticed: set "alarmEmail" .* or "alarmTopicArn" .*; or set\s+"noAlarmNotifications": true/,
    );
    expect((await refusal(project(), { alarmEmail: "ops@acme.io" })).setting).toBe("secretName");
    expect((await refusal(project(), { secretName: "atlas/audit-archiver" })).setting).toBe("alarmEmail");
  });

  it("create a placeholder secret only with placeholderSecret=true, and warn that runs fail until it is filled", async () => {
    const { app, stack } = await createApp({
      outdir: tempDir(),
      context: context({ placeholderSecret: "true", alarmEmail: "ops@acme.io" }),
      cwd: project(),
    });
    const template = synthesized(app, stack.stackName);
    expect(
      Object.values(template.Resources).filter((r) => r.Type === "AWS::SecretsManager::Secret"),
    ).toHaveLength(1);
    expect(warnings(stack)).toEqual([
      expect.stringMatching(
        /^placeholderSecret: the stack creates the Atlas secret with a placeholder value; every run fails until/,
      ),
    ]);
    const both = await refusal(project(), { ...READY, placeholderSecret: "true" });
    expect([both.code, both.message]).toEqual([
      "DEPLOY_CONTEXT_INVALID",
      "-c placeholderSecret=true: contradicts secretName: the stack uses that secret; remove one",
    ]);
  });

  it("use an existing SNS topic for the alarms and create none, subscribing alarmEmail to it", async () => {
    const arn = "arn:aws:sns:eu-west-1:123456789012:ops-alarms";
    const { app, stack } = await createApp({
      outdir: tempDir(),
      context: context({ secretName: "atlas/audit-archiver", alarmTopicArn: arn }),
      cwd: project(),
    });
    expect(stack.archiver.alarmTopic.topicArn).toBe(arn);
    const resources = Object.values(synthesized(app, stack.stackName).Resources);
    expect(resources.filter((r) => r.Type === "AWS::SNS::Topic")).toEqual([]);
    expect(resources.filter((r) => r.Type === "AWS::SNS::Subscription")).toEqual([]);
    const alarms = resources.filter((r) => r.Type === "AWS::CloudWatch::Alarm");
    expect(alarms.length).toBe(stack.archiver.alarms.length);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([arn]);
      expect(alarm.Properties.OKActions).toEqual([arn]);
    }
    expect(warnings(stack)).toEqual([]);

    const subscribed = await createApp({
      outdir: tempDir(),
      context: context({ ...READY, alarmTopicArn: arn }),
      cwd: project(),
    });
    const subscriptions = Object.values(
      synthesized(subscribed.app, subscribed.stack.stackName).Resources,
    ).filter((r) => r.Type === "AWS::SNS::Subscription");
    expect(
      subscriptions.map((r) => [r.Properties.TopicArn, r.Properties.Protocol, r.Properties.Endpoint]),
    ).toEqual([[arn, "email", "ops@acme.io"]]);
  });

  it.each<[Record<string, unknown>, string]>([
    [
      { alarmTopicArn: "ops-alarms" },
      "-c alarmTopicArn=ops-alarms: must be an SNS topic ARN such as arn:aws:sns:",
    ],
    [
      { alarmTopicArn: "arn:aws:sns:eu-west-1:123456789012:alarms.fifo" },
      "-c alarmTopicArn=arn:aws:sns:eu-west-1:123456789012:alarms.fifo: is a FIFO topic",
    ],
    [
      { alarmTopicArn: "arn:aws:sns:eu-west-1:123456789012:a", noAlarmNotifications: "true" },
      "-c noAlarmNotifications=true: contradicts alarmTopicArn, an alarm destination; remove one",
    ],
    [{ alarmEmail: "ops@example.com" }, "alarmEmail ops@example.com is at a domain reserved for examples"],
  ])("refuse the alarm settings %j, naming them", async (values, message) => {
    const error = await refusal(project(), { secretName: "atlas/audit-archiver", ...values });
    expect(error.message).toContain(message);
  });

  it("accept noAlarmNotifications=true, with a warning and no subscription", async () => {
    const { app, stack } = await createApp({
      outdir: tempDir(),
      context: context({ secretName: "atlas/audit-archiver", noAlarmNotifications: "true" }),
      cwd: project(),
    });
    const resources = Object.values(synthesized(app, stack.stackName).Resources);
    expect(resources.filter((r) => r.Type === "AWS::SNS::Topic")).toHaveLength(1);
    expect(resources.filter((r) => r.Type === "AWS::SNS::Subscription")).toEqual([]);
    expect(warnings(stack)).toEqual([
      "noAlarmNotifications: the alarms notify nobody; watch their state in CloudWatch.",
    ]);
  });

  it("refuse a near miss of a setting's key instead of ignoring it", async () => {
    const error = await refusal(project(), { ...READY, alarmEmial: "ops@acme.io" });
    expect([error.code, error.message]).toEqual([
      "DEPLOY_CONTEXT_INVALID",
      "-c alarmEmial is not a deploy setting; did you mean alarmEmail?",
    ]);
  });
});

describe("the deploy settings file", () => {
  const SETTINGS = {
    $schema: "./deploy.schema.json",
    secretName: "atlas/audit-archiver",
    alarmEmail: "ops@acme.io",
    memorySize: 2048,
    transitionDays: "off",
    stackName: "ArchiverFromFile",
  };

  it("is read from config/deploy.json, and -c values override it key by key", async () => {
    const cwd = project({ deploy: SETTINGS });
    const { stack, settingsPath } = await createApp({ outdir: tempDir(), context: context(), cwd });
    expect(settingsPath).toBe("config/deploy.json");
    expect(stack.stackName).toBe("ArchiverFromFile");
    expect(stack.archiver.settings).toMatchObject({ memorySize: 2048, alarmEmail: "ops@acme.io" });
    expect(stack.archiver.settings.transition).toBeUndefined();
    expect(warnings(stack)).toEqual([]);

    const overridden = await createApp({
      outdir: tempDir(),
      context: context({ memorySize: "512", alarmEmail: "oncall@acme.io" }),
      cwd,
    });
    expect(overridden.stack.stackName).toBe("ArchiverFromFile");
    expect(overridden.stack.archiver.settings).toMatchObject({
      memorySize: 512,
      alarmEmail: "oncall@acme.io",
    });
  });

  it("names the parameter file and the stack, and is chosen with -c settings", async () => {
    const cwd = project();
    mkdirSync(join(cwd, "prod"));
    writeFileSync(
      join(cwd, "prod", "workspaces.json"),
      JSON.stringify({ workspaces: [{ groupId: OWN_GROUP, tenantName: "prod-only" }] }),
    );
    writeFileSync(
      join(cwd, "prod", "deploy.json"),
      JSON.stringify({ ...READY, config: "prod/workspaces.json", stackName: "ArchiverProd" }),
    );
    const { stack, configPath, settingsPath } = await createApp({
      outdir: tempDir(),
      context: context({ settings: "prod/deploy.json" }),
      cwd,
    });
    expect([configPath, settingsPath, stack.stackName]).toEqual([
      "prod/workspaces.json",
      "prod/deploy.json",
      "ArchiverProd",
    ]);
    expect(stack.archiver.settings.config.workspaces).toEqual([
      { groupId: OWN_GROUP, tenantName: "prod-only" },
    ]);
    const missing = await refusal(cwd, { settings: "prod/none.json" });
    expect([missing.code, missing.message]).toEqual([
      "DEPLOY_SETTINGS_INVALID",
      "Deploy settings file prod/none.json does not exist: create it (cp config/deploy.example.json prod/none.json) or fix -c settings.",
    ]);
  });

  it.each<[unknown, string]>([
    [
      { ...READY, memorySize: 100 },
      "config/deploy.json: memorySize = 100: must be a whole number from 128 to 10240",
    ],
    [
      { ...READY, memorySize: "1024" },
      'config/deploy.json: memorySize = "1024": must be a number (without quotes)',
    ],
    [
      { ...READY, digests: "false" },
      'config/deploy.json: digests = "false": must be true or false (without quotes)',
    ],
    [
      { ...READY, alarmEmial: "x@acme.io" },
      "config/deploy.json: alarmEmial is not a deploy setting; did you mean alarmEmail?",
    ],
    [
      { ...READY, bucketEncryption: "AES256" },
      'config/deploy.json: bucketEncryption = "AES256": must be "S3_MANAGED" or "KMS"',
    ],
    [{ ...READY, objectLockMode: "GOVERNANCE" }, "config/deploy.json: objectLockDays is needed too"],
    [{ ...READY, secretArn: "atlas" }, 'config/deploy.json: secretArn = "atlas": conflicts with secretName'],
    [{ ...READY, settings: "other.json" }, "config/deploy.json: settings names the settings file itself"],
    [
      { ...READY, placeholderSecret: true },
      "config/deploy.json: placeholderSecret = true: contradicts secretName",
    ],
    [
      '{"secretName": "atlas",\n  "alarmEmail": }',
      "config/deploy.json is not valid JSON (line 2, column 17)",
    ],
    [["secretName"], "config/deploy.json must hold a JSON object of settings"],
  ])("refuses %j with a message naming the file and the key", async (settings, message) => {
    const error = await refusal(project({ deploy: settings }));
    expect(error.code).toBe("DEPLOY_SETTINGS_INVALID");
    expect(error.message.startsWith(message)).toBe(true);
  });

  it("gives the identical template on a second synth with the same file and no -c values, and -c values give the same", async () => {
    const values = { ...READY, memorySize: 2048, workerConcurrency: 20, bucketEncryption: "KMS" };
    // Bundling is skipped here, and a skipped bundle's asset hash is made of its bundling options,
    // which name a temporary directory: those keys alone are blanked. The CDK CLI test below compares
    // bundled templates, asset keys included, byte for byte.
    const template = async (cwd: string, extra: Record<string, unknown> = {}) => {
      const { app, stack } = await createApp({ outdir: tempDir(), context: context(extra), cwd });
      const text = JSON.stringify(synthesized(app, stack.stackName));
      expect(text.match(/"S3Key":"[0-9a-f]{64}\.zip"/g)).toHaveLength(2);
      return text.replace(/"S3Key":"[0-9a-f]{64}\.zip"/g, '"S3Key":"<skipped bundle>"');
    };
    const cwd = project({ deploy: values });
    const first = await template(cwd);
    const second = await template(cwd);
    expect(second).toBe(first);
    // The same settings given once as -c values (no file) synthesize the same stack.
    const flags = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)]));
    expect(await template(project(), flags)).toBe(first);
    // And a setting left off the file changes it (the comparison can fail).
    expect(await template(project({ deploy: { ...values, memorySize: 1024 } }))).not.toBe(first);
  });
});

describe("the CDK CLI with a deploy settings file", () => {
  it("synthesizes the identical bundled templates twice with no -c values (what cdk diff compares)", async () => {
    const cwd = project({ deploy: { ...READY, memorySize: 2048 } });
    const cdkJson = JSON.parse(readFileSync(join(ROOT, "cdk.json"), "utf8"));
    writeFileSync(
      join(cwd, "cdk.json"),
      JSON.stringify({
        ...cdkJson,
        app: `${join(ROOT, "node_modules", ".bin", "tsx")} ${join(ROOT, "bin", "app.ts")}`,
      }),
    );
    const synth = async (out: string) => {
      await run(join(ROOT, "node_modules", ".bin", "cdk"), ["synth", "--no-notices", "-q", "-o", out], {
        cwd,
        env: offlineEnv(),
        timeout: 150_000,
      });
      return readFileSync(join(out, "AtlasAuditArchiver.template.json"), "utf8");
    };
    const first = await synth(join(cwd, "out1"));
    const second = await synth(join(cwd, "out2"));
    expect(second).toBe(first);
    const template = JSON.parse(first) as { Resources: Record<string, TemplateResource & { Type: string }> };
    const worker = Object.entries(template.Resources).find(([id]) => id.startsWith("ArchiverWorkerFunction"));
    expect(worker?.[1].Properties.MemorySize).toBe(2048);
    expect(String(worker?.[1].Properties.Code.S3Key)).toMatch(/^[0-9a-f]{64}\.zip$/);
  }, 300_000);
});
