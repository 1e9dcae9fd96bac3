import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  configJsonSchema,
  parseConfig,
  rateIntervalMinutes,
  renderConfigJsonSchema,
  scheduleIntervalMinutes,
  WINDOW_LENGTHS,
} from "../../../lambda/config";
import { errorOf, file, GROUP, onlyProblem, parsed, problemsOf } from "./support";

const errorOfData = (data: unknown) => errorOf(JSON.stringify(data));

const readRepoFile = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), "utf8");

const workspace = (fields: Record<string, unknown>) => file({ workspaces: [fields] });
const atlas = (fields: Record<string, unknown>) => file({ atlas: fields });
const archive = (fields: Record<string, unknown>) => file({ archive: fields });
const window = (fields: Record<string, unknown>) => file({ window: fields });

describe("defaults", () => {
  it("fills every field but workspaces with its documented default", () => {
    expect(parsed(file())).toEqual({
      atlas: { baseUrl: "https://cloud.mongodb.com", apiVersion: "2023-02-01" },
      archive: { prefix: "atlas/stream-audit/" },
      window: { minutes: 60, lagMinutes: 15, lookbackHours: 72 },
      schedule: "rate(1 hour)",
      workspaces: [{ groupId: GROUP, tenantName: "prod-workspace" }],
    });
  });

  it("fills the missing fields of a partly written section", () => {
    const config = parsed(file({ window: { minutes: 30 }, atlas: { apiVersion: "2025-02-19" } }));
    expect(config.window).toEqual({ minutes: 30, lagMinutes: 15, lookbackHours: 72 });
    expect(config.atlas).toEqual({ baseUrl: "https://cloud.mongodb.com", apiVersion: "2025-02-19" });
  });

  it("has no default bucket and keeps a given one", () => {
    expect(parsed(file()).archive).not.toHaveProperty("bucket");
    expect(parsed(archive({ bucket: "my-audit-archive" })).archive.bucket).toBe("my-audit-archive");
  });

  it("accepts and drops $schema", () => {
    const config = parsed(file({ $schema: "./workspaces.schema.json" }));
    expect(config).not.toHaveProperty("$schema");
    expect(problemsOf(file({ $schema: 7 }))[0]?.path).toBe("$.$schema");
  });

  it("returns a deeply frozen config", () => {
    const config = parsed(file());
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.window)).toBe(true);
    expect(Object.isFrozen(config.workspaces[0])).toBe(true);
  });
});

describe("the example file", () => {
  it("parses and lists the two example workspaces", () => {
    const config = parseConfig(
      readRepoFile("config/workspaces.example.json"),
      "config/workspaces.example.json",
    );
    expect(config.workspaces).toEqual([
      { groupId: GROUP, tenantName: "prod-workspace" },
      { groupId: GROUP, tenantName: "billing", spName: "payments" },
    ]);
  });

  it("points at the schema file beside it", () => {
    expect(JSON.parse(readRepoFile("config/workspaces.example.json")).$schema).toBe(
      "./workspaces.schema.json",
    );
  });
});

describe("the generated JSON Schema", () => {
  it("is exactly what is committed in config/workspaces.schema.json", () => {
    expect(readRepoFile("config/workspaces.schema.json")).toBe(renderConfigJsonSchema());
  });

  it("describes every field and carries every default", () => {
    const schema = configJsonSchema() as { properties: Record<string, JsonSchemaNode> };
    const undescribed: string[] = [];
    const visit = (node: JsonSchemaNode, path: string) => {
      if (!node.description) undescribed.push(path);
      for (const [key, child] of Object.entries(node.properties ?? {})) visit(child, `${path}.${key}`);
      if (node.items) visit(node.items, `${path}[]`);
    };
    for (const [key, node] of Object.entries(schema.properties)) visit(node, `$.${key}`);
    expect(undescribed).toEqual([]);
    const props = schema.properties;
    expect(props.schedule?.default).toBe("rate(1 hour)");
    expect(props.window?.properties?.lookbackHours?.default).toBe(72);
    expect(props.atlas?.properties?.baseUrl?.default).toBe("https://cloud.mongodb.com");
    expect(props.archive?.properties?.prefix?.default).toBe("atlas/stream-audit/");
  });

  it("requires only workspaces and refuses unknown keys", () => {
    const schema = configJsonSchema();
    expect(schema.required).toEqual(["workspaces"]);
    expect(schema.additionalProperties).toBe(false);
  });
});

interface JsonSchemaNode {
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchemaNode>;
  items?: JsonSchemaNode;
}

describe("workspaces", () => {
  it("is required", () => {
    const problem = onlyProblem({}, "$.workspaces");
    expect(problem).not.toHaveProperty("value");
    expect(problem.message).toMatch(/non-empty array of workspaces/);
  });

  it("must not be empty", () => {
    const problem = onlyProblem(file({ workspaces: [] }), "$.workspaces");
    expect(problem.value).toEqual([]);
    expect(problem.message).toMatch(/at least one workspace/);
  });

  it("must be an array of objects", () => {
    expect(onlyProblem(file({ workspaces: "prod" }), "$.workspaces").message).toMatch(/array/);
    expect(onlyProblem(file({ workspaces: [7] }), "$.workspaces[0]").message).toMatch(/groupId, tenantName/);
  });

  it("reports a repeated workspace at the second entry, naming the first", () => {
    const repeated = { groupId: GROUP, tenantName: "billing", spName: "payments" };
    const problem = onlyProblem(
      file({ workspaces: [repeated, { groupId: GROUP, tenantName: "other" }, repeated] }),
      "$.workspaces[2]",
    );
    expect(problem.value).toEqual(repeated);
    expect(problem.message).toContain(`repeats $.workspaces[0] (${GROUP}/billing/payments)`);
  });

  it("treats different spName values, or spName and none, as different workspaces", () => {
    const config = parsed(
      file({
        workspaces: [
          { groupId: GROUP, tenantName: "billing" },
          { groupId: GROUP, tenantName: "billing", spName: "payments" },
          { groupId: GROUP, tenantName: "billing", spName: "refunds" },
        ],
      }),
    );
    expect(config.workspaces).toHaveLength(3);
  });
});

describe("workspaces[].groupId", () => {
  it("accepts a 24-character lowercase hexadecimal id", () => {
    expect(
      parsed(workspace({ groupId: "0123456789abcdef01234567", tenantName: "t" })).workspaces[0]?.groupId,
    ).toBe("0123456789abcdef01234567");
  });

  it("asks to lowercase an uppercase id, showing the lowercase form", () => {
    const problem = onlyProblem(
      workspace({ groupId: GROUP.toUpperCase(), tenantName: "t" }),
      "$.workspaces[0].groupId",
    );
    expect(problem.value).toBe(GROUP.toUpperCase());
    expect(problem.message).toContain("24-character lowercase hexadecimal project id");
    expect(problem.message).toContain(`write it in lowercase: "${GROUP}"`);
  });

  it("gives the length of an id of the wrong length", () => {
    const problem = onlyProblem(
      workspace({ groupId: `${GROUP}0`, tenantName: "t" }),
      "$.workspaces[0].groupId",
    );
    expect(problem.message).toMatch(/this one has 25 characters/);
  });

  it("refuses non-hexadecimal characters and non-strings", () => {
    const bad = onlyProblem(
      workspace({ groupId: "zz".repeat(12), tenantName: "t" }),
      "$.workspaces[0].groupId",
    );
    expect(bad.message).toMatch(/^must be the 24-character/);
    const number = onlyProblem(workspace({ groupId: 42, tenantName: "t" }), "$.workspaces[0].groupId");
    expect(number.value).toBe(42);
  });

  it("reports a missing groupId as missing", () => {
    const problem = onlyProblem(workspace({ tenantName: "t" }), "$.workspaces[0].groupId");
    expect(problem).not.toHaveProperty("value");
  });
});

describe("workspaces[].tenantName and spName", () => {
  it("accept letters, digits, '-' and '_' up to 64 characters", () => {
    const name = `Prod_workspace-1${"x".repeat(48)}`;
    expect(name).toHaveLength(64);
    expect(parsed(workspace({ groupId: GROUP, tenantName: name, spName: "sp_1-A" })).workspaces[0]).toEqual({
      groupId: GROUP,
      tenantName: name,
      spName: "sp_1-A",
    });
  });

  it.each([
    ["a/b", '"/"'],
    ["a=b", '"="'],
    ["prod workspace", "spaces"],
    ["a..b", '".."'],
    ["a\u0007b", "control characters"],
  ])("refuse %j, saying %s becomes part of an S3 key", (tenantName, shown) => {
    const problem = onlyProblem(workspace({ groupId: GROUP, tenantName }), "$.workspaces[0].tenantName");
    expect(problem.value).toBe(tenantName);
    expect(problem.message).toContain('1 to 64 letters, digits, "-" or "_"');
    expect(problem.message).toContain(
      `${shown} is refused because the workspace name becomes part of an S3 key`,
    );
  });

  it("refuse a name longer than 64 characters, giving its length", () => {
    const problem = onlyProblem(
      workspace({ groupId: GROUP, tenantName: "x".repeat(65) }),
      "$.workspaces[0].tenantName",
    );
    expect(problem.message).toContain("this one has 65 characters");
  });

  it("refuse an empty tenantName", () => {
    onlyProblem(workspace({ groupId: GROUP, tenantName: "" }), "$.workspaces[0].tenantName");
  });

  it("apply the same rule to spName, and suggest omitting an empty spName", () => {
    const slash = onlyProblem(
      workspace({ groupId: GROUP, tenantName: "t", spName: "a/b" }),
      "$.workspaces[0].spName",
    );
    expect(slash.message).toMatch(
      /"\/" is refused because the stream processor name becomes part of an S3 key/,
    );
    const empty = onlyProblem(
      workspace({ groupId: GROUP, tenantName: "t", spName: "" }),
      "$.workspaces[0].spName",
    );
    expect(empty.message).toMatch(/omit spName/);
  });
});

describe("atlas.baseUrl", () => {
  it.each([
    ["https://cloud.mongodb.com", "https://cloud.mongodb.com"],
    ["https://cloud.mongodbgov.com/", "https://cloud.mongodbgov.com"],
    ["https://proxy.example.com/atlas/", "https://proxy.example.com/atlas"],
    ["https://Cloud.MongoDB.com:443/", "https://cloud.mongodb.com"],
    ["http://localhost:8080/", "http://localhost:8080"],
    ["http://127.0.0.1:3000", "http://127.0.0.1:3000"],
    ["http://127.45.6.7", "http://127.45.6.7"],
    ["http://[::1]:9000", "http://[::1]:9000"],
  ])("accepts %s as %s", (baseUrl, normalised) => {
    expect(parsed(atlas({ baseUrl })).atlas.baseUrl).toBe(normalised);
  });

  it.each([
    ["http://cloud.mongodb.com", /must use https:\/\//],
    ["http://localhost.example.com", /loopback/],
    ["http://10.0.0.1", /loopback/],
    ["https://cloud.mongodb.com/?envelope=true", /must not have a query/],
    ["https://cloud.mongodb.com/#x", /must not have a fragment/],
    ["cloud.mongodb.com", /must be an https:\/\/ URL/],
    ["ftp://cloud.mongodb.com", /must be an https:\/\/ URL/],
    ["", /must be an https:\/\/ URL/],
  ])("refuses %j", (baseUrl, message) => {
    const problem = onlyProblem(atlas({ baseUrl }), "$.atlas.baseUrl");
    expect(problem.value).toBe(baseUrl);
    expect(problem.message).toMatch(message);
  });

  it("refuses credentials without repeating them", () => {
    const error = errorOfData(atlas({ baseUrl: "https://alice:s3cret@cloud.mongodb.com" }));
    expect(error.problems[0]?.message).toMatch(/must not contain credentials/);
    expect(error.message).not.toContain("s3cret");
    expect(JSON.stringify(error.toJSON())).not.toContain("s3cret");
  });
});

describe("atlas.apiVersion", () => {
  it("accepts a YYYY-MM-DD date", () => {
    expect(parsed(atlas({ apiVersion: "2025-02-19" })).atlas.apiVersion).toBe("2025-02-19");
  });

  it.each(["2023-2-1", "20230201", "v2", "2023-02-01T00:00:00Z"])("refuses the format %j", (apiVersion) => {
    expect(onlyProblem(atlas({ apiVersion }), "$.atlas.apiVersion").message).toMatch(/YYYY-MM-DD/);
  });

  it.each(["2023-02-30", "2023-13-01", "2023-00-10"])(
    "refuses %j, which is not a calendar date",
    (apiVersion) => {
      expect(onlyProblem(atlas({ apiVersion }), "$.atlas.apiVersion").message).toContain(
        `${apiVersion} is not a date in the calendar`,
      );
    },
  );
});

describe("archive.bucket", () => {
  it.each(["abc", "my-audit-archive", "logs.example-2", "a".repeat(63)])("accepts %j", (bucket) => {
    expect(parsed(archive({ bucket })).archive.bucket).toBe(bucket);
  });

  it.each([
    ["ab", /this one has 2 characters/],
    ["a".repeat(64), /this one has 64 characters/],
    ["My-Bucket", /"M", "B" are not allowed \(bucket names are lowercase\)/],
    ["my_bucket", /"_" is not allowed/],
    ["-bucket", /begins or ends with "-"/],
    ["bucket.", /begins or ends with "\."/],
    ["my..bucket", /without two adjacent dots/],
    ["192.168.5.4", /not formatted as an IP address/],
    ["xn--bucket", /prefix "xn--" is reserved/],
    ["sthree-logs", /prefix "sthree-" is reserved/],
    ["logs-s3alias", /suffix "-s3alias" is reserved/],
    ["logs--x-s3", /suffix "--x-s3" is reserved/],
  ])("refuses %j", (bucket, message) => {
    const problem = onlyProblem(archive({ bucket }), "$.archive.bucket");
    expect(problem.value).toBe(bucket);
    expect(problem.message).toMatch(/^must be an S3 bucket name/);
    expect(problem.message).toMatch(message);
  });
});

describe("archive.prefix", () => {
  it.each(["", "atlas/stream-audit/", "a/", "source=atlas/v1.2/", "A_b-c/"])("accepts %j", (prefix) => {
    expect(parsed(archive({ prefix })).archive.prefix).toBe(prefix);
  });

  it.each([
    ["/atlas/", /do not begin with "\/"/],
    ["atlas", /add the final "\/": "atlas\/"/],
    ["a//b/", /"\/\/"/],
    ["a/../b/", /without "\.\."/],
    ["a..b/", /without "\.\."/],
    ["./a/", /without a "\." segment/],
    ["a/./", /without a "\." segment/],
    ["logs*/", /"\*" is not allowed/],
    ["it's/", /"'" is not allowed/],
    ["a b/", /" " is not allowed/],
    [`${"a".repeat(256)}/`, /at most 256 characters \(this one has 257\)/],
  ])("refuses %j", (prefix, message) => {
    const problem = onlyProblem(archive({ prefix }), "$.archive.prefix");
    expect(problem.value).toBe(prefix);
    expect(problem.message).toMatch(message);
  });
});

describe("window", () => {
  it("accepts every length that divides a day", () => {
    expect(WINDOW_LENGTHS).toContain(1440);
    expect(WINDOW_LENGTHS).toHaveLength(36);
    for (const minutes of WINDOW_LENGTHS) {
      expect(parsed(window({ minutes, lookbackHours: 720 })).window.minutes).toBe(minutes);
    }
  });

  it.each([7, 0, -60, 1.5, 2880, "60", null])(
    "refuses minutes = %j, listing lengths that work",
    (minutes) => {
      const problem = onlyProblem(window({ minutes }), "$.window.minutes");
      expect(problem.value).toEqual(minutes);
      expect(problem.message).toBe(
        "must be a whole number of minutes that divides a day (1440 minutes) evenly, e.g. 5, 10, 15, 30, 60, 120, 1440",
      );
    },
  );

  it("accepts lagMinutes 0 and refuses a negative or fractional lag", () => {
    expect(parsed(window({ lagMinutes: 0 })).window.lagMinutes).toBe(0);
    for (const lagMinutes of [-1, 2.5]) {
      expect(onlyProblem(window({ lagMinutes }), "$.window.lagMinutes").message).toMatch(
        /whole number of minutes/,
      );
    }
  });

  it("accepts whole lookbackHours up to 720 and refuses the rest", () => {
    expect(parsed(window({ lookbackHours: 720 })).window.lookbackHours).toBe(720);
    for (const lookbackHours of [0, 721, 1.5, "72"]) {
      const problem = onlyProblem(window({ lookbackHours }), "$.window.lookbackHours");
      expect(problem.message).toBe("must be a whole number of hours from 1 to 720 (30 days)");
    }
  });

  it("requires the lookback to hold at least one window plus the lag, and says why", () => {
    const problem = onlyProblem(
      window({ minutes: 60, lagMinutes: 61, lookbackHours: 2 }),
      "$.window.lookbackHours",
    );
    expect(problem.value).toBe(2);
    expect(problem.message).toContain(
      "at least window.minutes + window.lagMinutes = 60 + 61 = 121 minutes (3 hours)",
    );
    expect(problem.message).toContain("never contains a due window");
  });

  it("accepts a lookback of exactly window plus lag", () => {
    const config = parsed(
      file({ window: { minutes: 60, lagMinutes: 60, lookbackHours: 2 }, schedule: "cron(0 * * * ? *)" }),
    );
    expect(config.window.lookbackHours).toBe(2);
  });

  it("shows a defaulted lookback as the default when it is too short", () => {
    const error = errorOfData(window({ minutes: 1440, lagMinutes: 3000 }));
    expect(error.message).toContain("$.window.lookbackHours = 72 (default): must be at least");
  });
});

describe("schedule", () => {
  it.each([
    "rate(1 minute)",
    "rate(5 minutes)",
    "rate(1 hour)",
    "rate(6 hours)",
    "rate(1 day)",
    "rate(2 days)",
    "cron(0 * * * ? *)",
    "cron(15 2 ? * MON-FRI *)",
    "cron(0/30 8-17 1,15 * ? 2026)",
  ])("accepts %s", (schedule) => {
    expect(parsed(file({ schedule })).schedule).toBe(schedule);
  });

  it.each([
    ["rate(1 hours)", /singular unit when the value is 1, as EventBridge requires: rate\(1 hour\)/],
    ["rate(1 minutes)", /singular unit .*rate\(1 minute\)/],
    ["rate(2 hour)", /plural unit when the value is not 1, as EventBridge requires: rate\(2 hours\)/],
    ["rate(0 minutes)", /positive whole number/],
    ["rate(01 minutes)", /positive whole number/],
    ["rate(five minutes)", /positive whole number/],
    ["rate(2 weeks)", /minute\(s\), hour\(s\) or day\(s\), not "weeks"/],
    ["rate(1  hour)", /positive whole number/],
    ["cron(0 * * * *)", /6 fields separated by single spaces \(this one has 5\)/],
    ["cron(0 * * * * *)", /"\?" in exactly one of day-of-month and day-of-week/],
    ["cron(0 * ? * ? *)", /"\?" in exactly one/],
    ["cron(0 * * * ? %)", /not "%"/],
    ["every hour", /^must be an EventBridge schedule expression/],
    ["", /^must be an EventBridge schedule expression/],
  ])("refuses %j", (schedule, message) => {
    const problem = onlyProblem(file({ schedule }), "$.schedule");
    expect(problem.value).toBe(schedule);
    expect(problem.message).toMatch(message);
  });

  it("refuses a rate longer than the time a window stays due inside the lookback, and explains", () => {
    const problem = onlyProblem(file({ schedule: "rate(3 days)" }), "$.schedule");
    expect(problem.message).toContain("runs 4320 minutes apart");
    expect(problem.message).toContain("only 4245 minutes");
    expect(problem.message).toContain("windows would leave the lookback before any run fetched them");
  });

  it("accepts a rate exactly as long as that time", () => {
    const data = { window: { minutes: 60, lagMinutes: 0, lookbackHours: 3 } };
    expect(parsed(file({ ...data, schedule: "rate(2 hours)" })).schedule).toBe("rate(2 hours)");
    onlyProblem(file({ ...data, schedule: "rate(121 minutes)" }), "$.schedule");
  });

  it("checks the default rate against a short lookback", () => {
    const error = errorOfData(window({ minutes: 60, lagMinutes: 0, lookbackHours: 1 }));
    expect(error.message).toContain('$.schedule = "rate(1 hour)" (default): runs 60 minutes apart');
  });

  it("does not check cron expressions against the lookback", () => {
    const data = file({
      window: { minutes: 60, lagMinutes: 0, lookbackHours: 2 },
      schedule: "cron(0 0 1 * ? *)",
    });
    expect(parsed(data).schedule).toBe("cron(0 0 1 * ? *)");
  });

  it("reads the interval of a rate in minutes, and none for cron", () => {
    expect(rateIntervalMinutes("rate(1 minute)")).toBe(1);
    expect(rateIntervalMinutes("rate(3 hours)")).toBe(180);
    expect(rateIntervalMinutes("rate(2 days)")).toBe(2880);
    expect(rateIntervalMinutes("cron(0 * * * ? *)")).toBeUndefined();
  });

  it.each<[string, number | undefined]>([
    ["rate(15 minutes)", 15],
    ["cron(* * * * ? *)", 1],
    ["cron(0/15 * * * ? *)", 15],
    ["cron(*/20 * ? * * *)", 20],
    ["cron(5/15 * * * ? *)", 15],
    ["cron(5 * * * ? *)", 60],
    ["cron(5 */2 * * ? *)", 120],
    ["cron(30 1/6 * * ? *)", 360],
    ["cron(0 2 * * ? *)", 1440],
    // Gaps that differ: a step that does not divide the hour or the day, or starts past its first
    // step; lists, ranges, weekdays, days of the month, months, years.
    ["cron(0/7 * * * ? *)", undefined],
    ["cron(20/15 * * * ? *)", undefined],
    ["cron(0 */5 * * ? *)", undefined],
    ["cron(0,30 * * * ? *)", undefined],
    ["cron(0 9-17 * * ? *)", undefined],
    ["cron(0 9 ? * MON-FRI *)", undefined],
    ["cron(0 0 1 * ? *)", undefined],
    ["cron(0 0 * 1 ? *)", undefined],
    ["cron(0 0 * * ? 2027)", undefined],
    ["cron(*/15 2 * * ? *)", undefined],
  ])("reads the fixed interval of %s as %s minutes", (schedule, minutes) => {
    expect(scheduleIntervalMinutes(schedule)).toBe(minutes);
  });
});
