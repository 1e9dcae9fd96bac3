/**
 * The construct's defaults, in one place: `resolveArchiverSettings` (settings.ts) and
 * `resolveAthenaTableSettings` (athena-settings.ts) merge the user's props over them, so no builder
 * repeats a default.
 */
import { Duration } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import { DEFAULT_METRICS_NAMESPACE } from "../lambda/config";
import type { ArchiveEncryption, ArchiveTransition } from "./props";

/**
 * The defaults of every optional prop of `AtlasAuditArchiver` (and a few fixed settings), each stated
 * and explained here only: the props' TSDoc names these entries, `resolveArchiverSettings` applies them.
 */
export const ARCHIVER_DEFAULTS = {
  /**
   * 1,024 MiB per worker, chosen from `npm run bench` (README, "Lambda memory and timeout"). Memory is not the
   * constraint (one large log peaks around 140-155 MiB, flat in its size); CPU is: the pipeline needs
   * 15-22 CPU-seconds per GB of audit-like gzip, and Lambda allots CPU by memory. At 512 MiB
   * (0.29 vCPU) that is 13-19 MB/s, below a WAN link's 25 MB/s; at 1,024 MiB (0.58 vCPU), 26-39 MB/s,
   * with room for four large logs in flight at once (about 350 MiB).
   */
  memorySize: 1024,
  /** 15 minutes, Lambda's maximum: a worker stops starting new windows two minutes before it. */
  timeout: Duration.minutes(15),
  /**
   * 10 workers at once at most (the SQS event source's maximum concurrency; AWS allows 2 to 1,000).
   * `npm run bench -- --only scale` drained 5,000 hourly windows with 10 workers in about a minute,
   * so an hourly schedule needs far fewer; 10 leaves the account's concurrency (1,000 by default)
   * to everything else, and Atlas's per-project limits are kept by `lanesPerProject`, not by this.
   */
  workerConcurrency: 10,
  /**
   * 1 download in flight per Atlas project (one FIFO message group per project): Atlas's rate
   * limits are per project, and a `Retry-After` reaches only the worker that received it. With one
   * lane, that worker holds the project's only lane, so its delay holds back the whole project and
   * no request is sent while Atlas asked to wait (`test/lambda/queue/scenarios.test.ts`). With more
   * lanes, a project's lanes can run on different workers, which share no pause: each other lane
   * learns of the limit from its own 429. The scale benchmark's figures are with one lane; the
   * command line, whose lanes share one client, uses 2.
   */
  lanesPerProject: 1,
  /**
   * 10 messages per worker invocation, FIFO's maximum: one invocation (and one cold start, one
   * secret read) for up to 10 windows, where the README's cost model assumes the worst case of 1.
   */
  batchSize: 10,
  /**
   * 10 receives before a message goes to the dead-letter queue: a window delayed for Atlas's
   * `Retry-After`, or handed back unstarted at a worker's deadline or behind a message of its
   * group that Atlas paused, is received again, so a few receives are no failure; ten are (a
   * failure no retry cures comes back in 10 s, a transient one after 30 s doubling to 15 minutes:
   * about 74 minutes over ten). The planner re-enqueues a dead-lettered window on its next run
   * while the window is within the lookback.
   */
  maxReceiveCount: 10,
  /**
   * Fixed: the planner's memory, 1,024 MiB. It never downloads: it holds about 0.9 KB per planned
   * window and plans a backfill in slices of at most 100,000 windows (about 90 MiB), and lists the
   * workspaces 16 at a time. `memorySize` sizes the workers, whose CPU share sets the throughput.
   */
  plannerMemorySize: 1024,
  /** Fixed: the planner's timeout, 15 minutes (Lambda's maximum): it stops planning two minutes before. */
  plannerTimeout: Duration.minutes(15),
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
  /**
   * Signed digests on: without them `verify` proves only that each object is consistent with itself
   * (gzip, CRC32, metadata), not that it is what Atlas sent, nor that none was removed or added. They
   * cost one KMS key (about $1 a month), one Sign and one PUT per workspace and day, and one deploy-time
   * GetPublicKey; turn them off only for an archive nobody will need to prove.
   */
  digests: true,
  /** Consecutive runs that must all leave due windows behind before the backlog alarm fires. */
  backlogAlarmRuns: 3,
  /** Used for a `cron(...)` schedule whose interval cannot be worked out and no `runIntervalMinutes`. */
  fallbackRunIntervalMinutes: 1440,
  /** Fixed: incomplete multipart uploads (a run killed by its timeout) are aborted after this. */
  abortIncompleteUploadsAfterDays: 3,
  /** Fixed: an expired archive object's noncurrent version is kept this long (to undo a mistake). */
  noncurrentExpirationDays: 30,
  /** Fixed: a planner event that waited this long for the (single) concurrency slot is dropped to the failed-runs queue. */
  maxEventAge: Duration.hours(6),
  /**
   * Fixed: Lambda retries a planner invocation that failed twice (its maximum): planning is
   * idempotent (the queue drops a window sent twice within 5 minutes, the worker finds an archived
   * one in the bucket), and a backfill continuation lost to a transient error would stop the backfill.
   */
  plannerRetryAttempts: 2,
  /** Fixed: how long windows wait in the queue, and failed messages in the dead-letter queue (SQS's maximum). */
  queueRetention: Duration.days(14),
  /**
   * Fixed: the queue's visibility timeout is this many worker timeouts, AWS's advice for an SQS
   * event source (a batch retried by the poller stays invisible meanwhile).
   */
  visibilityTimeoutPerWorkerTimeout: 6,
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
