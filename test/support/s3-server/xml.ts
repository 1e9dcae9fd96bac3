/** S3 XML bodies: escaping, error documents, and the S3 errors the proxy answers with. */
import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";

/** The S3 XML namespace of every response document. */
export const S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/";

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

/** Escapes text for an XML element or attribute. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ENTITIES[ch] ?? ch);
}

/** Reverses {@link escapeXml} and numeric character references. */
export function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, ref: string) => {
    if (ref.startsWith("#x")) return String.fromCodePoint(Number.parseInt(ref.slice(2), 16));
    if (ref.startsWith("#")) return String.fromCodePoint(Number.parseInt(ref.slice(1), 10));
    return { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[ref] ?? "";
  });
}

/** `<name>value</name>` with the value escaped; nothing when the value is undefined. */
export function element(name: string, value: string | number | boolean | undefined): string {
  return value === undefined ? "" : `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** A fresh request id, as S3 sends in `x-amz-request-id`. */
export function requestId(): string {
  return randomBytes(8).toString("hex").toUpperCase();
}

/*
 * Which S3 error code a bare status stands for when a fault names none. These are real S3 codes, but
 * the choice of one per status is the test server's.
 */
const DEFAULT_CODES: Record<number, string> = {
  400: "InvalidRequest",
  403: "AccessDenied",
  404: "NoSuchKey",
  409: "ConditionalRequestConflict",
  412: "PreconditionFailed",
  500: "InternalError",
  501: "NotImplemented",
  503: "SlowDown",
};

/** The S3 error code used for `status` when none is given (`InternalError` for unlisted statuses). */
export function defaultErrorCode(status: number): string {
  return DEFAULT_CODES[status] ?? "InternalError";
}

/** An S3 `<Error>` document. */
export function errorXml(code: string, message: string, extra: Record<string, string> = {}): string {
  const fields = Object.entries(extra)
    .map(([name, value]) => element(name, value))
    .join("");
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error>${element("Code", code)}${element("Message", message)}` +
    `${fields}${element("RequestId", requestId())}${element("HostId", "s3-test-server")}</Error>`
  );
}

/** Sends an XML document (no body for HEAD requests, as S3 does). */
export function sendXml(res: ServerResponse, status: number, xml: string, headOnly = false): void {
  const body = Buffer.from(xml);
  res.writeHead(status, {
    "content-type": "application/xml",
    "content-length": body.length,
    "x-amz-request-id": requestId(),
  });
  res.end(headOnly ? undefined : body);
}

/** Sends an S3 error response. */
export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  options: { extra?: Record<string, string>; headOnly?: boolean } = {},
): void {
  sendXml(res, status, errorXml(code, message, options.extra), options.headOnly);
}

/** An S3 error the proxy answers with. */
export interface S3Problem {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

export function sendProblem(res: ServerResponse, problem: S3Problem): void {
  sendError(res, problem.status, problem.code, problem.message);
}

export function noSuchBucket(res: ServerResponse, bucket: string): void {
  sendError(res, 404, "NoSuchBucket", "The specified bucket does not exist", {
    extra: { BucketName: bucket },
  });
}

export function noSuchUpload(res: ServerResponse, uploadId: string): void {
  sendError(
    res,
    404,
    "NoSuchUpload",
    "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    { extra: { UploadId: uploadId } },
  );
}

export function preconditionFailed(res: ServerResponse): void {
  sendError(res, 412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold", {
    extra: { Condition: "If-None-Match" },
  });
}
