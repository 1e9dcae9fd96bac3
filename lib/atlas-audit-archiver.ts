/**
 * The reusable construct: a scheduled planner Lambda that sends the missing windows of MongoDB Atlas
 * Stream Processing audit logs to an SQS FIFO queue, and worker Lambdas that archive them into S3,
 * with the bucket, secret, permissions, alarms and failure destinations. It only wires the builders
 * of `build/` together; the props are in `props.ts`, resolved in `settings.ts`.
 */
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as ec2 from "aws-cdk-lib/aws-ec2";
import type * as events from "aws-cdk-lib/aws-events";
import type * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import type * as lambda from "aws-cdk-lib/aws-lambda";
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
import { buildDigestKey } from "./build/digests";
import { buildFunctions } from "./build/function";
import { ArchiverMetricFactory } from "./build/metrics";
import { grantPlannerPermissions, grantWorkerPermissions } from "./build/permissions";
import { buildWindowQueue } from "./build/queue";
import { buildFailedRunsQueue, buildSchedule } from "./build/schedule";
import { buildAtlasSecret } from "./build/secret";
import { buildStorage } from "./build/storage";
import type { AtlasAuditArchiverProps } from "./props";
import { type ResolvedArchiverSettings, resolveArchiverSettings } from "./settings";

/**
 * Archives MongoDB Atlas Stream Processing audit logs into S3 on the parameter file's schedule,
 * scaled out on SQS and Lambda.
 *
 * Creates (or imports) the archive bucket and the credentials secret, and two `NodejsFunction`s
 * with the parameter file inside (bundled locally by esbuild in a clone; prebundled in the
 * installed package): the **planner**, which the EventBridge
 * schedule runs (one at a time; invoke it with `{"from": …, "to": …}` to backfill), lists the
 * archive and sends each missing window to a FIFO **queue** (one message group per lane of an Atlas
 * project, `lanesPerProject` per project), and the **worker**, which an SQS event source runs (at
 * most `workerConcurrency` at once) to download each window and store it; a message that keeps
 * failing goes to a dead-letter queue after `maxReceiveCount` receives. The planner never sees the
 * Atlas secret; only the worker writes archive objects, the planner only the signed digests (one
 * per workspace and UTC day, signed with a KMS key whose public key the construct exposes). Failed
 * planner runs go to a failed-runs queue. Alarms on errors, failed windows, invalid objects at archive keys, an old window in the
 * queue, a stopped schedule, failed runs, expired windows and dead letters publish to SNS.
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
  /** The planner: the schedule's target, and what a backfill is invoked on. */
  readonly plannerFunction: nodejs.NodejsFunction;
  /** The planner's execution role; every statement is added explicitly (no secret, no write). */
  readonly plannerRole: iam.Role;
  /** The planner's log group (JSON logs, with retention). */
  readonly plannerLogGroup: logs.LogGroup;
  /** The worker: run by the SQS event source on {@link queue}, archives one window per message. */
  readonly workerFunction: nodejs.NodejsFunction;
  /** The worker's execution role; every statement is added explicitly (it sends no message). */
  readonly workerRole: iam.Role;
  /** The worker's log group (JSON logs, with retention). */
  readonly workerLogGroup: logs.LogGroup;
  /** The FIFO queue of windows to archive, from the planner to the workers. */
  readonly queue: sqs.Queue;
  /** Window messages that failed `maxReceiveCount` times. */
  readonly deadLetterQueue: sqs.Queue;
  /** The archive bucket (created, or imported). */
  readonly bucket: s3.IBucket;
  /** The archive's KMS key, when it uses one. */
  readonly encryptionKey?: kms.IKey;
  /** The server access logs target of a created bucket, when logging is on. */
  readonly accessLogsBucket?: s3.IBucket;
  /**
   * The KMS key (ECC_NIST_P256, SIGN_VERIFY) that signs the digests, created (retained on stack
   * deletion) or given; absent with `digests: false`.
   */
  readonly digestKey?: kms.IKey;
  /**
   * The digest key's public key, base64 of its DER SubjectPublicKeyInfo, read from KMS at deploy time
   * (a token): what an auditor verifies the digests with, offline.
   */
  readonly digestPublicKey?: string;
  /** The function of the deploy-time custom resource that reads {@link digestPublicKey}. */
  readonly digestPublicKeyFunction?: lambda.Function;
  /** The Atlas credentials secret (created, or imported). */
  readonly secret: secretsmanager.ISecret;
  /** The EventBridge rule that runs the planner. */
  readonly scheduleRule: events.Rule;
  /** Failed planner runs (failed after retries, dropped after waiting, undeliverable schedule events). */
  readonly failedRunsQueue: sqs.Queue;
  /** Where the alarms publish. */
  readonly alarmTopic: sns.ITopic;
  /** The functions' security group, when the construct created one. */
  readonly securityGroup?: ec2.SecurityGroup;
  /** Errors of the planner or the worker (an invocation that threw or timed out). */
  readonly errorsAlarm: cloudwatch.Alarm;
  /** At least one window failed. */
  readonly windowsFailedAlarm: cloudwatch.Alarm;
  /**
   * A window's key holds an object that is not a verified archive object (no full-object CRC32, or
   * metadata naming another window): it repeats every run until an operator resolves it.
   */
  readonly invalidObjectsAlarm: cloudwatch.Alarm;
  /** A window waited in the queue for more than `backlogAlarmRuns` run intervals. */
  readonly backlogAlarm: cloudwatch.Alarm;
  /** No planner invocation for about two run intervals: the schedule is disabled, deleted or throttled. */
  readonly notRunningAlarm?: cloudwatch.Alarm;
  /** A record arrived in the failed-runs queue. */
  readonly failedRunsAlarm: cloudwatch.Alarm;
  /** Windows left the lookback unarchived (`WindowsExpired`): lost unless backfilled. */
  readonly windowsExpiredAlarm: cloudwatch.Alarm;
  /** A window message reached the dead-letter queue. */
  readonly deadLettersAlarm: cloudwatch.Alarm;
  /** A digest could not be sealed, or a receipt not written (`DigestFailures` of either function). */
  readonly digestFailuresAlarm: cloudwatch.Alarm;
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

    const digestKey = settings.digests ? buildDigestKey(this, id, settings) : undefined;
    if (digestKey) {
      this.digestKey = digestKey.key;
      this.digestPublicKey = digestKey.publicKey;
      this.digestPublicKeyFunction = digestKey.publicKeyFunction;
    }

    const queues = buildWindowQueue(this, settings);
    this.queue = queues.queue;
    this.deadLetterQueue = queues.deadLetterQueue;

    const fns = buildFunctions(this, settings, {
      secret: this.secret,
      bucket: this.bucket,
      failedRunsQueue: this.failedRunsQueue,
      queue: this.queue,
      ...(this.digestKey ? { digestKey: this.digestKey } : {}),
    });
    this.plannerFunction = fns.planner.function;
    this.plannerRole = fns.planner.role;
    this.plannerLogGroup = fns.planner.logGroup;
    this.workerFunction = fns.worker.function;
    this.workerRole = fns.worker.role;
    this.workerLogGroup = fns.worker.logGroup;
    if (fns.securityGroup) this.securityGroup = fns.securityGroup;
    const shared = {
      bucket: this.bucket,
      prefix,
      queue: this.queue,
      ...(this.encryptionKey ? { encryptionKey: this.encryptionKey } : {}),
      inVpc: settings.vpc !== undefined,
    };
    grantPlannerPermissions(this, this.plannerRole, this.plannerFunction, {
      ...shared,
      logGroup: this.plannerLogGroup,
      ...(this.digestKey ? { digestKey: this.digestKey } : {}),
    });
    grantWorkerPermissions(this, this.workerRole, {
      ...shared,
      logGroup: this.workerLogGroup,
      secret: this.secret,
      ...(settings.secretEncryptionKey ? { secretEncryptionKey: settings.secretEncryptionKey } : {}),
    });
    this.scheduleRule = buildSchedule(
      this,
      settings.config.schedule,
      this.plannerFunction,
      this.failedRunsQueue,
    );

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
    const metrics = new ArchiverMetricFactory({
      planner: this.plannerFunction,
      worker: this.workerFunction,
      queue: this.queue,
      deadLetterQueue: this.deadLetterQueue,
      failedRunsQueue: this.failedRunsQueue,
      namespace: settings.metricsNamespace,
    });
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
    this.deadLettersAlarm = alarms.deadLetters;
    this.digestFailuresAlarm = alarms.digestFailures;
    this.alarms = alarms.all;
  }
}
