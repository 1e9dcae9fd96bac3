/**
 * The request listener in front of s3rver: classifies and logs each request, applies injected
 * faults, and hands it to the handler of its operation (objects.ts, multipart.ts), or streams it
 * to s3rver as it is. CopyObject and aws-chunked (streamed) bodies are refused with 501: nothing
 * the archiver sends is either.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { classify, type S3OperationName } from "./classify";
import { closedWithin, type FaultQueue, type S3FaultKind } from "./faults";
import {
  abortMultipartUpload,
  completeMultipartUpload,
  createMultipartUpload,
  uploadPart,
} from "./multipart";
import { deleteObject, listObjects, putObject, readObject } from "./objects";
import { type Backend, BadBody, ClientGone, drain, passthrough } from "./upstream";
import { defaultErrorCode, sendError } from "./xml";

/**
 * The SDK frames a stream body (not a Buffer) as aws-chunked with a trailing checksum; s3rver would
 * store the framing as data, and nothing the archiver sends is framed so (its bodies are Buffers).
 */
const AWS_CHUNKED_REFUSED =
  "The S3 test server does not decode aws-chunked bodies: send a Buffer (with ContentLength), as the archiver does.";

/** One request the proxy received, recorded when its response ended (or its connection closed). */
export interface S3Operation {
  readonly op: S3OperationName;
  /** `""` for service-level requests. */
  readonly bucket: string;
  /** The object key; the `prefix` for ListObjectsV2; else `""`. */
  readonly key: string;
  readonly partNumber?: number;
  /** The HTTP status sent; 0 when no complete response was sent (client gone, server closed). */
  readonly status: number;
  readonly durationMs: number;
  /** The request's `If-None-Match` header (`"*"` for a conditional write), if it had one. */
  readonly ifNoneMatch?: string;
  /** The injected fault this request consumed, if any. */
  readonly fault?: S3FaultKind;
}

/** What the listener works with: the backend, the faults to apply and the log to append to. */
export interface ProxyContext extends Backend {
  readonly faults: FaultQueue;
  readonly operations: S3Operation[];
}

/** The node:http request listener of the proxy. */
export function createHandler(ctx: ProxyContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(ctx, req, res).catch((error: unknown) => {
      if (error instanceof ClientGone) return;
      if (res.headersSent) return void res.destroy();
      const headOnly = req.method === "HEAD";
      if (error instanceof BadBody) {
        // The rest of the body is unread: close the connection after answering.
        res.once("finish", () => req.socket.destroy());
        return sendError(res, 400, "IncompleteBody", error.message, { headOnly });
      }
      sendError(res, 500, "InternalError", `The S3 test server failed: ${String(error)}`, { headOnly });
    });
  };
}

async function handle(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = Date.now();
  const method = (req.method ?? "GET").toUpperCase();
  const c = classify(method, req.url ?? "/", req.headers);
  const injected = ctx.faults.take(c.op, c.key);
  const fault = injected === undefined ? undefined : (injected.kind ?? "status");
  let logged = false;
  const log = () => {
    if (logged) return;
    logged = true;
    ctx.operations.push({
      op: c.op,
      bucket: c.bucket,
      key: c.key,
      ...(c.partNumber === undefined ? {} : { partNumber: c.partNumber }),
      status: res.writableFinished ? res.statusCode : 0,
      durationMs: Date.now() - started,
      ...(c.ifNoneMatch === undefined ? {} : { ifNoneMatch: c.ifNoneMatch }),
      ...(fault === undefined ? {} : { fault }),
    });
  };
  res.once("finish", log);
  res.once("close", log);

  if (injected !== undefined && fault === "status") {
    await drain(req);
    const status = injected.status ?? 500;
    const code = injected.code ?? defaultErrorCode(status);
    return sendError(res, status, code, "Injected fault", { headOnly: method === "HEAD" });
  }
  if (fault === "stall" && (await closedWithin(res, injected?.ms ?? 1000))) return;
  if (/aws-chunked/i.test(String(req.headers["content-encoding"] ?? ""))) {
    await drain(req);
    return sendError(res, 501, "NotImplemented", AWS_CHUNKED_REFUSED);
  }
  const corrupt = fault === "corrupt";
  const call = { ctx, c, req, res };

  switch (c.op) {
    case "ListObjectsV2":
      return listObjects(call, fault === "repeat-token");
    case "PutObject":
      return putObject(call, corrupt);
    case "CopyObject":
      await drain(req);
      return sendError(
        res,
        501,
        "NotImplemented",
        "The S3 test server does not play CopyObject: nothing in the archiver copies objects (see test/support/s3-server/index.ts).",
      );
    case "CreateMultipartUpload":
      return createMultipartUpload(call);
    case "UploadPart":
      return uploadPart(call, corrupt);
    case "CompleteMultipartUpload":
      return completeMultipartUpload(call);
    case "AbortMultipartUpload":
      return abortMultipartUpload(call);
    case "DeleteObject":
      return deleteObject(call);
    case "GetObject":
    case "HeadObject":
      return readObject(call);
    default:
      // DeleteObjects (POST ?delete) and the like remove directories too.
      return method === "GET" || method === "HEAD"
        ? passthrough(ctx, req, res)
        : ctx.layout.exclusive(() => passthrough(ctx, req, res));
  }
}
