/** Token buckets per groupId, and the `Retry-After` deadlines the simulator promised. */
import type { SimulatorOptions } from "./types";

/** What one download attempt sees of its group's bucket. */
export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
}

const DISPLAY_LIMIT = 1200; // what the recorded Atlas response advertises

/** Per-group buckets; without a configured limit every attempt passes and the headers count down. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly counts = new Map<string, number>();

  constructor(private readonly config: SimulatorOptions["rateLimit"]) {}

  take(groupId: string): RateDecision {
    const config = this.config;
    if (!config) {
      const n = (this.counts.get(groupId) ?? 0) + 1;
      this.counts.set(groupId, n);
      return {
        allowed: true,
        limit: DISPLAY_LIMIT,
        remaining: DISPLAY_LIMIT - 1 - ((n - 1) % DISPLAY_LIMIT),
      };
    }
    const now = performance.now();
    const bucket = this.buckets.get(groupId) ?? { tokens: config.capacity, at: now };
    bucket.tokens = Math.min(
      config.capacity,
      bucket.tokens + ((now - bucket.at) / 1000) * config.refillPerSecond,
    );
    bucket.at = now;
    this.buckets.set(groupId, bucket);
    if (bucket.tokens < 1) return { allowed: false, limit: config.capacity, remaining: 0 };
    bucket.tokens -= 1;
    return { allowed: true, limit: config.capacity, remaining: Math.floor(bucket.tokens) };
  }
}

/**
 * The longest `Retry-After` the ledger keeps, in milliseconds (about 24.8 days, Node's timer limit):
 * longer ones (e.g. `99999999999` seconds) are kept as this long, so every deadline stays finite.
 */
export const MAX_RETRY_AFTER_MS = 2 ** 31 - 1;

/**
 * A `Retry-After` value in milliseconds (delay-seconds or HTTP-date), at most
 * {@link MAX_RETRY_AFTER_MS}, or undefined when unusable.
 */
export function retryAfterMs(value: number | string): number | undefined {
  const text = String(value).trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.min(MAX_RETRY_AFTER_MS, Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.min(MAX_RETRY_AFTER_MS, Math.max(0, date - Date.now()));
}

/**
 * Grace for clock rounding between this process and a client that waited exactly `Retry-After`
 * (timers may fire up to a millisecond early).
 */
const GRACE_MS = 5;

/**
 * Requests that arrive this soon after a `Retry-After` was sent were already on their way (a
 * concurrent request sent before the client could read the 429): they are not counted against
 * it. Only a request the client sent after it could have known is a violation.
 */
const IN_FLIGHT_MS = 25;

/** The `Retry-After` deadlines sent per group. */
export class RetryAfterLedger {
  private readonly pending = new Map<string, Array<{ issuedAt: number; until: number }>>();

  /** Records a `Retry-After` of `ms` (clamped to 0..{@link MAX_RETRY_AFTER_MS}) that leaves with a response sent `sentAfterMs` from now (the simulated latency). */
  promise(groupId: string, ms: number, sentAfterMs = 0): void {
    const now = performance.now() + sentAfterMs;
    const live = (this.pending.get(groupId) ?? []).filter((p) => p.until > now);
    // No timer is armed: deadlines are compared with the clock; clamped so they stay finite.
    const wait = Number.isNaN(ms) ? 0 : Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
    live.push({ issuedAt: now, until: now + wait });
    this.pending.set(groupId, live);
  }

  /** Whether a request for the group arriving now ignores a pending `Retry-After` it could have known. */
  violated(groupId: string): boolean {
    const now = performance.now();
    return (this.pending.get(groupId) ?? []).some(
      (p) => now >= p.issuedAt + IN_FLIGHT_MS && now < p.until - GRACE_MS,
    );
  }
}
