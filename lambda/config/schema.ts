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
import {
  API_VERSION,
  API_VERSION_ALLOWED,
  apiVersionProblem,
  BASE_URL_ALLOWED,
  BUCKET,
  BUCKET_ALLOWED,
  baseUrlProblem,
  bucketProblem,
  DAY_MINUTES,
  GROUP_ID,
  GROUP_ID_ALLOWED,
  groupIdProblem,
  MAX_LAG_MINUTES,
  MAX_LOOKBACK_HOURS,
  MAX_PREFIX_LENGTH,
  NAME,
  NAME_ALLOWED,
  nameProblem,
  normalizeBaseUrl,
  PREFIX,
  PREFIX_ALLOWED,
  prefixProblem,
  rateIntervalMinutes,
  SCHEDULE,
  SCHEDULE_ALLOWED,
  scheduleProblem,
  WINDOW_LENGTHS,
} from "./rules";

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

/**
 * The exact text of `config/workspaces.schema.json`: `JSON.stringify` with two spaces. The file
 * is generated, so the formatter leaves it alone (`biome.json` excludes it).
 */
export function renderConfigJsonSchema(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
