/**
 * The construct's secure defaults, in one place: {@link resolveArchiverSettings} merges the user's
 * props over them and checks every value, so the construct itself never repeats a default.
 */
import { Duration, Token } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type * as sns from "aws-cdk-lib/aws-sns";
import { type ArchiverConfig, DEFAULT_METRICS_NAMESPACE, parseConfig } from "../lambda/config";
import type { ArchiveAthenaOptions, ArchiveAthenaTableProps } from "./archive-athena-table";
import type {
  ArchiveEncryption,
  ArchiveObjectLock,
  ArchiveTransition,
  AtlasAuditArchiverProps,
} from "./atlas-audit-archiver";
import { invalidProp } from "./errors";
import { maxMinutesBetweenRuns } from "./schedule";

/** The defaults of every optional prop of `AtlasAuditArchiver` (and a few fixed settings). */
export const ARCHIVER_DEFAULTS = {
  /**
   * MiB. Chosen from `npm run bench` (README, "Performance"): memory peaks at 200-230 MiB whatever the
   * log size, but the pipeline needs 9-15 CPU-seconds per GB and Lambda allots CPU by memory. 512 MiB
   * (0.29 vCPU) would be CPU-bound at about a WAN link's 25 MB/s; 1,024 MiB gives twice that, and room for
   * four large logs in flight at once.
   */
  memorySize: 1024,
  /** Lambda's maximum: a run stops starting new windows two minutes before it. */
  timeout: Duration.minutes(15),
  logRetention: logs.RetentionDays.ONE_YEAR,
  metricsNamespace: DEFAULT_METRICS_NAMESPACE,
  encryption: "S3_MANAGED" as ArchiveEncryption,
  /** Glacier Instant Retrieval: ~70% cheaper than Standard, millisecond reads, still queryable by Athena. */
  transition: { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, afterDays: 90 } as ArchiveTransition,
  serverAccessLogs: true,
  /** Private subnets whose traffic leaves through a NAT gateway (the fixed egress IP). */
  vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } as ec2.SubnetSelection,
  accessLogsPrefix: "atlas-audit-archive/",
  accessLogsRetentionDays: 365,
  /** Consecutive runs that must all leave due windows behind before the backlog alarm fires. */
  backlogAlarmRuns: 3,
  /** Used for a `cron(...)` schedule whose interval cannot be worked out and no `runIntervalMinutes`. */
  fallbackRunIntervalMinutes: 1440,
  /** Fixed: incomplete multipart uploads (a run killed by its timeout) are aborted after this. */
  abortIncompleteUploadsAfterDays: 3,
  /** Fixed: an expired archive object's noncurrent version is kept this long (to undo a mistake). */
  noncurrentExpirationDays: 30,
  /** Fixed: a scheduled event that waited this long for the (single) concurrency slot is dropped to the failed-runs queue. */
  maxEventAge: Duration.hours(6),
  /** Fixed: how long failed-run records stay in the queue for inspection (SQS's maximum). */
  failedRunsRetention: Duration.days(14),
} as const;

/** The defaults of the optional props of `ArchiveAthenaTable` (the archiver's `athena` option). */
export const ATHENA_DEFAULTS = {
  /** The Glue table over the archive: `SELECT ... FROM <database>.audit_logs`. */
  tableName: "audit_logs",
  /**
   * First day of the `date` partition projection (the range ends at `NOW`). Atlas Stream Processing
   * became generally available in May 2024, so no audit log can be older; a query whose dates lie
   * before it reads nothing, and days without objects cost nothing.
   */
  dateRangeStart: "2024-01-01",
  /** The database name when the stack's name gives none (a token, e.g. in a nested stack). */
  databaseName: "atlas_audit_archive",
  /** A workgroup with an encrypted, expiring results bucket, so queries need no setup. */
  workGroup: true,
  /** Fixed: days before a query result in the workgroup's results bucket is deleted. */
  queryResultsExpirationDays: 30,
} as const;

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
  readonly memorySize: number;
  readonly timeout: Duration;
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

const IA_CLASSES: readonly s3.StorageClass[] = [
  s3.StorageClass.INFREQUENT_ACCESS,
  s3.StorageClass.ONE_ZONE_INFREQUENT_ACCESS,
];

/**
 * Merges `props` over {@link ARCHIVER_DEFAULTS} and checks every value, the configuration included.
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
  // The handler validates the bundled file with the same module at every cold start: check it here
  // too, so a configuration built by hand (not by loadConfig) fails the synth, not every run.
  const config = parseConfig(JSON.stringify(props.config), "props.config");

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
  if (!(timeoutSeconds >= 60 && timeoutSeconds <= 900)) {
    throw invalidProp(
      "timeout",
      `${timeoutSeconds} seconds`,
      "must be 1 to 15 minutes: a run needs time to download and store at least one window",
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
      "needs vpc: subnets and security groups apply only to a function placed in a VPC",
    );
  }

  if (props.alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(props.alarmEmail)) {
    throw invalidProp("alarmEmail", props.alarmEmail, "must be an email address, e.g. ops@example.com");
  }

  const backlogAlarmRuns = props.backlogAlarmRuns ?? d.backlogAlarmRuns;
  requireWhole("backlogAlarmRuns", backlogAlarmRuns, 1, 100);

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
    logRetention: props.logRetention ?? d.logRetention,
    metricsNamespace,
    ...(props.vpc ? { vpc: props.vpc } : {}),
    ...(props.vpc ? { vpcSubnets: props.vpcSubnets ?? d.vpcSubnets } : {}),
    ...(props.securityGroups ? { securityGroups: props.securityGroups } : {}),
    ...(props.alarmTopic ? { alarmTopic: props.alarmTopic } : {}),
    ...(props.alarmEmail ? { alarmEmail: props.alarmEmail } : {}),
    runIntervalMinutes: interval.minutes,
    runIntervalSource: interval.source,
    backlogAlarmRuns,
    ...(athena ? { athena } : {}),
  };
}

/** The archiver's `athena` prop: `false` turns the table off; `true`, absent or options turn it on. */
function resolveAthenaOption(
  value: boolean | ArchiveAthenaOptions | undefined,
): ArchiveAthenaOptions | undefined {
  if (value === false) return undefined;
  if (value !== undefined && value !== true && (typeof value !== "object" || value === null)) {
    throw invalidProp(
      "athena",
      value,
      "must be true, false, or { databaseName?, tableName?, dateRangeStart?, workGroup? }",
    );
  }
  const options = value === true || value === undefined ? {} : value;
  const unknown = Object.keys(options).find((key) => !ATHENA_OPTION_KEYS.includes(key));
  if (unknown !== undefined) {
    throw invalidProp(
      `athena.${unknown}`,
      (options as Record<string, unknown>)[unknown],
      `is not an option; use ${ATHENA_OPTION_KEYS.join(", ")}`,
    );
  }
  // The database name's default needs the stack's name: the table construct fills it in.
  const { databaseName, ...rest } = resolveAthenaOptions(options, "athena.", undefined);
  return { ...(options.databaseName !== undefined ? { databaseName } : {}), ...rest };
}

/** The Athena options with their defaults, checked; messages name each one as `${at}<option>`. */
function resolveAthenaOptions(
  options: ArchiveAthenaOptions,
  at: string,
  stackName: string | undefined,
): Required<ArchiveAthenaOptions> {
  const databaseName =
    options.databaseName ??
    (stackName === undefined ? ATHENA_DEFAULTS.databaseName : defaultAthenaDatabaseName(stackName));
  checkGlueName(`${at}databaseName`, databaseName);
  const tableName = options.tableName ?? ATHENA_DEFAULTS.tableName;
  checkGlueName(`${at}tableName`, tableName);
  const dateRangeStart = options.dateRangeStart ?? ATHENA_DEFAULTS.dateRangeStart;
  checkCalendarDate(`${at}dateRangeStart`, dateRangeStart);
  const workGroup = options.workGroup ?? ATHENA_DEFAULTS.workGroup;
  if (typeof workGroup !== "boolean") throw invalidProp(`${at}workGroup`, workGroup, "must be true or false");
  return { databaseName, tableName, dateRangeStart, workGroup };
}

const ATHENA_OPTION_KEYS: readonly string[] = ["databaseName", "tableName", "dateRangeStart", "workGroup"];

/** Every setting of `ArchiveAthenaTable` after defaults, checked. */
export interface ResolvedAthenaTableSettings {
  readonly databaseName: string;
  readonly tableName: string;
  readonly dateRangeStart: string;
  readonly workGroup: boolean;
  /** The archive prefix: `""` or segments ending in `/`. */
  readonly prefix: string;
}

/**
 * Merges the props of `ArchiveAthenaTable` over {@link ATHENA_DEFAULTS} and checks them.
 *
 * @param stackName the name of the enclosing stack, which gives the default database name
 * @throws {DeploymentError} `DEPLOY_PROPS_INVALID`, naming the prop, its value and what is allowed
 * @example
 * ```ts
 * resolveAthenaTableSettings({ bucket, prefix: "atlas/stream-audit/" }, "AtlasAuditArchiver");
 * // { databaseName: "atlas_audit_archiver", tableName: "audit_logs", dateRangeStart: "2024-01-01",
 * //   workGroup: true, prefix: "atlas/stream-audit/" }
 * ```
 */
export function resolveAthenaTableSettings(
  props: ArchiveAthenaTableProps,
  stackName: string,
): ResolvedAthenaTableSettings {
  const options = resolveAthenaOptions(props, "", stackName);
  // The same rule as the parameter file's archive.prefix: no quote, space or "${" can reach the
  // table location or its template.
  if (!/^(?:(?!\.\.?\/)[A-Za-z0-9._=-]+\/)*$/.test(props.prefix)) {
    throw invalidProp(
      "prefix",
      props.prefix,
      'must be "" or key segments of letters, digits and - _ . = each ending in "/", e.g. "atlas/stream-audit/"',
    );
  }
  return { ...options, prefix: props.prefix };
}

/**
 * The database name derived from a stack's name, so that archivers deployed side by side under
 * different stack names get different databases: `AtlasAuditArchiver` → `atlas_audit_archiver`,
 * `audit-prod` → `audit_prod`.
 */
export function defaultAthenaDatabaseName(stackName: string): string {
  if (Token.isUnresolved(stackName)) return ATHENA_DEFAULTS.databaseName;
  const name = stackName
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z])([A-Z][a-z])/g, "$1_$2")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
  return /^[a-z]/.test(name) ? name.slice(0, 255) : ATHENA_DEFAULTS.databaseName;
}

/** Glue and Athena names: lowercase letters, digits and `_`, starting with a letter (no quoting needed). */
function checkGlueName(setting: string, value: unknown): void {
  if (typeof value !== "string" || !/^[a-z][a-z0-9_]{0,254}$/.test(value)) {
    throw invalidProp(
      setting,
      value,
      "must be 1 to 255 lowercase letters, digits and _, starting with a letter (Athena folds names to " +
        'lowercase and needs quotes for anything else), e.g. "atlas_audit_archive"',
    );
  }
}

/** A real `YYYY-MM-DD` calendar date. */
function checkCalendarDate(setting: string, value: unknown): void {
  const ok =
    typeof value === "string" &&
    /^\d{4}-\d{2}-\d{2}$/.test(value) &&
    !Number.isNaN(Date.parse(`${value}T00:00:00Z`)) &&
    new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) === value;
  if (!ok) {
    throw invalidProp(setting, value, 'must be a calendar date written YYYY-MM-DD, e.g. "2024-01-01"');
  }
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
