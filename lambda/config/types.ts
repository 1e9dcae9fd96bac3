/** The validated parameter file, as the rest of the archiver sees it (every default applied). */
import type { WindowSettings } from "../windows";

export type { WindowSettings };

/** One Stream Processing workspace to archive, optionally narrowed to one stream processor. */
export interface Workspace {
  /** Atlas project id (24 lowercase hexadecimal characters). */
  readonly groupId: string;
  /** Workspace (stream instance) name, `tenantName` in the Atlas API. */
  readonly tenantName: string;
  /** Only this stream processor's log; absent = the whole workspace. */
  readonly spName?: string;
}

/** The whole parameter file after validation and defaults. */
export interface ArchiverConfig {
  readonly atlas: {
    /** Without a trailing slash, e.g. `https://cloud.mongodb.com`. */
    readonly baseUrl: string;
    /** `YYYY-MM-DD`, used in the versioned `Accept` header. */
    readonly apiVersion: string;
  };
  readonly archive: {
    /** Absent when the CDK stack creates the bucket (the CLI then reads `ARCHIVE_BUCKET`). */
    readonly bucket?: string;
    /** Empty or ends with `/`. */
    readonly prefix: string;
  };
  readonly window: WindowSettings;
  /** EventBridge schedule expression, `rate(...)` or `cron(...)`. */
  readonly schedule: string;
  readonly workspaces: readonly Workspace[];
}

/**
 * The label that names a workspace in errors, logs and metrics.
 *
 * @example
 * ```ts
 * workspaceLabel({ groupId: "32b6e34b3d91647abb20e7b8", tenantName: "billing", spName: "payments" });
 * // "32b6e34b3d91647abb20e7b8/billing/payments"
 * ```
 */
export function workspaceLabel(w: Workspace): string {
  return w.spName === undefined ? `${w.groupId}/${w.tenantName}` : `${w.groupId}/${w.tenantName}/${w.spName}`;
}
