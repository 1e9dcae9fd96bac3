/**
 * The props of `ArchiveAthenaTable`, and the archiver's `athena` option. Types only: the defaults
 * are in `defaults.ts` (`ATHENA_DEFAULTS`), resolved in `athena-settings.ts`.
 */
import type * as kms from "aws-cdk-lib/aws-kms";
import type * as s3 from "aws-cdk-lib/aws-s3";

/** Settings of the archiver's `athena` option (the archive's bucket and prefix come from the archiver). */
export interface ArchiveAthenaOptions {
  /**
   * The Glue database. Lowercase letters, digits and `_`, starting with a letter.
   *
   * @default the stack's name in snake case, e.g. `atlas_audit_archiver` for the stack
   * `AtlasAuditArchiver` (`ATHENA_DEFAULTS.databaseName` when the stack's name is a token)
   */
  readonly databaseName?: string;

  /**
   * The Glue table. Lowercase letters, digits and `_`, starting with a letter.
   *
   * @default `ATHENA_DEFAULTS.tableName`
   */
  readonly tableName?: string;

  /**
   * First day (`YYYY-MM-DD`, UTC) the `date` partition projection covers; it ends at `NOW`. Objects
   * of earlier days exist for Athena only after you move this back.
   *
   * @default `ATHENA_DEFAULTS.dateRangeStart`
   */
  readonly dateRangeStart?: string;

  /**
   * An Athena workgroup named like the database (engine version 3), whose query results go to a
   * new bucket (no public access, TLS only, SSE-S3 by default, results expiring after
   * `ATHENA_DEFAULTS.queryResultsExpirationDays`), encrypted with the archive's KMS key when it has
   * one (SSE-KMS) and SSE-S3 otherwise; the workgroup enforces its settings, so no query can write
   * its results elsewhere or unencrypted.
   * `false`: queries use a workgroup of yours.
   *
   * @default `ATHENA_DEFAULTS.workGroup`
   */
  readonly workGroup?: boolean;
}

/** Props of `ArchiveAthenaTable`. */
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
