/**
 * Retry timing for Atlas calls: exponential backoff with jitter, `Retry-After` honoured, and a
 * bounded total time. Pure apart from the injected clock.
 */
import { sleep } from "../timers";
import type { AtlasError } from "./errors";

/** When and how often to try again. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  /** Backoff before the second attempt; it doubles with every further attempt. */
  readonly baseDelayMs: number;
  /** Longest single backoff (a longer `Retry-After` is still honoured). */
  readonly maxDelayMs: number;
  /**
   * The bound on one call, from its first attempt until an answer: no attempt, wait or
   * authentication round trip runs past it (an attempt's headers timeout is cut to what is left).
   * A `Retry-After` that would end later is not waited for: the call fails at once, naming it.
   */
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
  sleep: (ms, signal) => sleep(ms, signal),
};

/**
 * Parses a `Retry-After` header (delay-seconds or an HTTP date) into milliseconds from `nowMs`.
 * Returns `undefined` when absent or unreadable, so the caller falls back to its own backoff.
 *
 * @example parseRetryAfter("3", Date.now()) // 3000
 */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const raw = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!raw || raw.length > 64) return undefined;
  // Huge values stay finite numbers here; the caller never sleeps longer than its budget.
  if (/^\d+$/.test(raw)) return Math.min(Number(raw) * 1000, Number.MAX_SAFE_INTEGER);
  // An HTTP date ("Sat, 28 Nov 2026 12:00:05 GMT") always has letters; "-1" is not one.
  const at = /[a-z]/i.test(raw) ? Date.parse(raw) : Number.NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** How a `Retry-After` reads in a message: the header as sent, and the wait it asks for. */
export function describeRetryAfter(raw: string | undefined, ms: number): string {
  const value = raw === undefined ? "" : `Retry-After: ${raw.slice(0, 64)}, `;
  return `${value}${formatDuration(ms)}`;
}

/** A duration for people: `850 ms`, `42 s`, `4 min 30 s`, `11.6 days`. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${Math.round(ms / 1_000)} s`;
  if (ms < 3_600_000) {
    const s = Math.round((ms % 60_000) / 1_000);
    return `${Math.floor(ms / 60_000)} min${s ? ` ${s} s` : ""}`;
  }
  if (ms < 2 * 86_400_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${(ms / 86_400_000).toFixed(1)} days`;
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
      /**
       * Builds the error to throw if this is the last attempt, given the attempts made so far and,
       * when the call gives up early, why (e.g. a `Retry-After` beyond its budget).
       */
      readonly error: (attempts: number, why?: string) => AtlasError;
      readonly retryable: boolean;
      /** Server-requested wait (`Retry-After`), already in milliseconds. */
      readonly retryAfterMs?: number;
      /** The `Retry-After` header as sent, for messages. */
      readonly retryAfter?: string;
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
  /** An end the call may not pass whatever its budget (the run's deadline), in the clock's time. */
  readonly deadlineMs?: number;
  readonly onRetry?: (event: RetryEvent) => void;
}

/** What an attempt knows about the time its call has left. */
export interface CallBudget {
  /** When the call must be over, in the clock's time. */
  readonly endsAtMs: number;
  /** What ends it: the retry budget or the run's deadline, for messages. */
  readonly limit: string;
  /** Milliseconds left (at least 1, so that it can size a timeout). */
  remainingMs(): number;
}

/** The end of a call that starts now under `context`. */
function callBudget(context: Pick<RetryContext, "policy" | "clock" | "deadlineMs">): CallBudget {
  const { policy, clock, deadlineMs } = context;
  const budgetEnd = clock.now() + policy.maxTotalMs;
  const byDeadline = deadlineMs !== undefined && deadlineMs < budgetEnd;
  const endsAtMs = byDeadline ? deadlineMs : budgetEnd;
  return {
    endsAtMs,
    limit: byDeadline
      ? "the run's deadline"
      : `the call's retry budget of ${formatDuration(policy.maxTotalMs)}`,
    remainingMs: () => Math.max(1, endsAtMs - clock.now()),
  };
}

/**
 * Runs `attempt` until it succeeds, fails for good, or the policy's attempts or the call's budget
 * ({@link callBudget}: `maxTotalMs`, or the run's deadline when that comes first) run out. A
 * `Retry-After` is waited out in full, plus the jittered backoff on top, as MongoDB asks ("wait
 * at least Retry-After, then back off exponentially"), but only when the wait ends inside the
 * budget; a longer one fails the call at once with an error that names it.
 */
export async function retrying<T>(
  attempt: (n: number, budget: CallBudget) => Promise<AttemptOutcome<T>>,
  context: RetryContext,
): Promise<T> {
  const { policy, clock, random, signal, onRetry } = context;
  const budget = callBudget(context);
  for (let n = 1; ; n++) {
    const outcome = await attempt(n, budget);
    if (outcome.ok) return outcome.value;
    if (!outcome.retryable || n >= policy.maxAttempts) throw outcome.error(n);
    const left = budget.endsAtMs - clock.now();
    if (outcome.retryAfterMs !== undefined && outcome.retryAfterMs >= left) {
      throw outcome.error(
        n,
        `Atlas asked to wait ${describeRetryAfter(outcome.retryAfter, outcome.retryAfterMs)}, longer than the ` +
          `${formatDuration(Math.max(0, left))} left before ${budget.limit}`,
      );
    }
    const delayMs = Math.round((outcome.retryAfterMs ?? 0) + backoffDelay(n, policy, random));
    // The next attempt needs time of its own: give up rather than wake up with none left.
    if (delayMs >= left) throw outcome.error(n);
    onRetry?.({ attempt: n, delayMs, reason: outcome.reason });
    await clock.sleep(delayMs, signal);
  }
}
