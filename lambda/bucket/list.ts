/**
 * Listing the archive bucket: the one ListObjectsV2 loop of the archiver (pages, continuation,
 * the guards against a store that does not behave like S3), and the existing keys of a workspace.
 */
import { ListObjectsV2Command, type ListObjectsV2CommandOutput, type S3Client } from "@aws-sdk/client-s3";
import { tenantPrefix, type Workspace } from "../config";
import { listedWithFullObjectCrc32 } from "./checksum";
import { StorageError, type StorageRole, storageError } from "./errors";

/** One listed object. */
export interface ListedObject {
  readonly key: string;
  readonly size: number;
  /** Whether the listing shows S3's full-object CRC32 for it (the archiver's own objects always have one). */
  readonly fullObjectCrc32: boolean;
}

/** One page of a listing. */
export interface ListPage {
  readonly contents: readonly ListedObject[];
  /** Common prefixes, with a delimiter. */
  readonly prefixes: readonly string[];
}

/** What to list. */
export interface ListRequest {
  readonly bucket: string;
  readonly prefix: string;
  readonly delimiter?: string;
  /** Start after this key (the first page only). */
  readonly startAfter?: string;
  /** Who is asking, for the advice of an error. @default "archiver" */
  readonly role?: StorageRole;
  /** The workspace the listing is for, named in errors. */
  readonly workspace?: string;
}

/**
 * The pages of one ListObjectsV2 listing, one request at a time (so a consumer can stop early).
 * A store that says the listing goes on without a token (`S3_LIST_INVALID`), or hands out a
 * continuation token again (`S3_LIST_LOOP`), is an error: it would otherwise loop for ever.
 *
 * @example
 * ```ts
 * for await (const page of listPages(s3, { bucket, prefix: "atlas/group=…/" })) console.log(page.contents.length);
 * ```
 */
export async function* listPages(
  s3: S3Client,
  request: ListRequest,
  signal?: AbortSignal,
): AsyncGenerator<ListPage> {
  const { bucket, prefix } = request;
  const where = { bucket, workspace: request.workspace, role: request.role, key: prefix };
  const seen = new Set<string>();
  let token: string | undefined;
  do {
    let page: ListObjectsV2CommandOutput;
    try {
      page = await s3.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          Delimiter: request.delimiter,
          ContinuationToken: token,
          StartAfter: token === undefined ? request.startAfter : undefined,
        }),
        { abortSignal: signal },
      );
    } catch (err) {
      throw storageError(err, "ListObjectsV2", { ...where, key: undefined });
    }
    yield {
      contents: (page.Contents ?? []).flatMap((o) =>
        o.Key ? [{ key: o.Key, size: o.Size ?? 0, fullObjectCrc32: listedWithFullObjectCrc32(o) }] : [],
      ),
      prefixes: (page.CommonPrefixes ?? []).flatMap((p) => (p.Prefix ? [p.Prefix] : [])),
    };
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
    if (page.IsTruncated && !token) {
      throw new StorageError(
        "S3_LIST_INVALID",
        `ListObjectsV2 of s3://${bucket}/${prefix} said the listing goes on but gave no continuation token; ` +
          "the S3 endpoint is not behaving like S3.",
        where,
      );
    }
    if (token !== undefined) {
      if (seen.has(token)) {
        throw new StorageError(
          "S3_LIST_LOOP",
          `ListObjectsV2 of s3://${bucket}/${prefix} returned a continuation token it had already returned ` +
            `(after ${seen.size + 1} pages): the listing would never end. The S3 endpoint ` +
            "(AWS_ENDPOINT_URL_S3) is not behaving like S3.",
          where,
        );
      }
      seen.add(token);
    }
  } while (token);
}

/** What {@link listDates} lists: one tenant's partitions from one UTC date to another. */
export interface DateRangeRequest extends Omit<ListRequest, "startAfter" | "delimiter"> {
  /** The tenant's folder, `…/group=G/tenant=T/`. */
  readonly prefix: string;
  /** The first `date=` partition, `YYYY-MM-DD`; absent: from the tenant's first key. */
  readonly firstDate?: string;
  /** The last `date=` partition; absent: to the tenant's last key. */
  readonly lastDate?: string;
}

/**
 * The objects of a tenant's date partitions from `firstDate` to `lastDate`, in key order: one
 * listing that starts after the partition before the first and stops after the last, so that it
 * costs one request per 1,000 keys of the range, whatever the age of the archive.
 *
 * @example
 * ```ts
 * for await (const o of listDates(s3, { bucket, prefix: "atlas/group=…/tenant=prod/", firstDate: "2026-11-25", lastDate: "2026-11-28" })) …
 * ```
 */
export async function* listDates(
  s3: S3Client,
  request: DateRangeRequest,
  signal?: AbortSignal,
): AsyncGenerator<ListedObject> {
  const { firstDate, lastDate, ...rest } = request;
  const startAfter = firstDate === undefined ? undefined : `${request.prefix}date=${firstDate}`;
  // "/" sorts before "\uffff": every key of the last partition is below this bound.
  const stopAfter = lastDate === undefined ? undefined : `${request.prefix}date=${lastDate}/\uffff`;
  for await (const page of listPages(s3, { ...rest, ...(startAfter ? { startAfter } : {}) }, signal)) {
    for (const object of page.contents) {
      if (stopAfter !== undefined && object.key > stopAfter) return;
      yield object;
    }
  }
}

/**
 * The objects that exist for `workspace` from the earliest to the latest of the UTC `dates`, by
 * key: one listing of its tenant's partitions (see {@link listDates}).
 *
 * @example
 * ```ts
 * const existing = await existingObjects(s3, { bucket, prefix }, workspace, ["2026-11-27", "2026-11-28"]);
 * existing.has(archiveKey(prefix, workspace, window));
 * ```
 */
export async function existingObjects(
  s3: S3Client,
  location: { readonly bucket: string; readonly prefix: string },
  workspace: Workspace & { readonly label?: string },
  dates: Iterable<string>,
  signal?: AbortSignal,
): Promise<Map<string, ListedObject>> {
  const existing = new Map<string, ListedObject>();
  const sorted = [...dates].sort();
  const firstDate = sorted[0];
  const lastDate = sorted.at(-1);
  if (firstDate === undefined || lastDate === undefined) return existing;
  const request = {
    bucket: location.bucket,
    prefix: tenantPrefix(location.prefix, workspace),
    firstDate,
    lastDate,
    ...(workspace.label === undefined ? {} : { workspace: workspace.label }),
  };
  for await (const listed of listDates(s3, request, signal)) existing.set(listed.key, listed);
  return existing;
}
