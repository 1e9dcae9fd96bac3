/**
 * The parameter file's schema: every field, its rules, its message and its default, in one place.
 *
 * The zod schema is the single source of truth. `config/workspaces.schema.json` is generated from it
 * (`npx tsx scripts/generate-config-schema.ts`), and no other code may repeat a default.
 * Every rule lives in a `…Problem` function that returns the message for a bad value (what is
 * allowed) or `undefined`; where JSON Schema can express part of a rule, a zod check mirrors it
 * so the generated file carries it too, and reports the same message.
 */
import { z } from "zod";
import { isWindowLength, maxRunIntervalMinutes } from "../windows";

const DAY_MINUTES = 1440;
const MAX_LOOKBACK_HOURS = 720;
const MAX_LAG_MINUTES = 43_200;
const MAX_NAME_LENGTH = 64;
const MAX_PREFIX_LENGTH = 256;
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
function quoted(text: string, max = 40): string {
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

/** Zod error option whose message is computed from the offending input. */
function says(message: (input: unknown) => string) {
  return { error: (issue: { readonly input?: unknown }) => message(issue.input) };
}

/**
 * A string field whose truth is `problem`; `pattern` (optional, never stricter than `problem`)
 * and `maxLength` only carry what JSON Schema can express into the generated file.
 */
function ruledString(
  allowed: string,
  problem: (value: string) => string | undefined,
  jsonSchema: { pattern?: RegExp; maxLength?: number } = {},
) {
  const message = says(
    (input) => (typeof input === "string" ? problem(input) : undefined) ?? `must be ${allowed}`,
  );
  let schema = z.string(message);
  if (jsonSchema.pattern) schema = schema.regex(jsonSchema.pattern, message);
  if (jsonSchema.maxLength !== undefined) schema = schema.max(jsonSchema.maxLength, message);
  return schema.refine((value) => problem(value) === undefined, message);
}

/** A whole number in [min, max], optionally with a further rule; one message for every failure. */
function wholeNumber(allowed: string, min: number, max: number, rule?: (n: number) => boolean) {
  const message = says(() => `must be ${allowed}`);
  const schema = z.number(message).multipleOf(1, message).min(min, message).max(max, message);
  return rule ? schema.refine(rule, message) : schema;
}

/** A strict object (unknown keys are reported) with a message naming its keys. */
function strictObject<S extends z.core.$ZodLooseShape>(shape: S, allowed?: string) {
  const text = allowed ?? `an object with the keys ${Object.keys(shape).join(", ")}`;
  return z.strictObject(
    shape,
    says(() => `must be ${text}`),
  );
}

// ---------------------------------------------------------------------------------------------
// Rules

const GROUP_ID = /^[a-f0-9]{24}$/;
const GROUP_ID_ALLOWED =
  "the 24-character lowercase hexadecimal project id (as in Atlas URLs, /v2/groups/<groupId>)";

function groupIdProblem(value: string): string | undefined {
  if (GROUP_ID.test(value)) return undefined;
  if (/^[a-fA-F0-9]{24}$/.test(value)) {
    return `must be ${GROUP_ID_ALLOWED}; write it in lowercase: "${value.toLowerCase()}"`;
  }
  return `must be ${GROUP_ID_ALLOWED} (this one has ${value.length} characters)`;
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const NAME_ALLOWED = `1 to ${MAX_NAME_LENGTH} letters, digits, "-" or "_"`;

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

function nameProblem(what: string, emptyAdvice: string) {
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

const BASE_URL_ALLOWED =
  "an https:// URL without credentials, query or fragment (http:// only to localhost, 127.0.0.0/8 or [::1]), e.g. https://cloud.mongodb.com";

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

function baseUrlProblem(value: string): string | undefined {
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
function normalizeBaseUrl(value: string): string {
  if (value.length > MAX_BASE_URL_LENGTH) return value; // invalid: already reported by baseUrlProblem
  try {
    const url = new URL(value);
    return `${url.origin}${url.pathname}`.replace(/\/+$/, "");
  } catch {
    return value; // invalid: already reported by baseUrlProblem
  }
}

const API_VERSION = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;
const API_VERSION_ALLOWED = "an Atlas API version date YYYY-MM-DD, e.g. 2023-02-01";

function apiVersionProblem(value: string): string | undefined {
  if (!API_VERSION.test(value)) return `must be ${API_VERSION_ALLOWED}`;
  const date = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(date.getTime()) || !date.toISOString().startsWith(value)) {
    return `must be ${API_VERSION_ALLOWED}; ${value} is not a date in the calendar`;
  }
  return undefined;
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const BUCKET_ALLOWED =
  "an S3 bucket name: 3 to 63 lowercase letters, digits, dots and hyphens, beginning and ending with a letter or digit";
const BUCKET_RESERVED_PREFIXES = ["xn--", "sthree-", "amzn-s3-demo-"];
const BUCKET_RESERVED_SUFFIXES = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

function bucketProblem(value: string): string | undefined {
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

const PREFIX = /^(?:(?!\.\.?\/)[A-Za-z0-9._=-]+\/)*$/;
const PREFIX_ALLOWED = `"" or a key prefix ending in "/" made of letters, digits and - _ . = /, e.g. atlas/stream-audit/`;

function prefixProblem(value: string): string | undefined {
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

const SCHEDULE = /^(?:rate\([1-9][0-9]* (?:minute|minutes|hour|hours|day|days)\)|cron\([^()]+\))$/;
const SCHEDULE_ALLOWED =
  "an EventBridge schedule expression: rate(<value> <unit>) or cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>), e.g. rate(1 hour)";

/** The interval of a valid `rate(...)` expression in minutes; `undefined` for cron or anything else. */
export function rateIntervalMinutes(schedule: string): number | undefined {
  const match = /^rate\(([1-9][0-9]*) (minute|hour|day)s?\)$/.exec(schedule);
  if (!match?.[1] || !match[2]) return undefined;
  return Number(match[1]) * RATE_UNIT_MINUTES[match[2] as keyof typeof RATE_UNIT_MINUTES];
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

function scheduleProblem(value: string): string | undefined {
  if (value.length > MAX_SCHEDULE_LENGTH) {
    return `must be ${SCHEDULE_ALLOWED}, at most ${MAX_SCHEDULE_LENGTH} characters as EventBridge requires (this one has ${value.length})`;
  }
  if (value.startsWith("rate(")) return rateProblem(value);
  if (value.startsWith("cron(") && value.endsWith(")")) return cronProblem(value);
  return `must be ${SCHEDULE_ALLOWED}`;
}

// ---------------------------------------------------------------------------------------------
// Schema

const workspaceSchema = strictObject(
  {
    groupId: ruledString(GROUP_ID_ALLOWED, groupIdProblem, { pattern: GROUP_ID }).meta({
      description:
        "Atlas project id: 24 lowercase hexadecimal characters, as in Atlas URLs (/v2/groups/<groupId>).",
    }),
    tenantName: ruledString(
      NAME_ALLOWED,
      nameProblem("workspace name", "give the name of the Stream Processing workspace"),
      { pattern: NAME },
    ).meta({
      description:
        `Name of the Stream Processing workspace (called tenantName by the Atlas API). ${NAME_ALLOWED}: ` +
        `it becomes part of every S3 key, so "/", "=", spaces, ".." and control characters are refused.`,
    }),
    spName: ruledString(
      NAME_ALLOWED,
      nameProblem("stream processor name", "omit spName to archive every stream processor of the workspace"),
      { pattern: NAME },
    )
      .optional()
      .meta({
        description:
          "Archive only this stream processor's audit log. Omit it to archive the whole workspace. " +
          `${NAME_ALLOWED}, like tenantName: it becomes part of the archived file's S3 key.`,
      }),
  },
  "an object with groupId, tenantName and optionally spName",
).meta({ description: "One Stream Processing workspace to archive." });

const workspacesSchema = z
  .array(
    workspaceSchema,
    says(
      () =>
        'must be a non-empty array of workspaces, e.g. [{"groupId": "32b6e34b3d91647abb20e7b8", "tenantName": "prod-workspace"}]',
    ),
  )
  .min(
    1,
    says(() => "must list at least one workspace to archive"),
  )
  .superRefine(
    (workspaces, ctx) => {
      if (!Array.isArray(workspaces)) return;
      const seen = new Map<string, number>();
      workspaces.forEach((w: unknown, index) => {
        if (typeof w !== "object" || w === null) return;
        const { groupId, tenantName, spName } = w as Record<string, unknown>;
        if (typeof groupId !== "string" || typeof tenantName !== "string") return;
        const key = JSON.stringify([groupId, tenantName, spName ?? null]);
        const first = seen.get(key);
        if (first === undefined) {
          seen.set(key, index);
          return;
        }
        const label = [groupId, tenantName, ...(typeof spName === "string" ? [spName] : [])]
          .map((part) => (part.length > 64 ? `${part.slice(0, 61)}...` : part))
          .join("/");
        ctx.addIssue({
          code: "custom",
          path: [index],
          input: w,
          message: `repeats $.workspaces[${first}] (${label}); each workspace (groupId, tenantName, spName) may appear once, remove one of them`,
        });
      });
    },
    { when: () => true },
  )
  .meta({
    description:
      "The Stream Processing workspaces whose audit logs are archived. At least one; no entry may repeat " +
      "another (same groupId, tenantName and spName).",
  });

/** The parameter file's zod schema; the only place where defaults are written. */
export const configSchema = strictObject(
  {
    $schema: z
      .string(
        says(() => "must be a string: the path or URL of the JSON Schema, e.g. ./workspaces.schema.json"),
      )
      .optional()
      .meta({
        description:
          "Path or URL of this file's JSON Schema, for completion and checks in editors. Ignored by the archiver.",
      }),
    atlas: strictObject({
      baseUrl: ruledString(BASE_URL_ALLOWED, baseUrlProblem, { pattern: /^https?:\/\/[^/?#]/ })
        .overwrite(normalizeBaseUrl)
        .default("https://cloud.mongodb.com")
        .meta({
          description:
            "Base URL of the Atlas Administration API: https://cloud.mongodb.com, or https://cloud.mongodbgov.com " +
            "for Atlas for Government. https:// only; http:// is accepted only to a loopback host (localhost, " +
            "127.0.0.0/8, [::1]) for tests and the demo. No credentials, query or fragment; a trailing slash is removed.",
        }),
      apiVersion: ruledString(API_VERSION_ALLOWED, apiVersionProblem, { pattern: API_VERSION })
        .default("2023-02-01")
        .meta({
          description:
            "Atlas Administration API version, sent as Accept: application/vnd.atlas.<apiVersion>+gzip. " +
            "YYYY-MM-DD, a real calendar date. 2023-02-01 is the version the audit-log download is published under.",
        }),
    })
      .prefault({})
      .meta({ description: "Where and how the Atlas Administration API is called." }),
    archive: strictObject({
      bucket: ruledString(BUCKET_ALLOWED, bucketProblem, { pattern: BUCKET })
        .optional()
        .meta({
          description:
            "Name of an existing S3 bucket to archive into. No default: omit it and the CDK stack creates a " +
            "dedicated bucket (and gives the function its name); the CLI then takes the bucket from the " +
            "ARCHIVE_BUCKET environment variable. S3 naming rules: 3 to 63 lowercase letters, digits, dots and " +
            "hyphens; begins and ends with a letter or digit; no two adjacent dots; not formatted as an IP " +
            "address; no reserved prefix (xn--, sthree-, amzn-s3-demo-) or suffix (-s3alias, --ol-s3, .mrap, " +
            "--x-s3, --table-s3).",
        }),
      prefix: ruledString(PREFIX_ALLOWED, prefixProblem, { pattern: PREFIX, maxLength: MAX_PREFIX_LENGTH })
        .default("atlas/stream-audit/")
        .meta({
          description:
            "Key prefix of every archived object; the archive's partitions (group=<groupId>/...) follow it. " +
            `Either "" (the bucket root) or segments ending in "/": no leading "/", no "//", no "." or ".." ` +
            `segment, at most ${MAX_PREFIX_LENGTH} characters, only letters, digits and - _ . = / ("*" would act as ` +
            `a wildcard in the IAM policy scoped to the prefix, and quotes or spaces would break the Athena table ` +
            "location).",
        }),
    })
      .prefault({})
      .meta({ description: "Where in S3 the audit logs are archived." }),
    window: strictObject({
      minutes: wholeNumber(
        `a whole number of minutes that divides a day (${DAY_MINUTES} minutes) evenly, e.g. 5, 10, 15, 30, 60, 120, ${DAY_MINUTES}`,
        1,
        DAY_MINUTES,
        isWindowLength,
      )
        .default(60)
        .meta({
          description:
            "Length of one archive window in minutes: one Atlas download and one S3 object per workspace and " +
            "window. Windows are aligned to the UTC day, so the length must divide 1440 evenly: " +
            `${WINDOW_LENGTHS.join(", ")}.`,
        }),
      lagMinutes: wholeNumber(
        `a whole number of minutes from 0 to ${MAX_LAG_MINUTES} (30 days)`,
        0,
        MAX_LAG_MINUTES,
      )
        .default(15)
        .meta({
          description:
            "Minutes to wait after a window ends before it is fetched, so that Atlas has written its late " +
            `events. Whole number, 0 to ${MAX_LAG_MINUTES}.`,
        }),
      lookbackHours: wholeNumber(
        `a whole number of hours from 1 to ${MAX_LOOKBACK_HOURS} (30 days)`,
        1,
        MAX_LOOKBACK_HOURS,
      )
        .default(72)
        .meta({
          description:
            "How far back, in whole hours, every run looks for windows missing from the archive and fetches " +
            "them: a run that fails or is skipped is caught up by a later one within this time. 1 to " +
            `${MAX_LOOKBACK_HOURS} (30 days, as far back as Atlas serves audit logs), and at least ` +
            "minutes + lagMinutes, otherwise no window is ever due inside the lookback.",
        }),
    })
      .prefault({})
      .meta({ description: "How time is cut into archive windows, and how far back each run looks." }),
    schedule: ruledString(SCHEDULE_ALLOWED, scheduleProblem, { pattern: SCHEDULE })
      .default("rate(1 hour)")
      .meta({
        description:
          "When the archiver runs, as an EventBridge schedule expression in UTC: rate(<value> <unit>) with unit " +
          "minute, hour or day, singular exactly when the value is 1 (rate(1 hour), rate(15 minutes)); or " +
          "cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>) with ? in exactly one of " +
          "day-of-month and day-of-week. A rate may be at most lookbackHours × 60 − minutes − lagMinutes " +
          "minutes, otherwise windows could leave the lookback before any run fetched them; cron expressions " +
          "are not checked against the lookback: keep consecutive runs at most that far apart yourself.",
      }),
    workspaces: workspacesSchema,
  },
  'a JSON object with at least a "workspaces" array (see config/workspaces.example.json)',
)
  .superRefine(
    (config, ctx) => {
      // Cross-field rules, checked only when the fields they combine are valid on their own.
      if (ctx.issues.some((issue) => (issue.path ?? []).length === 0 && issue.code === "invalid_type"))
        return;
      const invalid = (field: string) => ctx.issues.some((issue) => issue.path?.[0] === field);
      if (invalid("window")) return;
      const { minutes, lagMinutes, lookbackHours } = config.window;
      const lookback = lookbackHours * 60;
      if (lookback < minutes + lagMinutes) {
        ctx.addIssue({
          code: "custom",
          path: ["window", "lookbackHours"],
          input: lookbackHours,
          params: { value: lookbackHours },
          message:
            `must be at least window.minutes + window.lagMinutes = ${minutes} + ${lagMinutes} = ` +
            `${minutes + lagMinutes} minutes (${Math.ceil((minutes + lagMinutes) / 60)} hours): a window is due ` +
            "only lagMinutes after it ends, so a shorter lookback never contains a due window",
        });
        return;
      }
      if (invalid("schedule")) return;
      const interval = rateIntervalMinutes(config.schedule);
      const span = maxRunIntervalMinutes(config.window);
      if (interval !== undefined && interval > span) {
        ctx.addIssue({
          code: "custom",
          path: ["schedule"],
          input: config.schedule,
          params: { value: config.schedule },
          message:
            `runs ${interval} minutes apart, but a window stays due inside the lookback for only ${span} minutes ` +
            `(window.lookbackHours × 60 − window.minutes − window.lagMinutes = ${lookback} − ${minutes} − ` +
            `${lagMinutes}), so windows would leave the lookback before any run fetched them; use a rate of at ` +
            "most that, or raise window.lookbackHours",
        });
      }
    },
    { when: () => true },
  )
  .meta({
    title: "atlas-audit-archiver parameter file",
    description:
      "Which MongoDB Atlas Stream Processing workspaces to archive, where to, and how often. Only workspaces " +
      "is required; every other field has a default.",
  });

/** The parameter file as written (before defaults). */
export type ConfigInput = z.input<typeof configSchema>;

/** The JSON Schema of the parameter file, generated from {@link configSchema}. */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configSchema, { io: "input", target: "draft-07" });
}

/** The exact text of `config/workspaces.schema.json`, formatted as Biome formats it. */
export function renderConfigJsonSchema(): string {
  return `${printJson(configJsonSchema(), "", 0)}\n`;
}

/**
 * JSON with 2-space indentation where an array of scalars that fits the line (110 columns) stays on
 * one line, as Biome's formatter writes it, so `npm run lint` accepts the generated file as is.
 */
function printJson(value: unknown, indent: string, prefixLength: number): string {
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    const flat = `[${value.map((v) => JSON.stringify(v)).join(", ")}]`;
    const scalars = value.every((v) => typeof v !== "object" || v === null);
    if (scalars && prefixLength + flat.length + 1 <= 110) return flat;
    return `[\n${value.map((v) => inner + printJson(v, inner, inner.length)).join(",\n")}\n${indent}]`;
  }
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value);
    if (entries.length === 0) return "{}";
    const lines = entries.map(([key, v]) => {
      const head = `${inner}${JSON.stringify(key)}: `;
      return head + printJson(v, inner, head.length);
    });
    return `{\n${lines.join(",\n")}\n${indent}}`;
  }
  return JSON.stringify(value);
}
