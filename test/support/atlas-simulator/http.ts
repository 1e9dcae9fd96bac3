/** Response helpers: ApiError bodies, abortable sleeps, and a body pump that applies faults and throttling. */
import { type OutgoingHttpHeaders, type ServerResponse, STATUS_CODES } from "node:http";
import { transferEncode } from "./hostile";
import type { Fault, RequestRecord } from "./types";

/** A body: a known buffer (sent with Content-Length) or a stream (sent chunked). */
export type Body = Buffer | NodeJS.ReadableStream;

/** A response about to be sent. */
export interface Outgoing {
  status: number;
  headers: OutgoingHttpHeaders;
  body: Body;
}

/** Per-request state for {@link send}. */
export interface SendContext {
  res: ServerResponse;
  /** Aborted when the connection closes (client gone or simulator closing). */
  signal: AbortSignal;
  record: RequestRecord;
  latencyMs?: number;
  bytesPerSecond?: number;
  /** A fault that shapes this response (headers, body); the others are handled before. */
  fault?: Fault;
}

/*
 * errorCode choices: only RATE_LIMITED_TOKEN_BUCKET (429) is documented Atlas behaviour. Every other
 * code below is the simulator's own plausible choice; clients must not depend on them.
 */
const DEFAULT_ERROR_CODES: Record<number, string> = {
  400: "INVALID_QUERY_PARAMETER",
  401: "UNAUTHORIZED",
  403: "USER_CANNOT_ACCESS_ORGANIZATION_OR_GROUP",
  404: "RESOURCE_NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  406: "NOT_ACCEPTABLE",
  409: "CONFLICT",
  413: "PAYLOAD_TOO_LARGE",
  429: "RATE_LIMITED_TOKEN_BUCKET",
  500: "UNEXPECTED_ERROR",
  502: "BAD_GATEWAY",
  503: "SERVICE_UNAVAILABLE",
  504: "GATEWAY_TIMEOUT",
};

/** The simulator's errorCode for a status (see the note above on which codes are real). */
export function defaultErrorCode(status: number): string {
  return DEFAULT_ERROR_CODES[status] ?? "UNEXPECTED_ERROR";
}

/** An Atlas `ApiError` JSON response. */
export function apiError(
  status: number,
  errorCode: string,
  detail: string,
  extra: { parameters?: unknown[]; field?: string; headers?: OutgoingHttpHeaders } = {},
): Outgoing {
  const payload: Record<string, unknown> = {
    error: status,
    errorCode,
    detail,
    reason: STATUS_CODES[status] ?? "Unknown",
    parameters: extra.parameters ?? [],
  };
  if (extra.field !== undefined) {
    payload.badRequestDetail = { fields: [{ field: extra.field, description: detail }] };
  }
  return jsonResponse(status, payload, extra.headers);
}

/** A JSON response with a known length. */
export function jsonResponse(status: number, payload: unknown, headers: OutgoingHttpHeaders = {}): Outgoing {
  return {
    status,
    headers: { "content-type": "application/json", ...headers },
    body: Buffer.from(JSON.stringify(payload)),
  };
}

/** Node timers hold at most this many milliseconds (longer ones fire after 1 ms, with a warning). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Wait `ms` (any length: beyond Node's timer limit in steps), or less if `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (!(ms > 0) || signal.aborted) {
      resolve();
      return;
    }
    const deadline = performance.now() + ms;
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const arm = (): void => {
      const left = deadline - performance.now();
      if (left <= 0) done();
      else timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    };
    signal.addEventListener("abort", done, { once: true });
    arm();
  });
}

function waitDrain(res: ServerResponse, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      res.off("drain", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    res.once("drain", done);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Resolve once everything written so far reached the kernel (or the connection is gone). */
function flushSocket(res: ServerResponse, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const socket = res.socket;
    if (!socket || socket.destroyed || signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      signal.removeEventListener("abort", done);
      resolve();
    };
    signal.addEventListener("abort", done, { once: true });
    socket.write(Buffer.alloc(0), done);
  });
}

function destroyBody(body: Body): void {
  const destroy = (body as { destroy?: (error?: Error) => void }).destroy;
  if (!Buffer.isBuffer(body) && typeof destroy === "function") destroy.call(body);
}

async function* chunksOf(body: Body): AsyncGenerator<Buffer> {
  if (Buffer.isBuffer(body)) {
    yield body;
    return;
  }
  for await (const chunk of body) yield typeof chunk === "string" ? Buffer.from(chunk) : chunk;
}

/** Everything but the last `n` bytes of a byte stream. */
async function* withoutTail(source: AsyncIterable<Buffer>, n: number): AsyncGenerator<Buffer> {
  let held = Buffer.alloc(0);
  for await (const chunk of source) {
    held = Buffer.concat([held, chunk]);
    if (held.length > n) {
      yield held.subarray(0, held.length - n);
      held = held.subarray(held.length - n);
    }
  }
}

/** A byte stream in pieces of exactly `size` bytes (the last one may be shorter). */
async function* rechunk(source: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let held: Buffer = Buffer.alloc(0);
  for await (const chunk of source) {
    held = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
    while (held.length >= size) {
      yield held.subarray(0, size);
      held = held.subarray(size);
    }
  }
  if (held.length > 0) yield held;
}

const HTML_BODY = Buffer.from(
  "<!DOCTYPE html>\n<html><head><title>Service Unavailable</title></head>" +
    "<body><h1>Please try again later</h1></body></html>\n",
);
const DEFAULT_SPLIT_BYTES = 10; // the gzip member header

/**
 * Send a response: headers after `latencyMs` (plus a stall-headers fault), then the body, throttled
 * to `bytesPerSecond` with backpressure, cut, paused, truncated, trickled or transfer-coded as the
 * context's fault says.
 */
export async function send(ctx: SendContext, out: Outgoing): Promise<void> {
  const { res, signal, fault, record } = ctx;
  const headers: OutgoingHttpHeaders = { ...out.headers };
  let body = out.body;
  if (fault?.kind === "wrong-content-type") {
    headers["content-type"] = fault.contentType ?? "text/html; charset=utf-8";
  }
  if (fault?.kind === "not-gzip" && out.status === 200) {
    destroyBody(body);
    body = HTML_BODY;
  }
  const chunked =
    fault?.kind === "truncate-body" || fault?.kind === "trickle-body" || fault?.kind === "transfer-coding";
  if (Buffer.isBuffer(body) && !chunked) headers["content-length"] = body.length;
  else delete headers["content-length"];
  if (fault?.kind === "transfer-coding") {
    // Node frames the body chunked when the header's last coding is chunked.
    headers["transfer-encoding"] = `${fault.coding ?? "gzip"}, chunked`;
  }

  await sleep((ctx.latencyMs ?? 0) + (fault?.kind === "stall-headers" ? fault.ms : 0), signal);
  if (signal.aborted) {
    destroyBody(body);
    return;
  }
  res.writeHead(out.status, headers);
  record.status = out.status;

  let source: AsyncIterable<Buffer> = chunksOf(body);
  if (fault?.kind === "transfer-coding") source = transferEncode(source, fault.coding ?? "gzip");
  if (fault?.kind === "trickle-body") source = rechunk(source, fault.bytesPerChunk ?? 1);
  let boundary: number | undefined;
  if (fault?.kind === "reset-mid-body") {
    boundary = fault.afterBytes ?? DEFAULT_SPLIT_BYTES;
    if (Buffer.isBuffer(body)) boundary = Math.min(boundary, Math.max(0, body.length - 1));
  } else if (fault?.kind === "stall-body") {
    boundary = fault.afterBytes ?? DEFAULT_SPLIT_BYTES;
  } else if (fault?.kind === "truncate-body") {
    if (fault.keepBytes === undefined) source = withoutTail(source, 8);
    else boundary = fault.keepBytes;
  }

  /** Handle the fault at the boundary; false = the response is over. */
  const atBoundary = async (): Promise<boolean> => {
    boundary = undefined;
    if (fault?.kind === "stall-body") {
      await sleep(fault.ms, signal);
      return !signal.aborted;
    }
    if (fault?.kind === "reset-mid-body") {
      await flushSocket(res, signal);
      res.socket?.destroy();
      return false;
    }
    res.end(); // truncate-body with keepBytes
    return false;
  };

  const bps = ctx.bytesPerSecond;
  const trickle = fault?.kind === "trickle-body" ? fault : undefined;
  const slice =
    trickle !== undefined
      ? (trickle.bytesPerChunk ?? 1)
      : bps === undefined
        ? Number.POSITIVE_INFINITY
        : Math.max(1, Math.min(65_536, Math.floor(bps / 50)));
  const started = performance.now();
  let sent = 0;
  try {
    if (boundary === 0 && !(await atBoundary())) return;
    for await (let chunk of source) {
      while (chunk.length > 0) {
        if (signal.aborted) return;
        let n = Math.min(chunk.length, slice);
        if (boundary !== undefined) n = Math.min(n, boundary - sent);
        const piece = chunk.subarray(0, n);
        chunk = chunk.subarray(n);
        if (trickle !== undefined && sent > 0) await sleep(trickle.everyMs, signal);
        if (bps !== undefined) await sleep(started + ((sent + n) / bps) * 1000 - performance.now(), signal);
        if (signal.aborted) return;
        if (!res.write(piece)) await waitDrain(res, signal);
        sent += n;
        if (sent === boundary && !(await atBoundary())) return;
      }
    }
    if (signal.aborted) return;
    if (boundary !== undefined && fault?.kind !== "truncate-body" && !(await atBoundary())) return;
    res.end();
  } catch {
    // The body source failed: a real server would drop the connection mid-body.
    res.socket?.destroy();
  } finally {
    destroyBody(body);
  }
}
