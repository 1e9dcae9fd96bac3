/**
 * Reading the archive's S3 keys back: the inverse of `archiveKey` in `config/layout.ts`.
 *
 * `{prefix}group={groupId}/tenant={tenantName}/date={YYYY-MM-DD}/{tenantName}[_{spName}]_{start}_{end}_audit.log.gz`
 */
import { archiveKey, OBJECT_SUFFIX, type Workspace } from "../config";
import type { TimeWindow } from "../windows";

/** A key that names one archived window of one workspace. */
export interface ParsedKey {
  readonly workspace: Workspace;
  readonly window: TimeWindow;
  /** The `date=` partition (the UTC date of the window start). */
  readonly date: string;
}

/** The result of {@link parseArchiveKey}: the parsed key, or why it is not an archive key. */
export type KeyParse = ({ readonly ok: true } & ParsedKey) | { readonly ok: false; readonly reason: string };

const PARTITIONS = /^group=([^/]+)\/tenant=([^/]+)\/date=(\d{4}-\d{2}-\d{2})\/([^/]+)$/;
const STAMP = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

function parseStamp(stamp: string): number | undefined {
  const m = STAMP.exec(stamp);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Parses an archive key. The file name is read from the right (its last two `_` fields are the
 * window's start and end), and the `tenant=` partition splits the rest into the tenant name (which
 * may itself contain `_`) and an optional stream processor name. A key is accepted only when
 * `archiveKey` gives it back exactly, so the date partition, the timestamps and the name all agree.
 *
 * @example
 * ```ts
 * parseArchiveKey("atlas/stream-audit/",
 *   "atlas/stream-audit/group=32b6e34b3d91647abb20e7b8/tenant=billing/date=2026-11-28/" +
 *   "billing_payments_20261128T130000Z_20261128T140000Z_audit.log.gz");
 * // { ok: true, workspace: { groupId: "32b6…", tenantName: "billing", spName: "payments" },
 * //   window: { startMs: …13:00, endMs: …14:00 }, date: "2026-11-28" }
 * ```
 */
export function parseArchiveKey(prefix: string, key: string): KeyParse {
  if (!key.startsWith(prefix)) return { ok: false, reason: `is not under the archive prefix "${prefix}"` };
  const m = PARTITIONS.exec(key.slice(prefix.length));
  if (!m) {
    return {
      ok: false,
      reason: "does not follow group=<groupId>/tenant=<tenantName>/date=<YYYY-MM-DD>/<file>",
    };
  }
  const [, groupId = "", tenantName = "", date = "", file = ""] = m;
  if (!file.endsWith(OBJECT_SUFFIX))
    return { ok: false, reason: `file name does not end with ${OBJECT_SUFFIX}` };
  const fields = file.slice(0, -OBJECT_SUFFIX.length).split("_");
  const endStamp = fields.pop() ?? "";
  const startStamp = fields.pop() ?? "";
  const name = fields.join("_");
  const startMs = parseStamp(startStamp);
  const endMs = parseStamp(endStamp);
  if (startMs === undefined || endMs === undefined) {
    return { ok: false, reason: "file name does not end with _<start>_<end> as YYYYMMDDTHHmmssZ" };
  }
  if (endMs <= startMs) return { ok: false, reason: "window end is not after its start" };
  let workspace: Workspace;
  if (name === tenantName) workspace = { groupId, tenantName };
  else if (name.startsWith(`${tenantName}_`) && name.length > tenantName.length + 1) {
    workspace = { groupId, tenantName, spName: name.slice(tenantName.length + 1) };
  } else {
    return { ok: false, reason: `file name does not start with the tenant name "${tenantName}"` };
  }
  const window = { startMs, endMs };
  if (archiveKey(prefix, workspace, window) !== key) {
    return { ok: false, reason: `date partition ${date} is not the UTC date of the window start` };
  }
  return { ok: true, workspace, window, date };
}
