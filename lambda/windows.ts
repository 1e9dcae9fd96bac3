/**
 * UTC-aligned time windows: which `[start, end)` ranges of audit log a run downloads.
 *
 * Windows tile time with no gap and no overlap. Each one is `minutes` long (a divisor of 1440) and
 * starts at a multiple of its length since the Unix epoch, so windows are aligned to UTC midnight.
 * A window is due once `end + lag <= now`, and a run looks at the due windows whose start is at or
 * after `now - lookback`. A schedule never loses a window as long as the time between two runs is
 * at most {@link maxRunIntervalMinutes} (`lookback - window - lag`).
 *
 * Everything here is pure: the caller passes the clock.
 */

const MINUTES_PER_DAY = 1440;
const MS_PER_MINUTE = 60_000;
const MS_PER_HOUR = 3_600_000;
/** The largest magnitude a `Date` can hold, in milliseconds. */
const MAX_DATE_MS = 8.64e15;

/** How windows are cut and when they are fetched (the parameter file's `window` section). */
export interface WindowSettings {
  /** Window length in minutes; a divisor of 1440. */
  readonly minutes: number;
  /** How long after a window's end it becomes due, so Atlas has written its lines. */
  readonly lagMinutes: number;
  /** How far back from now a run still looks for due windows. */
  readonly lookbackHours: number;
}

/** A window `[startMs, endMs)` in epoch milliseconds. */
export interface TimeWindow {
  readonly startMs: number;
  readonly endMs: number;
}

/** Whether `minutes` is a valid window length: a positive integer that divides a day. */
export function isWindowLength(minutes: number): boolean {
  return Number.isInteger(minutes) && minutes > 0 && MINUTES_PER_DAY % minutes === 0;
}

function assertWindowLength(minutes: number): number {
  if (!isWindowLength(minutes)) {
    throw new RangeError(
      `Window length ${String(minutes)} minutes is invalid: use a positive divisor of 1440 (e.g. 15, 60, 1440).`,
    );
  }
  return minutes * MS_PER_MINUTE;
}

function assertTime(name: string, timeMs: number): void {
  if (!Number.isFinite(timeMs) || Math.abs(timeMs) > MAX_DATE_MS) {
    throw new RangeError(`${name} ${String(timeMs)} is not a valid epoch time in milliseconds.`);
  }
}

function durationMs(name: string, value: number, unitMs: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`${name} ${String(value)} is invalid: use a finite number >= 0.`);
  }
  return Math.round(value * unitMs);
}

/** The largest multiple of `stepMs` that is `<= timeMs` (exact for every safe integer). */
function floorTo(timeMs: number, stepMs: number): number {
  const rest = ((timeMs % stepMs) + stepMs) % stepMs;
  // `+ 0` turns -0 into 0, so windows compare equal however they were computed.
  return timeMs - rest + 0;
}

/**
 * The window of length `minutes` that contains `timeMs`.
 *
 * @example
 * ```ts
 * windowContaining(Date.parse("2026-11-28T15:20:00Z"), 60);
 * // { startMs: Date.parse("2026-11-28T15:00:00Z"), endMs: Date.parse("2026-11-28T16:00:00Z") }
 * ```
 */
export function windowContaining(timeMs: number, minutes: number): TimeWindow {
  const lengthMs = assertWindowLength(minutes);
  assertTime("Time", timeMs);
  const startMs = floorTo(timeMs, lengthMs);
  return { startMs, endMs: startMs + lengthMs };
}

/** Whether `window` is due at `nowMs`: its end plus the lag has passed (`end + lag <= now`). */
export function isDue(window: TimeWindow, nowMs: number, lagMinutes: number): boolean {
  assertTime("Now", nowMs);
  return window.endMs + durationMs("Lag", lagMinutes, MS_PER_MINUTE) <= nowMs;
}

/**
 * Every window that is due at `nowMs` and starts at or after `nowMs - lookbackHours`, oldest first.
 *
 * @example
 * ```ts
 * // 15:20 with 60-minute windows, 15 minutes of lag and 72 hours of lookback:
 * // 71 windows, from 2026-11-25T16:00Z/17:00Z to 2026-11-28T14:00Z/15:00Z (due at 15:15).
 * dueWindows(Date.parse("2026-11-28T15:20:00Z"), { minutes: 60, lagMinutes: 15, lookbackHours: 72 });
 * ```
 */
export function dueWindows(nowMs: number, settings: WindowSettings): TimeWindow[] {
  const lengthMs = assertWindowLength(settings.minutes);
  assertTime("Now", nowMs);
  const lagMs = durationMs("Lag", settings.lagMinutes, MS_PER_MINUTE);
  const lookbackMs = durationMs("Lookback", settings.lookbackHours, MS_PER_HOUR);

  const earliestStartMs = nowMs - lookbackMs;
  let startMs = floorTo(earliestStartMs, lengthMs);
  if (startMs < earliestStartMs) startMs += lengthMs;
  // The latest due window ends at the last boundary <= now - lag.
  const lastEndMs = floorTo(nowMs - lagMs, lengthMs);

  const windows: TimeWindow[] = [];
  for (; startMs + lengthMs <= lastEndMs; startMs += lengthMs) {
    windows.push({ startMs, endMs: startMs + lengthMs });
  }
  return windows;
}

/**
 * Every window that overlaps `[fromMs, toMs)`, oldest first: the windows of a historical run.
 * The first may start before `fromMs` and the last may end after `toMs`; `fromMs === toMs` gives none.
 *
 * @example
 * ```ts
 * windowsInRange(Date.parse("2026-11-28T13:30:00Z"), Date.parse("2026-11-28T15:00:00Z"), 60);
 * // 13:00–14:00 and 14:00–15:00
 * ```
 */
export function windowsInRange(fromMs: number, toMs: number, minutes: number): TimeWindow[] {
  const lengthMs = assertWindowLength(minutes);
  assertTime("Range start", fromMs);
  assertTime("Range end", toMs);
  if (fromMs > toMs) {
    throw new RangeError(
      `Range start ${formatInstant(fromMs)} is after range end ${formatInstant(toMs)}: swap the two ends.`,
    );
  }
  const windows: TimeWindow[] = [];
  if (fromMs === toMs) return windows;
  for (let startMs = floorTo(fromMs, lengthMs); startMs < toMs; startMs += lengthMs) {
    windows.push({ startMs, endMs: startMs + lengthMs });
  }
  return windows;
}

/**
 * The `startDate`/`endDate` query values Atlas expects: epoch seconds of the window's start and end.
 * A window that is not second-aligned is widened to whole seconds, never narrowed.
 */
export function toEpochSeconds(window: TimeWindow): { startDate: number; endDate: number } {
  return { startDate: Math.floor(window.startMs / 1000), endDate: Math.ceil(window.endMs / 1000) };
}

/**
 * The window as `startISO/endISO` without milliseconds, for messages and logs.
 *
 * @example
 * ```ts
 * formatWindow(windowContaining(Date.parse("2026-11-28T13:20:00Z"), 60));
 * // "2026-11-28T13:00:00Z/2026-11-28T14:00:00Z"
 * ```
 */
export function formatWindow(window: TimeWindow): string {
  return `${formatInstant(window.startMs)}/${formatInstant(window.endMs)}`;
}

/** An instant as ISO 8601 UTC without milliseconds, e.g. `2026-11-28T13:00:00Z`. */
export function formatInstant(timeMs: number): string {
  return new Date(timeMs).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** An instant as ISO 8601 UTC, its milliseconds shown only when there are some, e.g. `2026-11-28T13:00:00Z`, `2026-11-28T13:00:00.250Z`. */
export function formatInstantExact(timeMs: number): string {
  return new Date(timeMs).toISOString().replace(/\.000Z$/, "Z");
}

/**
 * The longest time between two scheduled runs, in minutes, for which no window is ever lost:
 * `lookback - window - lag`. A window is returned by every run in `[end + lag, start + lookback]`,
 * a span of exactly this length, so any schedule whose runs are at most this far apart hits it.
 * Zero or less means the lookback is too short for the window and lag (config should reject it).
 *
 * @example
 * ```ts
 * maxRunIntervalMinutes({ minutes: 60, lagMinutes: 15, lookbackHours: 72 }); // 4245
 * ```
 */
export function maxRunIntervalMinutes(settings: WindowSettings): number {
  return settings.lookbackHours * 60 - settings.minutes - settings.lagMinutes;
}
