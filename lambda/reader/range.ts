/**
 * Date ranges of the reader commands: `--from`/`--to` as whole UTC days or ISO 8601 instants, and
 * the checks that catch a malformed, reversed or empty range before anything is read.
 */
import { utcDate } from "../config";
import { ReaderError } from "./errors";

/** A half-open time range `[fromMs, toMs)` in epoch milliseconds. */
export interface TimeRange {
  readonly fromMs: number;
  readonly toMs: number;
}

const DAY_MS = 86_400_000;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
/** An instant with an explicit zone (`Z` or an offset), so it never depends on the local time zone. */
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;

/**
 * Parses one end of a range. A date `YYYY-MM-DD` is a whole UTC day: `--from` starts at its
 * midnight and `--to` includes it (the range ends at the next midnight). An instant is taken as
 * given (`--to` excludes it).
 *
 * @example
 * ```ts
 * parseBoundary("2026-11-28", "--to"); // Date.parse("2026-11-29T00:00:00Z")
 * parseBoundary("2026-11-28T13:30:00Z", "--from"); // Date.parse("2026-11-28T13:30:00Z")
 * ```
 */
export function parseBoundary(value: string, flag: "--from" | "--to"): number {
  if (DATE.test(value)) {
    const ms = Date.parse(`${value}T00:00:00Z`);
    if (Number.isNaN(ms) || utcDate(ms) !== value) {
      throw new ReaderError("READER_USAGE", `${flag} ${JSON.stringify(value)} is not a calendar date.`);
    }
    return flag === "--to" ? ms + DAY_MS : ms;
  }
  const ms = INSTANT.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) {
    throw new ReaderError(
      "READER_USAGE",
      `${flag} ${JSON.stringify(value)} is not a date: use YYYY-MM-DD (a whole UTC day) or an ISO 8601 instant ` +
        "with its zone, e.g. 2026-11-28T13:00:00Z.",
    );
  }
  return ms;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.000Z$/, "Z");
}

/**
 * The range given by `--from`/`--to`. A missing `--to` is `nowMs`; a missing `--from` is
 * `fallbackSpanMs` before the end. With `required`, both must be given.
 *
 * @throws {ReaderError} `READER_USAGE` for a malformed, missing, reversed or empty range
 */
export function parseRange(
  options: { readonly from?: string; readonly to?: string },
  defaults: { readonly nowMs: number; readonly fallbackSpanMs: number; readonly required?: boolean },
): TimeRange {
  if (defaults.required && (options.from === undefined || options.to === undefined)) {
    throw new ReaderError("READER_USAGE", "--from and --to are required: give the range to read.");
  }
  const toMs = options.to === undefined ? defaults.nowMs : parseBoundary(options.to, "--to");
  const fromMs =
    options.from === undefined ? toMs - defaults.fallbackSpanMs : parseBoundary(options.from, "--from");
  if (fromMs >= toMs) {
    // A --to date ends a day later than it reads: judge "reversed" by the value as written.
    const written = options.to !== undefined && DATE.test(options.to) ? toMs - DAY_MS : toMs;
    throw new ReaderError(
      "READER_USAGE",
      `The range --from ${options.from ?? iso(fromMs)} --to ${options.to ?? iso(toMs)} is ` +
        `${fromMs > written ? "reversed" : "empty"}: --from must be before --to (a --to date includes that whole day).`,
    );
  }
  return { fromMs, toMs };
}

/** Whether a window `[startMs, endMs)` overlaps `range`. */
export function overlaps(window: { startMs: number; endMs: number }, range: TimeRange): boolean {
  return window.startMs < range.toMs && window.endMs > range.fromMs;
}
