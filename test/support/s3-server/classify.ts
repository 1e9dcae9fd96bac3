/** Names a path-style S3 request as the S3 operation it is. */
import type { IncomingHttpHeaders } from "node:http";

/**
 * The operations the test server tells apart; everything else is `other`. CopyObject is named (and
 * refused, see the proxy) so that the archiver's tests can check that nothing copies.
 */
export type S3OperationName =
  | "PutObject"
  | "GetObject"
  | "HeadObject"
  | "DeleteObject"
  | "CopyObject"
  | "ListObjectsV2"
  | "CreateMultipartUpload"
  | "UploadPart"
  | "CompleteMultipartUpload"
  | "AbortMultipartUpload"
  | "other";

/** A request, classified. */
export interface ClassifiedRequest {
  readonly op: S3OperationName;
  /** `""` for service-level requests. */
  readonly bucket: string;
  /** The object key; for ListObjectsV2 the `prefix`; otherwise `""`. */
  readonly key: string;
  readonly query: URLSearchParams;
  readonly uploadId?: string;
  readonly partNumber?: number;
  /** The request carries `If-None-Match: *` (a conditional write). */
  readonly ifNoneMatchStar: boolean;
  /** The `If-None-Match` header, if any. */
  readonly ifNoneMatch?: string;
}

/** Classifies a path-style request (`/bucket/key?query`). */
export function classify(method: string, url: string, headers: IncomingHttpHeaders): ClassifiedRequest {
  const parsed = new URL(url, "http://s3.invalid");
  const query = parsed.searchParams;
  const path = parsed.pathname.slice(1);
  const slash = path.indexOf("/");
  const bucket = safeDecode(slash === -1 ? path : path.slice(0, slash));
  const objectKey = slash === -1 ? "" : safeDecode(path.slice(slash + 1));
  const uploadId = query.get("uploadId") ?? undefined;
  const partNumberText = query.get("partNumber");
  const partNumber = partNumberText === null ? undefined : Number(partNumberText);
  const ifNoneMatch = headers["if-none-match"];
  const base = {
    bucket,
    query,
    ifNoneMatchStar: ifNoneMatch === "*",
    ...(ifNoneMatch === undefined ? {} : { ifNoneMatch }),
    ...(uploadId === undefined ? {} : { uploadId }),
    ...(partNumber === undefined ? {} : { partNumber }),
  };

  const op = operationOf(method.toUpperCase(), bucket, objectKey, query, headers);
  const key = op === "ListObjectsV2" ? (query.get("prefix") ?? "") : objectKey;
  return { ...base, op, key };
}

function operationOf(
  method: string,
  bucket: string,
  key: string,
  query: URLSearchParams,
  headers: IncomingHttpHeaders,
): S3OperationName {
  if (bucket === "") return "other";
  if (key === "") return method === "GET" && query.get("list-type") === "2" ? "ListObjectsV2" : "other";
  const copy = headers["x-amz-copy-source"] !== undefined;
  switch (method) {
    case "PUT":
      if (query.has("uploadId")) return copy ? "other" : "UploadPart";
      if (hasSubresource(query)) return "other";
      return copy ? "CopyObject" : "PutObject";
    case "GET":
      return query.has("uploadId") || hasSubresource(query) ? "other" : "GetObject";
    case "HEAD":
      return "HeadObject";
    case "DELETE":
      if (query.has("uploadId")) return "AbortMultipartUpload";
      return hasSubresource(query) ? "other" : "DeleteObject";
    case "POST":
      if (query.has("uploads")) return "CreateMultipartUpload";
      if (query.has("uploadId")) return "CompleteMultipartUpload";
      return "other";
    default:
      return "other";
  }
}

/** Object subresources that make a request something other than the plain object operation. */
const SUBRESOURCES = [
  "acl",
  "tagging",
  "legal-hold",
  "retention",
  "torrent",
  "attributes",
  "restore",
  "select",
];

function hasSubresource(query: URLSearchParams): boolean {
  return SUBRESOURCES.some((name) => query.has(name));
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
