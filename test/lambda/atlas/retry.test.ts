import { describe, expect, it } from "vitest";
import { AtlasServerError } from "../../../lambda/atlas/errors";
import {
  type AttemptOutcome,
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  parseRetryAfter,
  retrying,
} from "../../../lambda/atlas/retry";
import { fakeClock } from "../../support/fake-clock";

const policy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1_000, maxTotalMs: 60_000 };

function failing(retryAfterMs?: number, retryable = true): Extract<AttemptOutcome<unknown>, { ok: false }> {
  return {
    ok: false,
    retryable,
    retryAfterMs,
    reason: "503",
    error: (attempts) => new AtlasServerError(`failed after ${attempts}`, { attempts }),
  };
}

describe("parseRetryAfter", () => {
  const now = Date.UTC(2026, 10, 28, 12, 0, 0);

  it("reads delay-seconds", () => {
    expect(parseRetryAfter("3", now)).toBe(3_000);
    expect(parseRetryAfter(["0"], now)).toBe(0);
  });

  it("reads an HTTP date relative to now, never negative", () => {
    expect(parseRetryAfter("Sat, 28 Nov 2026 12:00:05 GMT", now)).toBe(5_000);
    expect(parseRetryAfter("Sat, 28 Nov 2026 11:00:00 GMT", now)).toBe(0);
  });

  it("returns undefined when absent or unreadable, so the backoff applies", () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter("", now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter("-1", now)).toBeUndefined();
  });
});

describe("backoffDelay", () => {
  it("doubles per attempt between half and all of the ceiling, capped", () => {
    for (const r of [0, 0.5, 0.999]) {
      for (let attempt = 1; attempt <= 8; attempt++) {
        const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
        const d = backoffDelay(attempt, policy, () => r);
        expect(d).toBeGreaterThanOrEqual(ceiling / 2);
        expect(d).toBeLessThanOrEqual(ceiling);
      }
    }
  });

  it("has defaults that bound a call to five minutes", () => {
    expect(DEFAULT_RETRY_POLICY.maxTotalMs).toBe(300_000);
  });
});

describe("retrying", () => {
  it("returns the first success and does not wait after it", async () => {
    const clock = fakeClock();
    let calls = 0;
    const value = await retrying(async () => (++calls < 3 ? failing() : { ok: true, value: "done" }), {
      policy,
      clock,
      random: () => 0,
    });
    expect(value).toBe("done");
    expect(calls).toBe(3);
    expect(clock.sleeps).toEqual([50, 100]);
  });

  it("waits the whole Retry-After plus the backoff", async () => {
    const clock = fakeClock();
    let calls = 0;
    await retrying(async () => (++calls < 2 ? failing(2_000) : { ok: true, value: 1 }), {
      policy,
      clock,
      random: () => 0,
    });
    expect(clock.sleeps).toEqual([2_050]);
  });

  it("throws the last error with the attempt count once attempts run out", async () => {
    const clock = fakeClock();
    const err = await retrying<never>(async () => failing(), { policy, clock, random: () => 0.5 }).catch(
      (e: AtlasServerError) => e,
    );
    expect(err).toBeInstanceOf(AtlasServerError);
    expect(err.attempts).toBe(5);
    expect(clock.sleeps).toHaveLength(4);
  });

  it("gives up instead of waiting past the total time budget", async () => {
    const clock = fakeClock();
    let calls = 0;
    const err = await retrying<never>(
      async () => {
        calls++;
        return failing(50_000);
      },
      { policy, clock, random: () => 0 },
    ).catch((e: AtlasServerError) => e);
    expect(err.attempts).toBe(2);
    expect(calls).toBe(2);
    expect(clock.sleeps).toEqual([50_050]);
  });

  it("never retries a permanent failure", async () => {
    const clock = fakeClock();
    let calls = 0;
    await expect(
      retrying(
        async () => {
          calls++;
          return failing(undefined, false);
        },
        { policy, clock, random: () => 0 },
      ),
    ).rejects.toThrow("failed after 1");
    expect(calls).toBe(1);
    expect(clock.sleeps).toEqual([]);
  });

  it("reports each wait before it starts", async () => {
    const events: unknown[] = [];
    let calls = 0;
    await retrying(async () => (++calls < 2 ? failing(1_000) : { ok: true, value: 1 }), {
      policy,
      clock: fakeClock(),
      random: () => 0,
      onRetry: (e) => events.push(e),
    });
    expect(events).toEqual([{ attempt: 1, delayMs: 1_050, reason: "503" }]);
  });

  it("stops waiting when the signal aborts", async () => {
    const controller = new AbortController();
    controller.abort(new Error("deadline"));
    await expect(
      retrying(async () => failing(), {
        policy,
        clock: fakeClock(),
        random: () => 0,
        signal: controller.signal,
      }),
    ).rejects.toThrow("deadline");
  });
});
