/**
 * How often the schedule runs the function, and the alarm windows derived from it. Pure
 * arithmetic on the parameter file's `schedule`; no aws-cdk-lib.
 */
import { rateIntervalMinutes } from "../lambda/config";

const DAY_MINUTES = 1440;

/**
 * The longest CloudWatch alarm evaluation range: `Period × EvaluationPeriods` may not exceed seven
 * days (and one day for periods under an hour, which the windows below never combine with more
 * than one period).
 */
export const MAX_ALARM_WINDOW_MINUTES = 7 * DAY_MINUTES;

/** Shortest "not running" window: Lambda metrics arrive a few minutes late, and missing data breaches. */
const MIN_SILENCE_SLACK_MINUTES = 30;

/**
 * The longest gap, in minutes, between two consecutive runs of an EventBridge schedule, or
 * `undefined` when it cannot be worked out.
 *
 * `rate(...)` gives its interval. `cron(...)` is worked out when it runs every day (day-of-month
 * and day-of-week `*` or `?`, month and year `*`) and its minutes and hours fields use numbers,
 * `*`, ranges `a-b`, steps `/n` and lists; anything else (named weekdays, `L`, `W`, `#`) gives
 * `undefined`.
 *
 * @example
 * ```ts
 * maxMinutesBetweenRuns("rate(15 minutes)"); // 15
 * maxMinutesBetweenRuns("cron(0 8,20 * * ? *)"); // 720
 * maxMinutesBetweenRuns("cron(0 2 ? * MON-FRI *)"); // undefined
 * ```
 */
export function maxMinutesBetweenRuns(schedule: string): number | undefined {
  const rate = rateIntervalMinutes(schedule);
  if (rate !== undefined) return rate;
  const match = /^cron\((.*)\)$/.exec(schedule);
  if (!match?.[1]) return undefined;
  const [minute, hour, dayOfMonth, month, dayOfWeek, year, ...rest] = match[1].split(" ");
  if (rest.length > 0 || minute === undefined || hour === undefined) return undefined;
  const everyDay =
    (dayOfMonth === "*" || dayOfMonth === "?") &&
    (dayOfWeek === "*" || dayOfWeek === "?") &&
    month === "*" &&
    year === "*";
  if (!everyDay) return undefined;
  const minutes = expandCronField(minute, 0, 59);
  const hours = expandCronField(hour, 0, 23);
  if (!minutes || !hours) return undefined;
  const times = hours.flatMap((h) => minutes.map((m) => h * 60 + m)).sort((a, b) => a - b);
  let longest = 0;
  times.forEach((time, index) => {
    const next = times[index + 1] ?? (times[0] ?? time) + DAY_MINUTES;
    longest = Math.max(longest, next - time);
  });
  return longest;
}

/** The values a cron minutes or hours field selects, or `undefined` when the field is not understood. */
function expandCronField(field: string, low: number, high: number): number[] | undefined {
  const values = new Set<number>();
  for (const part of field.split(",")) {
    const [range = "", stepText, ...extra] = part.split("/");
    if (extra.length > 0) return undefined;
    const step = stepText === undefined ? 1 : wholeNumber(stepText);
    if (step === undefined || step < 1) return undefined;
    let start: number | undefined;
    let end: number | undefined;
    if (range === "*") {
      start = low;
      end = high;
    } else if (/^\d+$/.test(range)) {
      start = wholeNumber(range);
      end = stepText === undefined ? start : high;
    } else if (/^\d+-\d+$/.test(range)) {
      const [from = "", to = ""] = range.split("-");
      start = wholeNumber(from);
      end = wholeNumber(to);
    }
    if (start === undefined || end === undefined || start < low || end > high || start > end)
      return undefined;
    for (let value = start; value <= end; value += step) values.add(value);
  }
  return [...values];
}

function wholeNumber(text: string): number | undefined {
  return /^\d+$/.test(text) ? Number(text) : undefined;
}

/** Twice the interval, at least the interval plus 30 minutes, at most the interval plus one day. */
function silenceMinutes(intervalMinutes: number): number {
  return Math.max(
    Math.min(2 * intervalMinutes, intervalMinutes + DAY_MINUTES),
    intervalMinutes + MIN_SILENCE_SLACK_MINUTES,
  );
}

/**
 * How long without a single invocation means the schedule has stopped: twice the run interval
 * (one missed run is tolerated), at least the interval plus 30 minutes (metrics arrive late), at
 * most the interval plus one day. `undefined` when that exceeds CloudWatch's seven-day limit.
 *
 * @example
 * ```ts
 * notRunningWindowMinutes(60); // 120
 * notRunningWindowMinutes(5); // 35
 * ```
 */
export function notRunningWindowMinutes(intervalMinutes: number): number | undefined {
  const window = silenceMinutes(intervalMinutes);
  return window <= MAX_ALARM_WINDOW_MINUTES ? window : undefined;
}

/**
 * The window of the error alarms: a failed run keeps them in ALARM until about two runs later
 * succeeded, so a run that keeps failing does not flap between ALARM and OK. Same length as
 * {@link notRunningWindowMinutes}, capped at seven days.
 *
 * @example
 * ```ts
 * failureWindowMinutes(60); // 120
 * ```
 */
export function failureWindowMinutes(intervalMinutes: number): number {
  return Math.min(silenceMinutes(intervalMinutes), MAX_ALARM_WINDOW_MINUTES);
}

/**
 * The window over which every run must have left a backlog before the backlog alarm fires:
 * `runs` run intervals, capped at CloudWatch's seven-day limit.
 *
 * @example
 * ```ts
 * backlogWindowMinutes(60, 3); // 180
 * ```
 */
export function backlogWindowMinutes(intervalMinutes: number, runs: number): number {
  return Math.min(intervalMinutes * runs, MAX_ALARM_WINDOW_MINUTES);
}
