/**
 * The archive's storage: the archive bucket (created or imported), its KMS key and the bucket its
 * server access logs go to.
 */
import { Duration, RemovalPolicy, Validations } from "aws-cdk-lib";
import * as kms from "aws-cdk-lib/aws-kms";
import * as s3 from "aws-cdk-lib/aws-s3";
import type { Construct } from "constructs";
import { secureBucketProps } from "../bucket-defaults";
import { ARCHIVER_DEFAULTS } from "../defaults";
import type { ResolvedArchiverSettings } from "../settings";

/** What {@link buildStorage} created or imported. */
export interface ArchiveStorage {
  readonly bucket: s3.IBucket;
  /** The archive's KMS key, when it uses one. */
  readonly encryptionKey?: kms.IKey;
  /** Where a created bucket's server access logs go, when logging is on. */
  readonly accessLogsBucket?: s3.IBucket;
}

/**
 * The archive bucket of `settings.bucketSource`: an existing or named bucket as it is, or a new
 * versioned bucket with the secure defaults, its lifecycle, Object Lock, encryption and access logs.
 */
export function buildStorage(scope: Construct, settings: ResolvedArchiverSettings): ArchiveStorage {
  const source = settings.bucketSource;
  const givenKey = settings.encryptionKey ? { encryptionKey: settings.encryptionKey } : {};
  if (source.kind === "existing") return { bucket: source.bucket, ...givenKey };
  if (source.kind === "by-name") {
    return { bucket: s3.Bucket.fromBucketName(scope, "ImportedBucket", source.bucketName), ...givenKey };
  }

  const key =
    settings.encryption === "KMS"
      ? (settings.encryptionKey ??
        new kms.Key(scope, "ArchiveKey", {
          description: "Encrypts the Atlas audit log archive",
          enableKeyRotation: true,
          removalPolicy: RemovalPolicy.RETAIN,
        }))
      : undefined;
  const accessLogs = settings.serverAccessLogs
    ? (settings.accessLogsBucket ?? buildAccessLogsBucket(scope, settings.accessLogsRetentionDays))
    : undefined;

  const bucket = new s3.Bucket(
    scope,
    "Bucket",
    secureBucketProps({
      versioned: true,
      ...(key ? { encryption: s3.BucketEncryption.KMS, encryptionKey: key, bucketKeyEnabled: true } : {}),
      lifecycleRules: archiveLifecycleRules(settings),
      ...objectLockProps(settings.objectLock),
      ...(accessLogs
        ? { serverAccessLogsBucket: accessLogs, serverAccessLogsPrefix: settings.accessLogsPrefix }
        : {}),
    }),
  );
  if (!accessLogs) {
    Validations.of(bucket).acknowledge({
      id: "AwsSolutions-S1",
      reason:
        "Server access logging was turned off by the serverAccessLogs prop; object-level access can still be " +
        "audited with CloudTrail data events.",
    });
  }
  return {
    bucket,
    ...(key ? { encryptionKey: key } : {}),
    ...(accessLogs ? { accessLogsBucket: accessLogs } : {}),
  };
}

/** The dedicated bucket of the archive's server access logs, which expire after `retentionDays`. */
function buildAccessLogsBucket(scope: Construct, retentionDays: number): s3.Bucket {
  // Server access logs can only be delivered to SSE-S3 buckets: the defaults' encryption.
  return new s3.Bucket(
    scope,
    "AccessLogsBucket",
    secureBucketProps({
      lifecycleRules: [
        {
          id: "expire-access-logs",
          expiration: Duration.days(retentionDays),
          abortIncompleteMultipartUploadAfter: Duration.days(
            ARCHIVER_DEFAULTS.abortIncompleteUploadsAfterDays,
          ),
        },
      ],
    }),
  );
}

/** Stale uploads and delete markers are always cleaned up; transition and expiry as configured. */
function archiveLifecycleRules(settings: ResolvedArchiverSettings): s3.LifecycleRule[] {
  const prefix = settings.config.archive.prefix;
  const { transition, expireAfterDays } = settings;
  const rules: s3.LifecycleRule[] = [
    {
      id: "abort-incomplete-uploads-and-clean-delete-markers",
      abortIncompleteMultipartUploadAfter: Duration.days(ARCHIVER_DEFAULTS.abortIncompleteUploadsAfterDays),
      expiredObjectDeleteMarker: true,
    },
  ];
  if (!transition && expireAfterDays === undefined) return rules;
  rules.push({
    id: "archive-retention",
    ...(prefix ? { prefix } : {}),
    ...(transition
      ? {
          transitions: [
            { storageClass: transition.storageClass, transitionAfter: Duration.days(transition.afterDays) },
          ],
        }
      : {}),
    ...(expireAfterDays !== undefined
      ? {
          expiration: Duration.days(expireAfterDays),
          noncurrentVersionExpiration: Duration.days(ARCHIVER_DEFAULTS.noncurrentExpirationDays),
        }
      : {}),
  });
  return rules;
}

function objectLockProps(lock: ResolvedArchiverSettings["objectLock"]): Partial<s3.BucketProps> {
  if (!lock) return {};
  const retention = Duration.days(lock.retentionDays);
  return {
    objectLockEnabled: true,
    objectLockDefaultRetention:
      lock.mode === "COMPLIANCE"
        ? s3.ObjectLockRetention.compliance(retention)
        : s3.ObjectLockRetention.governance(retention),
  };
}
