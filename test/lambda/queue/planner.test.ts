import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { candidateWindows, MAX_RANGE_MS } from "../../../lambda/archive/plan";
import { utcDate } from "../../../lambda/config";
import { planSlices, restOfRange } from "../../../lambda/queue/planner";
import { dueWindows, type TimeWindow, windowsInRange } from "../../../lambda/windows";
import { testConfig } from "../../support/archive-fixture";

const DAY = 86_400_000;
const days = (n: number, minutes = 60, fromMs = Date.parse("2026-01-01T00:00:00Z")) =>
  windowsInRange(fromMs, fromMs + n * DAY, minutes);

describe("planSlices", () => {
  it("packs whole UTC days into each slice, never more windows than asked", () => {
    const slices = planSlices(days(5), 50);
    expect(slices.map((s) => s.length)).toEqual([48, 48, 24]);
    expect(slices.flat()).toEqual(days(5));
  });

  it("cuts a day longer than a slice into slices of its own", () => {
    const slices = planSlices(days(2), 10);
    expect(slices.map((s) => s.length)).toEqual([10, 10, 4, 10, 10, 4]);
    expect(slices.flat()).toEqual(days(2));
  });

  it("starts a range in the middle of a day with that day's rest, and takes at least one window a slice", () => {
    const fromMs = Date.parse("2026-01-01T20:00:00Z");
    expect(planSlices(days(1, 60, fromMs), 100).map((s) => s.length)).toEqual([24]);
    expect(planSlices(days(1, 60, fromMs), 0.2).every((s) => s.length === 1)).toBe(true);
  });
});

const minutesArb = fc.constantFrom(15, 30, 60, 120, 360, 1440);
const instantArb = fc.integer({ min: Date.UTC(2024, 0, 1), max: Date.UTC(2030, 0, 1) });

describe("planning in slices loses and repeats nothing", () => {
  it("a partition of the windows: in order, each slice at most its size, no day split that fits in one", () => {
    fc.assert(
      fc.property(
        minutesArb,
        instantArb,
        fc.integer({ min: 1, max: 40 * 24 }),
        fc.double({ min: 0.1, max: 2_000, noNaN: true }),
        (minutes, fromMs, hours, size) => {
          const windows = windowsInRange(fromMs, fromMs + hours * 3_600_000, minutes);
          const slices = planSlices(windows, size);
          expect(slices.flat()).toEqual(windows);
          const most = Math.max(1, Math.floor(size));
          for (const slice of slices) expect(slice.length).toBeGreaterThanOrEqual(1);
          for (const slice of slices) expect(slice.length).toBeLessThanOrEqual(most);
          // A day with no more windows than a slice holds lies in one slice.
          const sliceOf = new Map<string, Set<number>>();
          const perDay = new Map<string, number>();
          slices.forEach((slice, i) => {
            for (const w of slice) {
              const date = utcDate(w.startMs);
              sliceOf.set(date, (sliceOf.get(date) ?? new Set()).add(i));
              perDay.set(date, (perDay.get(date) ?? 0) + 1);
            }
          });
          for (const [date, where] of sliceOf)
            if ((perDay.get(date) ?? 0) <= most) expect(where.size).toBe(1);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a backfill handed on at any slice (the planner's continuation) plans exactly the range's windows, once", () => {
    fc.assert(
      fc.property(
        minutesArb,
        instantArb,
        fc.integer({ min: 1, max: MAX_RANGE_MS / 3_600_000 }),
        fc.integer({ min: 1, max: 500 }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        fc.integer({ min: 0, max: 3 * DAY }),
        (minutes, fromMs, hours, size, cutAt, nowAfter) => {
          const config = testConfig("http://127.0.0.1:1", { window: { minutes, lagMinutes: 15 } });
          const range = { fromMs, toMs: fromMs + hours * 3_600_000 };
          // Some of the range's end may not be due yet at `now`: the continuation runs later still.
          const nowMs = range.toMs - DAY + nowAfter;
          const all = candidateWindows(config, nowMs, range);
          const slices = planSlices(all, size);
          if (slices.length === 0) return;
          const cut = Math.floor(cutAt * slices.length);
          const next = restOfRange(range, slices[cut]?.[0] as TimeWindow);
          const planned = [...slices.slice(0, cut).flat(), ...candidateWindows(config, nowMs, next)];
          expect(planned).toEqual(all);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("a scheduled run plans every window of its lookback, whatever the slice size: the schedule bound of windows.ts holds", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(15, 30, 60),
        instantArb,
        fc.integer({ min: 2, max: 240 }),
        fc.double({ min: 0.5, max: 5_000, noNaN: true }),
        (minutes, nowMs, lookbackHours, size) => {
          const window = { minutes, lagMinutes: 15, lookbackHours };
          const config = testConfig("http://127.0.0.1:1", { window, schedule: "rate(5 minutes)" });
          const slices = planSlices(candidateWindows(config, nowMs), size);
          expect(slices.flat()).toEqual(dueWindows(nowMs, window));
        },
      ),
      { numRuns: 200 },
    );
  });
});
