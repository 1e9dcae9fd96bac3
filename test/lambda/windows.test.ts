import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  dueWindows,
  formatWindow,
  isDue,
  isWindowLength,
  maxRunIntervalMinutes,
  type TimeWindow,
  toEpochSeconds,
  type WindowSettings,
  windowContaining,
  windowsInRange,
} from "../../lambda/windows";

const MIN = 60_000;
const HOUR = 3_600_000;
const at = (iso: string): number => Date.parse(iso);

const DIVISORS_OF_A_DAY = Array.from({ length: 1440 }, (_, i) => i + 1).filter((m) => 1440 % m === 0);

/** Any instant with millisecond precision between 1900 and 9999. */
const instantArb = fc.integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(9999, 11, 30) });
const minutesArb = fc.constantFrom(...DIVISORS_OF_A_DAY);
/** Settings with a lookback of at least window + lag, at most 720 hours. */
const settingsArb: fc.Arbitrary<WindowSettings> = fc
  .tuple(minutesArb, fc.integer({ min: 0, max: 6 * 60 }))
  .chain(([minutes, lagMinutes]) =>
    fc
      .integer({ min: Math.ceil((minutes + lagMinutes) / 60), max: 720 })
      .map((lookbackHours) => ({ minutes, lagMinutes, lookbackHours })),
  );

/** Independent reference: every aligned window, by exact BigInt arithmetic, filtered by the definitions. */
function bruteForceDue(nowMs: number, s: WindowSettings): TimeWindow[] {
  const w = BigInt(s.minutes * MIN);
  const now = BigInt(nowMs);
  const lag = BigInt(s.lagMinutes * MIN);
  const lookback = BigInt(s.lookbackHours * HOUR);
  const out: TimeWindow[] = [];
  for (let k = (now - lookback) / w - 2n; k * w <= now + w; k++) {
    const start = k * w;
    const end = start + w;
    if (end + lag <= now && start >= now - lookback) out.push({ startMs: Number(start), endMs: Number(end) });
  }
  return out;
}

/** The window that a run at `nowMs` returns with start `startMs`, if any. */
function returns(nowMs: number, s: WindowSettings, startMs: number): boolean {
  return dueWindows(nowMs, s).some((w) => w.startMs === startMs);
}

/** Milliseconds between the moment a window becomes due and the last moment it is inside the lookback. */
function spanMs(s: WindowSettings): number {
  return maxRunIntervalMinutes(s) * MIN;
}

describe("windowContaining", () => {
  it("returns the aligned window of the configured length that contains the time", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -8.64e15 + 2 * 86_400_000, max: 8.64e15 - 86_400_000 }),
        minutesArb,
        (t, m) => {
          const w = windowContaining(t, m);
          expect(w.endMs - w.startMs).toBe(m * MIN);
          expect(BigInt(w.startMs) % BigInt(m * MIN)).toBe(0n);
          expect(w.startMs <= t && t < w.endMs).toBe(true);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("tiles time: the window after a window starts where it ends, the one before ends where it starts", () => {
    fc.assert(
      fc.property(instantArb, minutesArb, (t, m) => {
        const w = windowContaining(t, m);
        expect(windowContaining(w.endMs, m)).toEqual({ startMs: w.endMs, endMs: w.endMs + m * MIN });
        expect(windowContaining(w.startMs - 1, m).endMs).toBe(w.startMs);
        expect(windowContaining(w.endMs - 1, m)).toEqual(w);
      }),
      { numRuns: 500 },
    );
  });

  it("puts a boundary instant in the window that starts there (half-open windows)", () => {
    expect(windowContaining(at("2026-11-28T14:00:00Z"), 60)).toEqual({
      startMs: at("2026-11-28T14:00:00Z"),
      endMs: at("2026-11-28T15:00:00Z"),
    });
    expect(windowContaining(at("2026-11-28T13:59:59.999Z"), 60).startMs).toBe(at("2026-11-28T13:00:00Z"));
  });

  it("aligns windows to UTC midnight, also before 1970", () => {
    expect(formatWindow(windowContaining(at("2026-11-28T15:20:00Z"), 1440))).toBe(
      "2026-11-28T00:00:00Z/2026-11-29T00:00:00Z",
    );
    expect(formatWindow(windowContaining(at("1969-12-31T23:30:00Z"), 90))).toBe(
      "1969-12-31T22:30:00Z/1970-01-01T00:00:00Z",
    );
    expect(formatWindow(windowContaining(at("2026-11-28T15:20:00Z"), 360))).toBe(
      "2026-11-28T12:00:00Z/2026-11-28T18:00:00Z",
    );
  });

  it.each([7, 0, -60, 1.5, 2880, Number.NaN])("rejects the window length %s with a RangeError", (m) => {
    expect(() => windowContaining(0, m)).toThrow(RangeError);
    expect(() => windowContaining(0, m)).toThrow(/divisor of 1440/);
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, 9e15])("rejects the time %s with a RangeError", (t) => {
    expect(() => windowContaining(t, 60)).toThrow(RangeError);
  });
});

describe("isWindowLength", () => {
  it("accepts exactly the positive divisors of 1440", () => {
    const accepted = Array.from({ length: 3000 }, (_, i) => i - 10).filter(isWindowLength);
    expect(accepted).toEqual(DIVISORS_OF_A_DAY);
    expect(isWindowLength(60.5)).toBe(false);
  });
});

describe("dueWindows", () => {
  it("returns exactly the due windows inside the lookback, oldest first (against a brute-force enumeration)", () => {
    fc.assert(
      fc.property(instantArb, settingsArb, (now, s) => {
        const got = dueWindows(now, s);
        const expected = bruteForceDue(now, s);
        expect(got.length).toBe(expected.length);
        const firstDifference = got.findIndex(
          (w, i) => w.startMs !== expected[i]?.startMs || w.endMs !== expected[i]?.endMs,
        );
        expect(firstDifference).toBe(-1);
        // Stated directly too: each is due, inside the lookback, aligned, of full length, touching the next.
        const wMs = s.minutes * MIN;
        const bad = got.find(
          (w, i) =>
            !isDue(w, now, s.lagMinutes) ||
            w.startMs < now - s.lookbackHours * HOUR ||
            w.endMs - w.startMs !== wMs ||
            w.startMs % wMs !== 0 ||
            (i > 0 && got[i - 1]?.endMs !== w.startMs),
        );
        expect(bad).toBeUndefined();
      }),
      { numRuns: 400 },
    );
  });

  it("at 15:20 with 60/15/72 returns 71 windows from 2026-11-25T16:00Z up to 14:00–15:00", () => {
    const got = dueWindows(at("2026-11-28T15:20:00Z"), { minutes: 60, lagMinutes: 15, lookbackHours: 72 });
    expect(got).toHaveLength(71);
    expect(got[0]).toEqual({ startMs: at("2026-11-25T16:00:00Z"), endMs: at("2026-11-25T17:00:00Z") });
    expect(got.at(-1)).toEqual({ startMs: at("2026-11-28T14:00:00Z"), endMs: at("2026-11-28T15:00:00Z") });
  });

  it("makes a window due exactly when end + lag is reached, not a millisecond earlier", () => {
    const s = { minutes: 60, lagMinutes: 15, lookbackHours: 72 };
    expect(dueWindows(at("2026-11-28T15:15:00Z"), s).at(-1)?.startMs).toBe(at("2026-11-28T14:00:00Z"));
    expect(dueWindows(at("2026-11-28T15:14:59.999Z"), s).at(-1)?.startMs).toBe(at("2026-11-28T13:00:00Z"));
    const w = windowContaining(at("2026-11-28T14:30:00Z"), 60);
    expect(isDue(w, at("2026-11-28T15:15:00Z"), 15)).toBe(true);
    expect(isDue(w, at("2026-11-28T15:14:59.999Z"), 15)).toBe(false);
  });

  it("keeps a window whose start is exactly now - lookback and drops it one millisecond later", () => {
    const s = { minutes: 60, lagMinutes: 15, lookbackHours: 72 };
    const start = at("2026-11-25T16:00:00Z");
    expect(dueWindows(start + 72 * HOUR, s)[0]?.startMs).toBe(start);
    expect(dueWindows(start + 72 * HOUR + 1, s)[0]?.startMs).toBe(start + HOUR);
  });

  it("returns nothing when the lookback is shorter than window + lag", () => {
    expect(
      dueWindows(at("2026-11-28T15:20:00Z"), { minutes: 1440, lagMinutes: 60, lookbackHours: 24 }),
    ).toEqual([]);
  });

  it("rejects a negative or non-finite lag or lookback", () => {
    const now = at("2026-11-28T15:20:00Z");
    expect(() => dueWindows(now, { minutes: 60, lagMinutes: -1, lookbackHours: 72 })).toThrow(RangeError);
    expect(() => dueWindows(now, { minutes: 60, lagMinutes: 15, lookbackHours: Number.NaN })).toThrow(
      RangeError,
    );
    expect(() => dueWindows(Number.NaN, { minutes: 60, lagMinutes: 15, lookbackHours: 72 })).toThrow(
      RangeError,
    );
  });
});

describe("scheduling: no window is lost when runs are at most lookback - window - lag apart", () => {
  it("a fixed interval up to the bound, at any phase, returns every window before it leaves the lookback", () => {
    fc.assert(
      fc.property(
        settingsArb.filter((s) => spanMs(s) > 0),
        instantArb,
        fc.integer({ min: 1, max: 1000 }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        (s, t, permille, phaseFraction) => {
          const bound = spanMs(s);
          const interval = Math.max(1, Math.floor((bound * permille) / 1000));
          const target = windowContaining(t, s.minutes);
          const dueAt = target.endMs + s.lagMinutes * MIN;
          const leavesAfter = target.startMs + s.lookbackHours * HOUR;
          // The last run strictly before the window is due, at an arbitrary phase of the schedule.
          let run = dueAt - 1 - Math.floor(phaseFraction * interval);
          expect(returns(run, s, target.startMs)).toBe(false);
          let seen = false;
          for (run += interval; run <= leavesAfter + interval && !seen; run += interval) {
            seen = returns(run, s, target.startMs);
          }
          expect(seen).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a jittered schedule whose gaps never exceed the bound returns every window that becomes due", () => {
    fc.assert(
      fc.property(
        // At most 2000 windows per run keeps this fast; the property does not depend on scale.
        settingsArb.filter((s) => spanMs(s) > 0 && (s.lookbackHours * 60) / s.minutes <= 2000),
        instantArb,
        fc.array(fc.oneof(fc.constant(1), fc.constant(1000), fc.integer({ min: 1, max: 1000 })), {
          minLength: 3,
          maxLength: 10,
        }),
        (s, firstRun, gapsPermille) => {
          const bound = spanMs(s);
          const runs = [firstRun];
          for (const p of gapsPermille)
            runs.push((runs.at(-1) ?? firstRun) + Math.max(1, Math.floor((bound * p) / 1000)));
          const lastRun = runs.at(-1) ?? firstRun;
          const returned = new Set<number>();
          for (const r of runs) for (const w of dueWindows(r, s)) returned.add(w.startMs);
          // Every window whose whole returnable span [end + lag, start + lookback] lies within the runs.
          const wMs = s.minutes * MIN;
          const first = windowContaining(firstRun - s.lagMinutes * MIN - wMs, s.minutes).startMs;
          const lost: number[] = [];
          for (let start = first; start + s.lookbackHours * HOUR <= lastRun; start += wMs) {
            if (start + wMs + s.lagMinutes * MIN >= firstRun && !returned.has(start)) lost.push(start);
          }
          expect(lost).toEqual([]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("any interval longer than the bound can lose a window, for some phase", () => {
    fc.assert(
      fc.property(
        settingsArb.filter((s) => spanMs(s) >= 0),
        instantArb,
        fc.integer({ min: 2, max: 24 * HOUR }),
        (s, t, excessMs) => {
          const interval = spanMs(s) + excessMs;
          const target = windowContaining(t, s.minutes);
          const dueAt = target.endMs + s.lagMinutes * MIN;
          // Runs at dueAt - 1 + k * interval: the one before due misses it, the next one is too late.
          for (let k = -3; k <= 3; k++) {
            expect(returns(dueAt - 1 + k * interval, s, target.startMs)).toBe(false);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("the bound is exact at millisecond resolution: bound + 1 ms never loses a window, bound + 2 ms can", () => {
    const s = { minutes: 60, lagMinutes: 15, lookbackHours: 2 };
    const target = windowContaining(at("2026-11-28T13:00:00Z"), 60);
    const dueAt = at("2026-11-28T14:15:00Z");
    for (const phase of [0, 1, 2, 1000, spanMs(s)]) {
      const before = dueAt - 1 - phase;
      const after = before + spanMs(s) + 1;
      expect(returns(before, s, target.startMs) || returns(after, s, target.startMs)).toBe(true);
    }
    expect(returns(dueAt - 1, s, target.startMs)).toBe(false);
    expect(returns(dueAt - 1 + spanMs(s) + 2, s, target.startMs)).toBe(false);
  });

  it("an interval of lookback - window (ignoring lag) loses a window when lag > 0", () => {
    // 60-minute windows, 15 minutes of lag, 2 hours of lookback: runs every 60 minutes at :14.
    const s = { minutes: 60, lagMinutes: 15, lookbackHours: 2 };
    expect(maxRunIntervalMinutes(s)).toBe(45);
    const lost = at("2026-11-28T13:00:00Z");
    expect(returns(at("2026-11-28T14:14:00Z"), s, lost)).toBe(false); // due only at 14:15
    expect(returns(at("2026-11-28T15:14:00Z"), s, lost)).toBe(false); // 15:14 - 2 h = 13:14 > 13:00
    // Every 45 minutes at the same phase catches it.
    expect(returns(at("2026-11-28T14:59:00Z"), s, lost)).toBe(true);
  });
});

describe("maxRunIntervalMinutes", () => {
  it("is lookback - window - lag in minutes", () => {
    expect(maxRunIntervalMinutes({ minutes: 60, lagMinutes: 15, lookbackHours: 72 })).toBe(72 * 60 - 75);
    expect(maxRunIntervalMinutes({ minutes: 1440, lagMinutes: 60, lookbackHours: 24 })).toBe(-60);
  });
});

describe("windowsInRange", () => {
  it("returns exactly the windows overlapping [from, to), oldest first, touching", () => {
    fc.assert(
      fc.property(instantArb, fc.integer({ min: 0, max: 10 * 24 * HOUR }), minutesArb, (from, length, m) => {
        const to = from + length;
        const got = windowsInRange(from, to, m);
        const wMs = m * MIN;
        const expected: TimeWindow[] = [];
        const lo = BigInt(from) / BigInt(wMs) - 2n;
        for (let k = lo; k * BigInt(wMs) < BigInt(to) + BigInt(wMs); k++) {
          const start = Number(k * BigInt(wMs));
          if (from < to && start < to && start + wMs > from)
            expected.push({ startMs: start, endMs: start + wMs });
        }
        expect(got).toEqual(expected);
        if (length > 0) {
          expect(got[0]?.startMs).toBeLessThanOrEqual(from);
          expect(got.at(-1)?.endMs).toBeGreaterThanOrEqual(to);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("covers 13:30–15:00 with the hourly windows 13:00–14:00 and 14:00–15:00", () => {
    expect(
      windowsInRange(at("2026-11-28T13:30:00Z"), at("2026-11-28T15:00:00Z"), 60).map(formatWindow),
    ).toEqual(["2026-11-28T13:00:00Z/2026-11-28T14:00:00Z", "2026-11-28T14:00:00Z/2026-11-28T15:00:00Z"]);
  });

  it("returns nothing for an empty range and rejects a reversed one", () => {
    expect(windowsInRange(at("2026-11-28T13:30:00Z"), at("2026-11-28T13:30:00Z"), 60)).toEqual([]);
    expect(() => windowsInRange(at("2026-11-28T15:00:00Z"), at("2026-11-28T13:00:00Z"), 60)).toThrow(
      /2026-11-28T15:00:00Z is after range end 2026-11-28T13:00:00Z/,
    );
  });
});

describe("toEpochSeconds and formatWindow", () => {
  it("sends the window's start and end as epoch seconds", () => {
    const w = windowContaining(at("2026-11-28T14:20:00Z"), 60);
    expect(toEpochSeconds(w)).toEqual({ startDate: 1795874400, endDate: 1795878000 });
  });

  it("widens a window that is not second-aligned instead of narrowing it", () => {
    expect(toEpochSeconds({ startMs: 1_500, endMs: 3_500 })).toEqual({ startDate: 1, endDate: 4 });
  });

  it("round-trips every aligned window through seconds and ISO text", () => {
    fc.assert(
      fc.property(instantArb, minutesArb, (t, m) => {
        const w = windowContaining(t, m);
        const { startDate, endDate } = toEpochSeconds(w);
        expect(Number.isInteger(startDate) && Number.isInteger(endDate)).toBe(true);
        expect([startDate * 1000, endDate * 1000]).toEqual([w.startMs, w.endMs]);
        const text = formatWindow(w);
        expect(text).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        const [a, b] = text.split("/");
        expect([Date.parse(a ?? ""), Date.parse(b ?? "")]).toEqual([w.startMs, w.endMs]);
      }),
      { numRuns: 500 },
    );
  });

  it("formats without milliseconds", () => {
    expect(formatWindow(windowContaining(at("2026-11-28T13:20:00.123Z"), 60))).toBe(
      "2026-11-28T13:00:00Z/2026-11-28T14:00:00Z",
    );
  });
});
