import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { WINDOW_LENGTHS } from "../../../lambda/config";
import { dueRun, type Gap, gapsOf } from "../../../lambda/reader/ls";
import { dueWindows, isDue, type TimeWindow, windowsInRange } from "../../../lambda/windows";

const HOUR = 3_600_000;
const BASE = Date.parse("2026-11-28T00:00:00Z");
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.000Z$/, "Z");

/** The gaps as `ls` found them by listing every due window (fine for a few days). */
function enumerated(due: readonly TimeWindow[], present: readonly TimeWindow[]): Gap[] {
  const have = new Set(present.map((w) => `${w.startMs}/${w.endMs}`));
  const gaps: Array<{ startMs: number; endMs: number; windows: number }> = [];
  for (const w of due) {
    if (have.has(`${w.startMs}/${w.endMs}`)) continue;
    const last = gaps.at(-1);
    if (last && last.endMs === w.startMs) {
      last.endMs = w.endMs;
      last.windows++;
    } else gaps.push({ startMs: w.startMs, endMs: w.endMs, windows: 1 });
  }
  return gaps.map((g) => ({ from: iso(g.startMs), to: iso(g.endMs), windows: g.windows }));
}

describe("gaps without enumerating windows", () => {
  const settings = fc.record({
    minutes: fc.constantFrom(...WINDOW_LENGTHS.filter((m) => m >= 5)),
    lagMinutes: fc.integer({ min: 0, max: 600 }),
    lookbackHours: fc.integer({ min: 1, max: 72 }),
  });
  /** Windows near BASE: aligned ones of the window length, and others (misaligned, other lengths). */
  const windowsNear = (minutes: number) =>
    fc.array(
      fc.oneof(
        fc.integer({ min: -100, max: 400 }).map((i) => ({
          startMs: BASE + i * minutes * 60_000,
          endMs: BASE + (i + 1) * minutes * 60_000,
        })),
        fc
          .record({
            start: fc.integer({ min: -HOUR, max: 100 * HOUR }),
            length: fc.integer({ min: 1, max: 3 * HOUR }),
          })
          .map(({ start, length }) => ({ startMs: BASE + start, endMs: BASE + start + length })),
      ),
      { maxLength: 40 },
    );

  it("finds exactly the gaps of a range that enumerating every due window finds", () => {
    fc.assert(
      fc.property(
        settings.chain((s) =>
          fc.record({
            s: fc.constant(s),
            from: fc.integer({ min: -2 * HOUR, max: 50 * HOUR }),
            span: fc.integer({ min: 1, max: 60 * HOUR }),
            now: fc.integer({ min: -HOUR, max: 120 * HOUR }),
            present: windowsNear(s.minutes),
          }),
        ),
        ({ s, from, span, now, present }) => {
          const range = { fromMs: BASE + from, toMs: BASE + from + span };
          const nowMs = BASE + now;
          const due = windowsInRange(range.fromMs, range.toMs, s.minutes).filter((w) =>
            isDue(w, nowMs, s.lagMinutes),
          );
          expect(gapsOf(dueRun(range, nowMs, s), present)).toEqual(enumerated(due, present));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("finds exactly the gaps of the lookback", () => {
    fc.assert(
      fc.property(
        settings.chain((s) =>
          fc.record({
            s: fc.constant(s),
            now: fc.integer({ min: 0, max: 120 * HOUR }),
            present: windowsNear(s.minutes),
          }),
        ),
        ({ s, now, present }) => {
          const nowMs = BASE + now;
          expect(gapsOf(dueRun(undefined, nowMs, s), present)).toEqual(
            enumerated(dueWindows(nowMs, s), present),
          );
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("handles the widest range at once", () => {
    const started = performance.now();
    const window = { minutes: 1, lagMinutes: 0, lookbackHours: 1 };
    const run = dueRun({ fromMs: 0, toMs: Date.UTC(10000, 0, 1) }, Date.UTC(9999, 11, 31, 23, 59), window);
    const present = [{ startMs: BASE, endMs: BASE + 60_000 }];
    expect(gapsOf(run, present)).toEqual([
      { from: "1970-01-01T00:00:00Z", to: "2026-11-28T00:00:00Z", windows: BASE / 60_000 },
      {
        from: "2026-11-28T00:01:00Z",
        to: "9999-12-31T23:59:00Z",
        windows: (Date.UTC(9999, 11, 31, 23, 59) - BASE - 60_000) / 60_000,
      },
    ]);
    expect(performance.now() - started).toBeLessThan(100);
  });
});
