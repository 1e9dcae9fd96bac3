/**
 * What the reader commands read: the bucket, the prefix, the window settings and the configured
 * workspaces, from the parameter file and the flags that override it.
 */

import type { WindowSettings, Workspace } from "../config";
import { type ArchiverConfig, ConfigError, configSchema, DEFAULT_CONFIG_PATH, loadConfig } from "../config";
import { ReaderError } from "./errors";
import type { ArchiveLocation } from "./listing";

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
 * @throws {ReaderError} `READER_USAGE` when there is no bucket or the prefix is invalid
 * @throws {ConfigError} for a parameter file that is missing (when named), unreadable or invalid
 */
export async function resolveTarget(options: TargetOptions): Promise<ReaderTarget> {
  const config = await readConfig(options.config);
  const bucket = options.bucket || options.envBucket || config?.archive.bucket;
  if (!bucket) {
    throw new ReaderError(
      "READER_USAGE",
      `No bucket: pass --bucket, set ARCHIVE_BUCKET, or set archive.bucket in the parameter file (${
        options.config ?? DEFAULT_CONFIG_PATH
      }).`,
    );
  }
  let prefix = config?.archive.prefix ?? configSchema.shape.archive.parse(undefined).prefix;
  if (options.prefix !== undefined) {
    const checked = configSchema.shape.archive.safeParse({ prefix: options.prefix });
    if (!checked.success) {
      throw new ReaderError(
        "READER_USAGE",
        `--prefix ${JSON.stringify(options.prefix)} is invalid: ${checked.error.issues[0]?.message ?? "see README"}.`,
      );
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

const GROUP_ID = /^[0-9a-f]{24}$/;
const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Checks `--group`, `--tenant` and `--sp` values (the same characters the parameter file allows).
 *
 * @throws {ReaderError} `READER_USAGE` naming the bad value
 */
export function checkSelection(selection: { group?: string; tenant?: string; sp?: string }): void {
  if (selection.group !== undefined && !GROUP_ID.test(selection.group)) {
    throw new ReaderError(
      "READER_USAGE",
      `--group ${JSON.stringify(selection.group)} is not an Atlas project id: 24 lowercase hexadecimal characters, ` +
        "as in Atlas URLs (/v2/groups/<groupId>).",
    );
  }
  for (const [flag, value] of [
    ["--tenant", selection.tenant],
    ["--sp", selection.sp],
  ] as const) {
    if (value !== undefined && !NAME.test(value)) {
      throw new ReaderError(
        "READER_USAGE",
        `${flag} ${JSON.stringify(value)} is not a valid name: 1-64 letters, digits, "-" or "_".`,
      );
    }
  }
}
