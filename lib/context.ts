/**
 * The CDK app's context values (`-c key=value`, or `"context"` in cdk.json) turned into the stack's
 * props. Only their form is checked here (a number, a boolean, a known name); their values are
 * checked once, where the props are resolved, and {@link namingContextKeys} makes those errors name
 * the `-c` key the value came from.
 */
import { Duration } from "aws-cdk-lib";
import type * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import { DEFAULT_CONFIG_PATH } from "../lambda/config";
import type { AtlasAuditArchiverStackProps } from "./atlas-audit-archiver-stack";
import { ARCHIVER_DEFAULTS } from "./defaults";
import { DeploymentError, InvalidPropError, show } from "./errors";
import type { ArchiveEncryption, ArchiveObjectLock, AtlasAuditArchiverProps } from "./props";

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

/** A context value by key: a string from `-c key=value`, any JSON value from cdk.json. */
export type ContextLookup = (key: string) => unknown;

/** Where a prop's value came from: the `-c` key and the value as given. */
export interface ContextOrigin {
  readonly key: string;
  readonly raw: unknown;
}

/** Every context value the app reads, as the stack's props. */
export interface DeployContext {
  /** `config`: path of the parameter file. */
  readonly configPath: string;
  /** Whether `config` was given (otherwise a missing default falls back to the example). */
  readonly configGiven: boolean;
  readonly stackName: string;
  /** The stack's props but its configuration, `env` included when pinned. */
  readonly stack: Omit<AtlasAuditArchiverStackProps, "config">;
  /** The origin of each prop a context value gave, by the prop's name in errors (`transition.afterDays`). */
  readonly origins: ReadonlyMap<string, ContextOrigin>;
}

/**
 * Turns the context values into the stack's props.
 *
 * | key | prop |
 * |---|---|
 * | `config` | parameter file path (default `config/workspaces.json`) |
 * | `stackName` | default `AtlasAuditArchiver` |
 * | `account`, `region` | `env` (needed with `vpcId`; otherwise the stack is environment-agnostic) |
 * | `secretName`, `secretArn`, `secretKmsKeyArn`, `bucketKmsKeyArn`, `vpcId`, `egressEipAllocationId` | the stack's props of those names |
 * | `alarmEmail`, `memorySize`, `expireAfterDays`, `runIntervalMinutes`, `serverAccessLogs`, `digests` | the archiver's props of those names (`digests=false`: no signed digests) |
 * | `workerConcurrency`, `lanesPerProject`, `batchSize`, `maxReceiveCount` | the archiver's props of those names (the queue) |
 * | `bucketEncryption` | `encryption` |
 * | `objectLockMode`, `objectLockDays` | `objectLock` (both or neither) |
 * | `transitionDays`, `transitionStorageClass` | `transition` (`GLACIER_IR`, `STANDARD_IA`, ...; `transitionDays=off`: `false`) |
 * | `timeoutMinutes`, `logRetentionDays` | `timeout`, `logRetention` |
 * | `athena`, `athenaDatabaseName`, `athenaTableName`, `athenaDateRangeStart`, `athenaWorkGroup` | `athena` |
 *
 * @param environment where `CDK_DEFAULT_ACCOUNT` and `CDK_DEFAULT_REGION` come from (set by the CDK CLI)
 * @throws {DeploymentError} `DEPLOY_CONTEXT_INVALID`, naming the key, its value and what is allowed
 */
export function propsFromContext(lookup: ContextLookup, environment = process.env): DeployContext {
  const ctx = new ContextReader(lookup);
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
    throw contextError(athenaKey, lookup(athenaKey), "contradicts athena=false; remove one");
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
    archiver: archiver as AtlasAuditArchiverStackProps["archiver"],
  };
  let account = ctx.string("account");
  let region = ctx.string("region");
  if (stack.vpcId !== undefined) {
    account ??= environment.CDK_DEFAULT_ACCOUNT;
    region ??= environment.CDK_DEFAULT_REGION;
    if (account === undefined || region === undefined) {
      throw new DeploymentError(
        "DEPLOY_CONTEXT_INVALID",
        "vpcId",
        `-c vpcId=${stack.vpcId} needs the stack's account and region to look the VPC up: run with AWS ` +
          "credentials (the CLI then provides them) or add -c account=123456789012 -c region=eu-west-1.",
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
  };
}

/**
 * Runs `build` (which resolves the props) and rethrows an invalid prop that a context value gave as
 * an error about that value: `memorySize = null: ...` becomes `-c memorySize=abc: ...`.
 *
 * @throws {DeploymentError} `DEPLOY_CONTEXT_INVALID` for such a prop; any other error as it is
 */
export function namingContextKeys<T>(origins: ReadonlyMap<string, ContextOrigin>, build: () => T): T {
  try {
    return build();
  } catch (error) {
    const origin = error instanceof InvalidPropError ? origins.get(error.setting) : undefined;
    if (origin && error instanceof InvalidPropError) throw contextError(origin.key, origin.raw, error.rule);
    throw error;
  }
}

/** `-c transitionDays` and `-c transitionStorageClass`; the one not given keeps its default. */
function transitionFromContext(ctx: ContextReader): AtlasAuditArchiverProps["transition"] {
  const days = ctx.raw("transitionDays");
  const storageClass = ctx.oneOf("transitionStorageClass", Object.keys(STORAGE_CLASSES));
  if (days === "off" || days === false || days === "false") {
    if (storageClass !== undefined) {
      throw contextError(
        "transitionStorageClass",
        storageClass,
        "contradicts transitionDays=off; remove one",
      );
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
    throw contextError(
      mode === undefined ? "objectLockMode" : "objectLockDays",
      undefined,
      "is needed too: Object Lock takes both objectLockMode (GOVERNANCE or COMPLIANCE) and objectLockDays",
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

function contextError(key: string, value: unknown, rule: string): DeploymentError {
  return new DeploymentError(
    "DEPLOY_CONTEXT_INVALID",
    key,
    value === undefined
      ? `-c ${key} ${rule}`
      : `-c ${key}=${typeof value === "string" && value !== "" ? value : show(value)}: ${rule}`,
  );
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** Reads context values in their forms, and records which key gave which prop. */
class ContextReader {
  readonly origins = new Map<string, ContextOrigin>();

  constructor(readonly raw: ContextLookup) {}

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
    this.origins.set(prop, { key, raw: this.raw(key) });
    return { [prop.split(".").pop() as string]: value } as { [K in LastPart<P>]?: V };
  }

  /** The first of `keys` that is given. */
  given(keys: readonly string[]): string | undefined {
    return keys.find((key) => this.raw(key) !== undefined);
  }

  readonly string = (key: string): string | undefined => {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (typeof value !== "string" || value.trim() === "") {
      throw contextError(key, value, "must be a non-empty string");
    }
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
    throw contextError(key, value, "must be true or false");
  };

  oneOf(key: string, allowed: readonly string[]): string | undefined {
    const value = this.string(key);
    if (value !== undefined && !allowed.includes(value)) {
      throw contextError(key, value, `must be one of ${allowed.join(", ")}`);
    }
    return value;
  }
}

type LastPart<P extends string> = P extends `${string}.${infer Rest}` ? LastPart<Rest> : P;
