/**
 * A Glue database and table over the archive, so that the audit logs can be queried with Athena
 * SQL right after the deploy: partition projection computes the partitions from the query, with no
 * crawler, no `MSCK REPAIR` and no partition to add as days go by.
 */
import { Aws, Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import * as athena from "aws-cdk-lib/aws-athena";
import * as glue from "aws-cdk-lib/aws-glue";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { partitionPrefix } from "../lambda/config";
import { ATHENA_DEFAULTS, type ResolvedAthenaTableSettings, resolveAthenaTableSettings } from "./defaults";

/** The table's partition keys, named as the key layout's `group=`, `tenant=` and `date=` folders. */
export const ATHENA_PARTITION_KEYS = { group: "group", tenant: "tenant", date: "date" } as const;

/** The table's one column: a line of an audit log, as Atlas wrote it. */
export const ATHENA_LINE_COLUMN = "line";

/**
 * The field delimiter: a control character (U+0001) that cannot occur in a text line of the log
 * (JSON escapes control characters), so each line stays whole in the one column.
 */
export const ATHENA_FIELD_DELIMITER = "\u0001";

/** Settings of the archiver's `athena` option (the archive's bucket and prefix come from the archiver). */
export interface ArchiveAthenaOptions {
  /**
   * The Glue database. Lowercase letters, digits and `_`, starting with a letter.
   *
   * @default the stack's name in snake case, e.g. `atlas_audit_archiver` for the stack
   * `AtlasAuditArchiver` (`atlas_audit_archive` when the stack's name is a token)
   */
  readonly databaseName?: string;

  /**
   * The Glue table. Lowercase letters, digits and `_`, starting with a letter.
   *
   * @default "audit_logs"
   */
  readonly tableName?: string;

  /**
   * First day (`YYYY-MM-DD`, UTC) the `date` partition projection covers; it ends at `NOW`. Objects
   * of earlier days exist for Athena only after you move this back.
   *
   * @default "2024-01-01" (before Atlas Stream Processing became generally available)
   */
  readonly dateRangeStart?: string;

  /**
   * An Athena workgroup named like the database (engine version 3), whose query results go to a
   * new bucket (no public access, TLS only, SSE-S3 by default, results expire after 30 days),
   * encrypted with the archive's KMS key when it has one (SSE-KMS) and SSE-S3 otherwise; the
   * workgroup enforces its settings, so no query can write its results elsewhere or unencrypted.
   * `false`: queries use a workgroup of yours.
   *
   * @default true
   */
  readonly workGroup?: boolean;
}

/** Props of {@link ArchiveAthenaTable}. */
export interface ArchiveAthenaTableProps extends ArchiveAthenaOptions {
  /** The archive bucket. */
  readonly bucket: s3.IBucket;

  /**
   * The archive prefix (`config.archive.prefix`): `""` or segments ending in `/`, e.g.
   * `atlas/stream-audit/`.
   */
  readonly prefix: string;

  /**
   * The archive's KMS key, if it uses SSE-KMS: the query results are encrypted with it too.
   *
   * @default query results are encrypted with SSE-S3
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * Where the query results bucket sends its S3 server access logs.
   *
   * @default no access logs for the results bucket (Athena records who ran which query)
   */
  readonly accessLogsBucket?: s3.IBucket;
}

/**
 * A Glue database and an external table over the archive's gzip log files, for Athena.
 *
 * The table has one column, `line string` (each line of a log, decompressed by Athena from the
 * `.gz` extension), and three projected partition keys that mirror the key layout: `group` and
 * `tenant` (type `injected`: every query must name them, e.g. `WHERE "group" = '…' AND tenant = '…'`)
 * and `date` (`yyyy-MM-dd`, from `dateRangeStart` to `NOW`). Its `storage.location.template` is
 * built from the archive's own layout function, so it is exactly where the archiver writes.
 *
 * Only the templated `…/group=…/tenant=…/date=…/` folders are ever read, and an object appears
 * there only once complete (a multipart upload is invisible until it is completed), so a query
 * never sees a half-written log.
 *
 * With `workGroup` (the default) it also creates an Athena workgroup that writes encrypted results
 * to a bucket of its own. The construct grants nothing by itself; {@link ArchiveAthenaTable.grantQuery}
 * gives a principal exactly what querying takes.
 *
 * @example
 * ```ts
 * const table = new ArchiveAthenaTable(stack, "Athena", { bucket, prefix: "atlas/stream-audit/" });
 * table.grantQuery(auditorsRole);
 * // SELECT line FROM atlas_audit_archiver.audit_logs
 * //   WHERE "group" = '32b6e34b3d91647abb20e7b8' AND tenant = 'prod-workspace' AND "date" = '2026-11-28'
 * ```
 */
export class ArchiveAthenaTable extends Construct {
  /** The settings in effect (props merged over `ATHENA_DEFAULTS`). */
  readonly settings: ResolvedAthenaTableSettings;
  /** The Glue database. */
  readonly database: glue.CfnDatabase;
  /** The Glue table over the archive. */
  readonly table: glue.CfnTable;
  /** Name of the Glue database. */
  readonly databaseName: string;
  /** Name of the Glue table. */
  readonly tableName: string;
  /** `s3://{bucket}/{prefix}`: the table's location. */
  readonly location: string;
  /** `s3://{bucket}/{prefix}group=${group}/tenant=${tenant}/date=${date}/`: where each partition lives. */
  readonly locationTemplate: string;
  /** The Athena workgroup (named like the database), unless `workGroup` is `false`. */
  readonly workGroup?: athena.CfnWorkGroup;
  /** The workgroup's name. */
  readonly workGroupName?: string;
  /** Where the workgroup writes query results, unless `workGroup` is `false`. */
  readonly resultsBucket?: s3.Bucket;
  /** The archive bucket the table reads. */
  readonly bucket: s3.IBucket;
  /** The archive's KMS key, when it has one. */
  readonly encryptionKey?: kms.IKey;

  constructor(scope: Construct, id: string, props: ArchiveAthenaTableProps) {
    super(scope, id);
    const settings = resolveAthenaTableSettings(props, Stack.of(this).stackName);
    this.settings = settings;
    this.databaseName = settings.databaseName;
    this.tableName = settings.tableName;
    this.bucket = props.bucket;
    if (props.encryptionKey) this.encryptionKey = props.encryptionKey;

    const root = `s3://${props.bucket.bucketName}/${settings.prefix}`;
    this.location = root;
    // The shared layout function with the placeholders as values: the template cannot drift from
    // the keys the archiver writes.
    const k = ATHENA_PARTITION_KEYS;
    this.locationTemplate = partitionPrefix(
      root,
      { groupId: `\${${k.group}}`, tenantName: `\${${k.tenant}}` },
      `\${${k.date}}`,
    );

    this.database = new glue.CfnDatabase(this, "Database", {
      catalogId: Aws.ACCOUNT_ID,
      databaseInput: {
        name: settings.databaseName,
        description: "MongoDB Atlas Stream Processing audit logs archived by atlas-audit-archiver",
      },
    });

    this.table = new glue.CfnTable(this, "Table", {
      catalogId: Aws.ACCOUNT_ID,
      // Ref of a Glue database is its name; it also orders the table after the database.
      databaseName: this.database.ref,
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
          "storage.location.template": this.locationTemplate,
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
          location: root,
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

    if (settings.workGroup) {
      this.resultsBucket = this.createResultsBucket(props);
      this.workGroupName = settings.databaseName;
      this.workGroup = new athena.CfnWorkGroup(this, "WorkGroup", {
        name: this.workGroupName,
        description: `Queries the Atlas audit log archive (${settings.databaseName}.${settings.tableName})`,
        // Deleting the stack deletes the workgroup even when it holds saved queries.
        recursiveDeleteOption: true,
        workGroupConfiguration: {
          enforceWorkGroupConfiguration: true,
          publishCloudWatchMetricsEnabled: true,
          engineVersion: { selectedEngineVersion: "Athena engine version 3" },
          resultConfiguration: {
            outputLocation: `s3://${this.resultsBucket.bucketName}/`,
            encryptionConfiguration: props.encryptionKey
              ? { encryptionOption: "SSE_KMS", kmsKey: props.encryptionKey.keyArn }
              : { encryptionOption: "SSE_S3" },
          },
        },
      });
    }
  }

  /**
   * Lets `grantee` run queries on the table: Athena on the workgroup (when there is one), reading
   * the database and table definitions, reading the archive prefix (never writing it), reading and
   * writing query results, and the archive's KMS key through S3.
   */
  grantQuery(grantee: iam.IGrantable): iam.Grant {
    const stack = Stack.of(this);
    const grants: iam.Grant[] = [
      iam.Grant.addToPrincipal({
        grantee,
        actions: ["glue:GetDatabase", "glue:GetTable"],
        resourceArns: [
          stack.formatArn({ service: "glue", resource: "catalog" }),
          stack.formatArn({ service: "glue", resource: "database", resourceName: this.databaseName }),
          stack.formatArn({
            service: "glue",
            resource: "table",
            resourceName: `${this.databaseName}/${this.tableName}`,
          }),
        ],
      }),
      iam.Grant.addToPrincipal({
        grantee,
        actions: ["s3:GetObject"],
        resourceArns: [this.bucket.arnForObjects(`${this.settings.prefix}*`)],
      }),
      iam.Grant.addToPrincipal({
        grantee,
        actions: ["s3:ListBucket"],
        resourceArns: [this.bucket.bucketArn],
        ...(this.settings.prefix
          ? { conditions: { StringLike: { "s3:prefix": [`${this.settings.prefix}*`] } } }
          : {}),
      }),
      iam.Grant.addToPrincipal({
        grantee,
        actions: ["s3:GetBucketLocation"],
        resourceArns: [this.bucket.bucketArn],
      }),
    ];
    if (this.workGroup && this.workGroupName !== undefined && this.resultsBucket) {
      grants.push(
        iam.Grant.addToPrincipal({
          grantee,
          actions: [
            "athena:StartQueryExecution",
            "athena:GetQueryExecution",
            "athena:GetQueryResults",
            "athena:StopQueryExecution",
            "athena:GetWorkGroup",
          ],
          resourceArns: [
            stack.formatArn({ service: "athena", resource: "workgroup", resourceName: this.workGroupName }),
          ],
        }),
        iam.Grant.addToPrincipal({
          grantee,
          actions: ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
          resourceArns: [this.resultsBucket.arnForObjects("*")],
        }),
        iam.Grant.addToPrincipal({
          grantee,
          actions: ["s3:ListBucket", "s3:GetBucketLocation"],
          resourceArns: [this.resultsBucket.bucketArn],
        }),
      );
    }
    if (this.encryptionKey) {
      grants.push(
        iam.Grant.addToPrincipal({
          grantee,
          actions: ["kms:Decrypt", "kms:GenerateDataKey"],
          resourceArns: [this.encryptionKey.keyArn],
          conditions: { StringEquals: { "kms:ViaService": `s3.${Aws.REGION}.amazonaws.com` } },
        }),
      );
    }
    return grants.reduce((all, grant) => all.combine(grant));
  }

  private createResultsBucket(props: ArchiveAthenaTableProps): s3.Bucket {
    const bucket = new s3.Bucket(this, "QueryResults", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // The workgroup enforces how results are encrypted (SSE-KMS with the archive's key when it has
      // one); the bucket's default covers anything else.
      encryption: s3.BucketEncryption.S3_MANAGED,
      // Kept with the stack's other buckets; its results expire on their own.
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: "expire-query-results",
          expiration: Duration.days(ATHENA_DEFAULTS.queryResultsExpirationDays),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      ...(props.accessLogsBucket
        ? { serverAccessLogsBucket: props.accessLogsBucket, serverAccessLogsPrefix: "athena-query-results/" }
        : {}),
    });
    if (!props.accessLogsBucket) {
      Validations.of(bucket).acknowledge({
        id: "AwsSolutions-S1",
        reason:
          "The bucket holds only Athena query results, which expire after 30 days; who ran which query is " +
          "recorded by Athena's query history and CloudTrail (StartQueryExecution), and the archive itself is logged.",
      });
    }
    return bucket;
  }
}
