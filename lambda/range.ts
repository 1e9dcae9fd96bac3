/**
 * Instants and time ranges written by people: `--now`, `--from` and `--to` on the command line,
 * `from` and `to` in a Lambda event. One strict parser for all of them, pure (no clock, no local
 * time zone), refusing anything that is not a real ISO 8601 instant or date with a clear error.
 *
 * What is accepted:
 * - an instant `YYYY-MM-DDThh:mm[:ss[.fraction]]` with its zone, `Z` or an offset `±hh:mm` / `±hhmm`
 *   (`T` and `Z` may be lowercase); fractions beyond milliseconds are dropped;
 * - where a range end is expected, also a date `YYYY-MM-DD`: a whole UTC day;
 * - real calendar fields only (month 01-12, a day the month has, leap years included, hour 00-23,
 *   minute and second 00-59), and only the years {@link MIN_YEAR} through {@link MAX_YEAR}: Atlas
 *   counts time in seconds since 1970, and the archive's keys have four-digit years.
 */
import { type FieldNamer, InputError } from "./errors";
import { formatInstantExact } from "./windows";

/** A half-open time range `[fromMs, toMs)` in epoch milliseconds. */
export interface TimeRange {
  readonly fromMs: number;
  readonly toMs: number;
}

/** The first year an instant or date may have. */
export const MIN_YEAR = 1970;
/** The last year an instant or date may have. */
export const MAX_YEAR = 9999;

/**
 * A malformed, impossible, out-of-range, missing, reversed or empty date, instant or range. Code
 * `RANGE_INVALID`, kind `usage`: the caller's input is wrong. It names the field (`from`, `to`,
 * `now`), which the caller renders: `--from` on the command line, the event's `"from"` in Lambda.
 */
export class RangeInputError extends InputError {
  declare readonly code: "RANGE_INVALID";

  constructor(field: string, value: string | undefined, describe: (namer: FieldNamer) => string) {
    super("RANGE_INVALID", { field, ...(value === undefined ? {} : { value }) }, describe);
  }
}

/** A refusal of `value` given as `field`: `text` completes the sentence that starts with the field's name and the value. */
function refuse(field: string, value: string, text: string): RangeInputError {
  return new RangeInputError(field, value, (n) => `${n(field)} ${shown(value)} ${text}`);
}

const DAY_MS = 86_400_000;
/** 1970-01-01T00:00:00Z, the first instant allowed. */
const START_MS = Date.UTC(MIN_YEAR, 0, 1);
/** 10000-01-01T00:00:00Z, just after the last instant allowed: the latest end of a range. */
const END_MS = Date.UTC(MAX_YEAR + 1, 0, 1);
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const INSTANT =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:[Zz]|([+-])(\d{2}):?(\d{2}))$/;
/** Date and time without a zone: refused, with a hint. */
const ZONELESS = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?$/;
/** The months' English names, January first (in messages and the coverage report). */
export const MONTHS: readonly string[] = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];
const INSTANT_EXAMPLE = "e.g. 2026-11-28T13:00:00Z or 2026-11-28T14:00:00+01:00";
const RANGE_NOTE = `the years ${MIN_YEAR} through ${MAX_YEAR}`;

/** The value as a message quotes it: JSON, at most 64 characters. */
function shown(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 61)}...` : value);
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** The UTC midnight of a date's fields, checked against the calendar and the years allowed. */
function dayMs(field: string, value: string, year: number, month: number, day: number): number {
  if (year < MIN_YEAR || year > MAX_YEAR) {
    throw refuse(
      field,
      value,
      `is outside ${RANGE_NOTE} (Atlas counts time in seconds since 1970, and archive keys have four-digit years).`,
    );
  }
  if (month < 1 || month > 12) {
    throw refuse(field, value, "is not a calendar date: the month must be 01 to 12.");
  }
  const days = daysInMonth(year, month);
  if (day < 1 || day > days) {
    throw refuse(field, value, `is not a calendar date: ${MONTHS[month - 1]} ${year} has ${days} days.`);
  }
  // Date.UTC maps years 0-99 to 1900-1999; the years allowed here are all four-digit.
  return Date.UTC(year, month - 1, day);
}

/** The instant `value` in epoch milliseconds, if it is written as one (else `undefined`). */
function instantMs(value: string, field: string): number | undefined {
  const m = INSTANT.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s = "0", fraction = "", sign, oh = "0", om = "0"] = m;
  const day = dayMs(field, value, Number(y), Number(mo), Number(d));
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (hour > 23 || minute > 59 || second > 59) {
    throw refuse(
      field,
      value,
      "is not a time of day: the hour must be 00 to 23, minutes and seconds 00 to 59.",
    );
  }
  if (Number(oh) > 23 || Number(om) > 59) {
    throw refuse(field, value, "has no valid zone offset: use Z or ±hh:mm with hh 00 to 23 and mm 00 to 59.");
  }
  const offsetMs = sign === undefined ? 0 : (sign === "-" ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000;
  const ms =
    day +
    ((hour * 60 + minute) * 60 + second) * 1000 +
    Number(fraction.padEnd(3, "0").slice(0, 3)) -
    offsetMs;
  if (ms < START_MS || ms >= END_MS) {
    throw refuse(field, value, `is ${formatInstantExact(ms)}, outside ${RANGE_NOTE} UTC.`);
  }
  return ms;
}

function notADate(value: string, field: string, what: string): RangeInputError {
  const zone = ZONELESS.test(value)
    ? " The zone is missing: add Z for UTC, or the offset, e.g. +01:00 (a time without one would depend on the machine's time zone)."
    : "";
  return refuse(field, value, `is not ${what}.${zone}`);
}

/**
 * Parses one instant: an ISO 8601 date and time with its zone. A date alone is refused (it would
 * not say which instant of the day is meant).
 *
 * @param field names the value in the error (`now`, `from`): the caller renders it
 * @returns epoch milliseconds, in 1970-01-01T00:00:00Z through 9999-12-31T23:59:59.999Z
 * @throws {RangeInputError} `RANGE_INVALID` naming the value
 * @example
 * ```ts
 * parseInstant("2026-11-28T14:00:00+01:00", "now"); // Date.parse("2026-11-28T13:00:00Z")
 * parseInstant("2026-02-30T00:00:00Z", "now"); // throws: February 2026 has 28 days
 * ```
 */
export function parseInstant(value: string, field: string): number {
  const ms = instantMs(value, field);
  if (ms !== undefined) return ms;
  if (DATE.test(value)) {
    throw refuse(
      field,
      value,
      `is a date, not an instant: give the time and its zone, e.g. ${value}T00:00:00Z.`,
    );
  }
  throw notADate(value, field, `an instant: use an ISO 8601 date and time with its zone, ${INSTANT_EXAMPLE}`);
}

/**
 * Parses one end of a range. A date `YYYY-MM-DD` is a whole UTC day: as `from` it starts at its
 * midnight, as `to` it includes the day (the range ends at the next midnight). An instant (see
 * {@link parseInstant}) is taken as given, and as `to` it is excluded.
 *
 * @param end which end of the range `value` is (also the field the error names)
 * @throws {RangeInputError} `RANGE_INVALID` naming the value
 * @example
 * ```ts
 * parseBoundary("2026-11-28", "to"); // Date.parse("2026-11-29T00:00:00Z")
 * parseBoundary("2026-11-28T13:30:00Z", "from"); // Date.parse("2026-11-28T13:30:00Z")
 * ```
 */
export function parseBoundary(value: string, end: "from" | "to"): number {
  const date = DATE.exec(value);
  if (date) {
    const ms = dayMs(end, value, Number(date[1]), Number(date[2]), Number(date[3]));
    return end === "to" ? ms + DAY_MS : ms;
  }
  const ms = instantMs(value, end);
  if (ms !== undefined) return ms;
  throw notADate(
    value,
    end,
    `a date: use YYYY-MM-DD (a whole UTC day) or an ISO 8601 instant with its zone, ${INSTANT_EXAMPLE}`,
  );
}

/** How {@link parseRange} completes and checks a range. */
export interface RangeDefaults {
  /** The end of the range when `to` is absent; without it, `to` is required. */
  readonly nowMs?: number;
  /** The length of the range when `from` is absent (it never starts before 1970); without it, `from` is required. */
  readonly fallbackSpanMs?: number;
  /** Both ends must be given. */
  readonly required?: boolean;
  /** The longest range allowed, e.g. 366 days for `run`; default: any. */
  readonly maxSpanMs?: number;
}

/**
 * The range given by `from` and `to` (see {@link parseBoundary}). A missing `to` is `nowMs`; a
 * missing `from` is `fallbackSpanMs` before the end; with `required`, both must be given.
 *
 * @throws {RangeInputError} `RANGE_INVALID` for a malformed, missing, reversed, empty or too long range
 * @example
 * ```ts
 * parseRange({ from: "2026-11-28", to: "2026-11-28" }, { required: true });
 * // the whole UTC day: { fromMs: Date.parse("2026-11-28T00:00:00Z"), toMs: Date.parse("2026-11-29T00:00:00Z") }
 * ```
 */
export function parseRange(
  options: { readonly from?: string; readonly to?: string },
  defaults: RangeDefaults = {},
): TimeRange {
  const both = (n: FieldNamer) => `${n("from")} and ${n("to")}`;
  if (defaults.required && options.from === undefined && options.to === undefined) {
    throw new RangeInputError("from", undefined, (n) => `${both(n)} are required: give the range to read.`);
  }
  const missing =
    options.from === undefined && (defaults.required || defaults.fallbackSpanMs === undefined)
      ? "from"
      : options.to === undefined && (defaults.required || defaults.nowMs === undefined)
        ? "to"
        : undefined;
  if (missing !== undefined) {
    throw new RangeInputError(
      missing,
      undefined,
      (n) => `${both(n)} are required together: give ${n(missing)} too.`,
    );
  }
  const toMs = options.to === undefined ? (defaults.nowMs as number) : parseBoundary(options.to, "to");
  const fromMs =
    options.from === undefined
      ? Math.max(START_MS, toMs - (defaults.fallbackSpanMs as number))
      : parseBoundary(options.from, "from");
  // Both ends parsed, so they are short and plain.
  const range = (n: FieldNamer) =>
    `The range ${n("from")} ${options.from ?? formatInstantExact(fromMs)} ${n("to")} ${options.to ?? formatInstantExact(toMs)}`;
  if (fromMs >= toMs) {
    // A `to` date ends a day later than it reads: judge "reversed" by the value as written.
    const written = options.to !== undefined && DATE.test(options.to) ? toMs - DAY_MS : toMs;
    throw new RangeInputError(
      "from",
      options.from,
      (n) =>
        `${range(n)} is ${fromMs > written ? "reversed" : "empty"}: ` +
        `${n("from")} must be before ${n("to")} (a ${n("to")} date includes that whole day).`,
    );
  }
  if (defaults.maxSpanMs !== undefined && toMs - fromMs > defaults.maxSpanMs) {
    const days = (toMs - fromMs) / DAY_MS;
    const maxDays = defaults.maxSpanMs / DAY_MS;
    throw new RangeInputError(
      "from",
      options.from,
      (n) =>
        `${range(n)} covers ${Number.isInteger(days) ? days : days.toFixed(1)} days, more than the ${maxDays} ` +
        "allowed: split it.",
    );
  }
  return { fromMs, toMs };
}

/** Whether a window `[startMs, endMs)` overlaps `range`. */
export function overlaps(window: { startMs: number; endMs: number }, range: TimeRange): boolean {
  return window.startMs < range.toMs && window.endMs > range.fromMs;
}
