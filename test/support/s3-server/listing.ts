/**
 * ListObjectsV2, answered by the proxy from s3rver's store (prefix, delimiter, max-keys,
 * start-after, continuation tokens; no fetch-owner or encoding-type, which the archiver never
 * sends). s3rver's own ListObjectsV2 pages with a DES continuation token (which Node 17+ refuses
 * without `--openssl-legacy-provider`) and walks directories in an order that is not S3's key
 * order, so pagination can skip keys.
 */
import { REPEATED_CONTINUATION_TOKEN } from "./faults";
import { compareKeys, type StoreLayout } from "./store";
import { element, S3_NAMESPACE } from "./xml";

/** A listing request S3 would reject. */
export class ListingError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Entry {
  readonly value: string;
  readonly isPrefix: boolean;
}

function encodeToken(entry: Entry): string {
  return Buffer.from(JSON.stringify([entry.isPrefix ? 1 : 0, entry.value])).toString("base64url");
}

function decodeToken(token: string): Entry {
  try {
    const [isPrefix, value] = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as [
      number,
      string,
    ];
    if (typeof value !== "string") throw new TypeError("value");
    return { value, isPrefix: isPrefix === 1 };
  } catch {
    throw new ListingError("InvalidArgument", "The continuation token provided is incorrect");
  }
}

function parseMaxKeys(text: string | null): number {
  if (text === null) return 1000;
  if (!/^\d+$/.test(text) || Number(text) > 2147483647) {
    throw new ListingError("InvalidArgument", "Provided max-keys not an integer or within integer range");
  }
  return Math.min(1000, Number(text));
}

/** How {@link listObjectsV2} answers, besides the query. */
export interface ListingOptions {
  /** Report each object's stored checksum as S3 does (`<ChecksumAlgorithm>`, `<ChecksumType>`). */
  readonly checksums: boolean;
  /**
   * A `repeat-token` fault: the page is truncated, and its next token is the request's own
   * (or {@link REPEATED_CONTINUATION_TOKEN} without one).
   */
  readonly repeatToken?: boolean;
}

/**
 * The ListObjectsV2 response document for `query`. An object
 * with a stored checksum lists it as S3 does, between `<ETag>` and `<Size>`:
 * `<ChecksumAlgorithm>CRC32</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType>` (its
 * algorithm upper-case; every checksum this server stores is of the full object).
 */
export async function listObjectsV2(
  layout: StoreLayout,
  bucket: string,
  query: URLSearchParams,
  options: ListingOptions = { checksums: true },
): Promise<string> {
  const prefix = query.get("prefix") ?? "";
  const delimiter = query.get("delimiter") ?? "";
  const maxKeys = parseMaxKeys(query.get("max-keys"));
  const token = query.get("continuation-token");
  const startAfter = query.get("start-after") ?? "";
  const after: Entry = token !== null ? decodeToken(token) : { value: startAfter, isPrefix: false };

  const entries: Entry[] = [];
  let truncated = false;
  for (const key of layout.keys(bucket, prefix)) {
    if (compareKeys(key, after.value) <= 0 || (after.isPrefix && key.startsWith(after.value))) continue;
    let entry: Entry = { value: key, isPrefix: false };
    if (delimiter !== "") {
      const at = key.indexOf(delimiter, prefix.length);
      if (at !== -1) entry = { value: key.slice(0, at + delimiter.length), isPrefix: true };
    }
    const last = entries[entries.length - 1];
    if (last?.isPrefix && entry.isPrefix && last.value === entry.value) continue;
    if (entries.length === maxKeys) {
      truncated = true;
      break;
    }
    entries.push(entry);
  }

  const objects = entries.filter((e) => !e.isPrefix);
  const [metas, checksums] = await Promise.all([
    Promise.all(
      objects.map((entry) =>
        layout.metadata(bucket, entry.value).catch(() => undefined /* deleted meanwhile */),
      ),
    ),
    Promise.all(
      objects.map((entry) =>
        options.checksums ? layout.checksum(bucket, entry.value) : Promise.resolve(undefined),
      ),
    ),
  ]);
  const contents = objects.map((entry, i) => {
    const meta = metas[i];
    if (meta === undefined) return "";
    const checksum = checksums[i];
    const reported =
      checksum === undefined
        ? ""
        : `${element("ChecksumAlgorithm", checksum.algorithm.toUpperCase())}${element("ChecksumType", "FULL_OBJECT")}`;
    return (
      `<Contents>${element("Key", entry.value)}` +
      `${element("LastModified", new Date(meta["last-modified"]).toISOString())}` +
      `${element("ETag", meta.etag)}${reported}${element("Size", Number(meta["content-length"]))}` +
      `${element("StorageClass", "STANDARD")}</Contents>`
    );
  });
  const prefixes = entries
    .filter((e) => e.isPrefix)
    .map((e) => `<CommonPrefixes>${element("Prefix", e.value)}</CommonPrefixes>`);
  const last = entries[entries.length - 1];
  const next = options.repeatToken
    ? (token ?? REPEATED_CONTINUATION_TOKEN)
    : truncated && last !== undefined
      ? encodeToken(last)
      : undefined;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="${S3_NAMESPACE}">` +
    `${element("Name", bucket)}${element("Prefix", prefix)}` +
    `${delimiter === "" ? "" : element("Delimiter", delimiter)}${element("MaxKeys", maxKeys)}` +
    `${element("KeyCount", entries.length)}${element("IsTruncated", next !== undefined)}` +
    `${token === null ? "" : element("ContinuationToken", token)}` +
    `${next === undefined ? "" : element("NextContinuationToken", next)}` +
    `${token === null && startAfter !== "" ? element("StartAfter", startAfter) : ""}` +
    `${contents.join("")}${prefixes.join("")}</ListBucketResult>`
  );
}
