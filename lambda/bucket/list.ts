/**
 * Listing the archive bucket: the one ListObjectsV2 loop of the archiver (pages, continuation,
 * the guards against a store that does not behave like S3), and the existing keys of a workspace.
 */
import { ListObjectsV2Command, type ListObjectsV2CommandOutput, type S3Client } from "@aws-sdk/client-s3";
import { partitionPrefix, type Workspace } from "../config";
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

/**
 * The objects that exist for `workspace` on the UTC `dates` (one listing per date partition), by key.
 *
 * @example
 * ```ts
 * const existing = await existingObjects(s3, { bucket, prefix }, workspace, ["2026-11-28"]);
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
  for (const date of dates) {
    const request = {
      bucket: location.bucket,
      prefix: partitionPrefix(location.prefix, workspace, date),
      ...(workspace.label === undefined ? {} : { workspace: workspace.label }),
    };
    for await (const page of listPages(s3, request, signal)) {
      for (const listed of page.contents) existing.set(listed.key, listed);
    }
  }
  return existing;
}
