/**
 * The CDK app's deploy settings turned into the stack's props: the deploy settings file
 * (`config/deploy.json`, {@link parseDeploySettings}) under the context values (`-c key=value`, or
 * `"context"` in cdk.json), which override it key by key. Only their form is checked here (a number,
 * a boolean, a known name); their values are checked once, where the props are resolved, and
 * {@link namingContextKeys} makes those errors name the `-c` key or the file and key the value came
 * from. {@link checkDeployGuards} refuses a stack that would archive nothing or fail unnoticed.
 */
import { Duration } from "aws-cdk-lib";
import type * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import { type ArchiverConfig, DEFAULT_CONFIG_PATH, workspaceLabel } from "../lambda/config";
import { locateJsonError } from "../lambda/config/json-syntax";
import type { AtlasAuditArchiverStackProps } from "./atlas-audit-archiver-stack";
import { ARCHIVER_DEFAULTS } from "./defaults";
import { DeploymentError, InvalidPropError, show } from "./errors";
import type { ArchiveEncryption, ArchiveObjectLock, AtlasAuditArchiverProps } from "./props";

/** The example parameter file, used with `example=true` when the default file does not exist and no `config` is set. */
export const EXAMPLE_CONFIG_PATH = "config/workspaces.example.json";

/** The deploy settings file the app reads unless `-c settings=...` names another. */
export const DEFAULT_SETTINGS_PATH = "config/deploy.json";

/** The example deploy settings file, to copy to {@link DEFAULT_SETTINGS_PATH}. */
export const EXAMPLE_SETTINGS_PATH = "config/deploy.example.json";

/**
 * The `groupId` of the example's placeholder workspaces: a parameter file listing a workspace of
 * this project is the example (or a copy of it), and the app refuses it unless `example=true`.
 */
export const EXAMPLE_GROUP_ID = "32b6e34b3d91647abb20e7b8";

/** The largest deploy settings file read: 1 MiB (the settings of every key take about 3 KB). */
export const MAX_SETTINGS_BYTES = 1024 * 1024;

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

/** The JSON type of a deploy setting in the file (`-c` gives strings, read in the same form). */
export type DeploySettingType = "string" | "number" | "boolean" | "days-or-off";

/** One deploy setting: its JSON type in the file, what it sets, and its allowed names if fixed. */
export interface DeploySettingSpec {
  readonly type: DeploySettingType;
  readonly description: string;
  readonly enum?: readonly string[];
}

/**
 * Every deploy setting the app reads, by key: the same keys in the settings file and with `-c`
 * (`settings`, which names the file, is `-c` only). The JSON Schema of the file
 * (`config/deploy.schema.json`) is generated from this table.
 */
export const DEPLOY_SETTINGS: Readonly<Record<string, DeploySettingSpec>> = {
  config: {
    type: "string",
    description: `Path of the parameter file (default ${DEFAULT_CONFIG_PATH}), relative to the directory cdk runs in.`,
  },
  stackName: {
    type: "string",
    description: `The stack's name (default ${DEFAULT_STACK_NAME}): several archivers side by side need different names.`,
  },
  account: {
    type: "string",
    description: "Pin the stack to this AWS account (12 digits); default environment-agnostic.",
  },
  region: { type: "string", description: "Pin the stack to this AWS region; default environment-agnostic." },
  secretName: {
    type: "string",
    description:
      "Name of the existing Secrets Manager secret holding the Atlas credentials, e.g. atlas/audit-archiver.",
  },
  secretArn: {
    type: "string",
    description:
      "Complete ARN (ending in - and six characters) of the existing Atlas credentials secret, instead of secretName.",
  },
  placeholderSecret: {
    type: "boolean",
    description:
      "true: without secretName or secretArn, the stack creates a secret with a placeholder value, to fill in after the deploy (SecretArn output). Keep it set on every later deploy.",
  },
  secretKmsKeyArn: {
    type: "string",
    description: "ARN of the customer-managed KMS key that encrypts the existing secret.",
  },
  alarmEmail: {
    type: "string",
    description: "Email address subscribed to the alarm topic (confirm the subscription SNS sends).",
  },
  alarmTopicArn: {
    type: "string",
    description:
      "ARN of an existing standard SNS topic the alarms publish to (the stack then creates no topic of its own); its policy must let CloudWatch publish.",
  },
  noAlarmNotifications: {
    type: "boolean",
    description: "true: no alarm destination; the alarms only change state in CloudWatch and notify nobody.",
  },
  example: {
    type: "boolean",
    description:
      "true: a try-out synth of the example's placeholder workspaces (config/workspaces.example.json), with a placeholder secret and alarms that notify nobody unless set. Refused with your own workspaces.",
  },
  bucketKmsKeyArn: {
    type: "string",
    description:
      "ARN of a KMS key: the one the created bucket should use, or the one a bucket named in archive.bucket is encrypted with.",
  },
  bucketEncryption: {
    type: "string",
    enum: ["S3_MANAGED", "KMS"],
    description:
      "Encryption of the created bucket (default S3_MANAGED); KMS creates a key unless bucketKmsKeyArn.",
  },
  transitionDays: {
    type: "days-or-off",
    description: `Days after which archived logs move to transitionStorageClass (default ${ARCHIVER_DEFAULTS.transition.afterDays}); "off" (or false) keeps them in Standard.`,
  },
  transitionStorageClass: {
    type: "string",
    enum: Object.keys(STORAGE_CLASSES),
    description: "Storage class of the transition (default GLACIER_IR).",
  },
  expireAfterDays: {
    type: "number",
    description: "Delete archived logs this many days after they were written (default never).",
  },
  objectLockMode: {
    type: "string",
    enum: ["GOVERNANCE", "COMPLIANCE"],
    description: "S3 Object Lock (WORM) mode of the created bucket; with objectLockDays.",
  },
  objectLockDays: { type: "number", description: "S3 Object Lock retention in days; with objectLockMode." },
  serverAccessLogs: {
    type: "boolean",
    description: `S3 server access logging of the archive bucket (default ${ARCHIVER_DEFAULTS.serverAccessLogs}).`,
  },
  memorySize: {
    type: "number",
    description: `Worker memory in MiB, 128 to 10240 (default ${ARCHIVER_DEFAULTS.memorySize}).`,
  },
  timeoutMinutes: { type: "number", description: "Worker timeout in minutes, 1 to 15 (default 15)." },
  workerConcurrency: {
    type: "number",
    description: `Worker invocations at once at most, 2 to 1000 (default ${ARCHIVER_DEFAULTS.workerConcurrency}).`,
  },
  lanesPerProject: {
    type: "number",
    description: `Downloads in flight per Atlas project at most, 1 to 64 (default ${ARCHIVER_DEFAULTS.lanesPerProject}).`,
  },
  batchSize: {
    type: "number",
    description: `Windows per worker invocation, 1 to 10 (default ${ARCHIVER_DEFAULTS.batchSize}).`,
  },
  maxReceiveCount: {
    type: "number",
    description: `Receives of a window message before the dead-letter queue, 1 to 1000 (default ${ARCHIVER_DEFAULTS.maxReceiveCount}).`,
  },
  logRetentionDays: {
    type: "number",
    description: "Retention of the functions' logs in days, one of CloudWatch Logs' periods (default 365).",
  },
  runIntervalMinutes: {
    type: "number",
    description:
      "Longest gap between two runs in minutes, for a cron schedule whose interval cannot be worked out (sizes the alarms).",
  },
  digests: {
    type: "boolean",
    description: `Signed, chained daily digests (default ${ARCHIVER_DEFAULTS.digests}); false: no key, no sealing.`,
  },
  vpcId: {
    type: "string",
    description: "Run both functions in the private subnets of this existing VPC (needs account and region).",
  },
  egressEipAllocationId: {
    type: "string",
    description:
      "Run both functions in a new VPC whose NAT gateway uses this Elastic IP allocation (eipalloc-...).",
  },
  athena: {
    type: "boolean",
    description: "false: no Glue database, table or Athena workgroup (default true).",
  },
  athenaDatabaseName: {
    type: "string",
    description: "Name of the Glue database (default the stack name in snake case).",
  },
  athenaTableName: { type: "string", description: "Name of the Glue table (default audit_logs)." },
  athenaDateRangeStart: {
    type: "string",
    description: "First day (YYYY-MM-DD) the table's date projection covers (default 2024-01-01).",
  },
  athenaWorkGroup: {
    type: "boolean",
    description: "false: no Athena workgroup and results bucket (default true).",
  },
};

/** The `-c` key that names the deploy settings file (default {@link DEFAULT_SETTINGS_PATH}). */
export const SETTINGS_KEY = "settings";

/** A context value by key: a string from `-c key=value`, any JSON value from cdk.json. */
export type ContextLookup = (key: string) => unknown;

/** A deploy settings file as read: its path (as given) and its settings, each of its type. */
export interface DeploySettingsFile {
  readonly path: string;
  readonly values: Readonly<Record<string, unknown>>;
}

/** Where a prop's value came from: the key, the value as given, and the settings file if not `-c`. */
export interface ContextOrigin {
  readonly key: string;
  readonly raw: unknown;
  /** The settings file the value came from; absent for a `-c` (or cdk.json context) value. */
  readonly file?: string;
}

/** The app's own switches, which are not props: the opt-ins of {@link checkDeployGuards}. */
export interface DeployOptIns {
  /** `example`: the example's placeholder workspaces may be synthesized (a try-out). */
  readonly example: boolean;
  /** `placeholderSecret`: the stack may create a placeholder secret. */
  readonly placeholderSecret: boolean;
  /** `noAlarmNotifications`: the alarms may notify nobody. */
  readonly noAlarmNotifications: boolean;
}

/** Every deploy setting the app reads, as the stack's props. */
export interface DeployContext {
  /** `config`: path of the parameter file. */
  readonly configPath: string;
  /** Whether `config` was set (otherwise, with `example`, a missing default falls back to the example). */
  readonly configGiven: boolean;
  readonly stackName: string;
  /** The stack's props but its configuration, `env` included when pinned. */
  readonly stack: Omit<AtlasAuditArchiverStackProps, "config">;
  /** The origin of each prop a setting gave, by the prop's name in errors (`transition.afterDays`). */
  readonly origins: ReadonlyMap<string, ContextOrigin>;
  readonly optIns: DeployOptIns;
  /** The settings file read, or the default path when none was (for the guards' messages). */
  readonly settingsPath: string;
  /** Whether a settings file was read. */
  readonly settingsRead: boolean;
}

/**
 * Reads the text of a deploy settings file as strictly as `-c` values, and stricter on types: a
 * JSON object of known keys (and `$schema`), each of its type (a number unquoted, `true`/`false`).
 *
 * @throws {DeploymentError} `DEPLOY_SETTINGS_INVALID` naming the file, the key and what is allowed
 * @example
 * ```ts
 * parseDeploySettings('{"secretName": "atlas/audit-archiver"}', "config/deploy.json").values.secretName;
 * ```
 */
export function parseDeploySettings(text: string, path: string): DeploySettingsFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (error) {
    const at = locateJsonError((error as Error).message, text);
    throw settingsError(
      path,
      "",
      `${path} is not valid JSON (line ${at.line}, column ${at.column}): fix the file, or compare it with ${EXAMPLE_SETTINGS_PATH}`,
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw settingsError(
      path,
      "",
      `${path} must hold a JSON object of settings, e.g. {"secretName": "atlas/audit-archiver"}`,
    );
  }
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (key === "$schema") {
      if (typeof value !== "string")
        throw fileValueError(path, key, value, "must be a string (the path of the schema)");
      continue;
    }
    if (key === SETTINGS_KEY) {
      throw settingsError(
        path,
        key,
        `${path}: ${key} names the settings file itself; give it only with -c ${key}=path`,
      );
    }
    const spec = DEPLOY_SETTINGS[key];
    if (spec === undefined) {
      const near = closest(key, Object.keys(DEPLOY_SETTINGS));
      throw settingsError(
        path,
        key,
        `${path}: ${key} is not a deploy setting${near ? `; did you mean ${near}?` : ""} (every setting is described in config/deploy.schema.json)`,
      );
    }
    const rule = typeRule(spec.type, value);
    if (rule !== undefined) throw fileValueError(path, key, value, rule);
    values[key] = typeof value === "string" ? value.trim() : value;
  }
  return { path, values };
}

/**
 * Refuses a context key that is a near miss of a deploy setting (`-c alarmEmial=...`), which would
 * otherwise be ignored. Other keys (feature flags, `aws:cdk:*`, lookups) are left alone.
 *
 * @throws {DeploymentError} `DEPLOY_CONTEXT_INVALID` naming the key and the setting it resembles
 */
export function checkContextKeys(keys: readonly string[]): void {
  const known = [...Object.keys(DEPLOY_SETTINGS), SETTINGS_KEY];
  for (const key of keys) {
    if (known.includes(key) || !/^[A-Za-z][A-Za-z0-9]*$/.test(key)) continue;
    const near = closest(key, known);
    if (near !== undefined) {
      throw new DeploymentError(
        "DEPLOY_CONTEXT_INVALID",
        key,
        `-c ${key} is not a deploy setting; did you mean ${near}?`,
      );
    }
  }
}

/**
 * Turns the deploy settings (`-c` values over the settings file's, key by key) into the stack's props.
 *
 * | key | prop |
 * |---|---|
 * | `config` | parameter file path (default `config/workspaces.json`) |
 * | `stackName` | default `AtlasAuditArchiver` |
 * | `account`, `region` | `env` (needed with `vpcId`; otherwise the stack is environment-agnostic) |
 * | `secretName`, `secretArn`, `secretKmsKeyArn`, `bucketKmsKeyArn`, `vpcId`, `egressEipAllocationId`, `alarmTopicArn` | the stack's props of those names |
 * | `alarmEmail`, `memorySize`, `expireAfterDays`, `runIntervalMinutes`, `serverAccessLogs`, `digests` | the archiver's props of those names (`digests=false`: no signed digests) |
 * | `workerConcurrency`, `lanesPerProject`, `batchSize`, `maxReceiveCount` | the archiver's props of those names (the queue) |
 * | `bucketEncryption` | `encryption` |
 * | `objectLockMode`, `objectLockDays` | `objectLock` (both or neither) |
 * | `transitionDays`, `transitionStorageClass` | `transition` (`GLACIER_IR`, `STANDARD_IA`, ...; `transitionDays=off`: `false`) |
 * | `timeoutMinutes`, `logRetentionDays` | `timeout`, `logRetention` |
 * | `athena`, `athenaDatabaseName`, `athenaTableName`, `athenaDateRangeStart`, `athenaWorkGroup` | `athena` |
 * | `example`, `placeholderSecret`, `noAlarmNotifications` | no prop: the opt-ins of {@link checkDeployGuards} |
 *
 * @param environment where `CDK_DEFAULT_ACCOUNT` and `CDK_DEFAULT_REGION` come from (set by the CDK CLI)
 * @param file the deploy settings file, whose values the `-c` values override
 * @throws {DeploymentError} `DEPLOY_CONTEXT_INVALID` (a `-c` value) or `DEPLOY_SETTINGS_INVALID` (a
 *   value of the file), naming the key, its value and what is allowed
 */
export function propsFromContext(
  lookup: ContextLookup,
  environment: NodeJS.ProcessEnv = process.env,
  file?: DeploySettingsFile,
): DeployContext {
  const ctx = new ContextReader(lookup, file);
  const configValue = ctx.string("config");
  const athenaOn = ctx.boolean("athena");
  const athenaOptions = {
    ...ctx.prop("athena.databaseName", "athenaDatabaseName", ctx.string),
    ...ctx.prop("athena.tableName", "athenaTableName", ctx.string),
    ...ctx.prop("athena.dateRangeStart", "athenaDateRangeStart", ctx.string),
    ...ctx.prop("athena.workGroup", "athenaWorkGroup", ctx.boolean),
  };
  const athenaKey = ctx.given([
    "athenaDatabaseName",
    "athenaTableName",
    "athenaDateRangeStart",
    "athenaWorkGroup",
  ]);
  if (athenaOn === false && athenaKey !== undefined) {
    throw ctx.error(athenaKey, "contradicts athena=false; remove one");
  }
  const athena = athenaOn === false ? false : athenaKey !== undefined ? athenaOptions : undefined;

  // Strings and numbers stand in for the props' narrower types: resolveArchiverSettings checks them.
  const archiver: Partial<AtlasAuditArchiverProps> = {
    ...ctx.prop("alarmEmail", "alarmEmail", ctx.string),
    ...(ctx.prop("encryption", "bucketEncryption", ctx.string) as { encryption?: ArchiveEncryption }),
    ...optional("transition", transitionFromContext(ctx)),
    ...ctx.prop("expireAfterDays", "expireAfterDays", ctx.number),
    ...optional("objectLock", objectLockFromContext(ctx)),
    ...ctx.prop("serverAccessLogs", "serverAccessLogs", ctx.boolean),
    ...ctx.prop("memorySize", "memorySize", ctx.number),
    ...ctx.prop("workerConcurrency", "workerConcurrency", ctx.number),
    ...ctx.prop("lanesPerProject", "lanesPerProject", ctx.number),
    ...ctx.prop("batchSize", "batchSize", ctx.number),
    ...ctx.prop("maxReceiveCount", "maxReceiveCount", ctx.number),
    ...ctx.prop("timeout", "timeoutMinutes", (key) => minutes(ctx.number(key))),
    ...(ctx.prop("logRetention", "logRetentionDays", ctx.number) as { logRetention?: logs.RetentionDays }),
    ...ctx.prop("runIntervalMinutes", "runIntervalMinutes", ctx.number),
    ...ctx.prop("digests", "digests", ctx.boolean),
    ...optional("athena", athena),
  };
  const stack = {
    ...ctx.prop("secretName", "secretName", ctx.string),
    ...ctx.prop("secretArn", "secretArn", ctx.string),
    ...ctx.prop("secretKmsKeyArn", "secretKmsKeyArn", ctx.string),
    ...ctx.prop("bucketKmsKeyArn", "bucketKmsKeyArn", ctx.string),
    ...ctx.prop("vpcId", "vpcId", ctx.string),
    ...ctx.prop("egressEipAllocationId", "egressEipAllocationId", ctx.string),
    ...ctx.prop("alarmTopicArn", "alarmTopicArn", ctx.string),
    archiver: archiver as AtlasAuditArchiverStackProps["archiver"],
  };

  const optIns: DeployOptIns = {
    example: ctx.boolean("example") ?? false,
    placeholderSecret: ctx.boolean("placeholderSecret") ?? false,
    noAlarmNotifications: ctx.boolean("noAlarmNotifications") ?? false,
  };
  if (optIns.placeholderSecret) {
    const named = ctx.given(["secretName", "secretArn"]);
    if (named !== undefined) {
      throw ctx.error("placeholderSecret", `contradicts ${named}: the stack uses that secret; remove one`);
    }
  }
  if (optIns.noAlarmNotifications) {
    const destination = ctx.given(["alarmEmail", "alarmTopicArn"]);
    if (destination !== undefined) {
      throw ctx.error("noAlarmNotifications", `contradicts ${destination}, an alarm destination; remove one`);
    }
  }

  let account = ctx.string("account");
  let region = ctx.string("region");
  if (stack.vpcId !== undefined) {
    account ??= environment.CDK_DEFAULT_ACCOUNT;
    region ??= environment.CDK_DEFAULT_REGION;
    if (account === undefined || region === undefined) {
      throw new DeploymentError(
        ctx.sourceOf("vpcId") === undefined ? "DEPLOY_CONTEXT_INVALID" : "DEPLOY_SETTINGS_INVALID",
        "vpcId",
        `${ctx.describe("vpcId")} needs the stack's account and region to look the VPC up: run with AWS ` +
          'credentials (the CLI then provides them) or set "account" and "region" (-c account=123456789012 -c region=eu-west-1).',
      );
    }
  }
  return {
    configPath: configValue ?? DEFAULT_CONFIG_PATH,
    configGiven: configValue !== undefined,
    stackName: ctx.string("stackName") ?? DEFAULT_STACK_NAME,
    stack: {
      ...stack,
      ...(account !== undefined || region !== undefined ? { env: { account, region } } : {}),
    },
    origins: ctx.origins,
    optIns,
    settingsPath: file?.path ?? (ctx.string(SETTINGS_KEY) as string | undefined) ?? DEFAULT_SETTINGS_PATH,
    settingsRead: file !== undefined,
  };
}

/** What the guards let through, for the app to show: one warning per deliberate placeholder. */
export interface DeployGuardResult {
  readonly warnings: readonly string[];
}

/** Email domains reserved for documentation and tests (RFC 2606, RFC 6761): no mail ever arrives. */
const RESERVED_EMAIL_DOMAIN = /@(?:[^@]*\.)?(?:example\.(?:com|net|org)|example|invalid|test|localhost)$/i;

/**
 * The deploy guards: refuses a stack that would archive nothing (the example's placeholder
 * workspaces), fail every run (a placeholder secret nobody asked for), or fail unnoticed (alarms
 * with no destination), every problem in one error; each has its opt-in, and a warning for it.
 *
 * @param config the parameter file, or `undefined` when the default one does not exist (a problem too)
 * @throws {DeploymentError} `DEPLOY_INCOMPLETE`, listing every problem with the setting that fixes it
 */
export function checkDeployGuards(
  deploy: DeployContext,
  config: ArchiverConfig | undefined,
  configPath: string,
): DeployGuardResult {
  const { optIns, stack } = deploy;
  const where = deploy.settingsPath;
  const problems: { setting: string; text: string }[] = [];
  const warnings: string[] = [];
  const placeholders = (config?.workspaces ?? [])
    .filter((w) => w.groupId === EXAMPLE_GROUP_ID)
    .map(workspaceLabel);

  if (config === undefined) {
    problems.push({
      setting: "config",
      text:
        `${configPath}, the parameter file, does not exist: create it (cp ${EXAMPLE_CONFIG_PATH} ${configPath}, ` +
        `then list your workspaces), or set "config" in ${where} or with -c config=path. To synthesize the ` +
        "example as a try-out, add -c example=true.",
    });
  } else if (optIns.example && placeholders.length === 0) {
    problems.push({
      setting: "example",
      text:
        `example=true is only for a try-out of the example's placeholder workspaces, but ${configPath} lists ` +
        "your own: remove example, so that the deploy guards below apply.",
    });
  } else if (!optIns.example && placeholders.length > 0) {
    problems.push({
      setting: "config",
      text:
        `${configPath} lists the example's placeholder workspaces (${placeholders.join(", ")}), which archive ` +
        `nothing: replace them with yours (groupId is the 24-character project ID in the Atlas project's URL or ` +
        `its settings; tenantName the workspace's name), or set "config" in ${where} to your parameter file. ` +
        "To synthesize the example as a try-out, add -c example=true.",
    });
  }

  const secretGiven = stack.secretName !== undefined || stack.secretArn !== undefined;
  if (!secretGiven && !optIns.placeholderSecret && !optIns.example) {
    problems.push({
      setting: "secretName",
      text:
        `No Atlas credentials secret: set "secretName" (e.g. "atlas/audit-archiver", a secret you created in the ` +
        `stack's region) or "secretArn" in ${where}, or -c secretName=...; or set "placeholderSecret": true to ` +
        "let the stack create a secret with a placeholder value that you fill in after the deploy (keep it set).",
    });
  }

  const email = stack.archiver?.alarmEmail;
  const alarmed = email !== undefined || stack.alarmTopicArn !== undefined;
  if (!alarmed && !optIns.noAlarmNotifications && !optIns.example) {
    problems.push({
      setting: "alarmEmail",
      text:
        `No alarm destination, so a failing archive would go unnoticed: set "alarmEmail" (an address to ` +
        `subscribe) or "alarmTopicArn" (an existing SNS topic) in ${where}, or -c alarmEmail=...; or set ` +
        '"noAlarmNotifications": true for alarms that only change state in CloudWatch.',
    });
  }
  if (email !== undefined && RESERVED_EMAIL_DOMAIN.test(email) && !optIns.example) {
    problems.push({
      setting: "alarmEmail",
      text: `alarmEmail ${email} is at a domain reserved for examples, where no mail ever arrives: give a real address.`,
    });
  }

  if (problems.length > 0) {
    throw new DeploymentError(
      "DEPLOY_INCOMPLETE",
      (problems[0] as { setting: string }).setting,
      `This stack is not ready to deploy:\n${problems.map((p) => `- ${p.text}`).join("\n")}` +
        (deploy.settingsRead
          ? ""
          : `\n(${where} does not exist yet: cp ${EXAMPLE_SETTINGS_PATH} ${where}, then edit it.)`),
    );
  }

  if (optIns.example) {
    const parts = [
      `the example's placeholder workspaces (${configPath})`,
      ...(secretGiven ? [] : ["a placeholder secret"]),
      ...(alarmed ? [] : ["alarms that notify nobody"]),
    ];
    warnings.push(
      `example=true: a try-out with ${parts.join(", ")}; do not deploy it. For a real stack, list your ` +
        `workspaces in ${DEFAULT_CONFIG_PATH} and your settings in ${DEFAULT_SETTINGS_PATH} (from ${EXAMPLE_SETTINGS_PATH}).`,
    );
  } else {
    if (!secretGiven) {
      warnings.push(
        "placeholderSecret: the stack creates the Atlas secret with a placeholder value; every run fails until you " +
          "put your credentials into it (SecretArn output): aws secretsmanager put-secret-value --secret-id <SecretArn> ...",
      );
    }
    if (!alarmed) {
      warnings.push("noAlarmNotifications: the alarms notify nobody; watch their state in CloudWatch.");
    }
  }
  return { warnings };
}

/**
 * Runs `build` (which resolves the props) and rethrows an invalid prop that a setting gave as an
 * error about that setting: `memorySize = null: ...` becomes `-c memorySize=abc: ...`, or
 * `config/deploy.json: memorySize = 100: ...` for a value of the settings file.
 *
 * @throws {DeploymentError} `DEPLOY_CONTEXT_INVALID` or `DEPLOY_SETTINGS_INVALID` for such a prop; any
 *   other error as it is
 */
export function namingContextKeys<T>(origins: ReadonlyMap<string, ContextOrigin>, build: () => T): T {
  try {
    return build();
  } catch (error) {
    const origin = error instanceof InvalidPropError ? origins.get(error.setting) : undefined;
    if (origin && error instanceof InvalidPropError) {
      throw valueError(origin.key, origin.raw, error.rule, origin.file);
    }
    throw error;
  }
}

/** The JSON JSON Schema of the deploy settings file, generated from {@link DEPLOY_SETTINGS}. */
export function deploySettingsJsonSchema(): Record<string, unknown> {
  const properties: Record<string, unknown> = {
    $schema: {
      description:
        "Path or URL of this file's JSON Schema, for completion and checks in editors. Ignored by the app.",
      type: "string",
    },
  };
  for (const [key, spec] of Object.entries(DEPLOY_SETTINGS)) {
    const type =
      spec.type === "days-or-off"
        ? { anyOf: [{ type: "number", minimum: 0 }, { const: "off" }, { const: false }] }
        : spec.type === "string"
          ? { type: "string", minLength: 1, ...(spec.enum ? { enum: [...spec.enum] } : {}) }
          : { type: spec.type };
    properties[key] = { description: spec.description, ...type };
  }
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    title: "atlas-audit-archiver deploy settings",
    description: `The CDK app's deploy settings (${DEFAULT_SETTINGS_PATH}): the same keys as -c key=value, which override them.`,
    type: "object",
    properties,
    additionalProperties: false,
  };
}

/** The exact text of `config/deploy.schema.json`: `JSON.stringify` with two spaces, one enum per line. */
export function renderDeploySettingsJsonSchema(): string {
  // Biome prints a short array on one line; so does this, so the generated file is already formatted.
  const text = JSON.stringify(deploySettingsJsonSchema(), null, 2).replace(
    /\[\n\s+("[^"\n]*",?\n\s+)*"[^"\n]*"\n\s+\]/g,
    (array) =>
      `[${JSON.parse(array)
        .map((v: string) => JSON.stringify(v))
        .join(", ")}]`,
  );
  return `${text}\n`;
}

/** `-c transitionDays` and `-c transitionStorageClass`; the one not given keeps its default. */
function transitionFromContext(ctx: ContextReader): AtlasAuditArchiverProps["transition"] {
  const days = ctx.raw("transitionDays");
  const storageClass = ctx.oneOf("transitionStorageClass", Object.keys(STORAGE_CLASSES));
  if (days === "off" || days === false || days === "false") {
    if (storageClass !== undefined) {
      throw ctx.error("transitionStorageClass", "contradicts transitionDays=off; remove one");
    }
    return false;
  }
  const afterDays = ctx.prop("transition.afterDays", "transitionDays", ctx.number).afterDays;
  if (afterDays === undefined && storageClass === undefined) return undefined;
  const defaults = ARCHIVER_DEFAULTS.transition;
  return {
    storageClass:
      storageClass === undefined ? defaults.storageClass : (STORAGE_CLASSES[storageClass] as s3.StorageClass),
    afterDays: afterDays ?? defaults.afterDays,
  };
}

/** `-c objectLockMode` and `-c objectLockDays`, which go together. */
function objectLockFromContext(ctx: ContextReader): AtlasAuditArchiverProps["objectLock"] {
  const mode = ctx.prop("objectLock.mode", "objectLockMode", ctx.string).mode;
  const retentionDays = ctx.prop("objectLock.retentionDays", "objectLockDays", ctx.number).retentionDays;
  if ((mode === undefined) !== (retentionDays === undefined)) {
    const [missing, given] =
      mode === undefined ? ["objectLockMode", "objectLockDays"] : ["objectLockDays", "objectLockMode"];
    throw valueError(
      missing,
      undefined,
      "is needed too: Object Lock takes both objectLockMode (GOVERNANCE or COMPLIANCE) and objectLockDays",
      ctx.sourceOf(given),
    );
  }
  return mode === undefined || retentionDays === undefined
    ? undefined
    : { mode: mode as ArchiveObjectLock["mode"], retentionDays };
}

/** Whole or not, negative or not: the timeout's resolution judges the minutes. */
function minutes(value: number | undefined): Duration | undefined {
  if (value === undefined) return undefined;
  return Duration.minutes(value >= 0 ? value : Number.NaN);
}

function shown(value: unknown): string {
  return typeof value === "string" && value !== "" ? value : show(value);
}

/** An error about a setting's value: `-c key=value: rule`, or `file: key = value: rule`. */
function valueError(key: string, value: unknown, rule: string, file?: string): DeploymentError {
  if (file !== undefined) {
    return settingsError(
      file,
      key,
      value === undefined ? `${file}: ${key} ${rule}` : `${file}: ${key} = ${show(value)}: ${rule}`,
    );
  }
  return new DeploymentError(
    "DEPLOY_CONTEXT_INVALID",
    key,
    value === undefined ? `-c ${key} ${rule}` : `-c ${key}=${shown(value)}: ${rule}`,
  );
}

function fileValueError(file: string, key: string, value: unknown, rule: string): DeploymentError {
  return valueError(key, value, rule, file);
}

function settingsError(file: string, key: string, message: string): DeploymentError {
  return new DeploymentError("DEPLOY_SETTINGS_INVALID", key || file, message);
}

/** What is wrong with `value` as a setting of `type` in the file, or `undefined` when it is right. */
function typeRule(type: DeploySettingType, value: unknown): string | undefined {
  switch (type) {
    case "string":
      return typeof value === "string" && value.trim() !== "" ? undefined : "must be a non-empty string";
    case "number":
      return typeof value === "number" ? undefined : "must be a number (without quotes)";
    case "boolean":
      return typeof value === "boolean" ? undefined : "must be true or false (without quotes)";
    case "days-or-off":
      return typeof value === "number" || value === "off" || value === false
        ? undefined
        : 'must be a number of days (without quotes), or "off"';
  }
}

/** The candidate within two edits of `key` (case aside), if exactly one is closest. */
function closest(key: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance (short keys only: quadratic). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length] as number;
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** Reads settings in their forms (a `-c` value over the file's), and records which key gave which prop. */
class ContextReader {
  readonly origins = new Map<string, ContextOrigin>();

  constructor(
    private readonly context: ContextLookup,
    private readonly file?: DeploySettingsFile,
  ) {}

  /** The value of `key`: the context's, or else the file's. */
  raw(key: string): unknown {
    const value = this.context(key);
    return value !== undefined ? value : this.file?.values[key];
  }

  /** The settings file that gives `key`, or `undefined` when the context does (or nobody). */
  sourceOf(key: string): string | undefined {
    return this.context(key) === undefined && this.file?.values[key] !== undefined
      ? this.file.path
      : undefined;
  }

  /** `-c key=value` or `file: key = value`, for messages. */
  describe(key: string): string {
    const file = this.sourceOf(key);
    return file === undefined
      ? `-c ${key}=${shown(this.raw(key))}`
      : `${file}: ${key} = ${show(this.raw(key))}`;
  }

  /** An error about the value of `key`, naming where it came from. */
  error(key: string, rule: string): DeploymentError {
    return valueError(key, this.raw(key), rule, this.sourceOf(key));
  }

  /**
   * `{ [last part of prop]: value }` read from `key` by `read`, or `{}` when the key is not given;
   * records the key as the origin of `prop`.
   */
  prop<P extends string, V>(
    prop: P,
    key: string,
    read: (key: string) => V | undefined,
  ): { [K in LastPart<P>]?: V } {
    const value = read(key);
    if (value === undefined) return {};
    const file = this.sourceOf(key);
    this.origins.set(prop, { key, raw: this.raw(key), ...(file !== undefined ? { file } : {}) });
    return { [prop.split(".").pop() as string]: value } as { [K in LastPart<P>]?: V };
  }

  /** The first of `keys` that is given. */
  given(keys: readonly string[]): string | undefined {
    return keys.find((key) => this.raw(key) !== undefined);
  }

  readonly string = (key: string): string | undefined => {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (typeof value !== "string" || value.trim() === "") throw this.error(key, "must be a non-empty string");
    return value.trim();
  };

  /** A number as given (`NaN` for anything else): its range is the prop's to check. */
  readonly number = (key: string): number | undefined => {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (typeof value === "number") return value;
    return typeof value === "string" && value.trim() !== "" ? Number(value.trim()) : Number.NaN;
  };

  readonly boolean = (key: string): boolean | undefined => {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (value === true || value === "true") return true;
    if (value === false || value === "false") return false;
    throw this.error(key, "must be true or false");
  };

  oneOf(key: string, allowed: readonly string[]): string | undefined {
    const value = this.string(key);
    if (value !== undefined && !allowed.includes(value)) {
      throw this.error(key, `must be one of ${allowed.join(", ")}`);
    }
    return value;
  }
}

type LastPart<P extends string> = P extends `${string}.${infer Rest}` ? LastPart<Rest> : P;
