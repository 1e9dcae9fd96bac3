/**
 * The reusable construct: a scheduled Lambda that archives MongoDB Atlas Stream Processing audit
 * logs into S3, with its bucket, secret, permissions, alarms and failure destination. It only wires
 * the builders of `build/` together; the props are in `props.ts`, resolved in `settings.ts`.
 */
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as ec2 from "aws-cdk-lib/aws-ec2";
import type * as events from "aws-cdk-lib/aws-events";
import type * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import type * as nodejs from "aws-cdk-lib/aws-lambda-nodejs";
import type * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import * as cxapi from "aws-cdk-lib/cx-api";
import { Construct } from "constructs";
import { ArchiveAthenaTable } from "./archive-athena-table";
import { buildAlarmTopic } from "./build/alarm-topic";
import { buildAlarms } from "./build/alarms";
import { buildFunction } from "./build/function";
import { ArchiverMetricFactory } from "./build/metrics";
import { grantRunPermissions } from "./build/permissions";
import { buildFailedRunsQueue, buildSchedule } from "./build/schedule";
import { buildAtlasSecret } from "./build/secret";
import { buildStorage } from "./build/storage";
import type { AtlasAuditArchiverProps } from "./props";
import { type ResolvedArchiverSettings, resolveArchiverSettings } from "./settings";

/**
 * Archives MongoDB Atlas Stream Processing audit logs into S3 on the parameter file's schedule.
 *
 * Creates (or imports) the archive bucket and the credentials secret, a `NodejsFunction` bundled
 * locally by esbuild with the parameter file inside, the EventBridge schedule, a queue of failed
 * runs, and alarms on errors, failed windows, invalid objects at archive keys, backlog, a stopped
 * schedule and failed runs, published to SNS.
 *
 * @example
 * ```ts
 * const config = await loadConfig("config/workspaces.json");
 * new AtlasAuditArchiver(stack, "Archiver", {
 *   config,
 *   secret: secretsmanager.Secret.fromSecretNameV2(stack, "Atlas", "atlas/audit-archiver"),
 *   alarmEmail: "ops@example.com",
 * });
 * ```
 */
export class AtlasAuditArchiver extends Construct {
  /** The settings in effect: the props merged over `ARCHIVER_DEFAULTS`. */
  readonly settings: ResolvedArchiverSettings;
  /** The scheduled function. */
  readonly function: nodejs.NodejsFunction;
  /** Its execution role; every statement is added explicitly. */
  readonly role: iam.Role;
  /** Its log group (JSON logs, with retention). */
  readonly logGroup: logs.LogGroup;
  /** The archive bucket (created, or imported). */
  readonly bucket: s3.IBucket;
  /** The archive's KMS key, when it uses one. */
  readonly encryptionKey?: kms.IKey;
  /** The server access logs target of a created bucket, when logging is on. */
  readonly accessLogsBucket?: s3.IBucket;
  /** The Atlas credentials secret (created, or imported). */
  readonly secret: secretsmanager.ISecret;
  /** The EventBridge rule that runs the function. */
  readonly scheduleRule: events.Rule;
  /** Failed runs (function errors, events dropped after waiting, undeliverable schedule events). */
  readonly failedRunsQueue: sqs.Queue;
  /** Where the alarms publish. */
  readonly alarmTopic: sns.ITopic;
  /** The function's security group, when the construct created one. */
  readonly securityGroup?: ec2.SecurityGroup;
  /** Function errors (a run that threw, including one with failed windows). */
  readonly errorsAlarm: cloudwatch.Alarm;
  /** At least one window failed. */
  readonly windowsFailedAlarm: cloudwatch.Alarm;
  /**
   * A window's key holds an object that is not a verified archive object (no full-object CRC32, or
   * metadata naming another window): it repeats every run until an operator resolves it.
   */
  readonly invalidObjectsAlarm: cloudwatch.Alarm;
  /** Every run for `backlogAlarmRuns` intervals left due windows behind. */
  readonly backlogAlarm: cloudwatch.Alarm;
  /** No invocation for about two run intervals: the schedule is disabled, deleted or throttled. */
  readonly notRunningAlarm?: cloudwatch.Alarm;
  /** A record arrived in the failed-runs queue. */
  readonly failedRunsAlarm: cloudwatch.Alarm;
  /** Windows left the lookback unarchived (`WindowsExpired`): lost unless backfilled. */
  readonly windowsExpiredAlarm: cloudwatch.Alarm;
  /** Every alarm above. */
  readonly alarms: readonly cloudwatch.Alarm[];
  /** The Glue database and table over the archive, unless `athena` is `false`. */
  readonly athenaTable?: ArchiveAthenaTable;

  constructor(scope: Construct, id: string, props: AtlasAuditArchiverProps) {
    super(scope, id);
    // Log delivery through a bucket policy, never the LogDeliveryWrite ACL, whatever the app's flags.
    this.node.setContext(cxapi.S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, true);
    const settings = resolveArchiverSettings(props);
    this.settings = settings;
    const prefix = settings.config.archive.prefix;

    const storage = buildStorage(this, settings);
    this.bucket = storage.bucket;
    if (storage.encryptionKey) this.encryptionKey = storage.encryptionKey;
    if (storage.accessLogsBucket) this.accessLogsBucket = storage.accessLogsBucket;
    this.secret = settings.secret ?? buildAtlasSecret(this);
    this.failedRunsQueue = buildFailedRunsQueue(this);

    const fn = buildFunction(this, settings, {
      secret: this.secret,
      bucket: this.bucket,
      failedRunsQueue: this.failedRunsQueue,
    });
    this.function = fn.function;
    this.role = fn.role;
    this.logGroup = fn.logGroup;
    if (fn.securityGroup) this.securityGroup = fn.securityGroup;
    grantRunPermissions(this, this.role, {
      logGroup: this.logGroup,
      bucket: this.bucket,
      prefix,
      secret: this.secret,
      ...(this.encryptionKey ? { encryptionKey: this.encryptionKey } : {}),
      ...(settings.secretEncryptionKey ? { secretEncryptionKey: settings.secretEncryptionKey } : {}),
      inVpc: settings.vpc !== undefined,
    });
    this.scheduleRule = buildSchedule(this, settings.config.schedule, this.function, this.failedRunsQueue);

    if (settings.athena) {
      this.athenaTable = new ArchiveAthenaTable(this, "Athena", {
        ...settings.athena,
        bucket: this.bucket,
        prefix,
        ...(this.encryptionKey ? { encryptionKey: this.encryptionKey } : {}),
        ...(this.accessLogsBucket ? { accessLogsBucket: this.accessLogsBucket } : {}),
      });
    }

    this.alarmTopic = settings.alarmTopic ?? buildAlarmTopic(this);
    if (settings.alarmEmail) {
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(settings.alarmEmail));
    }
    const metrics = new ArchiverMetricFactory(this.function, this.failedRunsQueue, settings.metricsNamespace);
    const alarms = buildAlarms(
      this,
      metrics,
      {
        runIntervalMinutes: settings.runIntervalMinutes,
        intervalGuessed: settings.runIntervalSource === "fallback",
        backlogAlarmRuns: settings.backlogAlarmRuns,
        schedule: settings.config.schedule,
      },
      this.alarmTopic,
    );
    this.errorsAlarm = alarms.errors;
    this.windowsFailedAlarm = alarms.windowsFailed;
    this.invalidObjectsAlarm = alarms.invalidObjects;
    this.backlogAlarm = alarms.backlog;
    if (alarms.notRunning) this.notRunningAlarm = alarms.notRunning;
    this.failedRunsAlarm = alarms.failedRuns;
    this.windowsExpiredAlarm = alarms.windowsExpired;
    this.alarms = alarms.all;
  }
}
