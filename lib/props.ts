/**
 * The props of `AtlasAuditArchiver` and the types they use. Types only: the defaults, and the
 * one place they are resolved, are in `defaults.ts` and `settings.ts`.
 */

import type { Duration } from "aws-cdk-lib";
import type * as ec2 from "aws-cdk-lib/aws-ec2";
import type * as kms from "aws-cdk-lib/aws-kms";
import type * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type * as sns from "aws-cdk-lib/aws-sns";
import type { ArchiverConfig } from "../lambda/config";
import type { ArchiveAthenaOptions } from "./athena-props";

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

/** Props of `AtlasAuditArchiver`. Only `config` is required. */
export interface AtlasAuditArchiverProps {
  /**
   * The validated parameter file (`loadConfig` or `parseConfig` from `lambda/config`). It is
   * bundled with both functions as `archiver-config.json`, so its size is not limited by Lambda's
   * 4 KB environment, and a change of it changes the code assets (and redeploys the functions).
   */
  readonly config: ArchiverConfig;

  /**
   * The Secrets Manager secret holding the Atlas credentials as JSON: `{"clientId","clientSecret"}`
   * (service account) or `{"publicKey","privateKey"}` (API key). Only the worker function
   * gets `secretsmanager:GetSecretValue` on it; the planner has no access.
   *
   * @default a new secret holding `{"clientId":"REPLACE_ME","clientSecret":"<random>"}`: put your
   * credentials into it after the first deploy (runs fail and alarm until then)
   */
  readonly secret?: secretsmanager.ISecret;

  /**
   * The customer-managed KMS key that encrypts `secret`, if any. The worker gets `kms:Decrypt` on
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
   * @default `ARCHIVER_DEFAULTS.encryption`, or "KMS" when `encryptionKey` is given
   */
  readonly encryption?: ArchiveEncryption;

  /**
   * The KMS key of the archive: for a created bucket with `encryption: "KMS"`, the key it uses;
   * for an existing bucket, the key it is encrypted with. The worker gets `kms:GenerateDataKey`
   * and `kms:Decrypt` on it, the planner `kms:Decrypt` (and `kms:GenerateDataKey` for the digests
   * it writes, with `digests`), only through S3.
   *
   * @default with `encryption: "KMS"`, a new key with yearly rotation, retained on stack deletion
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * Move archived objects to a colder storage class; `false` keeps them in S3 Standard. Objects
   * under 128 KB are never transitioned (S3's default), as a transition would cost more than it saves.
   *
   * @default `ARCHIVER_DEFAULTS.transition`
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
   * @default `ARCHIVER_DEFAULTS.serverAccessLogs`
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
   * @default `ARCHIVER_DEFAULTS.accessLogsPrefix`
   */
  readonly accessLogsPrefix?: string;

  /**
   * Whole days the dedicated log bucket keeps access logs.
   *
   * @default `ARCHIVER_DEFAULTS.accessLogsRetentionDays`
   */
  readonly accessLogsRetentionDays?: number;

  /**
   * The worker function's memory in MiB (also sets its CPU share, and so its download throughput).
   * The planner, which never downloads, has `ARCHIVER_DEFAULTS.plannerMemorySize`.
   *
   * @default `ARCHIVER_DEFAULTS.memorySize` (why that much: its comment, and the README's "Performance")
   */
  readonly memorySize?: number;

  /**
   * The worker function's timeout, 1 to 15 minutes. A worker starts no new window in its last two
   * minutes. The window queue's visibility timeout is six times this. The planner has
   * `ARCHIVER_DEFAULTS.plannerTimeout`.
   *
   * @default `ARCHIVER_DEFAULTS.timeout`
   */
  readonly timeout?: Duration;

  /**
   * Worker invocations at most at once: the SQS event source's maximum concurrency, 2 to 1,000.
   * Each works on up to four message groups of its batch at once.
   *
   * @default `ARCHIVER_DEFAULTS.workerConcurrency`
   */
  readonly workerConcurrency?: number;

  /**
   * Downloads in flight at most per Atlas project, 1 to 64: the planner deals each project's
   * workspaces out to this many FIFO message groups (lanes), and SQS hands out one message of a
   * group at a time. Atlas's rate limits are per project. Above 1, a `Retry-After` that one
   * lane's worker receives is not seen by the project's other lanes until each gets its own 429.
   *
   * @default `ARCHIVER_DEFAULTS.lanesPerProject`
   */
  readonly lanesPerProject?: number;

  /**
   * Window messages per worker invocation, 1 to 10 (a FIFO queue's maximum).
   *
   * @default `ARCHIVER_DEFAULTS.batchSize`
   */
  readonly batchSize?: number;

  /**
   * Receives of a window message before SQS moves it to the dead-letter queue, 1 to 1,000. A
   * delayed (rate-limited) or unstarted message counts a receive too.
   *
   * @default `ARCHIVER_DEFAULTS.maxReceiveCount`
   */
  readonly maxReceiveCount?: number;

  /**
   * Retention of the functions' log groups (the planner's and the worker's).
   *
   * @default `ARCHIVER_DEFAULTS.logRetention`
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * CloudWatch namespace of the run metrics (passed to both functions as `METRICS_NAMESPACE`).
   *
   * @default `ARCHIVER_DEFAULTS.metricsNamespace`
   */
  readonly metricsNamespace?: string;

  /**
   * Run both functions in this VPC, e.g. so that the worker reaches Atlas from the fixed Elastic IP
   * of a NAT gateway that your Atlas API access list allows. The subnets need a route to the
   * internet (Atlas, and S3, SQS and Secrets Manager unless you add VPC endpoints).
   *
   * @default not in a VPC (Lambda's shared, changing egress IPs)
   */
  readonly vpc?: ec2.IVpc;

  /**
   * The subnets of `vpc` to use.
   *
   * @default `ARCHIVER_DEFAULTS.vpcSubnets`
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * Security groups of both functions in `vpc`.
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
   * cron expression that cannot be worked out (e.g. weekdays only),
   * `ARCHIVER_DEFAULTS.fallbackRunIntervalMinutes` with a synth warning
   */
  readonly runIntervalMinutes?: number;

  /**
   * The backlog alarm fires when every run over this many run intervals left due windows behind.
   *
   * @default `ARCHIVER_DEFAULTS.backlogAlarmRuns`
   */
  readonly backlogAlarmRuns?: number;

  /**
   * Signed digests: the planner seals one digest per workspace and UTC day under
   * `{prefix}_digests/` (every window of the day with its SHA-256 measured in flight, chained to the
   * previous digest) and signs it with {@link digestKey}, whose public key the stack exports.
   * `false`: no key, no sealing (receipts are still written; `verify` reports the archive unsealed).
   *
   * @default `ARCHIVER_DEFAULTS.digests`
   */
  readonly digests?: boolean;

  /**
   * The KMS key that signs the digests. It must be an asymmetric `ECC_NIST_P256` key with key usage
   * `SIGN_VERIFY` (the signatures are ECDSA_SHA_256), and its key policy must let this account's IAM
   * policies grant its use: the planner gets `kms:Sign` on it (nothing else), the deploy-time reader
   * of its public key `kms:GetPublicKey`. Nothing about it is checked at synth; a deploy with a key
   * of another spec or usage fails when the public key is read. Keep the key (or at least its public
   * key) as long as the digests it signed: it is what tells them from forgeries.
   *
   * @default with `digests`, a new ECC_NIST_P256 SIGN_VERIFY key, retained on stack deletion, with
   * the alias `alias/<stack name>/<construct ID>/digest-signing`
   */
  readonly digestKey?: kms.IKey;

  /**
   * A Glue database and table over the archive for Athena queries (partition projection on
   * `group`, `tenant` and `date`, one `line` column), and an Athena workgroup with an encrypted
   * results bucket; `false` creates none of them. Options name the database and table, the first
   * day the table covers, and turn the workgroup off.
   *
   * @default true: the table and workgroup with the defaults of {@link ArchiveAthenaOptions}
   */
  readonly athena?: boolean | ArchiveAthenaOptions;
}
