/**
 * The archive's S3 key layout: a contract that the pipeline, the reader, the IAM policy and the
 * Athena table all depend on. Pure string work, shared by `lib/` and `lambda/`.
 *
 * `{prefix}group={groupId}/tenant={tenantName}/date={YYYY-MM-DD}/{tenantName}[_{spName}]_{start}_{end}_audit.log.gz`
 */
import type { TimeWindow } from "../windows";
import type { Workspace } from "./types";

/** Suffix of every archived object. */
export const OBJECT_SUFFIX = "_audit.log.gz";

/** `20261128T130000Z`: the compact UTC form used in file names. */
export function compactUtc(timeMs: number): string {
  return new Date(timeMs)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
}

/** `2026-11-28`: the UTC date of an instant, as used in the `date=` partition. */
export function utcDate(timeMs: number): string {
  return new Date(timeMs).toISOString().slice(0, 10);
}

/** The partition folder of one workspace and UTC date (ends with `/`). */
export function partitionPrefix(prefix: string, workspace: Workspace, date: string): string {
  return `${prefix}group=${workspace.groupId}/tenant=${workspace.tenantName}/date=${date}/`;
}

/** The file name of one workspace's window, without its folder. */
export function objectFileName(workspace: Workspace, window: TimeWindow): string {
  const sp = workspace.spName === undefined ? "" : `_${workspace.spName}`;
  return `${workspace.tenantName}${sp}_${compactUtc(window.startMs)}_${compactUtc(window.endMs)}${OBJECT_SUFFIX}`;
}

/**
 * The S3 key of one workspace's window. The `date` partition is the UTC date of the window start.
 *
 * @example
 * ```ts
 * archiveKey("atlas/stream-audit/", { groupId: "32b6e34b3d91647abb20e7b8", tenantName: "prod-workspace" },
 *   { startMs: Date.parse("2026-11-28T13:00:00Z"), endMs: Date.parse("2026-11-28T14:00:00Z") });
 * // "atlas/stream-audit/group=32b6e34b3d91647abb20e7b8/tenant=prod-workspace/date=2026-11-28/
 * //  prod-workspace_20261128T130000Z_20261128T140000Z_audit.log.gz"
 * ```
 */
export function archiveKey(prefix: string, workspace: Workspace, window: TimeWindow): string {
  return partitionPrefix(prefix, workspace, utcDate(window.startMs)) + objectFileName(workspace, window);
}
