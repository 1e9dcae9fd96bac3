/** Per-attempt faults: a FIFO queue consumed by the requests they match, and the stall's wait. */
import type { ServerResponse } from "node:http";
import type { S3OperationName } from "./classify";

/** How a faulted request fails. */
export type S3FaultKind = "status" | "stall" | "corrupt" | "repeat-token";

/** The operations each kind applies to (a fault with `op: "*"` is only taken by these). */
const KIND_OPS: Readonly<Record<S3FaultKind, ReadonlySet<S3OperationName> | undefined>> = {
  status: undefined,
  stall: undefined,
  corrupt: new Set<S3OperationName>(["PutObject", "UploadPart"]),
  "repeat-token": new Set<S3OperationName>(["ListObjectsV2"]),
};

/** Node timers hold at most this many milliseconds; longer stalls are waited for in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A fault for the next `times` requests of operation `op` (whose key starts with `keyPrefix`).
 *
 * - `status` (default): the request body is read and discarded, then the proxy answers `status`
 *   (default 500) with S3's XML error body for `code` (default from the status: 500 `InternalError`,
 *   503 `SlowDown`, ...). The request never reaches the store.
 * - `stall`: the request waits `ms` (default 1000; any length: `Infinity`, or beyond Node's
 *   2^31-1 ms timer limit) before it is handled normally; a client that gives up meanwhile leaves the
 *   store untouched, and the server's `close()` ends the wait at once (no timer outlives the connection).
 * - `corrupt` (PutObject and UploadPart only): one bit (xor 0x01) of the middle byte of the
 *   body (`floor(Content-Length / 2)`) is flipped as it streams in, before any checksum is computed. With checksums on, a request that
 *   declares a checksum is then refused (400 `BadDigest`, or `XAmzContentSHA256Mismatch` for a hex
 *   `x-amz-content-sha256`) and nothing is stored; a request without any checksum, or a server
 *   started with `checksums: false`, stores the corrupted bytes and answers 200.
 * - `repeat-token` (ListObjectsV2 only): the page is listed normally, but answered with
 *   `IsTruncated` true and a `NextContinuationToken` equal to the request's `continuation-token`, or,
 *   on a request without one, to {@link REPEATED_CONTINUATION_TOKEN} (which, sent back, lists from the
 *   start again): a server that would keep a client paging for ever, for `times` requests.
 *
 * The SDK retries 5xx responses by itself (3 attempts by default), so a fault that should fail an
 * operation for good needs `times` equal to the client's `maxAttempts`.
 */
export interface S3Fault {
  /** The operation to fail, or `"*"` for any. */
  readonly op: S3OperationName | "*";
  readonly kind?: S3FaultKind;
  readonly status?: number;
  readonly code?: string;
  /** How many matching requests fail (default 1). */
  readonly times?: number;
  /** Only requests whose key (the `prefix` for listings) starts with this. */
  readonly keyPrefix?: string;
  /** For `stall`: the delay in milliseconds. */
  readonly ms?: number;
}

interface Pending {
  readonly fault: S3Fault;
  remaining: number;
}

/** The faults still to be consumed, in the order they were injected. */
export class FaultQueue {
  private readonly queue: Pending[] = [];

  add(faults: readonly S3Fault[]): void {
    for (const fault of faults) validate(fault);
    for (const fault of faults) this.queue.push({ fault, remaining: fault.times ?? 1 });
  }

  /** Consumes one use of the first fault matching the request, if any. */
  take(op: S3OperationName, key: string): S3Fault | undefined {
    const index = this.queue.findIndex(
      ({ fault }) =>
        (fault.op === "*" || fault.op === op) &&
        (KIND_OPS[fault.kind ?? "status"]?.has(op) ?? true) &&
        (fault.keyPrefix === undefined || key.startsWith(fault.keyPrefix)),
    );
    const pending = this.queue[index];
    if (pending === undefined) return undefined;
    pending.remaining -= 1;
    if (pending.remaining === 0) this.queue.splice(index, 1);
    return pending.fault;
  }

  clear(): void {
    this.queue.length = 0;
  }
}

/**
 * The token a `repeat-token` fault answers a ListObjectsV2 without a continuation token with. Sent
 * back, it lists from the first key (it is this server's token for "after the empty key"), and a
 * pending `repeat-token` fault answers it with itself again.
 */
export const REPEATED_CONTINUATION_TOKEN: string = Buffer.from(JSON.stringify([0, ""])).toString("base64url");

/** Throws when a fault could not be applied as described. */
function validate(fault: S3Fault): void {
  const kind = fault.kind ?? "status";
  if (!(kind in KIND_OPS)) throw new TypeError(`unknown S3 fault kind ${JSON.stringify(kind)}`);
  const times = fault.times ?? 1;
  if (!Number.isInteger(times) || times < 1) {
    throw new RangeError(`S3 fault times must be a positive integer, got ${times} for ${fault.op}`);
  }
  const ops = KIND_OPS[kind];
  if (ops !== undefined && fault.op !== "*" && !ops.has(fault.op)) {
    throw new TypeError(`S3 fault kind ${kind} applies to ${[...ops].join(" and ")} only, not ${fault.op}`);
  }
  if (fault.ms !== undefined && !(fault.ms >= 0)) {
    throw new RangeError(`S3 fault ms must be a non-negative number (or Infinity), got ${fault.ms}`);
  }
  if (
    fault.status !== undefined &&
    !(Number.isInteger(fault.status) && fault.status >= 100 && fault.status <= 599)
  ) {
    throw new RangeError(`S3 fault status must be an HTTP status, got ${fault.status}`);
  }
}

/**
 * The `stall` fault's wait: `ms` (any length: beyond Node's timer limit in steps); true when the
 * connection closed meanwhile, which ends the wait at once.
 */
export function closedWithin(res: ServerResponse, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (res.destroyed) return resolve(true);
    const deadline = performance.now() + ms;
    let timer: NodeJS.Timeout | undefined;
    const onClose = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const arm = () => {
      const left = deadline - performance.now();
      if (left <= 0) {
        res.off("close", onClose);
        return resolve(res.destroyed);
      }
      timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    };
    res.once("close", onClose);
    arm();
  });
}
