/** Per-attempt faults: a FIFO queue consumed by the requests they match. */
import type { S3OperationName } from "./classify";

/** How a faulted request fails. */
export type S3FaultKind = "status" | "reset" | "stall";

/**
 * A fault for the next `times` requests of operation `op` (whose key starts with `keyPrefix`).
 *
 * - `status` (default): the request body is read and discarded, then the proxy answers `status`
 *   (default 500) with S3's XML error body for `code` (default from the status: 500 `InternalError`,
 *   503 `SlowDown`, ...). The request never reaches the store.
 * - `reset`: the connection is destroyed as soon as the request arrives.
 * - `stall`: the request waits `ms` (default 1000) before it is handled normally; a client that gives
 *   up meanwhile leaves the store untouched.
 *
 * The SDK retries 5xx responses and resets by itself (3 attempts by default), so a fault that should
 * fail an operation for good needs `times` equal to the client's `maxAttempts`.
 */
export interface S3Fault {
  /** The operation to fail, or `"*"` for any. */
  readonly op: S3OperationName | "*";
  readonly kind?: S3FaultKind;
  readonly status?: number;
  readonly code?: string;
  readonly message?: string;
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
    for (const fault of faults) {
      const times = fault.times ?? 1;
      if (!Number.isInteger(times) || times < 1) {
        throw new RangeError(`S3 fault times must be a positive integer, got ${times} for ${fault.op}`);
      }
      this.queue.push({ fault, remaining: times });
    }
  }

  /** Consumes one use of the first fault matching the request, if any. */
  take(op: S3OperationName, key: string): S3Fault | undefined {
    const index = this.queue.findIndex(
      ({ fault }) =>
        (fault.op === "*" || fault.op === op) &&
        (fault.keyPrefix === undefined || key.startsWith(fault.keyPrefix)),
    );
    const pending = this.queue[index];
    if (pending === undefined) return undefined;
    pending.remaining -= 1;
    if (pending.remaining === 0) this.queue.splice(index, 1);
    return pending.fault;
  }

  /** The faults not yet used up, with `times` set to what is left of each. */
  pending(): S3Fault[] {
    return this.queue.map(({ fault, remaining }) => ({ ...fault, times: remaining }));
  }

  clear(): void {
    this.queue.length = 0;
  }
}
