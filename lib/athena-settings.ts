/**
 * The Athena settings after defaults, checked: the archiver's `athena` option and the props of
 * `ArchiveAthenaTable`, over `ATHENA_DEFAULTS`.
 */
import { Token } from "aws-cdk-lib";
import type { ArchiveAthenaOptions, ArchiveAthenaTableProps } from "./athena-props";
import { ATHENA_DEFAULTS } from "./defaults";
import { invalidProp } from "./errors";

/** The archiver's `athena` prop: `false` turns the table off; `true`, absent or options turn it on. */
export function resolveAthenaOption(
  value: boolean | ArchiveAthenaOptions | undefined,
): ArchiveAthenaOptions | undefined {
  if (value === false) return undefined;
  if (value !== undefined && value !== true && (typeof value !== "object" || value === null)) {
    throw invalidProp(
      "athena",
      value,
      "must be true, false, or { databaseName?, tableName?, dateRangeStart?, workGroup? }",
    );
  }
  const options = value === true || value === undefined ? {} : value;
  const unknown = Object.keys(options).find((key) => !ATHENA_OPTION_KEYS.includes(key));
  if (unknown !== undefined) {
    throw invalidProp(
      `athena.${unknown}`,
      (options as Record<string, unknown>)[unknown],
      `is not an option; use ${ATHENA_OPTION_KEYS.join(", ")}`,
    );
  }
  // The database name's default needs the stack's name: the table construct fills it in.
  const { databaseName, ...rest } = resolveAthenaOptions(options, "athena.", undefined);
  return { ...(options.databaseName !== undefined ? { databaseName } : {}), ...rest };
}

/** The Athena options with their defaults, checked; messages name each one as `${at}<option>`. */
function resolveAthenaOptions(
  options: ArchiveAthenaOptions,
  at: string,
  stackName: string | undefined,
): Required<ArchiveAthenaOptions> {
  const databaseName =
    options.databaseName ??
    (stackName === undefined ? ATHENA_DEFAULTS.databaseName : defaultAthenaDatabaseName(stackName));
  checkGlueName(`${at}databaseName`, databaseName);
  const tableName = options.tableName ?? ATHENA_DEFAULTS.tableName;
  checkGlueName(`${at}tableName`, tableName);
  const dateRangeStart = options.dateRangeStart ?? ATHENA_DEFAULTS.dateRangeStart;
  checkCalendarDate(`${at}dateRangeStart`, dateRangeStart);
  const workGroup = options.workGroup ?? ATHENA_DEFAULTS.workGroup;
  if (typeof workGroup !== "boolean") throw invalidProp(`${at}workGroup`, workGroup, "must be true or false");
  return { databaseName, tableName, dateRangeStart, workGroup };
}

const ATHENA_OPTION_KEYS: readonly string[] = ["databaseName", "tableName", "dateRangeStart", "workGroup"];

/** Every setting of `ArchiveAthenaTable` after defaults, checked. */
export interface ResolvedAthenaTableSettings {
  readonly databaseName: string;
  readonly tableName: string;
  readonly dateRangeStart: string;
  readonly workGroup: boolean;
  /** The archive prefix: `""` or segments ending in `/`. */
  readonly prefix: string;
}

/**
 * Merges the props of `ArchiveAthenaTable` over {@link ATHENA_DEFAULTS} and checks them.
 *
 * @param stackName the name of the enclosing stack, which gives the default database name
 * @throws {DeploymentError} `DEPLOY_PROPS_INVALID`, naming the prop, its value and what is allowed
 * @example
 * ```ts
 * resolveAthenaTableSettings({ bucket, prefix: "atlas/stream-audit/" }, "AtlasAuditArchiver");
 * // { databaseName: "atlas_audit_archiver", tableName: "audit_logs", dateRangeStart: "2024-01-01",
 * //   workGroup: true, prefix: "atlas/stream-audit/" }
 * ```
 */
export function resolveAthenaTableSettings(
  props: ArchiveAthenaTableProps,
  stackName: string,
): ResolvedAthenaTableSettings {
  const options = resolveAthenaOptions(props, "", stackName);
  // The same rule as the parameter file's archive.prefix: no quote, space or "${" can reach the
  // table location or its template.
  if (!/^(?:(?!\.\.?\/)[A-Za-z0-9._=-]+\/)*$/.test(props.prefix)) {
    throw invalidProp(
      "prefix",
      props.prefix,
      'must be "" or key segments of letters, digits and - _ . = each ending in "/", e.g. "atlas/stream-audit/"',
    );
  }
  return { ...options, prefix: props.prefix };
}

/**
 * The database name derived from a stack's name, so that archivers deployed side by side under
 * different stack names get different databases: `AtlasAuditArchiver` → `atlas_audit_archiver`,
 * `audit-prod` → `audit_prod`.
 */
export function defaultAthenaDatabaseName(stackName: string): string {
  if (Token.isUnresolved(stackName)) return ATHENA_DEFAULTS.databaseName;
  const name = stackName
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z])([A-Z][a-z])/g, "$1_$2")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
  return /^[a-z]/.test(name) ? name.slice(0, 255) : ATHENA_DEFAULTS.databaseName;
}

/** Glue and Athena names: lowercase letters, digits and `_`, starting with a letter (no quoting needed). */
function checkGlueName(setting: string, value: unknown): void {
  if (typeof value !== "string" || !/^[a-z][a-z0-9_]{0,254}$/.test(value)) {
    throw invalidProp(
      setting,
      value,
      "must be 1 to 255 lowercase letters, digits and _, starting with a letter (Athena folds names to " +
        'lowercase and needs quotes for anything else), e.g. "atlas_audit_archive"',
    );
  }
}

/** A real `YYYY-MM-DD` calendar date. */
function checkCalendarDate(setting: string, value: unknown): void {
  const ok =
    typeof value === "string" &&
    /^\d{4}-\d{2}-\d{2}$/.test(value) &&
    !Number.isNaN(Date.parse(`${value}T00:00:00Z`)) &&
    new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) === value;
  if (!ok) {
    throw invalidProp(setting, value, 'must be a calendar date written YYYY-MM-DD, e.g. "2024-01-01"');
  }
}
