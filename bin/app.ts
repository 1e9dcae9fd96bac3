/**
 * The CDK app (`cdk.json`: `npx tsx bin/app.ts`): reads the parameter file, validates it with the
 * shared config module, and synthesizes {@link AtlasAuditArchiverStack} under cdk-nag's AwsSolutions
 * checks. A bad parameter file or context value fails `cdk synth` with its message and exit code 1,
 * before anything is deployed.
 *
 * Context values (`npx cdk deploy -c key=value`, or `"context"` in cdk.json): see {@link readDeployContext}.
 */
import { existsSync, realpathSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Annotations, App, Duration, Errors, Validations } from "aws-cdk-lib";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import { AwsSolutionsChecks } from "cdk-nag";
import { type ArchiverConfig, ConfigError, DEFAULT_CONFIG_PATH, loadConfig } from "../lambda/config";
import type { ArchiveAthenaOptions } from "../lib/athena-props";
import {
  AtlasAuditArchiverStack,
  type AtlasAuditArchiverStackProps,
} from "../lib/atlas-audit-archiver-stack";
import { DeploymentError, show } from "../lib/errors";
import type { ArchiveTransition, AtlasAuditArchiverProps } from "../lib/props";

/** The example parameter file, used when the default file does not exist and no `-c config` was given. */
export const EXAMPLE_CONFIG_PATH = "config/workspaces.example.json";

/** The stack name unless `-c stackName=...`. */
export const DEFAULT_STACK_NAME = "AtlasAuditArchiver";

/** Storage classes accepted by `-c transitionStorageClass=...` (S3's names). */
const STORAGE_CLASSES: Readonly<Record<string, s3.StorageClass>> = {
  GLACIER_IR: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
  STANDARD_IA: s3.StorageClass.INFREQUENT_ACCESS,
  ONEZONE_IA: s3.StorageClass.ONE_ZONE_INFREQUENT_ACCESS,
  INTELLIGENT_TIERING: s3.StorageClass.INTELLIGENT_TIERING,
  GLACIER: s3.StorageClass.GLACIER,
  DEEP_ARCHIVE: s3.StorageClass.DEEP_ARCHIVE,
};

/** Every context value the app reads, parsed and checked. */
export interface DeployContext {
  /** `config`: path of the parameter file. */
  readonly configPath: string;
  /** Whether `config` was given (otherwise a missing default falls back to the example). */
  readonly configGiven: boolean;
  /** `stackName` */
  readonly stackName: string;
  /** `account` and `region`: pin the stack to an environment (otherwise environment-agnostic). */
  readonly account?: string;
  readonly region?: string;
  readonly stack: Omit<AtlasAuditArchiverStackProps, "config" | "env">;
}

/**
 * Reads and checks the app's context values.
 *
 * | key | value |
 * |---|---|
 * | `config` | parameter file path (default `config/workspaces.json`) |
 * | `stackName` | default `AtlasAuditArchiver` |
 * | `account`, `region` | pin the stack's environment |
 * | `secretName` / `secretArn` | the existing Atlas credentials secret (default: a new placeholder secret) |
 * | `secretKmsKeyArn` | the secret's customer-managed KMS key |
 * | `alarmEmail` | email subscribed to the alarm topic |
 * | `bucketEncryption` | `S3_MANAGED` (default) or `KMS` |
 * | `bucketKmsKeyArn` | KMS key of the bucket (existing, or to use for the created one) |
 * | `objectLockMode`, `objectLockDays` | `GOVERNANCE`/`COMPLIANCE` and whole days, together |
 * | `transitionDays`, `transitionStorageClass` | default 90 and `GLACIER_IR`; `transitionDays=off` disables |
 * | `expireAfterDays` | delete archived objects after this many days (default never) |
 * | `serverAccessLogs` | `true` (default) or `false` |
 * | `memorySize`, `timeoutMinutes`, `logRetentionDays` | function settings |
 * | `runIntervalMinutes` | longest gap between runs, for a cron schedule the app cannot work out |
 * | `vpcId` / `egressEipAllocationId` | run in an existing VPC / in a new VPC whose NAT uses that Elastic IP |
 * | `athena` | `true` (default) or `false`: the Glue database and table for Athena |
 * | `athenaDatabaseName`, `athenaTableName`, `athenaDateRangeStart` | the table's names and first day |
 * | `athenaWorkGroup` | `true` (default) or `false`: the Athena workgroup and its results bucket |
 *
 * @throws {DeploymentError} `DEPLOY_CONTEXT_INVALID`, naming the key, its value and what is allowed
 */
export function readDeployContext(app: App): DeployContext {
  const ctx = new ContextReader(app);
  const configValue = ctx.string("config");
  const transitionDays = ctx.raw("transitionDays");
  const transitionClass = ctx.oneOf("transitionStorageClass", Object.keys(STORAGE_CLASSES));
  let transition: ArchiveTransition | false | undefined;
  if (transitionDays === "off" || transitionDays === false || transitionDays === "false") {
    if (transitionClass !== undefined) {
      throw ctx.error(
        "transitionStorageClass",
        transitionClass,
        "contradicts transitionDays=off; remove one",
      );
    }
    transition = false;
  } else if (transitionDays !== undefined || transitionClass !== undefined) {
    transition = {
      storageClass:
        STORAGE_CLASSES[transitionClass ?? "GLACIER_IR"] ?? s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
      afterDays: ctx.integer("transitionDays", 0, 36_500) ?? 90,
    };
  }

  const lockMode = ctx.oneOf("objectLockMode", ["GOVERNANCE", "COMPLIANCE"] as const);
  const lockDays = ctx.integer("objectLockDays", 1, 36_500);
  if ((lockMode === undefined) !== (lockDays === undefined)) {
    const missing = lockMode === undefined ? "objectLockMode" : "objectLockDays";
    throw ctx.error(
      missing,
      undefined,
      "is needed too: Object Lock takes both objectLockMode (GOVERNANCE or COMPLIANCE) and objectLockDays",
    );
  }

  const retention = ctx.integer("logRetentionDays", 1, 9999);
  if (retention !== undefined && !Object.values(logs.RetentionDays).includes(retention)) {
    throw ctx.error(
      "logRetentionDays",
      retention,
      `must be one of CloudWatch Logs' retention periods: ${Object.values(logs.RetentionDays)
        .filter((v) => typeof v === "number")
        .join(", ")}`,
    );
  }
  const timeoutMinutes = ctx.integer("timeoutMinutes", 1, 15);
  const serverAccessLogs = ctx.boolean("serverAccessLogs");
  const encryption = ctx.oneOf("bucketEncryption", ["S3_MANAGED", "KMS"] as const);

  const athenaOn = ctx.boolean("athena");
  const athenaOptions = {
    ...optional("databaseName", ctx.string("athenaDatabaseName")),
    ...optional("tableName", ctx.string("athenaTableName")),
    ...optional("dateRangeStart", ctx.string("athenaDateRangeStart")),
    ...optional("workGroup", ctx.boolean("athenaWorkGroup")),
  } satisfies ArchiveAthenaOptions;
  const athenaKey = Object.keys(athenaOptions)[0];
  if (athenaOn === false && athenaKey !== undefined) {
    const key = `athena${athenaKey.charAt(0).toUpperCase()}${athenaKey.slice(1)}`;
    throw ctx.error(key, ctx.raw(key), "contradicts athena=false; remove one");
  }
  const athena: AtlasAuditArchiverProps["athena"] =
    athenaOn === false ? false : athenaKey !== undefined ? athenaOptions : undefined;

  const archiver: NonNullable<AtlasAuditArchiverStackProps["archiver"]> = {
    ...optional("alarmEmail", ctx.string("alarmEmail")),
    ...optional("encryption", encryption),
    ...optional("transition", transition),
    ...optional("expireAfterDays", ctx.integer("expireAfterDays", 1, 36_500)),
    ...(lockMode && lockDays ? { objectLock: { mode: lockMode, retentionDays: lockDays } } : {}),
    ...optional("serverAccessLogs", serverAccessLogs),
    ...optional("memorySize", ctx.integer("memorySize", 128, 10_240)),
    ...(timeoutMinutes !== undefined ? { timeout: Duration.minutes(timeoutMinutes) } : {}),
    ...(retention !== undefined ? { logRetention: retention as logs.RetentionDays } : {}),
    ...optional("runIntervalMinutes", ctx.integer("runIntervalMinutes", 1, 43_200)),
    ...optional("athena", athena),
  } satisfies Partial<AtlasAuditArchiverProps>;

  return {
    configPath: configValue ?? DEFAULT_CONFIG_PATH,
    configGiven: configValue !== undefined,
    stackName: ctx.string("stackName") ?? DEFAULT_STACK_NAME,
    ...optional("account", ctx.string("account")),
    ...optional("region", ctx.string("region")),
    stack: {
      ...optional("secretName", ctx.string("secretName")),
      ...optional("secretArn", ctx.string("secretArn")),
      ...optional("secretKmsKeyArn", ctx.string("secretKmsKeyArn")),
      ...optional("bucketKmsKeyArn", ctx.string("bucketKmsKeyArn")),
      ...optional("vpcId", ctx.string("vpcId")),
      ...optional("egressEipAllocationId", ctx.string("egressEipAllocationId")),
      archiver,
    },
  };
}

/** Options of {@link createApp}, for tests and embedding. */
export interface CreateAppOptions {
  /** Context values, as `-c key=value` would give them. */
  readonly context?: Record<string, unknown>;
  /** Cloud assembly directory. @default `CDK_OUTDIR` (set by the CDK CLI) or a temporary directory */
  readonly outdir?: string;
  /** Relative parameter file paths resolve against it. @default `process.cwd()` */
  readonly cwd?: string;
}

/**
 * Builds the app and its stack from the context values and the parameter file.
 *
 * @throws {ConfigError} for a missing, malformed or invalid parameter file
 * @throws {DeploymentError} for a bad context value or prop
 * @example
 * ```ts
 * const { app } = await createApp({ context: { config: "config/workspaces.json" } });
 * app.synth();
 * ```
 */
export async function createApp(
  options: CreateAppOptions = {},
): Promise<{ readonly app: App; readonly stack: AtlasAuditArchiverStack; readonly configPath: string }> {
  const app = new App({
    autoSynth: false,
    ...(options.outdir ? { outdir: options.outdir } : {}),
    ...(options.context ? { context: options.context } : {}),
  });
  // cdk-nag's AwsSolutions pack checks every synth: an unacknowledged finding fails it.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const deploy = readDeployContext(app);
  const cwd = options.cwd ?? process.cwd();
  const { config, path, fallback } = await loadAppConfig(deploy, cwd);

  let account = deploy.account;
  let region = deploy.region;
  if (deploy.stack.vpcId !== undefined) {
    account ??= process.env.CDK_DEFAULT_ACCOUNT;
    region ??= process.env.CDK_DEFAULT_REGION;
    if (account === undefined || region === undefined) {
      throw new DeploymentError(
        "DEPLOY_CONTEXT_INVALID",
        "vpcId",
        `-c vpcId=${deploy.stack.vpcId} needs the stack's account and region to look the VPC up: run with AWS ` +
          "credentials (the CLI then provides them) or add -c account=123456789012 -c region=eu-west-1.",
      );
    }
  }
  const stack = new AtlasAuditArchiverStack(app, deploy.stackName, {
    ...deploy.stack,
    config,
    ...(account !== undefined || region !== undefined ? { env: { account, region } } : {}),
  });
  if (fallback) {
    Annotations.of(stack).addWarningV2(
      "atlas-audit-archiver:exampleConfig",
      fallbackWarning(deploy.configPath, path),
    );
  }
  return { app, stack, configPath: path };
}

async function loadAppConfig(
  deploy: DeployContext,
  cwd: string,
): Promise<{ readonly config: ArchiverConfig; readonly path: string; readonly fallback: boolean }> {
  // Relative paths stay as given (so messages name them as the user wrote them) unless another
  // working directory was asked for.
  const locate = (path: string) => (isAbsolute(path) || cwd === process.cwd() ? path : join(cwd, path));
  const fallback = !deploy.configGiven && !existsSync(locate(deploy.configPath));
  const path = fallback ? EXAMPLE_CONFIG_PATH : deploy.configPath;
  return { config: await loadConfig(locate(path)), path, fallback };
}

function fallbackWarning(missing: string, used: string): string {
  return (
    `${missing} does not exist, so this synth uses ${used}, whose workspaces are placeholders: do not deploy ` +
    `it. Create your parameter file (cp ${used} ${missing}) or pass -c config=path/to/your.json.`
  );
}

/**
 * Synthesizes the app; a user error (parameter file, context value, invalid prop) prints its
 * message alone to stderr and returns exit code 1.
 */
export async function main(options: CreateAppOptions = {}): Promise<number> {
  try {
    const { app } = await createApp(options);
    app.synth();
    return 0;
  } catch (error) {
    if (error instanceof ConfigError || error instanceof DeploymentError || Errors.isValidationError(error)) {
      console.error((error as Error).message);
      return 1;
    }
    throw error;
  }
}

/** Reads context values, which are strings from `-c key=value` and JSON values from cdk.json. */
class ContextReader {
  constructor(private readonly app: App) {}

  raw(key: string): unknown {
    return this.app.node.tryGetContext(key);
  }

  error(key: string, value: unknown, rule: string): DeploymentError {
    return new DeploymentError(
      "DEPLOY_CONTEXT_INVALID",
      key,
      value === undefined
        ? `-c ${key} ${rule}`
        : `-c ${key}=${typeof value === "string" && value !== "" ? value : show(value)}: ${rule}`,
    );
  }

  string(key: string): string | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (typeof value !== "string" || value.trim() === "")
      throw this.error(key, value, "must be a non-empty string");
    return value.trim();
  }

  integer(key: string, min: number, max: number): number | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    const number =
      typeof value === "number" ? value : typeof value === "string" ? Number(value.trim()) : Number.NaN;
    if (!Number.isInteger(number) || number < min || number > max || value === "") {
      throw this.error(key, value, `must be a whole number from ${min} to ${max}`);
    }
    return number;
  }

  boolean(key: string): boolean | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (value === true || value === "true") return true;
    if (value === false || value === "false") return false;
    throw this.error(key, value, "must be true or false");
  }

  oneOf<const T extends string>(key: string, allowed: readonly T[]): T | undefined {
    const value = this.string(key);
    if (value === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(value)) {
      throw this.error(key, value, `must be one of ${allowed.join(", ")}`);
    }
    return value as T;
  }
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return pathToFileURL(realpathSync(entry)).href === import.meta.url;
  } catch {
    return false;
  }
}

if (isMain()) {
  process.exitCode = await main();
}
