import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ArchiverError } from "../../lambda/errors";
import {
  MAX_YEAR,
  MIN_YEAR,
  overlaps,
  parseBoundary,
  parseInstant,
  parseRange,
  RangeInputError,
} from "../../lambda/range";

const END_MS = Date.UTC(10000, 0, 1);

/** The RangeInputError `run` throws, and its message as the command line renders it (`--from`). */
function refusal(run: () => unknown): { readonly error: RangeInputError; readonly message: string } {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(RangeInputError);
    expect(error).toBeInstanceOf(ArchiverError);
    expect((error as RangeInputError).code).toBe("RANGE_INVALID");
    expect((error as RangeInputError).kind).toBe("usage");
    return { error: error as RangeInputError, message: (error as RangeInputError).describe((f) => `--${f}`) };
  }
  throw new Error("expected a RangeInputError");
}

describe("parseInstant", () => {
  it.each([
    ["2026-11-28T13:00:00Z", "2026-11-28T13:00:00.000Z"],
    ["2026-11-28t13:00:00z", "2026-11-28T13:00:00.000Z"],
    ["2026-11-28T13:00Z", "2026-11-28T13:00:00.000Z"],
    ["2026-11-28T14:00:00+01:00", "2026-11-28T13:00:00.000Z"],
    ["2026-11-28T14:00:00+0100", "2026-11-28T13:00:00.000Z"],
    ["2026-11-28T07:30:00-05:30", "2026-11-28T13:00:00.000Z"],
    ["2026-11-28T13:00:00.5Z", "2026-11-28T13:00:00.500Z"],
    ["2026-11-28T13:00:00.123456789Z", "2026-11-28T13:00:00.123Z"],
    ["2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000Z"],
    ["2000-02-29T23:59:59Z", "2000-02-29T23:59:59.000Z"],
    ["1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000Z"],
    ["1970-01-01T01:00:00+01:00", "1970-01-01T00:00:00.000Z"],
    ["9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"],
  ])("takes %j as %s", (value, expected) => {
    expect(new Date(parseInstant(value, "now")).toISOString()).toBe(expected);
  });

  it.each([
    ["1", "is not an instant"],
    ["yesterday", "is not an instant"],
    ["", "is not an instant"],
    ["2026-11-28T13:00:00", "The zone is missing"],
    ["2026-11-28 13:00:00", "The zone is missing"],
    ["2026-11-28 13:00:00Z", "is not an instant"],
    ["2026-11-28", "is a date, not an instant: give the time and its zone, e.g. 2026-11-28T00:00:00Z"],
    ["Sat, 28 Nov 2026 13:00:00 GMT", "is not an instant"],
    ["2026-W48-6T13:00:00Z", "is not an instant"],
    ["2026-11-28T13:00:00+01", "is not an instant"],
    ["2026-02-30T00:00:00Z", "is not a calendar date: February 2026 has 28 days"],
    ["2023-02-29T00:00:00Z", "is not a calendar date: February 2023 has 28 days"],
    ["2026-04-31T00:00:00Z", "April 2026 has 30 days"],
    ["2026-13-01T00:00:00Z", "the month must be 01 to 12"],
    ["2026-00-01T00:00:00Z", "the month must be 01 to 12"],
    ["2026-11-00T00:00:00Z", "November 2026 has 30 days"],
    ["2026-11-28T24:00:00Z", "is not a time of day"],
    ["2026-11-28T13:60:00Z", "is not a time of day"],
    ["2026-11-28T13:00:60Z", "is not a time of day"],
    ["2026-11-28T13:00:00+24:00", "has no valid zone offset"],
    ["2026-11-28T13:00:00+01:60", "has no valid zone offset"],
    ["275760-09-13T00:00:00.001Z", "is not an instant"],
    ["+275760-09-13T00:00:00Z", "is not an instant"],
    ["-271821-04-19T00:00:00Z", "is not an instant"],
    ["12345678901234567890-01-01T00:00:00Z", "is not an instant"],
    ["0001-01-01T00:00:00Z", "outside the years 1970 through 9999"],
    ["1969-12-31T23:59:59Z", "outside the years 1970 through 9999"],
    ["1970-01-01T00:30:00+01:00", "is 1969-12-31T23:30:00Z, outside the years 1970 through 9999 UTC"],
    ["9999-12-31T23:30:00-01:00", "is +010000-01-01T00:30:00Z, outside the years 1970 through 9999 UTC"],
  ])("refuses %j: %s", (value, message) => {
    const error = refusal(() => parseInstant(value, "now"));
    expect(error.message).toMatch(/^--now "/);
    expect(error.message).toContain(message);
  });

  it("quotes at most 64 characters of a long value", () => {
    const error = refusal(() => parseInstant(`2026-11-28T13:00:00Z${"x".repeat(100_000)}`, "now"));
    expect(error.message).toContain(`--now "2026-11-28T13:00:00Z${"x".repeat(41)}..." is not an instant`);
    expect(error.message.length).toBeLessThan(300);
  });

  it("reads back every instant of the years allowed as toISOString writes it", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: END_MS - 1 }), (ms) => {
        expect(parseInstant(new Date(ms).toISOString(), "now")).toBe(ms);
      }),
    );
  });

  it("agrees with the calendar for any fields and offset", () => {
    const pad = (n: number, width = 2) => String(n).padStart(width, "0");
    fc.assert(
      fc.property(
        fc.record({
          year: fc.integer({ min: MIN_YEAR, max: MAX_YEAR }),
          month: fc.integer({ min: 0, max: 13 }),
          day: fc.integer({ min: 0, max: 32 }),
          hour: fc.integer({ min: 0, max: 25 }),
          minute: fc.integer({ min: 0, max: 61 }),
          offset: fc.integer({ min: -14 * 60, max: 14 * 60 }),
        }),
        ({ year, month, day, hour, minute, offset }) => {
          const zone = `${offset < 0 ? "-" : "+"}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
          const value = `${pad(year, 4)}-${pad(month)}-${pad(day)}T${pad(hour)}:${pad(minute)}:00${zone}`;
          const local = new Date(Date.UTC(year, month - 1, day, hour, minute));
          const real =
            local.getUTCMonth() === month - 1 && local.getUTCDate() === day && hour < 24 && minute < 60;
          const ms = local.getTime() - offset * 60_000;
          if (real && ms >= 0 && ms < END_MS) expect(parseInstant(value, "now")).toBe(ms);
          else refusal(() => parseInstant(value, "now"));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("throws nothing but a RangeInputError, quickly, whatever the text", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.stringMatching(
            /^[+-]?\d{1,8}-\d{1,3}-\d{1,3}[T ]\d{1,3}:\d{1,3}(:\d{1,3}(\.\d{0,12})?)?[Zz+-]?\d{0,4}$/,
          ),
        ),
        (value) => {
          try {
            const ms = parseInstant(value, "now");
            expect(ms).toBeGreaterThanOrEqual(0);
            expect(ms).toBeLessThan(END_MS);
            expect(Date.parse(value)).toBe(ms);
          } catch (error) {
            expect(error).toBeInstanceOf(RangeInputError);
          }
        },
      ),
      { numRuns: 3000 },
    );
    const started = performance.now();
    refusal(() => parseInstant(`2026-11-28T13:00:00${"0".repeat(10_000_000)}Z`, "now"));
    expect(performance.now() - started).toBeLessThan(200);
  });
});

describe("parseBoundary", () => {
  it("takes a date as its UTC midnight, and a `to` date as the next one", () => {
    expect(parseBoundary("2026-11-28", "from")).toBe(Date.parse("2026-11-28T00:00:00Z"));
    expect(parseBoundary("2026-11-28", "to")).toBe(Date.parse("2026-11-29T00:00:00Z"));
    expect(parseBoundary("2024-02-29", "to")).toBe(Date.parse("2024-03-01T00:00:00Z"));
    expect(parseBoundary("9999-12-31", "to")).toBe(END_MS);
    expect(parseBoundary("1970-01-01", "from")).toBe(0);
  });

  it("takes an instant as given", () => {
    expect(parseBoundary("2026-11-28T13:30:00+01:00", "to")).toBe(Date.parse("2026-11-28T12:30:00Z"));
  });

  it.each([
    ["2026-02-30", '--to "2026-02-30" is not a calendar date: February 2026 has 28 days'],
    ["2026-13-01", "the month must be 01 to 12"],
    ["1969-12-31", "outside the years 1970 through 9999"],
    ["0000-01-01", "outside the years 1970 through 9999"],
    ["10000-01-01", "is not a date"],
    ["+275760-09-13", "is not a date"],
    ["28/11/2026", '--to "28/11/2026" is not a date: use YYYY-MM-DD'],
    ["2026-11-28T13:00:00", "The zone is missing"],
  ])("refuses %j", (value, message) => {
    expect(refusal(() => parseBoundary(value, "to")).message).toContain(message);
  });

  it("names the field, which each caller renders its own way", () => {
    const { error } = refusal(() => parseBoundary("x", "from"));
    expect(error.context).toMatchObject({ field: "from", value: "x" });
    expect(error.describe((f) => `Event field "${f}"`)).toMatch(/^Event field "from" "x" is not a date/);
    expect(error.message).toMatch(/^"from" "x" is not a date/);
  });
});

describe("parseRange", () => {
  const now = Date.parse("2026-11-29T02:20:00Z");
  const defaults = { nowMs: now, fallbackSpanMs: 6 * 3_600_000 };

  it("takes dates as whole UTC days, the --to date included", () => {
    expect(parseRange({ from: "2026-11-28", to: "2026-11-28" }, defaults)).toEqual({
      fromMs: Date.parse("2026-11-28T00:00:00Z"),
      toMs: Date.parse("2026-11-29T00:00:00Z"),
    });
  });

  it("takes instants with a zone as given, and defaults a missing end to now and a missing start to the span", () => {
    expect(parseRange({ from: "2026-11-28T23:30:00+01:00" }, defaults)).toEqual({
      fromMs: Date.parse("2026-11-28T22:30:00Z"),
      toMs: now,
    });
    expect(parseRange({}, defaults)).toEqual({ fromMs: now - 6 * 3_600_000, toMs: now });
  });

  it("never starts a default range before 1970", () => {
    expect(parseRange({ to: "1970-01-01T01:00:00Z" }, defaults)).toEqual({ fromMs: 0, toMs: 3_600_000 });
  });

  it("takes the widest range allowed", () => {
    expect(parseRange({ from: "1970-01-01", to: "9999-12-31" }, { required: true })).toEqual({
      fromMs: 0,
      toMs: END_MS,
    });
  });

  it.each([
    [{ from: "yesterday" }, '--from "yesterday" is not a date'],
    [{ from: "2026-11-28T13:00:00" }, "with its zone"],
    [{ to: "2026-02-30" }, '--to "2026-02-30" is not a calendar date'],
    [{ from: "2026-11-29", to: "2026-11-28" }, "is reversed"],
    [{ from: "2026-11-28T13:00:00Z", to: "2026-11-28T13:00:00Z" }, "is empty"],
    [{ from: "2026-11-29T00:00:00Z", to: "2026-11-28" }, "is reversed"],
  ])("refuses %j", (options, message) => {
    expect(refusal(() => parseRange(options, defaults)).message).toContain(message);
  });

  it("requires both ends when asked to, or when there is no default for one", () => {
    expect(refusal(() => parseRange({}, { ...defaults, required: true })).message).toBe(
      "--from and --to are required: give the range to read.",
    );
    expect(refusal(() => parseRange({ from: "2026-11-28" }, { ...defaults, required: true })).message).toBe(
      "--from and --to are required together: give --to too.",
    );
    expect(refusal(() => parseRange({ to: "2026-11-28" }, { nowMs: now })).message).toBe(
      "--from and --to are required together: give --from too.",
    );
    expect(refusal(() => parseRange({ from: "2026-11-28" })).message).toContain("give --to too");
  });

  it("refuses a range longer than the span allowed", () => {
    const year = { required: true, maxSpanMs: 366 * 86_400_000 };
    expect(parseRange({ from: "2024-01-01", to: "2024-12-31" }, year).toMs).toBe(
      Date.parse("2025-01-01T00:00:00Z"),
    );
    expect(refusal(() => parseRange({ from: "2024-01-01", to: "2025-01-01" }, year)).message).toBe(
      "The range --from 2024-01-01 --to 2025-01-01 covers 367 days, more than the 366 allowed: split it.",
    );
  });

  it("names the ends as the caller renders them (the core's own message quotes the field names)", () => {
    expect(refusal(() => parseRange({ from: "2026-11-28" }, { required: true })).error.message).toBe(
      '"from" and "to" are required together: give "to" too.',
    );
    const reversed = refusal(() => parseRange({ from: "2026-11-29", to: "2026-11-28" })).error;
    expect(reversed.describe((f) => `event field "${f}"`)).toBe(
      'The range event field "from" 2026-11-29 event field "to" 2026-11-28 is reversed: event field "from" must ' +
        'be before event field "to" (a event field "to" date includes that whole day).',
    );
  });
});

describe("overlaps", () => {
  it("is true when the window and the half-open range share an instant", () => {
    const range = { fromMs: 10, toMs: 20 };
    expect(overlaps({ startMs: 0, endMs: 10 }, range)).toBe(false);
    expect(overlaps({ startMs: 0, endMs: 11 }, range)).toBe(true);
    expect(overlaps({ startMs: 19, endMs: 30 }, range)).toBe(true);
    expect(overlaps({ startMs: 20, endMs: 30 }, range)).toBe(false);
  });
});
