/** The FIFO queue of injected faults. */
import type { Fault, FaultRule, RequestRecord } from "./types";

/** An attempt a fault may apply to. */
export interface Attempt {
  endpoint: "download" | "token";
  groupId?: string;
  tenantName?: string;
  /** A download's `startDate` query parameter as sent (epoch seconds as text). */
  startDate?: string;
  auth: RequestRecord["auth"];
}

interface QueuedRule {
  fault: Fault;
  remaining: number;
  match: NonNullable<FaultRule["match"]>;
}

const KINDS: ReadonlySet<string> = new Set<Fault["kind"]>([
  "status",
  "reset-before-headers",
  "reset-mid-body",
  "truncate-body",
  "stall-headers",
  "stall-body",
  "wrong-content-type",
  "not-gzip",
  "expire-token",
  "stale-nonce",
  "trickle-body",
  "transfer-coding",
  "echo-credentials",
  "huge-token-response",
]);

/** An HTTP token (RFC 9110), as a transfer coding must be. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function checkCount(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= 0)) {
    throw new RangeError(`fault ${name}=${value} must be a non-negative integer`);
  }
}

function validate(fault: Fault): void {
  if (!KINDS.has(fault.kind)) throw new TypeError(`unknown fault kind ${JSON.stringify(fault.kind)}`);
  switch (fault.kind) {
    case "status":
      if (!Number.isInteger(fault.status) || fault.status < 400 || fault.status > 599) {
        throw new RangeError(`fault status=${fault.status} must be an error status (400..599)`);
      }
      if (typeof fault.retryAfter === "string" && !/^[\t\x20-\x7e]*$/.test(fault.retryAfter)) {
        throw new RangeError(
          `fault retryAfter=${JSON.stringify(fault.retryAfter)} is not a valid header value`,
        );
      }
      break;
    case "stall-headers":
    case "stall-body":
      checkCount("ms", fault.ms);
      if (fault.kind === "stall-body") checkCount("afterBytes", fault.afterBytes);
      break;
    case "reset-mid-body":
      checkCount("afterBytes", fault.afterBytes);
      break;
    case "truncate-body":
      checkCount("keepBytes", fault.keepBytes);
      break;
    case "trickle-body":
      if (!(Number.isFinite(fault.everyMs) && fault.everyMs >= 0)) {
        throw new RangeError(`fault everyMs=${fault.everyMs} must be a non-negative number`);
      }
      if (
        fault.bytesPerChunk !== undefined &&
        !(Number.isSafeInteger(fault.bytesPerChunk) && fault.bytesPerChunk >= 1)
      ) {
        throw new RangeError(`fault bytesPerChunk=${fault.bytesPerChunk} must be a positive integer`);
      }
      break;
    case "transfer-coding":
      if (
        fault.coding !== undefined &&
        (!TOKEN.test(fault.coding) || fault.coding.toLowerCase() === "chunked")
      ) {
        throw new RangeError(
          `fault coding=${JSON.stringify(fault.coding)} must be an HTTP token other than chunked`,
        );
      }
      break;
    case "echo-credentials":
      if (
        fault.status !== undefined &&
        !(Number.isInteger(fault.status) && fault.status >= 400 && fault.status <= 599)
      ) {
        throw new RangeError(`fault status=${fault.status} must be an error status (400..599)`);
      }
      break;
    case "huge-token-response":
      if (!(Number.isSafeInteger(fault.bytes) && fault.bytes >= 1)) {
        throw new RangeError(`fault bytes=${fault.bytes} must be a positive integer`);
      }
      break;
    default:
      break;
  }
}

/** The endpoint a rule without `match.endpoint` applies to. */
function defaultEndpoint(fault: Fault): Attempt["endpoint"] {
  return fault.kind === "huge-token-response" ? "token" : "download";
}

/** Whether a fault can happen to an attempt at all (e.g. expire-token needs a bearer token). */
function applies(fault: Fault, attempt: Attempt): boolean {
  switch (fault.kind) {
    case "expire-token":
      return attempt.endpoint === "download" && attempt.auth === "bearer";
    case "stale-nonce":
      return attempt.endpoint === "download" && attempt.auth === "digest";
    case "huge-token-response":
      return attempt.endpoint === "token";
    default:
      return true;
  }
}

/** Injected faults, consumed first-in first-out by the attempts they match. */
export class FaultQueue {
  private rules: QueuedRule[] = [];

  add(rules: ReadonlyArray<FaultRule | Fault>): void {
    const queued = rules.map((rule): QueuedRule => {
      const asRule: FaultRule = "kind" in rule ? { fault: rule } : rule;
      validate(asRule.fault);
      if (asRule.fault.kind === "huge-token-response" && asRule.match?.endpoint === "download") {
        throw new TypeError("fault huge-token-response applies to the token endpoint only");
      }
      const times = asRule.times ?? 1;
      if (!(times === Number.POSITIVE_INFINITY || (Number.isInteger(times) && times >= 1))) {
        throw new RangeError(`fault times=${times} must be a positive integer or Infinity`);
      }
      return { fault: asRule.fault, remaining: times, match: asRule.match ?? {} };
    });
    this.rules.push(...queued);
  }

  clear(): void {
    this.rules = [];
  }

  get pending(): number {
    return this.rules.reduce((sum, rule) => sum + rule.remaining, 0);
  }

  /** Consume and return the first queued fault that matches the attempt. */
  take(attempt: Attempt): Fault | undefined {
    const index = this.rules.findIndex(
      ({ fault, match }) =>
        (match.endpoint ?? defaultEndpoint(fault)) === attempt.endpoint &&
        (match.groupId === undefined || match.groupId === attempt.groupId) &&
        (match.tenantName === undefined || match.tenantName === attempt.tenantName) &&
        (match.startDate === undefined || String(match.startDate) === attempt.startDate) &&
        applies(fault, attempt),
    );
    const rule = this.rules[index];
    if (!rule) return undefined;
    rule.remaining -= 1;
    if (rule.remaining <= 0) this.rules.splice(index, 1);
    return rule.fault;
  }
}
