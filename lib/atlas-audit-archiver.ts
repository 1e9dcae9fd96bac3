/**
 * The reusable construct: a scheduled Lambda that archives MongoDB Atlas Stream Processing audit
 * logs into S3, with its bucket, secret, permissions, alarms and failure destination.
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Annotations, ArnFormat, Aws, Duration, RemovalPolicy, Stack, Stage, Validations } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as cloudwatchActions from "aws-cdk-lib/aws-cloudwatch-actions";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as destinations from "aws-cdk-lib/aws-lambda-destinations";
import * as nodejs from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sns from "aws-cdk-lib/aws-sns";
import * as subscriptions from "aws-cdk-lib/aws-sns-subscriptions";
import * as sqs from "aws-cdk-lib/aws-sqs";
import * as cxapi from "aws-cdk-lib/cx-api";
import { Construct } from "constructs";
import {
  type ArchiverConfig,
  BUNDLED_CONFIG_FILE,
  HANDLER_ENVIRONMENT,
  RUN_METRICS,
  renderBundledConfig,
  SECRET_PLACEHOLDER,
} from "../lambda/config";
import { type ArchiveAthenaOptions, ArchiveAthenaTable } from "./archive-athena-table";
import { ARCHIVER_DEFAULTS, type ResolvedArchiverSettings, resolveArchiverSettings } from "./defaults";
import { backlogWindowMinutes, failureWindowMinutes, notRunningWindowMinutes } from "./schedule";

/** Server-side encryption of a bucket the construct creates. */
export type ArchiveEncryption = "S3_MANAGED" | "KMS";

/** S3 Object Lock retention applied by default to every new object version (WORM). */
export interface ArchiveObjectLock {
  /**
   * `GOVERNANCE`: users with `s3:BypassGovernanceRetention` can still delete or shorten it.
   * `COMPLIANCE`: nobody, not even the account root, can delete a version before its retention ends.
   */
  readonly mode: "GOVERNANCE" | "COMPLIANCE";
  /** Whole days each object version is locked after it is written (1 to 36500). */
  readonly retentionDays: number;
}

/** Lifecycle transition of archived objects to a colder storage class. */
export interface ArchiveTransition {
  readonly storageClass: s3.StorageClass;
  /** Whole days after creation (at least 30 for the Infrequent Access classes). */
  readonly afterDays: number;
}

/** Props of {@link AtlasAuditArchiver}. Only `config` is required. */
export interface AtlasAuditArchiverProps {
  /**
   * The validated parameter file (`loadConfig` or `parseConfig` from `lambda/config`). It is
   * bundled with the function as `archiver-config.json`, so its size is not limited by Lambda's
   * 4 KB environment, and a change of it changes the code asset (and redeploys the function).
   */
  readonly config: ArchiverConfig;

  /**
   * The Secrets Manager secret holding the Atlas credentials as JSON: `{"clientId","clientSecret"}`
   * (service account) or `{"publicKey","privateKey"}` (API key). The function gets only
   * `secretsmanager:GetSecretValue` on it.
   *
   * @default a new secret holding `{"clientId":"REPLACE_ME","clientSecret":"<random>"}`: put your
   * credentials into it after the first deploy (runs fail and alarm until then)
   */
  readonly secret?: secretsmanager.ISecret;

  /**
   * The customer-managed KMS key that encrypts `secret`, if any. The function gets `kms:Decrypt` on
   * it, only through Secrets Manager.
   *
   * @default no grant: the secret is encrypted with the AWS-managed key `aws/secretsmanager`
   */
  readonly secretEncryptionKey?: kms.IKey;

  /**
   * An existing bucket to archive into; the construct then changes none of its settings (the
   * bucket-only props below must be left out).
   *
   * @default the bucket named by `config.archive.bucket` when set, otherwise a new bucket with the
   * settings below
   */
  readonly bucket?: s3.IBucket;

  /**
   * Server-side encryption of the created bucket.
   *
   * @default "S3_MANAGED" (SSE-S3), or "KMS" when `encryptionKey` is given
   */
  readonly encryption?: ArchiveEncryption;

  /**
   * The KMS key of the archive: for a created bucket with `encryption: "KMS"`, the key it uses;
   * for an existing bucket, the key it is encrypted with. The function gets `kms:GenerateDataKey`
   * and `kms:Decrypt` on it, only through S3.
   *
   * @default with `encryption: "KMS"`, a new key with yearly rotation, retained on stack deletion
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * Move archived objects to a colder storage class; `false` keeps them in S3 Standard. Objects
   * under 128 KB are never transitioned (S3's default), as a transition would cost more than it saves.
   *
   * @default `{ storageClass: GLACIER_INSTANT_RETRIEVAL, afterDays: 90 }`
   */
  readonly transition?: ArchiveTransition | false;

  /**
   * Delete archived objects this many whole days after they were written (their noncurrent version
   * is removed 30 days later). Must be later than the transition and not before the Object Lock
   * retention ends.
   *
   * @default never: audit logs are kept until you delete them
   */
  readonly expireAfterDays?: number;

  /**
   * S3 Object Lock (WORM) with a default retention for every new object version. Once on, S3 never
   * lets it be turned off again.
   *
   * @default no Object Lock
   */
  readonly objectLock?: ArchiveObjectLock;

  /**
   * S3 server access logging of the created bucket, into `accessLogsBucket`.
   *
   * @default true
   */
  readonly serverAccessLogs?: boolean;

  /**
   * Where the access logs go, e.g. your organisation's central log bucket (it must allow
   * `logging.s3.amazonaws.com` to write).
   *
   * @default a dedicated log bucket (SSE-S3, TLS only, no public access, expiring logs after
   * `accessLogsRetentionDays`)
   */
  readonly accessLogsBucket?: s3.IBucket;

  /**
   * Key prefix of the access logs in the log bucket.
   *
   * @default "atlas-audit-archive/"
   */
  readonly accessLogsPrefix?: string;

  /**
   * Whole days the dedicated log bucket keeps access logs.
   *
   * @default 365
   */
  readonly accessLogsRetentionDays?: number;

  /**
   * Function memory in MiB (also sets its CPU share).
   *
   * @default 512
   */
  readonly memorySize?: number;

  /**
   * Function timeout, 1 to 15 minutes. A run starts no new window in its last two minutes.
   *
   * @default Duration.minutes(15)
   */
  readonly timeout?: Duration;

  /**
   * Retention of the function's log group.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * CloudWatch namespace of the run metrics (passed to the function as `METRICS_NAMESPACE`).
   *
   * @default "AtlasAuditArchiver"
   */
  readonly metricsNamespace?: string;

  /**
   * Run the function in this VPC, e.g. so that it reaches Atlas from the fixed Elastic IP of a NAT
   * gateway that your Atlas API access list allows. The subnets need a route to the internet (Atlas,
   * and S3 and Secrets Manager unless you add VPC endpoints).
   *
   * @default not in a VPC (Lambda's shared, changing egress IPs)
   */
  readonly vpc?: ec2.IVpc;

  /**
   * The subnets of `vpc` to use.
   *
   * @default `{ subnetType: PRIVATE_WITH_EGRESS }`
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * Security groups of the function in `vpc`.
   *
   * @default a new group that allows only outbound HTTPS (443)
   */
  readonly securityGroups?: ec2.ISecurityGroup[];

  /**
   * The SNS topic the alarms notify (on ALARM and back to OK).
   *
   * The construct leaves this topic's policies alone (an imported topic's it could not change
   * anyway). If the topic has a topic policy, that policy must allow CloudWatch to publish, or no
   * alarm notification is ever delivered (SNS's default policy, used while a topic has none, does):
   *
   * ```json
   * {
   *   "Sid": "AllowCloudWatchAlarmsToPublish",
   *   "Effect": "Allow",
   *   "Principal": { "Service": "cloudwatch.amazonaws.com" },
   *   "Action": "sns:Publish",
   *   "Resource": "<topic ARN>",
   *   "Condition": {
   *     "StringEquals": { "aws:SourceAccount": "<account>" },
   *     "ArnLike": { "aws:SourceArn": "arn:<partition>:cloudwatch:<region>:<account>:alarm:*" }
   *   }
   * }
   * ```
   *
   * If it is encrypted with a customer-managed KMS key, the key policy must also allow
   * `cloudwatch.amazonaws.com` `kms:Decrypt` and `kms:GenerateDataKey*` (same conditions); a topic
   * encrypted with the AWS-managed `aws/sns` key cannot receive alarms at all.
   *
   * @default a new topic, encrypted with its own KMS key (CloudWatch cannot publish to a topic
   * encrypted with the AWS-managed `aws/sns` key), accepting only TLS, whose policy lets only this
   * account's CloudWatch alarms publish
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * Subscribe this email address to the alarm topic (the recipient must confirm the subscription).
   *
   * @default no subscription
   */
  readonly alarmEmail?: string;

  /**
   * The longest time between two scheduled runs, in minutes, which sizes the alarm windows.
   *
   * @default the interval of a `rate(...)` schedule, or worked out from a daily `cron(...)`; for a
   * cron expression that cannot be worked out (e.g. weekdays only), 1440 with a synth warning
   */
  readonly runIntervalMinutes?: number;

  /**
   * The backlog alarm fires when every run over this many run intervals left due windows behind.
   *
   * @default 3
   */
  readonly backlogAlarmRuns?: number;

  /**
   * A Glue database and table over the archive for Athena queries (partition projection on
   * `group`, `tenant` and `date`, one `line` column), and an Athena workgroup with an encrypted
   * results bucket; `false` creates none of them. Options name the database and table, the first
   * day the table covers, and turn the workgroup off.
   *
   * @default true: `<stack name in snake case>.audit_logs`, dates from 2024-01-01 to now, and a
   * workgroup named like the database
   */
  readonly athena?: boolean | ArchiveAthenaOptions;
}

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
  /** The settings in effect: the props merged over {@link ARCHIVER_DEFAULTS}. */
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

    // --- Storage ------------------------------------------------------------------------------
    const storage = this.createStorage(settings);
    this.bucket = storage.bucket;
    this.encryptionKey = storage.key;
    this.accessLogsBucket = storage.accessLogs;

    // --- Credentials --------------------------------------------------------------------------
    this.secret = settings.secret ?? this.createSecret();

    // --- Failed runs --------------------------------------------------------------------------
    this.failedRunsQueue = new sqs.Queue(this, "FailedRuns", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: ARCHIVER_DEFAULTS.failedRunsRetention,
    });
    Validations.of(this.failedRunsQueue).acknowledge({
      id: "AwsSolutions-SQS3",
      reason:
        "This queue is itself the dead-letter destination of the function's failed async invocations and of " +
        "undeliverable schedule events; a dead-letter queue of the dead-letter queue would add nothing.",
    });

    // --- Function -----------------------------------------------------------------------------
    this.role = new iam.Role(this, "FunctionRole", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: "Atlas audit archiver: reads the Atlas secret, writes the archive prefix",
    });
    this.logGroup = new logs.LogGroup(this, "LogGroup", {
      retention: settings.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    if (settings.vpc) {
      // The network-interface part of AWSLambdaVPCAccessExecutionRole, without its logs:* on every log
      // group (the function writes only to its own, granted below). CDK adds that managed policy only
      // to a role it creates, never to one passed in, as this one is.
      this.role.addToPolicy(
        new iam.PolicyStatement({
          sid: "ManageVpcNetworkInterfaces",
          actions: [
            "ec2:CreateNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSubnets",
            "ec2:DeleteNetworkInterface",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses",
          ],
          resources: ["*"],
        }),
      );
      if (!settings.securityGroups) {
        this.securityGroup = new ec2.SecurityGroup(this, "SecurityGroup", {
          vpc: settings.vpc,
          description: "Atlas audit archiver: outbound HTTPS only (Atlas, S3, Secrets Manager)",
          allowAllOutbound: false,
        });
        this.securityGroup.addEgressRule(
          ec2.Peer.anyIpv4(),
          ec2.Port.tcp(443),
          "HTTPS to Atlas and AWS APIs",
        );
      }
    }

    this.function = new nodejs.NodejsFunction(this, "Function", {
      description: "Archives MongoDB Atlas Stream Processing audit logs into S3",
      entry: join(PROJECT_ROOT, "lambda", "handler.ts"),
      handler: "handler",
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, "package-lock.json"),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: settings.memorySize,
      timeout: settings.timeout,
      reservedConcurrentExecutions: 1,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      retryAttempts: 0,
      maxEventAge: ARCHIVER_DEFAULTS.maxEventAge,
      onFailure: new destinations.SqsDestination(this.failedRunsQueue),
      environment: {
        [HANDLER_ENVIRONMENT.secretArn]: this.secret.secretArn,
        [HANDLER_ENVIRONMENT.bucket]: this.bucket.bucketName,
        [HANDLER_ENVIRONMENT.metricsNamespace]: settings.metricsNamespace,
      },
      bundling: bundlingOptions(writeBundleFiles(this, settings.config)),
      ...(settings.vpc
        ? {
            vpc: settings.vpc,
            vpcSubnets: settings.vpcSubnets,
            securityGroups: settings.securityGroups
              ? [...settings.securityGroups]
              : this.securityGroup
                ? [this.securityGroup]
                : [],
          }
        : {}),
    });

    // --- Permissions (explicit, least privilege) ------------------------------------------------
    this.grantLeastPrivilege(settings, prefix);

    // --- Schedule -----------------------------------------------------------------------------
    this.scheduleRule = new events.Rule(this, "Schedule", {
      description: `Runs the Atlas audit archiver: ${settings.config.schedule}`,
      schedule: events.Schedule.expression(settings.config.schedule),
      targets: [
        new targets.LambdaFunction(this.function, {
          // Delivery retries only hand the event to Lambda's queue again; they never overlap runs.
          retryAttempts: 2,
          maxEventAge: Duration.hours(1),
          deadLetterQueue: this.failedRunsQueue,
        }),
      ],
    });

    // --- Athena -------------------------------------------------------------------------------
    if (settings.athena) {
      this.athenaTable = new ArchiveAthenaTable(this, "Athena", {
        ...settings.athena,
        bucket: this.bucket,
        prefix,
        ...(this.encryptionKey ? { encryptionKey: this.encryptionKey } : {}),
        ...(this.accessLogsBucket ? { accessLogsBucket: this.accessLogsBucket } : {}),
      });
    }

    // --- Alarms -------------------------------------------------------------------------------
    this.alarmTopic = settings.alarmTopic ?? this.createTopic();
    if (settings.alarmEmail) {
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(settings.alarmEmail));
    }
    const alarms = this.createAlarms(settings);
    this.errorsAlarm = alarms.errors;
    this.windowsFailedAlarm = alarms.windowsFailed;
    this.invalidObjectsAlarm = alarms.invalidObjects;
    this.backlogAlarm = alarms.backlog;
    if (alarms.notRunning) this.notRunningAlarm = alarms.notRunning;
    this.failedRunsAlarm = alarms.failedRuns;
    this.alarms = [
      alarms.errors,
      alarms.windowsFailed,
      alarms.invalidObjects,
      alarms.backlog,
      alarms.failedRuns,
    ].concat(alarms.notRunning ? [alarms.notRunning] : []);
    const action = new cloudwatchActions.SnsAction(this.alarmTopic);
    for (const alarm of this.alarms) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }
  }

  private createStorage(settings: ResolvedArchiverSettings): {
    readonly bucket: s3.IBucket;
    readonly key?: kms.IKey;
    readonly accessLogs?: s3.IBucket;
  } {
    const source = settings.bucketSource;
    if (source.kind === "existing") {
      return { bucket: source.bucket, ...(settings.encryptionKey ? { key: settings.encryptionKey } : {}) };
    }
    if (source.kind === "by-name") {
      return {
        bucket: s3.Bucket.fromBucketName(this, "ImportedBucket", source.bucketName),
        ...(settings.encryptionKey ? { key: settings.encryptionKey } : {}),
      };
    }

    const key =
      settings.encryption === "KMS"
        ? (settings.encryptionKey ??
          new kms.Key(this, "ArchiveKey", {
            description: "Encrypts the Atlas audit log archive",
            enableKeyRotation: true,
            removalPolicy: RemovalPolicy.RETAIN,
          }))
        : undefined;

    let accessLogs: s3.IBucket | undefined;
    if (settings.serverAccessLogs) {
      accessLogs = settings.accessLogsBucket ?? this.createAccessLogsBucket(settings);
    }

    const prefix = settings.config.archive.prefix;
    const lifecycleRules: s3.LifecycleRule[] = [
      {
        id: "abort-incomplete-uploads-and-clean-delete-markers",
        abortIncompleteMultipartUploadAfter: Duration.days(ARCHIVER_DEFAULTS.abortIncompleteUploadsAfterDays),
        expiredObjectDeleteMarker: true,
      },
    ];
    if (settings.transition || settings.expireAfterDays !== undefined) {
      lifecycleRules.push({
        id: "archive-retention",
        ...(prefix ? { prefix } : {}),
        ...(settings.transition
          ? {
              transitions: [
                {
                  storageClass: settings.transition.storageClass,
                  transitionAfter: Duration.days(settings.transition.afterDays),
                },
              ],
            }
          : {}),
        ...(settings.expireAfterDays !== undefined
          ? {
              expiration: Duration.days(settings.expireAfterDays),
              noncurrentVersionExpiration: Duration.days(ARCHIVER_DEFAULTS.noncurrentExpirationDays),
            }
          : {}),
      });
    }

    const bucket = new s3.Bucket(this, "Bucket", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      removalPolicy: RemovalPolicy.RETAIN,
      ...(key
        ? { encryption: s3.BucketEncryption.KMS, encryptionKey: key, bucketKeyEnabled: true }
        : { encryption: s3.BucketEncryption.S3_MANAGED }),
      lifecycleRules,
      ...(settings.objectLock
        ? {
            objectLockEnabled: true,
            objectLockDefaultRetention:
              settings.objectLock.mode === "COMPLIANCE"
                ? s3.ObjectLockRetention.compliance(Duration.days(settings.objectLock.retentionDays))
                : s3.ObjectLockRetention.governance(Duration.days(settings.objectLock.retentionDays)),
          }
        : {}),
      ...(accessLogs
        ? { serverAccessLogsBucket: accessLogs, serverAccessLogsPrefix: settings.accessLogsPrefix }
        : {}),
    });
    if (!accessLogs) {
      Validations.of(bucket).acknowledge({
        id: "AwsSolutions-S1",
        reason:
          "Server access logging was turned off by the serverAccessLogs prop; object-level access can still be " +
          "audited with CloudTrail data events.",
      });
    }
    return { bucket, ...(key ? { key } : {}), ...(accessLogs ? { accessLogs } : {}) };
  }

  private createAccessLogsBucket(settings: ResolvedArchiverSettings): s3.Bucket {
    const logsBucket = new s3.Bucket(this, "AccessLogsBucket", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      // Server access logs can only be delivered to SSE-S3 buckets.
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: "expire-access-logs",
          expiration: Duration.days(settings.accessLogsRetentionDays),
          abortIncompleteMultipartUploadAfter: Duration.days(
            ARCHIVER_DEFAULTS.abortIncompleteUploadsAfterDays,
          ),
        },
      ],
    });
    return logsBucket;
  }

  private createSecret(): secretsmanager.Secret {
    const secret = new secretsmanager.Secret(this, "AtlasCredentials", {
      description:
        'Atlas Admin API credentials for the audit archiver: {"clientId","clientSecret"} (service account) ' +
        'or {"publicKey","privateKey"} (API key). Replace the placeholder after deploying.',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ clientId: SECRET_PLACEHOLDER }),
        generateStringKey: "clientSecret",
        excludePunctuation: true,
      },
    });
    Validations.of(secret).acknowledge({
      id: "AwsSolutions-SMG4",
      reason:
        "Atlas credentials are issued and rotated in Atlas, not by Secrets Manager; the function re-reads the " +
        "secret on a 401, so putting the new value into the secret completes a rotation.",
    });
    return secret;
  }

  private createTopic(): sns.Topic {
    const key = new kms.Key(this, "AlarmTopicKey", {
      description: "Encrypts the Atlas audit archiver alarm topic",
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // CloudWatch alarms must be able to publish to the encrypted topic, on behalf of this account's
    // alarms only (no confused deputy). The key policy cannot name the alarms themselves: they refer
    // to the topic, which refers to the key, so that would be a dependency cycle.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "AllowCloudWatchAlarmsToPublish",
        principals: [new iam.ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["kms:Decrypt", "kms:GenerateDataKey*"],
        resources: ["*"],
        conditions: thisAccountsAlarms(this),
      }),
    );
    const topic = new sns.Topic(this, "AlarmTopic", {
      displayName: "Atlas audit archiver alarms",
      masterKey: key,
      enforceSSL: true,
    });
    // enforceSSL creates a topic policy, which replaces SNS's default policy: without this
    // statement nothing allows CloudWatch to publish, and no alarm notification is ever sent.
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: "AllowCloudWatchAlarmsToPublish",
        principals: [new iam.ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["sns:Publish"],
        resources: [topic.topicArn],
        conditions: thisAccountsAlarms(this),
      }),
    );
    return topic;
  }

  private grantLeastPrivilege(settings: ResolvedArchiverSettings, prefix: string): void {
    const bucket = this.bucket;
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: "WriteLogs",
        actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: "ListArchivePrefix",
        actions: ["s3:ListBucket"],
        resources: [bucket.bucketArn],
        ...(prefix ? { conditions: { StringLike: { "s3:prefix": [`${prefix}*`] } } } : {}),
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: "WriteArchivePrefix",
        actions: ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
        resources: [bucket.arnForObjects(`${prefix}*`)],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: "ReadAtlasSecret",
        actions: ["secretsmanager:GetSecretValue"],
        resources: [secretArnForPolicies(this.secret)],
      }),
    );
    if (this.encryptionKey) {
      this.role.addToPolicy(
        new iam.PolicyStatement({
          sid: "UseArchiveKey",
          actions: ["kms:GenerateDataKey", "kms:Decrypt"],
          resources: [this.encryptionKey.keyArn],
          conditions: { StringEquals: { "kms:ViaService": `s3.${Aws.REGION}.amazonaws.com` } },
        }),
      );
    }
    if (settings.secretEncryptionKey) {
      this.role.addToPolicy(
        new iam.PolicyStatement({
          sid: "DecryptAtlasSecret",
          actions: ["kms:Decrypt"],
          resources: [settings.secretEncryptionKey.keyArn],
          conditions: { StringEquals: { "kms:ViaService": `secretsmanager.${Aws.REGION}.amazonaws.com` } },
        }),
      );
    }
    const policy = this.role.node.tryFindChild("DefaultPolicy");
    if (policy) {
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${nagResource(this, bucket.arnForObjects(`${prefix}*`))}]`,
        reason:
          "Objects are written under the archive prefix only; the wildcard covers the object keys below it (one " +
          "per workspace and window), which cannot be listed in advance.",
      });
      if (settings.vpc) {
        Validations.of(policy).acknowledge({
          id: "AwsSolutions-IAM5[Resource::*]",
          reason:
            "Only the ManageVpcNetworkInterfaces statement (VPC mode) is on *: Lambda creates, describes and " +
            "deletes the function's network interfaces with these six ec2 actions, whose interfaces do not exist " +
            "before it creates them and whose Describe actions support no resource-level permissions; it is the " +
            "ec2 part of AWSLambdaVPCAccessExecutionRole, without that policy's logs:* on every log group.",
        });
      }
    }
  }

  private createAlarms(settings: ResolvedArchiverSettings): {
    readonly errors: cloudwatch.Alarm;
    readonly windowsFailed: cloudwatch.Alarm;
    readonly invalidObjects: cloudwatch.Alarm;
    readonly backlog: cloudwatch.Alarm;
    readonly notRunning?: cloudwatch.Alarm;
    readonly failedRuns: cloudwatch.Alarm;
  } {
    const interval = settings.runIntervalMinutes;
    if (settings.runIntervalSource === "fallback") {
      Annotations.of(this).addWarningV2(
        "atlas-audit-archiver:runInterval",
        `The schedule ${settings.config.schedule} does not run every day at fixed times, so the time between ` +
          `runs is taken as ${interval} minutes for the alarms; set the runIntervalMinutes prop to the longest ` +
          "gap between two runs.",
      );
    }
    const failureWindow = Duration.minutes(failureWindowMinutes(interval));
    const functionName = this.function.functionName;
    const runMetric = (metricName: string, statistic: string, period: Duration) =>
      new cloudwatch.Metric({
        namespace: settings.metricsNamespace,
        metricName,
        dimensionsMap: { FunctionName: functionName },
        statistic,
        period,
      });

    const errors = new cloudwatch.Alarm(this, "ErrorsAlarm", {
      alarmDescription:
        "A run of the Atlas audit archiver failed (it threw, e.g. because windows failed or the secret is " +
        "unusable). The function's JSON logs hold the run summary; the next run retries missing windows.",
      metric: this.function.metricErrors({ period: failureWindow, statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const windowsFailed = new cloudwatch.Alarm(this, "WindowsFailedAlarm", {
      alarmDescription:
        "At least one audit-log window failed to archive (Atlas or S3 error). Later runs retry it while it is " +
        "within window.lookbackHours; see the failed events in the function's logs.",
      metric: runMetric(RUN_METRICS.windowsFailed, cloudwatch.Stats.SUM, failureWindow),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const invalidObjects = new cloudwatch.Alarm(this, "InvalidObjectsAlarm", {
      alarmDescription:
        "An object at a window's archive key is not a verified archive object (no full-object CRC32 checksum, " +
        "or metadata naming another window). The archiver may not delete it, so the window fails on every run " +
        "until it is resolved: inspect the object with aws s3api head-object --checksum-mode ENABLED; if it is " +
        "not the archiver's, delete it with a principal other than the function (which has no delete " +
        "permission), and the next run archives the window again.",
      metric: runMetric(RUN_METRICS.windowsInvalid, cloudwatch.Stats.SUM, failureWindow),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const backlogRuns = settings.backlogAlarmRuns;
    const backlog = new cloudwatch.Alarm(this, "BacklogAlarm", {
      alarmDescription:
        `Every run for ${backlogRuns} run intervals ended with due windows not yet archived: the archiver is ` +
        "not keeping up (runs hit their deadline, or windows keep failing). Windows older than " +
        "window.lookbackHours are no longer fetched: raise memory or timeout, or shorten the schedule.",
      // Minimum over the window > 0: no run in it caught up completely.
      metric: runMetric(
        RUN_METRICS.backlogWindows,
        cloudwatch.Stats.MINIMUM,
        Duration.minutes(backlogWindowMinutes(interval, backlogRuns)),
      ),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const silence = notRunningWindowMinutes(interval);
    let notRunning: cloudwatch.Alarm | undefined;
    if (silence === undefined) {
      Annotations.of(this).addWarningV2(
        "atlas-audit-archiver:notRunningAlarm",
        `Runs are ${interval} minutes apart, too far for a CloudWatch alarm (at most 7 days): no alarm watches ` +
          "for a stopped schedule.",
      );
    } else {
      notRunning = new cloudwatch.Alarm(this, "NotRunningAlarm", {
        alarmDescription:
          `The Atlas audit archiver was not invoked for ${silence} minutes although it should run every ` +
          `${interval}: the schedule rule is disabled or deleted, or invocations are throttled. Right after ` +
          "the first deploy this alarm stays in ALARM until the first scheduled run.",
        metric: this.function.metricInvocations({
          period: Duration.minutes(silence),
          statistic: cloudwatch.Stats.SUM,
        }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      });
    }
    const failedRuns = new cloudwatch.Alarm(this, "FailedRunsAlarm", {
      alarmDescription:
        "A failed run was recorded in the failed-runs queue (function error, event dropped after waiting for " +
        "the single concurrency slot, or undeliverable schedule event). Read it with aws sqs receive-message, " +
        "then delete or purge the messages to clear this alarm.",
      metric: this.failedRunsQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      // SQS stops reporting for an idle queue: keep the last state rather than calling it OK.
      treatMissingData: cloudwatch.TreatMissingData.IGNORE,
    });
    return {
      errors,
      windowsFailed,
      invalidObjects,
      backlog,
      ...(notRunning ? { notRunning } : {}),
      failedRuns,
    };
  }
}

/** The repository root (this file is `lib/atlas-audit-archiver.ts`). */
const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * `package.json` at the bundle root: marks `index.js` as CommonJS even where an enclosing
 * `package.json` says `"type": "module"` (this repository's), e.g. when a test loads the bundle
 * from `cdk.out`. In Lambda, where CommonJS is the default, it changes nothing.
 */
const BUNDLE_PACKAGE_JSON = `${JSON.stringify({ type: "commonjs" })}\n`;

/** esbuild options of the handler bundle; each of `files` is copied to the bundle root under its key. */
function bundlingOptions(files: Readonly<Record<string, string>>): nodejs.BundlingOptions {
  return {
    forceDockerBundling: false,
    format: nodejs.OutputFormat.CJS,
    // Keep in step with the function's runtime (NODEJS_24_X).
    target: "node24",
    minify: true,
    // Error classes set `name` from their constructor: keep class names through minification.
    keepNames: true,
    // The map ships beside index.js, but NODE_OPTIONS does not turn on --enable-source-maps: Node
    // would read and parse it at every cold start (a fifth of the load time), while keepNames
    // already puts function names in stack traces. Set NODE_OPTIONS=--enable-source-maps on the
    // function to get TypeScript file and line positions while investigating.
    sourceMap: true,
    sourcesContent: false,
    // Bundle the pinned AWS SDK rather than rely on the runtime's copy, whose version drifts.
    externalModules: [],
    // The SDK's ES modules (dist-es) before its CommonJS builds: only from ES modules can esbuild
    // leave out the commands and protocols the handler never uses (a fifth of the bundle).
    mainFields: ["module", "main"],
    logLevel: nodejs.LogLevel.WARNING,
    commandHooks: {
      beforeBundling: () => [],
      beforeInstall: () => [],
      afterBundling: (_inputDir: string, outputDir: string) =>
        Object.entries(files).map(([name, source]) => copyCommand(source, join(outputDir, name))),
    },
  };
}

/**
 * The files added to the bundle, written into the cloud assembly directory under names made of
 * their content hash, so that each distinct configuration has its own file (and bundling cache key).
 */
function writeBundleFiles(scope: Construct, config: ArchiverConfig): Record<string, string> {
  const dir = Stage.of(scope)?.outdir ?? join(tmpdir(), "atlas-audit-archiver");
  mkdirSync(dir, { recursive: true });
  const write = (name: string, text: string) => {
    const hash = createHash("sha256").update(text).digest("hex").slice(0, 16);
    const file = join(dir, `bundle-${hash}.${name}`);
    writeFileSync(file, text);
    return file;
  };
  return {
    [BUNDLED_CONFIG_FILE]: write(BUNDLED_CONFIG_FILE, renderBundledConfig(config)),
    "package.json": write("package.json", BUNDLE_PACKAGE_JSON),
  };
}

/** A shell command that copies one file (POSIX shell, or cmd.exe on Windows). */
export function copyCommand(from: string, to: string, platform: NodeJS.Platform = process.platform): string {
  if (platform === "win32") return `copy /Y "${from}" "${to}"`;
  const quote = (path: string) => `'${path.replace(/'/g, `'\\''`)}'`;
  return `cp ${quote(from)} ${quote(to)}`;
}

/**
 * The conditions that limit the CloudWatch service principal to alarms of the stack's account and
 * region: `aws:SourceAccount`, and `aws:SourceArn` like `arn:<partition>:cloudwatch:<region>:<account>:alarm:*`.
 */
function thisAccountsAlarms(scope: Construct): Record<string, Record<string, unknown>> {
  const stack = Stack.of(scope);
  return {
    StringEquals: { "aws:SourceAccount": stack.account },
    ArnLike: {
      "aws:SourceArn": stack.formatArn({
        service: "cloudwatch",
        resource: "alarm",
        resourceName: "*",
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    },
  };
}

/** The ARN to put in a policy: a name-only import matches any of the secret's random suffixes. */
function secretArnForPolicies(secret: secretsmanager.ISecret): string {
  return secret.secretFullArn ?? `${secret.secretArn}-??????`;
}

/**
 * A policy resource as cdk-nag writes it in finding IDs: intrinsics become `<LogicalId.Attr>` or
 * `<Ref>`, e.g. `<ArchiverBucketFEA15B54.Arn>/atlas/stream-audit/*`.
 */
function nagResource(scope: Construct, arn: string): string {
  const render = (value: unknown): string => {
    if (typeof value === "string") return value;
    const v = value as Record<string, unknown> | null;
    if (v && typeof v.Ref === "string") return `<${v.Ref}>`;
    const getAtt = v?.["Fn::GetAtt"];
    if (Array.isArray(getAtt)) return `<${getAtt.join(".")}>`;
    const join = v?.["Fn::Join"];
    if (Array.isArray(join) && typeof join[0] === "string" && Array.isArray(join[1])) {
      return join[1].map(render).join(join[0]);
    }
    return JSON.stringify(value);
  };
  return render(Stack.of(scope).resolve(arn));
}
