/**
 * The one place where the archiver's props are resolved: {@link resolveArchiverSettings} merges them
 * over `ARCHIVER_DEFAULTS` and checks every value, so the builders never repeat a default or a check.
 */
import type { Duration } from "aws-cdk-lib";
import type * as ec2 from "aws-cdk-lib/aws-ec2";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type * as sns from "aws-cdk-lib/aws-sns";
import { type ArchiverConfig, validateConfig } from "../lambda/config";
import type { ArchiveAthenaOptions } from "./athena-props";
import { resolveAthenaOption } from "./athena-settings";
import { ARCHIVER_DEFAULTS } from "./defaults";
import { invalidProp } from "./errors";
import type {
  ArchiveEncryption,
  ArchiveObjectLock,
  ArchiveTransition,
  AtlasAuditArchiverProps,
} from "./props";
import { maxMinutesBetweenRuns } from "./schedule";

/** Where the archive bucket comes from. */
export type BucketSource =
  | { readonly kind: "create" }
  | { readonly kind: "existing"; readonly bucket: s3.IBucket }
  | { readonly kind: "by-name"; readonly bucketName: string };

/** How the alarms learn the time between runs. */
export type RunIntervalSource = "rate" | "cron" | "prop" | "fallback";

/** Every setting of the construct after defaults, checked. */
export interface ResolvedArchiverSettings {
  readonly config: ArchiverConfig;
  readonly secret?: secretsmanager.ISecret;
  readonly secretEncryptionKey?: kms.IKey;
  readonly bucketSource: BucketSource;
  /** For a created bucket; an existing bucket counts as KMS when `encryptionKey` is given. */
  readonly encryption: ArchiveEncryption;
  readonly encryptionKey?: kms.IKey;
  readonly transition?: ArchiveTransition;
  readonly expireAfterDays?: number;
  readonly objectLock?: ArchiveObjectLock;
  readonly serverAccessLogs: boolean;
  readonly accessLogsBucket?: s3.IBucket;
  readonly accessLogsPrefix: string;
  readonly accessLogsRetentionDays: number;
  /** The worker's memory (the planner's is `ARCHIVER_DEFAULTS.plannerMemorySize`). */
  readonly memorySize: number;
  /** The worker's timeout (the planner's is `ARCHIVER_DEFAULTS.plannerTimeout`). */
  readonly timeout: Duration;
  readonly workerConcurrency: number;
  readonly lanesPerProject: number;
  readonly batchSize: number;
  readonly maxReceiveCount: number;
  readonly logRetention: logs.RetentionDays;
  readonly metricsNamespace: string;
  readonly vpc?: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
  readonly securityGroups?: readonly ec2.ISecurityGroup[];
  readonly alarmTopic?: sns.ITopic;
  readonly alarmEmail?: string;
  readonly runIntervalMinutes: number;
  readonly runIntervalSource: RunIntervalSource;
  readonly backlogAlarmRuns: number;
  /** Whether the planner seals and signs digests. */
  readonly digests: boolean;
  /** The given signing key of the digests (with `digests` only); otherwise the construct creates one. */
  readonly digestKey?: kms.IKey;
  /**
   * The Athena table's settings with their defaults (`databaseName` only when given: its default
   * comes from the stack's name); absent when `athena` is `false`.
   */
  readonly athena?: ArchiveAthenaOptions;
}

const BUCKET_ONLY_PROPS = [
  "encryption",
  "transition",
  "expireAfterDays",
  "objectLock",
  "serverAccessLogs",
  "accessLogsBucket",
  "accessLogsPrefix",
  "accessLogsRetentionDays",
] as const satisfies readonly (keyof AtlasAuditArchiverProps)[];

/** The days CloudWatch Logs can keep logs (the numeric values of `logs.RetentionDays`). */
const RETENTION_PERIODS: readonly number[] = Object.values(logs.RetentionDays).filter(
  (value) => typeof value === "number",
);

const IA_CLASSES: readonly s3.StorageClass[] = [
  s3.StorageClass.INFREQUENT_ACCESS,
  s3.StorageClass.ONE_ZONE_INFREQUENT_ACCESS,
];

/**
 * Merges `props` over `ARCHIVER_DEFAULTS` and checks every value, the configuration included.
 *
 * @throws {ConfigError} when `props.config` breaks the parameter file's rules (e.g. a bad schedule)
 * @throws {DeploymentError} `DEPLOY_PROPS_INVALID`, naming the prop, its value and what is allowed
 * @example
 * ```ts
 * const settings = resolveArchiverSettings({ config });
 * settings.memorySize; // 1024
 * ```
 */
export function resolveArchiverSettings(props: AtlasAuditArchiverProps): ResolvedArchiverSettings {
  const d = ARCHIVER_DEFAULTS;
  // The handler does not check the bundled file's rules again (parseBundledConfig checks only its
  // envelope and field types): check them here, so that a configuration built by hand (not by
  // loadConfig) fails the synth, not every run.
  const config = validateConfig(props.config, "props.config");

  const bucketSource = resolveBucketSource(props, config);
  if (bucketSource.kind !== "create") {
    const given = BUCKET_ONLY_PROPS.find((key) => props[key] !== undefined);
    if (given !== undefined) {
      const where =
        bucketSource.kind === "by-name"
          ? `config.archive.bucket (${bucketSource.bucketName})`
          : "props.bucket";
      throw invalidProp(
        given,
        props[given],
        `applies only to a bucket this construct creates, but the archive bucket is an existing one (${where}); ` +
          "configure that bucket directly, or remove the bucket to let the construct create one",
      );
    }
  }

  const encryption = props.encryption ?? (props.encryptionKey !== undefined ? "KMS" : d.encryption);
  if (encryption !== "S3_MANAGED" && encryption !== "KMS") {
    throw invalidProp("encryption", encryption, 'must be "S3_MANAGED" or "KMS"');
  }
  if (encryption === "S3_MANAGED" && props.encryptionKey !== undefined) {
    throw invalidProp(
      "encryption",
      encryption,
      'contradicts encryptionKey: S3-managed encryption uses no KMS key; use "KMS" or remove encryptionKey',
    );
  }

  const transition = resolveTransition(props.transition);
  const objectLock = resolveObjectLock(props.objectLock);
  const expireAfterDays = props.expireAfterDays;
  if (expireAfterDays !== undefined) {
    requireWhole("expireAfterDays", expireAfterDays, 1, 36_500);
    if (transition && expireAfterDays <= transition.afterDays) {
      throw invalidProp(
        "expireAfterDays",
        expireAfterDays,
        `must be later than transition.afterDays (${transition.afterDays}): S3 refuses an expiry before the ` +
          "transition; raise expireAfterDays or set transition to false",
      );
    }
    if (objectLock && expireAfterDays < objectLock.retentionDays) {
      throw invalidProp(
        "expireAfterDays",
        expireAfterDays,
        `must be at least objectLock.retentionDays (${objectLock.retentionDays}): locked versions cannot be deleted ` +
          "before their retention ends",
      );
    }
  }

  const accessLogsRetentionDays = props.accessLogsRetentionDays ?? d.accessLogsRetentionDays;
  requireWhole("accessLogsRetentionDays", accessLogsRetentionDays, 1, 36_500);
  const serverAccessLogs = props.serverAccessLogs ?? d.serverAccessLogs;
  if (!serverAccessLogs && props.accessLogsBucket !== undefined) {
    throw invalidProp("serverAccessLogs", false, "contradicts accessLogsBucket; remove one of them");
  }
  const accessLogsPrefix = props.accessLogsPrefix ?? d.accessLogsPrefix;
  if (!/^([A-Za-z0-9!_.*'()=-]+\/)*$/.test(accessLogsPrefix)) {
    throw invalidProp(
      "accessLogsPrefix",
      accessLogsPrefix,
      'must be "" or key segments ending in "/", e.g. "atlas-audit-archive/"',
    );
  }

  const memorySize = props.memorySize ?? d.memorySize;
  requireWhole("memorySize", memorySize, 128, 10_240);
  const timeout = props.timeout ?? d.timeout;
  const timeoutSeconds = timeout.toSeconds({ integral: false });
  if (!(Number.isInteger(timeoutSeconds) && timeoutSeconds >= 60 && timeoutSeconds <= 900)) {
    throw invalidProp(
      "timeout",
      `${timeoutSeconds} seconds`,
      "must be 1 to 15 minutes, in whole seconds: a run needs time to download and store at least one window",
    );
  }

  const workerConcurrency = props.workerConcurrency ?? d.workerConcurrency;
  requireWhole("workerConcurrency", workerConcurrency, 2, 1000);
  const lanesPerProject = props.lanesPerProject ?? d.lanesPerProject;
  requireWhole("lanesPerProject", lanesPerProject, 1, 64);
  const batchSize = props.batchSize ?? d.batchSize;
  requireWhole("batchSize", batchSize, 1, 10);
  const maxReceiveCount = props.maxReceiveCount ?? d.maxReceiveCount;
  requireWhole("maxReceiveCount", maxReceiveCount, 1, 1000);

  const logRetention = props.logRetention ?? d.logRetention;
  if (!RETENTION_PERIODS.includes(logRetention)) {
    throw invalidProp(
      "logRetention",
      logRetention,
      `must be one of CloudWatch Logs' retention periods: ${RETENTION_PERIODS.join(", ")}`,
    );
  }

  const metricsNamespace = props.metricsNamespace ?? d.metricsNamespace;
  if (!/^[A-Za-z0-9 .\-_/#:]{1,255}$/.test(metricsNamespace) || metricsNamespace.startsWith("AWS/")) {
    throw invalidProp(
      "metricsNamespace",
      metricsNamespace,
      'must be 1 to 255 letters, digits, spaces or . - _ / # :, and not start with "AWS/"',
    );
  }

  if (props.vpc === undefined && (props.vpcSubnets !== undefined || props.securityGroups !== undefined)) {
    throw invalidProp(
      props.vpcSubnets !== undefined ? "vpcSubnets" : "securityGroups",
      props.vpcSubnets ?? props.securityGroups,
      "needs vpc: subnets and security groups apply only to functions placed in a VPC",
    );
  }

  if (props.alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(props.alarmEmail)) {
    throw invalidProp("alarmEmail", props.alarmEmail, "must be an email address, e.g. ops@example.com");
  }

  const backlogAlarmRuns = props.backlogAlarmRuns ?? d.backlogAlarmRuns;
  requireWhole("backlogAlarmRuns", backlogAlarmRuns, 1, 100);

  const digests = props.digests ?? d.digests;
  if (typeof digests !== "boolean") throw invalidProp("digests", digests, "must be true or false");
  if (!digests && props.digestKey !== undefined) {
    throw invalidProp("digests", false, "contradicts digestKey: no digest is signed; remove one of them");
  }

  const interval = resolveRunInterval(config.schedule, props.runIntervalMinutes);
  const athena = resolveAthenaOption(props.athena);

  return {
    config,
    ...(props.secret ? { secret: props.secret } : {}),
    ...(props.secretEncryptionKey ? { secretEncryptionKey: props.secretEncryptionKey } : {}),
    bucketSource,
    encryption,
    ...(props.encryptionKey ? { encryptionKey: props.encryptionKey } : {}),
    ...(transition ? { transition } : {}),
    ...(expireAfterDays !== undefined ? { expireAfterDays } : {}),
    ...(objectLock ? { objectLock } : {}),
    serverAccessLogs,
    ...(props.accessLogsBucket ? { accessLogsBucket: props.accessLogsBucket } : {}),
    accessLogsPrefix,
    accessLogsRetentionDays,
    memorySize,
    timeout,
    workerConcurrency,
    lanesPerProject,
    batchSize,
    maxReceiveCount,
    logRetention,
    metricsNamespace,
    ...(props.vpc ? { vpc: props.vpc } : {}),
    ...(props.vpc ? { vpcSubnets: props.vpcSubnets ?? d.vpcSubnets } : {}),
    ...(props.securityGroups ? { securityGroups: props.securityGroups } : {}),
    ...(props.alarmTopic ? { alarmTopic: props.alarmTopic } : {}),
    ...(props.alarmEmail ? { alarmEmail: props.alarmEmail } : {}),
    runIntervalMinutes: interval.minutes,
    runIntervalSource: interval.source,
    backlogAlarmRuns,
    digests,
    ...(props.digestKey ? { digestKey: props.digestKey } : {}),
    ...(athena ? { athena } : {}),
  };
}

function resolveBucketSource(props: AtlasAuditArchiverProps, config: ArchiverConfig): BucketSource {
  const named = config.archive.bucket;
  if (props.bucket !== undefined && named !== undefined) {
    throw invalidProp(
      "bucket",
      props.bucket,
      `conflicts with config.archive.bucket (${named}) in the parameter file: name the bucket in one place only`,
    );
  }
  if (props.bucket !== undefined) return { kind: "existing", bucket: props.bucket };
  if (named !== undefined) return { kind: "by-name", bucketName: named };
  return { kind: "create" };
}

function resolveTransition(value: ArchiveTransition | false | undefined): ArchiveTransition | undefined {
  if (value === false) return undefined;
  const transition = value ?? ARCHIVER_DEFAULTS.transition;
  requireWhole("transition.afterDays", transition.afterDays, 0, 36_500);
  if (IA_CLASSES.includes(transition.storageClass) && transition.afterDays < 30) {
    throw invalidProp(
      "transition.afterDays",
      transition.afterDays,
      `must be at least 30 for ${transition.storageClass}: S3 moves objects to an Infrequent Access class only after 30 days`,
    );
  }
  return transition;
}

function resolveObjectLock(value: ArchiveObjectLock | undefined): ArchiveObjectLock | undefined {
  if (value === undefined) return undefined;
  if (value.mode !== "GOVERNANCE" && value.mode !== "COMPLIANCE") {
    throw invalidProp("objectLock.mode", value.mode, 'must be "GOVERNANCE" or "COMPLIANCE"');
  }
  requireWhole("objectLock.retentionDays", value.retentionDays, 1, 36_500);
  return value;
}

function resolveRunInterval(
  schedule: string,
  given: number | undefined,
): { readonly minutes: number; readonly source: RunIntervalSource } {
  if (given !== undefined) {
    requireWhole("runIntervalMinutes", given, 1, 30 * 1440);
    return { minutes: given, source: "prop" };
  }
  const worked = maxMinutesBetweenRuns(schedule);
  if (worked !== undefined)
    return { minutes: worked, source: schedule.startsWith("rate(") ? "rate" : "cron" };
  return { minutes: ARCHIVER_DEFAULTS.fallbackRunIntervalMinutes, source: "fallback" };
}

function requireWhole(setting: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalidProp(setting, value, `must be a whole number from ${min} to ${max}`);
  }
}
