/**
 * The proxy's side of s3rver: what a handler works with ({@link Backend}, {@link Call}), and the
 * exchanges with s3rver, streamed (bodies and downloads) or read whole (small XML): headers
 * rewritten for it, bodies checked on the way, responses relayed to the client.
 */
import http, {
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from "node:http";
import { BitFlipper, BodyMeter, type BodyVerdict } from "./body";
import type { ClassifiedRequest } from "./classify";
import type { KeyLocks } from "./locks";
import { S3RVER_CREDENTIALS } from "./owner";
import type { StoreLayout } from "./store";

/** What a request handler works with. */
export interface Backend {
  readonly layout: StoreLayout;
  readonly upstream: { readonly host: string; readonly port: number; readonly agent: http.Agent };
  readonly locks: KeyLocks;
  readonly conditionalWrites: boolean;
  /** Verify, store and report checksums; false plays a store that ignores them. */
  readonly checksums: boolean;
}

/** One request being answered: the backend, the request as classified, and its two streams. */
export interface Call {
  readonly ctx: Backend;
  readonly c: ClassifiedRequest;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
}

/** A response from s3rver, read whole (only used for small XML or empty bodies). */
export interface Captured {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** The client went away before the request was complete. */
export class ClientGone extends Error {}

/** The request body is too large an XML body. */
export class BadBody extends Error {}

/** Largest XML request body (CompleteMultipartUpload) the proxy reads into memory. */
const MAX_XML_BODY = 4 * 1024 * 1024;

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "expect",
  "te",
  "trailer",
  "host",
]);

/** The path-style path of an object. */
export function objectPath(bucket: string, key: string): string {
  return `/${encodeURIComponent(bucket)}/${key.split("/").map(encodeURIComponent).join("/")}`;
}

export function isOk(status: number): boolean {
  return status >= 200 && status < 300;
}

/**
 * Request headers for s3rver: hop-by-hop headers dropped, and a SigV4 credential's access key id
 * replaced by the only one s3rver knows (it does not check V4 signatures), so any credentials work.
 */
export function forwardHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  const authorization = headers.authorization;
  if (authorization?.startsWith("AWS4-HMAC-SHA256 ")) {
    out.authorization = authorization.replace(
      /Credential=[^/,\s]+\//,
      `Credential=${S3RVER_CREDENTIALS.accessKeyId}/`,
    );
  }
  return out;
}

/** Response headers for the client: hop-by-hop headers dropped. */
function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !["connection", "keep-alive", "transfer-encoding"].includes(name)) {
      out[name] = value;
    }
  }
  return out;
}

/** Sends s3rver's response, with `extra` headers, to the client. */
export function relay(res: ServerResponse, response: Captured, extra: OutgoingHttpHeaders = {}): void {
  const headers = { ...responseHeaders(response.headers), ...extra };
  if (response.body.length > 0 || headers["content-length"] !== undefined)
    headers["content-length"] = response.body.length;
  res.writeHead(response.status, headers);
  res.end(response.body);
}

/** Reads and discards the rest of a request body. */
export function drain(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    if (req.readableEnded || req.destroyed) return resolve();
    req.once("end", resolve);
    req.once("close", resolve);
    req.resume();
  });
}

/** Reads a small request body (XML) whole. */
export async function readSmall(req: IncomingMessage, res: ServerResponse): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_XML_BODY) {
      res.once("finish", () => req.socket.destroy());
      throw new BadBody(`XML body larger than ${MAX_XML_BODY} bytes`);
    }
    chunks.push(chunk);
  }
  if (!req.complete) throw new ClientGone();
  return Buffer.concat(chunks);
}

function upstreamRequest(
  ctx: Backend,
  options: { method: string; path: string; headers: OutgoingHttpHeaders },
): http.ClientRequest {
  const { host, port, agent } = ctx.upstream;
  return http.request({ host, port, agent, ...options });
}

/** Sends a request to s3rver and reads its (small) response whole. */
function capture(upstream: http.ClientRequest): Promise<Captured> {
  return new Promise((resolve, reject) => {
    upstream.on("error", reject);
    upstream.once("response", (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", reject);
      response.once("end", () =>
        resolve({
          status: response.statusCode ?? 502,
          headers: response.headers,
          body: Buffer.concat(chunks),
        }),
      );
    });
  });
}

/**
 * Sends a request with a small body (already read, e.g. by {@link readSmall}) on to s3rver as it
 * came, and reads the response whole; fails with {@link ClientGone} when the client leaves.
 */
export async function exchange(
  ctx: Backend,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
): Promise<Captured> {
  const headers = forwardHeaders(req.headers);
  headers["content-length"] = body.length;
  const upstream = upstreamRequest(ctx, { method: req.method ?? "POST", path: req.url ?? "/", headers });
  const onClose = () => upstream.destroy(new ClientGone());
  res.once("close", onClose);
  try {
    const response = capture(upstream);
    upstream.end(body);
    return await response;
  } finally {
    res.off("close", onClose);
  }
}

/**
 * Streams a request body (the middle bit flipped when `corrupt`) to `path` on s3rver while checking
 * it (unless checksums are off), and reads s3rver's (small) response. Rejects with {@link ClientGone}.
 */
export async function streamBody(
  call: Call,
  path: string,
  corrupt: boolean,
): Promise<{ response: Captured; verdict: BodyVerdict }> {
  const { ctx, req, res } = call;
  const upstream = upstreamRequest(ctx, {
    method: req.method ?? "PUT",
    path,
    headers: forwardHeaders(req.headers),
  });
  const response = capture(upstream);
  // A store that ignores checksums sees no declared ones: it verifies nothing and stores nothing.
  const meter = new BodyMeter(ctx.checksums ? req.headers : {});
  const length = Number(req.headers["content-length"] ?? 0);
  const flipper = corrupt ? new BitFlipper(Number.isFinite(length) ? Math.floor(length / 2) : 0) : undefined;
  const body = new Promise<void>((resolve, reject) => {
    const fail = (error: Error) => {
      upstream.destroy(error);
      reject(error);
    };
    res.once("close", () => {
      if (!res.writableFinished) fail(new ClientGone());
    });
    req.once("close", () => {
      if (!req.complete) fail(new ClientGone());
    });
    upstream.on("error", fail);
    meter.once("error", fail);
    meter.once("end", resolve);
  });
  response.catch(() => {});
  body.catch(() => {});
  (flipper === undefined ? req : req.pipe(flipper)).pipe(meter).pipe(upstream);
  await body;
  return { response: await response, verdict: meter.verdict() };
}

/** Streams a request to s3rver and its response back, adding headers from `decorate`. */
export function passthrough(
  ctx: Backend,
  req: IncomingMessage,
  res: ServerResponse,
  decorate?: (status: number) => Promise<OutgoingHttpHeaders>,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const upstream = upstreamRequest(ctx, {
      method: req.method ?? "GET",
      path: req.url ?? "/",
      headers: forwardHeaders(req.headers),
    });
    res.once("close", () => {
      if (!res.writableFinished) {
        upstream.destroy();
        resolve();
      }
    });
    upstream.on("error", reject);
    upstream.once("response", (response) => {
      const status = response.statusCode ?? 502;
      (decorate ? decorate(status) : Promise.resolve({}))
        .then((extra) => {
          res.writeHead(status, { ...responseHeaders(response.headers), ...extra });
          response.on("error", reject);
          response.once("end", resolve);
          response.pipe(res);
        })
        .catch(reject);
    });
    req.pipe(upstream);
  });
}
