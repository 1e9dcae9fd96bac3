/**
 * What the reader commands (`ls`, `cat`, `get`, `verify`) share: where the archive is (their
 * options and help, resolved from the parameter file, the flags and the environment: bucket,
 * prefix, window settings, configured workspaces), the check of the workspace they select, and
 * the archive opened with an S3 client and the range of `--from`/`--to` read.
 */

import type { S3Client } from "@aws-sdk/client-s3";
import {
  type ArchiverConfig,
  ConfigError,
  configSchema,
  DEFAULT_CONFIG_PATH,
  GROUP_ID,
  loadConfig,
  NAME,
  type WindowSettings,
  type Workspace,
} from "../../lambda/config";
import { parseRange, type TimeRange } from "../../lambda/range";
import type { ArchiveLocation } from "../../lambda/reader/listing";
import { s3ClientFor } from "../../lambda/runtime";
import { parseNow, stringOptions, usageError } from "./command";
import { AWS_ROWS, exitStatus, formatHelp, type HelpRow, type HelpSpec } from "./help";
import type { CliIo } from "./io";

/** The options every reader command takes: where the archive is. */
export const ARCHIVE_OPTIONS = stringOptions("config", "bucket", "prefix");

/** The help rows of {@link ARCHIVE_OPTIONS}. */
const ARCHIVE_ROWS: readonly HelpRow[] = [
  [
    "--config FILE",
    `Parameter file: bucket, prefix, window settings, workspaces (default ${DEFAULT_CONFIG_PATH} when it exists)`,
  ],
  ["--bucket NAME", "The archive bucket (wins over ARCHIVE_BUCKET and archive.bucket)"],
  ["--prefix PREFIX", "The archive prefix (wins over archive.prefix)"],
];

/** The variables every reader command reads. */
const ARCHIVE_ENVIRONMENT: readonly HelpRow[] = [
  ["ARCHIVE_BUCKET", "the archive bucket, unless --bucket is given (overrides archive.bucket)"],
  ...AWS_ROWS,
];

/**
 * The help of a reader command: its own options, then {@link ARCHIVE_OPTIONS}, the readers'
 * environment, and its own exit statuses before those every command shares.
 */
export function readerHelp(spec: Omit<HelpSpec, "environment">): string {
  return formatHelp({
    ...spec,
    options: [...spec.options, ...ARCHIVE_ROWS],
    environment: ARCHIVE_ENVIRONMENT,
    exitStatus: exitStatus(spec.exitStatus),
  });
}

/** The archive a reader command works on. */
export interface ReaderTarget extends ArchiveLocation {
  readonly window: WindowSettings;
  /** The configured workspaces (none when no parameter file was read). */
  readonly workspaces: readonly Workspace[];
  /** The parameter file read, if any. */
  readonly configFile?: string;
}

/** Where the target comes from: flags and environment. */
export interface TargetOptions {
  /** `--config`: this file must exist. Absent: the default file is read when it exists. */
  readonly config?: string;
  /** `--bucket`: wins over `ARCHIVE_BUCKET` and the file's `archive.bucket`. */
  readonly bucket?: string;
  /** `--prefix`: wins over the file's `archive.prefix`. */
  readonly prefix?: string;
  /** `ARCHIVE_BUCKET`. */
  readonly envBucket?: string;
}

async function readConfig(path: string | undefined): Promise<ArchiverConfig | undefined> {
  if (path !== undefined) return loadConfig(path);
  try {
    return await loadConfig(DEFAULT_CONFIG_PATH);
  } catch (err) {
    const missing =
      err instanceof ConfigError &&
      err.code === "CONFIG_UNREADABLE" &&
      (err.cause as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
    if (missing) return undefined;
    throw err;
  }
}

/**
 * Resolves the archive to read. Without a parameter file, the prefix and window settings are the
 * file's defaults and a bucket must come from `--bucket` or `ARCHIVE_BUCKET`.
 *
 * @throws {InputError} `CLI_USAGE` (field `bucket` or `prefix`) when there is no bucket or the prefix is invalid
 * @throws {ConfigError} for a parameter file that is missing (when named), unreadable or invalid
 */
export async function resolveTarget(options: TargetOptions): Promise<ReaderTarget> {
  const config = await readConfig(options.config);
  const bucket = options.bucket || options.envBucket || config?.archive.bucket;
  if (!bucket) {
    const file = options.config ?? DEFAULT_CONFIG_PATH;
    throw usageError(
      "bucket",
      (n) =>
        `No bucket: pass ${n("bucket")}, set ARCHIVE_BUCKET, or set archive.bucket in the parameter file (${file}).`,
    );
  }
  let prefix = config?.archive.prefix ?? configSchema.shape.archive.parse(undefined).prefix;
  if (options.prefix !== undefined) {
    const checked = configSchema.shape.archive.safeParse({ prefix: options.prefix });
    if (!checked.success) {
      const given = JSON.stringify(options.prefix);
      const why = checked.error.issues[0]?.message ?? "see README";
      throw usageError("prefix", (n) => `${n("prefix")} ${given} is invalid: ${why}.`);
    }
    prefix = checked.data.prefix;
  }
  return {
    bucket,
    prefix,
    window: config?.window ?? configSchema.shape.window.parse(undefined),
    workspaces: config?.workspaces ?? [],
    ...(config ? { configFile: options.config ?? DEFAULT_CONFIG_PATH } : {}),
  };
}

/**
 * Checks the `group`, `tenant` and `sp` values (the same characters the parameter file allows).
 *
 * @throws {InputError} `CLI_USAGE` naming the field and the bad value
 */
export function checkSelection(selection: { group?: string; tenant?: string; sp?: string }): void {
  const { group } = selection;
  if (group !== undefined && !GROUP_ID.test(group)) {
    throw usageError(
      "group",
      (n) =>
        `${n("group")} ${JSON.stringify(group)} is not an Atlas project id: 24 lowercase hexadecimal characters, ` +
        "as in Atlas URLs (/v2/groups/<groupId>).",
    );
  }
  for (const field of ["tenant", "sp"] as const) {
    const value = selection[field];
    if (value !== undefined && !NAME.test(value)) {
      throw usageError(
        field,
        (n) => `${n(field)} ${JSON.stringify(value)} is not a valid name: 1-64 letters, digits, "-" or "_".`,
      );
    }
  }
}

/** The values of a reader command that {@link openArchive} and {@link readRange} look at. */
export interface ArchiveValues {
  readonly config?: string;
  readonly bucket?: string;
  readonly prefix?: string;
  readonly group?: string;
  readonly tenant?: string;
  readonly sp?: string;
  readonly from?: string;
  readonly to?: string;
  readonly now?: string;
}

/** An archive ready to read: where it is, an S3 client, and the instant taken as now. */
export interface OpenArchive {
  readonly target: ReaderTarget;
  readonly s3: S3Client;
  readonly nowMs: number;
}

/**
 * Checks the selection and `--now`, resolves the target, and runs `use` with an S3 client that
 * is closed afterwards.
 */
export async function openArchive<T>(
  values: ArchiveValues,
  io: CliIo,
  use: (archive: OpenArchive) => Promise<T>,
): Promise<T> {
  checkSelection(values);
  const nowMs = parseNow(values.now, io);
  const target = await resolveTarget({
    config: values.config,
    bucket: values.bucket,
    prefix: values.prefix,
    envBucket: io.env.ARCHIVE_BUCKET,
  });
  const s3 = s3ClientFor(io.env);
  try {
    return await use({ target, s3, nowMs });
  } finally {
    s3.destroy();
  }
}

/** Whether `--from` or `--to` was given. */
export function hasRange(values: ArchiveValues): boolean {
  return values.from !== undefined || values.to !== undefined;
}

/**
 * The range of `--from` and `--to` (see lambda/range.ts): a missing `--to` is now, a missing
 * `--from` the lookback before it; with `required`, both must be given.
 */
export function readRange(values: ArchiveValues, archive: OpenArchive, isRequired: boolean): TimeRange {
  return parseRange(values, {
    nowMs: archive.nowMs,
    fallbackSpanMs: archive.target.window.lookbackHours * 3_600_000,
    required: isRequired,
  });
}
