/**
 * Listing the archive: the archived objects of a group (and tenant) whose window overlaps a range,
 * read from S3 listings and the key layout alone.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { listPages as listBucketPages, listDates } from "../bucket/list";
import {
  DIGESTS_FOLDER,
  parseArchiveKey,
  RECEIPTS_FOLDER,
  utcDate,
  type Workspace,
  workspaceLabel,
} from "../config";
import { overlaps, type TimeRange } from "../range";
import type { TimeWindow } from "../windows";
import { READER_ROLE } from "./errors";

/** Where the archive is: a bucket and the key prefix (empty or ending with `/`). */
export interface ArchiveLocation {
  readonly bucket: string;
  readonly prefix: string;
}

/** One archived window, as listed. */
export interface ArchivedObject {
  readonly key: string;
  /** Size in bytes, from the listing. */
  readonly size: number;
  readonly workspace: Workspace;
  readonly window: TimeWindow;
}

/** A key under the archive prefix that is not an archived window. */
export interface UnparsedKey {
  readonly key: string;
  readonly size: number;
  readonly reason: string;
}

/** Which part of the archive to list. */
export interface ArchiveSelection {
  /** Only this group; absent = the whole archive. */
  readonly groupId?: string;
  /** Only this tenant (requires `groupId`). */
  readonly tenantName?: string;
  /** Only windows overlapping this range. */
  readonly range?: TimeRange;
}

/** The result of {@link listArchive}. */
export interface ArchiveListing {
  /** Sorted by workspace, then window start. */
  readonly objects: ArchivedObject[];
  readonly unparsed: UnparsedKey[];
}

/** The archive's pages under `request.prefix`, as the reader lists them. */
function listPages(
  s3: S3Client,
  bucket: string,
  request: { prefix: string; delimiter?: string; startAfter?: string },
  signal?: AbortSignal,
) {
  return listBucketPages(s3, { bucket, ...request, role: READER_ROLE }, signal);
}

/**
 * Lists the archived windows of `selection`; keys under the prefix that do not parse are returned
 * in `unparsed`. With a range, each tenant's
 * listing starts at the range's first date partition and stops after its last one, so reading
 * one day of a years-old archive costs a listing of that day only.
 *
 * @example
 * ```ts
 * const { objects } = await listArchive(s3, { bucket, prefix }, { groupId, tenantName: "billing", range });
 * ```
 */
export async function listArchive(
  s3: S3Client,
  location: ArchiveLocation,
  selection: ArchiveSelection,
  signal?: AbortSignal,
): Promise<ArchiveListing> {
  const { bucket, prefix } = location;
  const { groupId, tenantName, range } = selection;
  const objects: ArchivedObject[] = [];
  const unparsed: UnparsedKey[] = [];
  const firstDate = range && utcDate(range.fromMs);
  const lastDate = range && utcDate(range.toMs - 1);

  const take = (key: string, size: number): void => {
    // The integrity records beside the archive (receipts, digests) are no archived windows.
    if (key.startsWith(`${prefix}${RECEIPTS_FOLDER}`) || key.startsWith(`${prefix}${DIGESTS_FOLDER}`)) return;
    const parsed = parseArchiveKey(prefix, key);
    if (!parsed.ok) {
      unparsed.push({ key, size, reason: parsed.reason });
      return;
    }
    if (range && !overlaps(parsed.window, range)) return;
    objects.push({ key, size, workspace: parsed.workspace, window: parsed.window });
  };

  // One tenant's objects, from the range's first date partition to its last.
  const listTenant = async (tenant: string): Promise<void> => {
    const request = {
      bucket,
      prefix: tenant,
      role: READER_ROLE,
      ...(firstDate === undefined ? {} : { firstDate }),
      ...(lastDate === undefined ? {} : { lastDate }),
    };
    for await (const { key, size } of listDates(s3, request, signal)) take(key, size);
  };

  if (groupId === undefined) {
    for await (const page of listPages(s3, bucket, { prefix }, signal)) {
      for (const { key, size } of page.contents) take(key, size);
    }
  } else {
    const groupPrefix = `${prefix}group=${groupId}/`;
    if (tenantName !== undefined) {
      await listTenant(`${groupPrefix}tenant=${tenantName}/`);
    } else {
      // The group's tenants first (one delimited listing), then each tenant's date range.
      const tenants: string[] = [];
      for await (const page of listPages(s3, bucket, { prefix: groupPrefix, delimiter: "/" }, signal)) {
        for (const { key, size } of page.contents) take(key, size);
        for (const p of page.prefixes) {
          if (p.startsWith(`${groupPrefix}tenant=`)) tenants.push(p);
          else unparsed.push({ key: p, size: 0, reason: "is not a tenant=<tenantName>/ partition" });
        }
      }
      for (const tenantPrefix of tenants) await listTenant(tenantPrefix);
    }
  }
  objects.sort(
    (a, b) =>
      compare(workspaceLabel(a.workspace), workspaceLabel(b.workspace)) ||
      a.window.startMs - b.window.startMs,
  );
  return { objects, unparsed };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
