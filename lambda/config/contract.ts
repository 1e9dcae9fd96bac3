/**
 * The contract between the stack (`lib/`) and the Lambda handler (`lambda/`): file and variable
 * names, metric names, and the secret placeholder. Both sides import it from here, so they cannot
 * drift apart.
 */

/** The parameter file's name at the root of the function's bundle. */
export const BUNDLED_CONFIG_FILE = "archiver-config.json";

/** The environment variables the construct sets for the handler. */
export const HANDLER_ENVIRONMENT = {
  /** ARN of the Atlas credentials secret (never its value). */
  secretArn: "ATLAS_SECRET_ARN",
  /** Name of the archive bucket. */
  bucket: "ARCHIVE_BUCKET",
  /** CloudWatch namespace of the run metrics. */
  metricsNamespace: "METRICS_NAMESPACE",
  /** Path of the parameter file, when it is not {@link BUNDLED_CONFIG_FILE} at the bundle root. */
  configFile: "ARCHIVER_CONFIG_FILE",
  /** URL of the queue of windows (the planner sends to it; the worker delays its messages). */
  queueUrl: "QUEUE_URL",
  /** Downloads in flight at most per Atlas project: the planner's lanes (message groups) per project. */
  lanesPerProject: "LANES_PER_PROJECT",
  /** Minutes between two scheduled runs (the longest, for a cron schedule): what a run counts expired windows over. */
  runIntervalMinutes: "RUN_INTERVAL_MINUTES",
  /** The queue's receives before SQS moves a message to the dead-letter queue (the worker logs the last one). */
  maxReceiveCount: "MAX_RECEIVE_COUNT",
  /** ARN of the KMS key (ECC_NIST_P256) that signs the digests; the planner may only `kms:Sign` with it. */
  digestKeyArn: "DIGEST_KEY_ARN",
} as const;

/** The CloudWatch namespace of the run metrics unless the stack says otherwise. */
export const DEFAULT_METRICS_NAMESPACE = "AtlasAuditArchiver";

/** The run metrics the handler emits (embedded metric format, dimension `FunctionName`). */
export const RUN_METRICS = {
  windowsArchived: "WindowsArchived",
  windowsFailed: "WindowsFailed",
  windowsAlreadyPresent: "WindowsAlreadyPresent",
  windowsDeferred: "WindowsDeferred",
  bytesArchived: "BytesArchived",
  backlogWindows: "BacklogWindows",
  /**
   * Windows whose key holds an object that is not a verified archive object (no full-object CRC32,
   * or metadata naming another window): counted as failed too, on every run until an operator
   * resolves it (the function may not delete).
   */
  windowsInvalid: "WindowsInvalid",
  /** 1 for a run that could not start (unreadable or unusable credentials), else 0. */
  setupFailures: "SetupFailures",
  /**
   * Windows that left the lookback since the previous run without being archived: lost unless
   * someone backfills them (`run --from … --to …`, or a backfill event).
   */
  windowsExpired: "WindowsExpired",
  /**
   * Messages the worker failed for the last time (their receives reached the queue's
   * `maxReceiveCount`): SQS moves each to the dead-letter queue.
   */
  windowsDeadLettered: "WindowsDeadLettered",
  /**
   * Windows of a backfill range (over all workspaces) the planner has not planned yet: it goes on
   * by invoking itself with the rest of the range; 0 when the range is all planned.
   */
  backfillWindowsLeft: "BackfillWindowsLeft",
  /** Digests (one per workspace and UTC day) the planner sealed, signed and wrote. */
  digestsSealed: "DigestsSealed",
  /**
   * Integrity records that could not be written: a day the planner could not seal (S3 or KMS
   * failed, a previous digest it cannot chain to, or no `DIGEST_KEY_ARN`), or a worker's receipt
   * (its window is then sealed as unreceipted). The next run seals what is left.
   */
  digestFailures: "DigestFailures",
} as const;

/** The dimension every run metric carries. */
export const METRIC_DIMENSION = "FunctionName";

/** The value a created secret holds until the user stores real credentials. */
export const SECRET_PLACEHOLDER = "REPLACE_ME";
