/**
 * The parts of the Athena table over the archive: the Glue table with partition projection, the
 * workgroup, its query results bucket, and what querying takes.
 */
import { Aws, Duration, Stack, Validations } from "aws-cdk-lib";
import * as athena from "aws-cdk-lib/aws-athena";
import * as glue from "aws-cdk-lib/aws-glue";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as s3 from "aws-cdk-lib/aws-s3";
import type { Construct } from "constructs";
import type { ResolvedAthenaTableSettings } from "../athena-settings";
import { secureBucketProps } from "../bucket-defaults";
import { ATHENA_DEFAULTS } from "../defaults";

/** The table's partition keys, named as the key layout's `group=`, `tenant=` and `date=` folders. */
export const ATHENA_PARTITION_KEYS = { group: "group", tenant: "tenant", date: "date" } as const;

/** The table's one column: a line of an audit log, as Atlas wrote it. */
export const ATHENA_LINE_COLUMN = "line";

/**
 * The field delimiter: a control character (U+0001) that cannot occur in a text line of the log
 * (JSON escapes control characters), so each line stays whole in the one column.
 */
export const ATHENA_FIELD_DELIMITER = "\u0001";

/** Where the table reads: the archive's root and the template of each partition's folder. */
export interface TableLocation {
  /** `s3://{bucket}/{prefix}` */
  readonly root: string;
  /** `s3://{bucket}/{prefix}group=${group}/tenant=${tenant}/date=${date}/` */
  readonly template: string;
}

/** The external table over the gzip log files: one `line` column, projected partitions, no crawler. */
export function buildAuditLogTable(
  scope: Construct,
  database: glue.CfnDatabase,
  settings: ResolvedAthenaTableSettings,
  location: TableLocation,
): glue.CfnTable {
  const k = ATHENA_PARTITION_KEYS;
  return new glue.CfnTable(scope, "Table", {
    catalogId: Aws.ACCOUNT_ID,
    // Ref of a Glue database is its name; it also orders the table after the database.
    databaseName: database.ref,
    tableInput: {
      name: settings.tableName,
      description:
        'One row per line of the archived audit logs. Filter on "group" and tenant (required) and on ' +
        '"date" (yyyy-MM-dd, UTC) so that Athena reads only those partitions.',
      tableType: "EXTERNAL_TABLE",
      parameters: {
        EXTERNAL: "TRUE",
        "projection.enabled": "true",
        [`projection.${k.group}.type`]: "injected",
        [`projection.${k.tenant}.type`]: "injected",
        [`projection.${k.date}.type`]: "date",
        [`projection.${k.date}.format`]: "yyyy-MM-dd",
        [`projection.${k.date}.range`]: `${settings.dateRangeStart},NOW`,
        [`projection.${k.date}.interval`]: "1",
        [`projection.${k.date}.interval.unit`]: "DAYS",
        "storage.location.template": location.template,
      },
      partitionKeys: [
        { name: k.group, type: "string", comment: "Atlas project id (groupId)" },
        { name: k.tenant, type: "string", comment: "Stream Processing workspace (tenantName)" },
        { name: k.date, type: "string", comment: "UTC date of the window start, yyyy-MM-dd" },
      ],
      storageDescriptor: {
        columns: [
          {
            name: ATHENA_LINE_COLUMN,
            type: "string",
            comment: "One line of the audit log, as Atlas wrote it",
          },
        ],
        location: location.root,
        // Plain text lines; Athena decompresses the objects by their .gz extension.
        inputFormat: "org.apache.hadoop.mapred.TextInputFormat",
        outputFormat: "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        compressed: true,
        serdeInfo: {
          serializationLibrary: "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
          parameters: {
            "field.delim": ATHENA_FIELD_DELIMITER,
            "serialization.format": ATHENA_FIELD_DELIMITER,
          },
        },
      },
    },
  });
}

/**
 * The workgroup named `name` (engine version 3) that writes every query's results to
 * `resultsBucket`, encrypted with `encryptionKey` (SSE-KMS) when given and SSE-S3 otherwise.
 */
export function buildWorkGroup(
  scope: Construct,
  name: string,
  description: string,
  resultsBucket: s3.IBucket,
  encryptionKey: kms.IKey | undefined,
): athena.CfnWorkGroup {
  return new athena.CfnWorkGroup(scope, "WorkGroup", {
    name,
    description,
    // Deleting the stack deletes the workgroup even when it holds saved queries.
    recursiveDeleteOption: true,
    workGroupConfiguration: {
      enforceWorkGroupConfiguration: true,
      publishCloudWatchMetricsEnabled: true,
      engineVersion: { selectedEngineVersion: "Athena engine version 3" },
      resultConfiguration: {
        outputLocation: `s3://${resultsBucket.bucketName}/`,
        encryptionConfiguration: encryptionKey
          ? { encryptionOption: "SSE_KMS", kmsKey: encryptionKey.keyArn }
          : { encryptionOption: "SSE_S3" },
      },
    },
  });
}

/** The workgroup's results bucket: the secure defaults, results expiring, access logs when a target is given. */
export function buildResultsBucket(scope: Construct, accessLogsBucket: s3.IBucket | undefined): s3.Bucket {
  const expiryDays = ATHENA_DEFAULTS.queryResultsExpirationDays;
  // The workgroup enforces how results are encrypted (SSE-KMS with the archive's key when it has
  // one); the defaults' SSE-S3 covers anything else. Kept with the stack's other buckets (the
  // defaults' retention); its results expire on their own.
  const bucket = new s3.Bucket(
    scope,
    "QueryResults",
    secureBucketProps({
      lifecycleRules: [
        {
          id: "expire-query-results",
          expiration: Duration.days(expiryDays),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      ...(accessLogsBucket
        ? { serverAccessLogsBucket: accessLogsBucket, serverAccessLogsPrefix: "athena-query-results/" }
        : {}),
    }),
  );
  if (!accessLogsBucket) {
    Validations.of(bucket).acknowledge({
      id: "AwsSolutions-S1",
      reason:
        `The bucket holds only Athena query results, which expire after ${expiryDays} days; who ran which query is ` +
        "recorded by Athena's query history and CloudTrail (StartQueryExecution), and the archive itself is logged.",
    });
  }
  return bucket;
}

/** One grant of {@link queryPermissions}. */
export interface QueryPermission {
  readonly actions: string[];
  readonly resourceArns: string[];
  readonly conditions?: Record<string, Record<string, unknown>>;
}

/** What the grantable needs, besides the workgroup: the table's definitions and the archive prefix. */
export interface QueriedArchive {
  readonly databaseName: string;
  readonly tableName: string;
  readonly bucket: s3.IBucket;
  readonly prefix: string;
  readonly encryptionKey?: kms.IKey;
  /** The workgroup's name and results bucket, when the table has a workgroup. */
  readonly workGroup?: { readonly name: string; readonly resultsBucket: s3.IBucket };
}

/**
 * What querying the table takes: the catalog, database and table definitions, reading the archive
 * prefix (never writing it), the workgroup and its results, and the archive's KMS key through S3.
 */
export function queryPermissions(scope: Construct, archive: QueriedArchive): QueryPermission[] {
  const stack = Stack.of(scope);
  const { bucket, prefix, workGroup } = archive;
  const glueArn = (resource: string, resourceName?: string) =>
    stack.formatArn({ service: "glue", resource, ...(resourceName ? { resourceName } : {}) });
  const permissions: QueryPermission[] = [
    {
      actions: ["glue:GetDatabase", "glue:GetTable"],
      resourceArns: [
        glueArn("catalog"),
        glueArn("database", archive.databaseName),
        glueArn("table", `${archive.databaseName}/${archive.tableName}`),
      ],
    },
    { actions: ["s3:GetObject"], resourceArns: [bucket.arnForObjects(`${prefix}*`)] },
    {
      actions: ["s3:ListBucket"],
      resourceArns: [bucket.bucketArn],
      ...(prefix ? { conditions: { StringLike: { "s3:prefix": [`${prefix}*`] } } } : {}),
    },
    { actions: ["s3:GetBucketLocation"], resourceArns: [bucket.bucketArn] },
  ];
  if (workGroup) {
    const workGroupArn = stack.formatArn({
      service: "athena",
      resource: "workgroup",
      resourceName: workGroup.name,
    });
    permissions.push(
      {
        actions: [
          "athena:StartQueryExecution",
          "athena:GetQueryExecution",
          "athena:GetQueryResults",
          "athena:StopQueryExecution",
          "athena:GetWorkGroup",
        ],
        resourceArns: [workGroupArn],
      },
      {
        actions: ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
        resourceArns: [workGroup.resultsBucket.arnForObjects("*")],
      },
      {
        actions: ["s3:ListBucket", "s3:GetBucketLocation"],
        resourceArns: [workGroup.resultsBucket.bucketArn],
      },
    );
  }
  if (archive.encryptionKey) {
    permissions.push({
      actions: ["kms:Decrypt", "kms:GenerateDataKey"],
      resourceArns: [archive.encryptionKey.keyArn],
      conditions: { StringEquals: { "kms:ViaService": `s3.${Aws.REGION}.amazonaws.com` } },
    });
  }
  return permissions;
}
