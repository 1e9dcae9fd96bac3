/**
 * The archive contract: the S3 key layout and its inverse, and the user metadata every archived
 * object carries. The writer, the readers, the IAM policy and the Athena table all depend on it.
 * Pure string work, in the configuration module because `lib/` may import only that one from the
 * runtime tree.
 *
 * `{prefix}group={groupId}/tenant={tenantName}/date={YYYY-MM-DD}/{tenantName}[_{spName}]_{start}_{end}_audit.log.gz`
 */
import { formatInstant, type TimeWindow } from "../windows";
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

/** The folder of one workspace's tenant, above its date partitions (ends with `/`). */
export function tenantPrefix(prefix: string, workspace: Pick<Workspace, "groupId" | "tenantName">): string {
  return `${prefix}group=${workspace.groupId}/tenant=${workspace.tenantName}/`;
}

/** The partition folder of one workspace and UTC date (ends with `/`). */
export function partitionPrefix(prefix: string, workspace: Workspace, date: string): string {
  return `${tenantPrefix(prefix, workspace)}date=${date}/`;
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

/** Metadata key of the CRC32 (base64) the archiver measured, on objects stored with one request. */
export const CRC32_METADATA = "crc32";

/** What the object's metadata says about the window it holds, known before the download. */
export interface ObjectMetadataInput {
  readonly workspace: Workspace;
  readonly window: TimeWindow;
  readonly apiVersion: string;
  readonly runId: string;
  /** The file name from Atlas's `Content-Disposition`, if any. */
  readonly atlasFileName?: string | undefined;
}

/** The user metadata of an archived object (docs/layout.md, "The S3 layout"). */
export function objectMetadata(input: ObjectMetadataInput): Record<string, string> {
  const { workspace, window, atlasFileName } = input;
  return {
    "window-start": formatInstant(window.startMs),
    "window-end": formatInstant(window.endMs),
    "group-id": workspace.groupId,
    "tenant-name": workspace.tenantName,
    ...(workspace.spName === undefined ? {} : { "sp-name": workspace.spName }),
    "atlas-api-version": input.apiVersion,
    "run-id": input.runId,
    // Only printable ASCII may travel in an S3 metadata header.
    ...(atlasFileName && /^[\x20-\x7e]{1,512}$/.test(atlasFileName)
      ? { "atlas-file-name": atlasFileName }
      : {}),
  };
}

/** Differences between an object's metadata and the workspace and window its key names. */
export function metadataMismatches(
  meta: Readonly<Record<string, string>>,
  workspace: Workspace,
  window: TimeWindow,
): string[] {
  const expected: Record<string, string | undefined> = {
    "window-start": formatInstant(window.startMs),
    "window-end": formatInstant(window.endMs),
    "group-id": workspace.groupId,
    "tenant-name": workspace.tenantName,
    "sp-name": workspace.spName,
  };
  const out: string[] = [];
  for (const [name, want] of Object.entries(expected)) {
    const got = meta[name];
    if (got !== want) {
      out.push(
        `${name} is ${got === undefined ? "missing" : JSON.stringify(got.slice(0, 100))}, the key says ${want ?? "none"}`,
      );
    }
  }
  return out;
}

/**
 * Where the integrity records live, beside the archive: `{prefix}_receipts/` (one receipt per
 * archived window: what was measured in flight) and `{prefix}_digests/` (one signed digest per
 * workspace and UTC day). The leading underscore keeps them out of the Athena table (Hive and
 * Athena skip such folders, and the table's partition projection never names them) and out of the
 * readers' listings, while the function's write permission on `{prefix}*` covers them.
 */
export const RECEIPTS_FOLDER = "_receipts/";
export const DIGESTS_FOLDER = "_digests/";

/** The receipt of one archived window: the log's key, mirrored under `{prefix}_receipts/`, with `.json`. */
export function receiptKey(prefix: string, workspace: Workspace, window: TimeWindow): string {
  return `${prefix}${RECEIPTS_FOLDER}${archiveKey("", workspace, window)}.json`;
}

/** The folder of one workspace's receipts for a UTC date (ends with `/`). */
export function receiptsPrefix(prefix: string, workspace: Workspace, date: string): string {
  return `${prefix}${RECEIPTS_FOLDER}${partitionPrefix("", workspace, date)}`;
}

/** `{tenantName}[_{spName}]`: how a workspace's files begin. */
export function workspaceStem(workspace: Workspace): string {
  return workspace.spName === undefined
    ? workspace.tenantName
    : `${workspace.tenantName}_${workspace.spName}`;
}

/**
 * The folder of one workspace's digests (ends with `/`):
 * `{prefix}_digests/group={groupId}/tenant={tenantName}/workspace={stem}/`.
 */
export function digestsPrefix(prefix: string, workspace: Workspace): string {
  return `${prefix}${DIGESTS_FOLDER}${tenantPrefix("", workspace)}workspace=${workspaceStem(workspace)}/`;
}

/**
 * The key of the digest that seals a workspace's UTC day `date`: one per day, so sealing is a
 * conditional write (a second sealer gets 412) and a day's digest is found without a listing; in
 * a listing the digests come in date order, which is the chain's order (days are sealed in order).
 *
 * @example
 * ```ts
 * digestKey("atlas/stream-audit/", workspace, "2026-11-28");
 * // "atlas/stream-audit/_digests/group=…/tenant=prod-workspace/workspace=prod-workspace/2026-11-28_digest.json"
 * ```
 */
export function digestKey(prefix: string, workspace: Workspace, date: string): string {
  return `${digestsPrefix(prefix, workspace)}${date}_digest.json`;
}

/** The UTC day a digest key seals, or undefined for any other key. */
export function parseDigestKey(prefix: string, workspace: Workspace, key: string): string | undefined {
  const folder = digestsPrefix(prefix, workspace);
  if (!key.startsWith(folder)) return undefined;
  return /^(\d{4}-\d{2}-\d{2})_digest\.json$/.exec(key.slice(folder.length))?.[1];
}
