/**
 * Retry timing for Atlas calls: exponential backoff with jitter, `Retry-After` honoured, and a
 * bounded total time. Pure apart from the injected clock.
 */
import type { AtlasError } from "./errors";

/** When and how often to try again. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  /** Backoff before the second attempt; it doubles with every further attempt. */
  readonly baseDelayMs: number;
  /** Longest single backoff (a longer `Retry-After` is still honoured). */
  readonly maxDelayMs: number;
  /** No wait may end later than this after the first attempt started: give up instead. */
  readonly maxTotalMs: number;
}

/**
 * The retry defaults, resolved here only: 6 attempts, backoff 1 s doubling up to 30 s (with
 * jitter), and never more than 5 minutes spent on one call. Five minutes rides out a short Atlas
 * incident or a burst of rate limiting without eating a Lambda run's 15-minute budget.
 */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 6,
  baseDelayMs: 1_000,
  maxDelayMs: 30_000,
  maxTotalMs: 5 * 60_000,
};

/** Time as the client sees it; tests pass a fake one. */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

/**
 * Parses a `Retry-After` header (delay-seconds or an HTTP date) into milliseconds from `nowMs`.
 * Returns `undefined` when absent or unreadable, so the caller falls back to its own backoff.
 *
 * @example parseRetryAfter("3", Date.now()) // 3000
 */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const raw = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!raw) return undefined;
  if (/^\d+$/.test(raw)) return Number(raw) * 1000;
  // An HTTP date ("Sat, 28 Nov 2026 12:00:05 GMT") always has letters; "-1" is not one.
  const at = /[a-z]/i.test(raw) ? Date.parse(raw) : Number.NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/**
 * The jittered backoff before attempt `attempt + 1` ("equal jitter": half fixed, half random), so
 * that many archivers hitting one rate limit do not retry in lockstep yet never retry at once.
 */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return ceiling / 2 + (random() * ceiling) / 2;
}

/** What one attempt produced: a value, or an error and whether trying again may help. */
export type AttemptOutcome<T> =
  | { readonly ok: true; readonly value: T }
  | {
      readonly ok: false;
      /** Builds the error to throw if this is the last attempt, given the attempts made so far. */
      readonly error: (attempts: number) => AtlasError;
      readonly retryable: boolean;
      /** Server-requested wait (`Retry-After`), already in milliseconds. */
      readonly retryAfterMs?: number;
      /** A short reason for logs, e.g. "429 RATE_LIMITED_TOKEN_BUCKET". */
      readonly reason: string;
    };

/** Reported before each wait, for progress logs. */
export interface RetryEvent {
  readonly attempt: number;
  readonly delayMs: number;
  readonly reason: string;
}

/** Everything {@link retrying} needs besides the attempt itself. */
export interface RetryContext {
  readonly policy: RetryPolicy;
  readonly clock: Clock;
  readonly random: () => number;
  readonly signal?: AbortSignal;
  readonly onRetry?: (event: RetryEvent) => void;
}

/**
 * Runs `attempt` until it succeeds, fails for good, or the policy's attempts or total time run
 * out. A `Retry-After` is waited out in full, plus the jittered backoff on top, as MongoDB asks
 * ("wait at least Retry-After, then back off exponentially").
 */
export async function retrying<T>(
  attempt: (n: number) => Promise<AttemptOutcome<T>>,
  context: RetryContext,
): Promise<T> {
  const { policy, clock, random, signal, onRetry } = context;
  const startedAt = clock.now();
  for (let n = 1; ; n++) {
    const outcome = await attempt(n);
    if (outcome.ok) return outcome.value;
    if (!outcome.retryable || n >= policy.maxAttempts) throw outcome.error(n);
    const delayMs = Math.round((outcome.retryAfterMs ?? 0) + backoffDelay(n, policy, random));
    if (clock.now() + delayMs - startedAt > policy.maxTotalMs) throw outcome.error(n);
    onRetry?.({ attempt: n, delayMs, reason: outcome.reason });
    await clock.sleep(delayMs, signal);
  }
}
