/**
 * A Glue database and table over the archive, so that the audit logs can be queried with Athena
 * SQL right after the deploy: partition projection computes the partitions from the query, with no
 * crawler, no `MSCK REPAIR` and no partition to add as days go by. It wires the builders of
 * `build/athena.ts`; the props are in `athena-props.ts`, resolved in `athena-settings.ts`.
 */
import { Aws, Stack } from "aws-cdk-lib";
import type * as athena from "aws-cdk-lib/aws-athena";
import * as glue from "aws-cdk-lib/aws-glue";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import type * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { partitionPrefix } from "../lambda/config";
import type { ArchiveAthenaTableProps } from "./athena-props";
import { type ResolvedAthenaTableSettings, resolveAthenaTableSettings } from "./athena-settings";
import {
  ATHENA_PARTITION_KEYS,
  buildAuditLogTable,
  buildResultsBucket,
  buildWorkGroup,
  queryPermissions,
} from "./build/athena";

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
    this.table = buildAuditLogTable(this, this.database, settings, { root, template: this.locationTemplate });

    if (settings.workGroup) {
      this.resultsBucket = buildResultsBucket(this, props.accessLogsBucket);
      this.workGroupName = settings.databaseName;
      this.workGroup = buildWorkGroup(
        this,
        this.workGroupName,
        `Queries the Atlas audit log archive (${settings.databaseName}.${settings.tableName})`,
        this.resultsBucket,
        props.encryptionKey,
      );
    }
  }

  /**
   * Lets `grantee` run queries on the table: Athena on the workgroup (when there is one), reading
   * the database and table definitions, reading the archive prefix (never writing it), reading and
   * writing query results, and the archive's KMS key through S3.
   */
  grantQuery(grantee: iam.IGrantable): iam.Grant {
    const permissions = queryPermissions(this, {
      databaseName: this.databaseName,
      tableName: this.tableName,
      bucket: this.bucket,
      prefix: this.settings.prefix,
      ...(this.encryptionKey ? { encryptionKey: this.encryptionKey } : {}),
      ...(this.workGroup && this.workGroupName !== undefined && this.resultsBucket
        ? { workGroup: { name: this.workGroupName, resultsBucket: this.resultsBucket } }
        : {}),
    });
    return permissions
      .map((permission) => iam.Grant.addToPrincipal({ grantee, ...permission }))
      .reduce((all, grant) => all.combine(grant));
  }
}
