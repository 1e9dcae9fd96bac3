/**
 * The rules of the parameter file's fields, as plain functions: each `…Problem` returns the message
 * for a bad value (what is allowed) or `undefined`; the limits and the texts that say what is
 * allowed sit beside them. `schema.ts` builds the zod schema from them.
 */
import { isWindowLength } from "../windows";

export const DAY_MINUTES = 1440;
export const MAX_LOOKBACK_HOURS = 720;
export const MAX_LAG_MINUTES = 43_200;
const MAX_NAME_LENGTH = 64;
export const MAX_PREFIX_LENGTH = 256;
/** EventBridge's limit on a schedule expression. */
const MAX_SCHEDULE_LENGTH = 256;
/** Longer base URLs are refused: no real API base URL comes near, and URLs past 2,048 characters fail in many places. */
const MAX_BASE_URL_LENGTH = 2048;
/**
 * How much of a value the rules read to name its refused characters: a value longer than the
 * field allows is refused for its length anyway, and reading further would only cost time.
 */
const SCANNED_LENGTH = 1024;
/** How many refused characters a message names. */
const MAX_REFUSED_NAMED = 8;

/** `text` cut to `max` characters (with "..."), for quoting part of a value in a message. */
export function quoted(text: string, max = 40): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max - 3)}...` : text);
}

/** The refused characters found, described for a person: at most {@link MAX_REFUSED_NAMED}. */
function listRefused(found: readonly string[]): string {
  const named = found.slice(0, MAX_REFUSED_NAMED);
  return found.length > MAX_REFUSED_NAMED ? `${named.join(", ")} and others` : named.join(", ");
}

/** Every window length (minutes) that divides a day evenly. */
export const WINDOW_LENGTHS: readonly number[] = Array.from({ length: DAY_MINUTES }, (_, i) => i + 1).filter(
  isWindowLength,
);

const RATE_UNIT_MINUTES = { minute: 1, hour: 60, day: DAY_MINUTES } as const;

/** An Atlas project id: 24 lowercase hexadecimal characters. */
export const GROUP_ID = /^[a-f0-9]{24}$/;
export const GROUP_ID_ALLOWED =
  "the 24-character lowercase hexadecimal project id (as in Atlas URLs, /v2/groups/<groupId>)";

export function groupIdProblem(value: string): string | undefined {
  if (GROUP_ID.test(value)) return undefined;
  if (/^[a-fA-F0-9]{24}$/.test(value)) {
    return `must be ${GROUP_ID_ALLOWED}; write it in lowercase: "${value.toLowerCase()}"`;
  }
  return `must be ${GROUP_ID_ALLOWED} (this one has ${value.length} characters)`;
}

/** A tenant or stream processor name as the archive's keys allow it. */
export const NAME = /^[A-Za-z0-9_-]{1,64}$/;
export const NAME_ALLOWED = `1 to ${MAX_NAME_LENGTH} letters, digits, "-" or "_"`;

/**
 * The characters of `value` that a name may not contain, described for a person (those of its
 * first {@link SCANNED_LENGTH} characters: a longer value is refused for its length anyway).
 */
function refusedCharacters(value: string): string[] {
  const head = value.slice(0, SCANNED_LENGTH);
  const found = new Set<string>();
  if (head.includes("..")) found.add('".."');
  for (const ch of head.replace(/[A-Za-z0-9_-]+/g, "")) {
    if (ch === "." && found.has('".."')) continue;
    const code = ch.codePointAt(0) ?? 0;
    if (ch === " ") found.add("spaces");
    else if (code < 0x20 || code === 0x7f) found.add("control characters");
    else found.add(JSON.stringify(ch));
  }
  return [...found];
}

export function nameProblem(what: string, emptyAdvice: string) {
  return (value: string): string | undefined => {
    if (NAME.test(value)) return undefined;
    if (value.length === 0) return `must be ${NAME_ALLOWED}; ${emptyAdvice}`;
    const refused = refusedCharacters(value);
    const length = value.length > MAX_NAME_LENGTH ? ` (this one has ${value.length} characters)` : "";
    if (refused.length === 0) return `must be ${NAME_ALLOWED}${length}`;
    return (
      `must be ${NAME_ALLOWED}${length}; ${listRefused(refused)} ${refused.length === 1 ? "is" : "are"} refused ` +
      `because the ${what} becomes part of an S3 key`
    );
  };
}

export const BASE_URL_ALLOWED =
  "an https:// URL without credentials, query or fragment (http:// only to localhost, 127.0.0.0/8 or [::1]), e.g. https://cloud.mongodb.com";

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

export function baseUrlProblem(value: string): string | undefined {
  if (value.length > MAX_BASE_URL_LENGTH) {
    return `must be ${BASE_URL_ALLOWED}, at most ${MAX_BASE_URL_LENGTH} characters (this one has ${value.length})`;
  }
  // Any "@" at all: parsers disagree on where userinfo ends ("\\" is "/" to WHATWG URL, not to others),
  // and a base URL never needs one.
  if (value.includes("@")) {
    return 'must not contain credentials (user:password@) or any other "@"; the Atlas credentials come from the secret';
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `must be ${BASE_URL_ALLOWED}`;
  }
  if (!/^https?:\/\/[^/]/.test(value)) return `must be ${BASE_URL_ALLOWED}`;
  if (url.protocol === "http:" && !isLoopback(url.hostname)) {
    return "must use https://; http:// is accepted only to a loopback host (localhost, 127.0.0.0/8, [::1]) for tests and the demo";
  }
  if (url.username !== "" || url.password !== "") {
    return "must not contain credentials (user:password@); the Atlas credentials come from the secret";
  }
  const example = "give only the base URL, e.g. https://cloud.mongodb.com";
  if (url.search !== "" || value.includes("?")) return `must not have a query (?...); ${example}`;
  if (url.hash !== "" || value.includes("#")) return `must not have a fragment (#...); ${example}`;
  return undefined;
}

/** Drops the trailing slash (and the default port, upper-case host letters) from a valid base URL. */
export function normalizeBaseUrl(value: string): string {
  if (value.length > MAX_BASE_URL_LENGTH) return value; // invalid: already reported by baseUrlProblem
  try {
    const url = new URL(value);
    return `${url.origin}${url.pathname}`.replace(/\/+$/, "");
  } catch {
    return value; // invalid: already reported by baseUrlProblem
  }
}

export const API_VERSION = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;
export const API_VERSION_ALLOWED = "an Atlas API version date YYYY-MM-DD, e.g. 2023-02-01";

export function apiVersionProblem(value: string): string | undefined {
  if (!API_VERSION.test(value)) return `must be ${API_VERSION_ALLOWED}`;
  const date = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(date.getTime()) || !date.toISOString().startsWith(value)) {
    return `must be ${API_VERSION_ALLOWED}; ${value} is not a date in the calendar`;
  }
  return undefined;
}

export const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
export const BUCKET_ALLOWED =
  "an S3 bucket name: 3 to 63 lowercase letters, digits, dots and hyphens, beginning and ending with a letter or digit";
const BUCKET_RESERVED_PREFIXES = ["xn--", "sthree-", "amzn-s3-demo-"];
const BUCKET_RESERVED_SUFFIXES = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

export function bucketProblem(value: string): string | undefined {
  const rule = `must be ${BUCKET_ALLOWED}`;
  if (value.length < 3 || value.length > 63) return `${rule} (this one has ${value.length} characters)`;
  const bad = [...new Set(value.replace(/[a-z0-9.-]/g, ""))].map((ch) => JSON.stringify(ch));
  if (bad.length > 0) {
    const lower = /[A-Z]/.test(value) ? " (bucket names are lowercase)" : "";
    return `${rule}; ${bad.join(", ")} ${bad.length === 1 ? "is" : "are"} not allowed${lower}`;
  }
  if (!BUCKET.test(value))
    return `${rule}; it begins or ends with "${/^[.-]/.test(value) ? value[0] : value.at(-1)}"`;
  if (value.includes("..")) return `${rule}, without two adjacent dots`;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(value)) return `${rule}, not formatted as an IP address`;
  const prefix = BUCKET_RESERVED_PREFIXES.find((p) => value.startsWith(p));
  if (prefix) return `${rule}; the prefix "${prefix}" is reserved by S3`;
  const suffix = BUCKET_RESERVED_SUFFIXES.find((s) => value.endsWith(s));
  if (suffix) return `${rule}; the suffix "${suffix}" is reserved by S3`;
  return undefined;
}

export const PREFIX = /^(?:(?!\.\.?\/)[A-Za-z0-9._=-]+\/)*$/;
export const PREFIX_ALLOWED = `"" or a key prefix ending in "/" made of letters, digits and - _ . = /, e.g. atlas/stream-audit/`;

export function prefixProblem(value: string): string | undefined {
  const rule = `must be ${PREFIX_ALLOWED}`;
  if (value === "") return undefined;
  // The refused characters of the first SCANNED_LENGTH characters: a longer prefix is refused for its length.
  const bad = [...new Set(value.slice(0, SCANNED_LENGTH).replace(/[A-Za-z0-9._=/-]+/g, ""))].map((ch) =>
    JSON.stringify(ch),
  );
  if (bad.length > 0) {
    return `${rule}; ${listRefused(bad)} ${bad.length === 1 ? "is" : "are"} not allowed`;
  }
  if (value.length > MAX_PREFIX_LENGTH) {
    return `${rule}, at most ${MAX_PREFIX_LENGTH} characters (this one has ${value.length}) so that keys stay within S3's 1024 bytes`;
  }
  if (value.startsWith("/")) return `${rule}; S3 keys do not begin with "/", remove it`;
  if (!value.endsWith("/")) return `${rule}; add the final "/": "${value}/"`;
  if (value.includes("//")) return `${rule}; "//" would make an empty path segment`;
  if (value.includes("..")) return `${rule}, without ".."`;
  if (value.split("/").includes(".")) return `${rule}, without a "." segment`;
  return undefined;
}

export const SCHEDULE = /^(?:rate\([1-9][0-9]* (?:minute|minutes|hour|hours|day|days)\)|cron\([^()]+\))$/;
export const SCHEDULE_ALLOWED =
  "an EventBridge schedule expression: rate(<value> <unit>) or cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>), e.g. rate(1 hour)";

/** The interval of a valid `rate(...)` expression in minutes; `undefined` for cron or anything else. */
export function rateIntervalMinutes(schedule: string): number | undefined {
  const match = /^rate\(([1-9][0-9]*) (minute|hour|day)s?\)$/.exec(schedule);
  if (!match?.[1] || !match[2]) return undefined;
  return Number(match[1]) * RATE_UNIT_MINUTES[match[2] as keyof typeof RATE_UNIT_MINUTES];
}

/**
 * The fixed interval of a schedule in minutes: a `rate(...)`'s, or that of a `cron(...)` which
 * fires at a fixed interval all day, every day (every N minutes, every hour at minute M, every N
 * hours at minute M, every day at one time); `undefined` for any other cron (weekdays only, a list
 * of hours, ...), whose gaps between runs differ.
 *
 * @example
 * ```ts
 * scheduleIntervalMinutes("cron(5 * * * ? *)"); // 60
 * scheduleIntervalMinutes("cron(0/15 * * * ? *)"); // 15
 * scheduleIntervalMinutes("cron(0 9 ? * MON-FRI *)"); // undefined
 * ```
 */
export function scheduleIntervalMinutes(schedule: string): number | undefined {
  const rate = rateIntervalMinutes(schedule);
  if (rate !== undefined) return rate;
  const match = /^cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)$/.exec(schedule);
  if (!match) return undefined;
  const [, minutes = "", hours = "", dayOfMonth = "", month = "", dayOfWeek = "", year = ""] = match;
  const everyDay =
    ["*", "?"].includes(dayOfMonth) && ["*", "?"].includes(dayOfWeek) && month === "*" && year === "*";
  if (!everyDay) return undefined;
  const at = (field: string, max: number) => /^\d{1,2}$/.test(field) && Number(field) <= max;
  // `*/N` or `S/N` (from S, every N): a fixed interval only when N divides the field's cycle and
  // the steps start within the first one, so the step across the cycle's end is N too.
  const step = (field: string, cycle: number): number | undefined => {
    const m = /^(\*|\d{1,2})\/(\d{1,2})$/.exec(field);
    if (!m) return undefined;
    const start = m[1] === "*" ? 0 : Number(m[1]);
    const n = Number(m[2]);
    return n > 0 && cycle % n === 0 && start < n ? n : undefined;
  };
  if (hours === "*") {
    if (at(minutes, 59)) return 60;
    if (minutes === "*") return 1;
    return step(minutes, 60);
  }
  if (!at(minutes, 59)) return undefined;
  if (at(hours, 23)) return 24 * 60;
  const everyHours = step(hours, 24);
  return everyHours === undefined ? undefined : everyHours * 60;
}

function rateProblem(value: string): string | undefined {
  const match = /^rate\((\S+) (\S+)\)$/.exec(value);
  const [, amount = "", unit = ""] = match ?? [];
  if (!match || !/^[1-9][0-9]*$/.test(amount)) {
    return "must be rate(<value> <unit>) with a positive whole number as value, e.g. rate(15 minutes)";
  }
  const singular = unit.replace(/s$/, "");
  if (!(singular in RATE_UNIT_MINUTES)) {
    return `must use the unit minute(s), hour(s) or day(s), not ${quoted(unit)}, e.g. rate(15 minutes)`;
  }
  const expected = amount === "1" ? singular : `${singular}s`;
  if (unit !== expected) {
    const [number, when] = amount === "1" ? ["singular", "1"] : ["plural", "not 1"];
    return `must use the ${number} unit when the value is ${when}, as EventBridge requires: rate(${amount} ${expected})`;
  }
  return undefined;
}

function cronProblem(value: string): string | undefined {
  const fields = value.slice("cron(".length, -1).split(" ");
  if (fields.length !== 6 || fields.includes("")) {
    return (
      "must be cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>): 6 fields separated by " +
      `single spaces (this one has ${value.slice(5, -1).trim().split(/\s+/).length}), e.g. cron(0 * * * ? *)`
    );
  }
  const odd = fields.find((f) => !/^[0-9A-Za-z*?,/#-]+$/.test(f));
  if (odd !== undefined) {
    return `must use only what EventBridge allows in cron fields (digits, letters and * ? , - / #), not ${quoted(odd)}`;
  }
  if ((fields[2] === "?") === (fields[4] === "?")) {
    return 'must have "?" in exactly one of day-of-month and day-of-week, as EventBridge requires, e.g. cron(0 2 * * ? *)';
  }
  return undefined;
}

export function scheduleProblem(value: string): string | undefined {
  if (value.length > MAX_SCHEDULE_LENGTH) {
    return `must be ${SCHEDULE_ALLOWED}, at most ${MAX_SCHEDULE_LENGTH} characters as EventBridge requires (this one has ${value.length})`;
  }
  if (value.startsWith("rate(")) return rateProblem(value);
  if (value.startsWith("cron(") && value.endsWith(")")) return cronProblem(value);
  return `must be ${SCHEDULE_ALLOWED}`;
}

// ---------------------------------------------------------------------------------------------
// Schema
