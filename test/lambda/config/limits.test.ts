/**
 * Hostile parameter files (found by fuzzing): each is refused with one clear error, never a crash
 * or a hang, in well under a second.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../../lambda/config";
import { jsonSyntaxErrorOffset } from "../../../lambda/config/json-syntax";
import { errorOf, file, GROUP } from "./support";

/** The error `text` is refused with, and how long that took. */
function timed(text: string): { error: ConfigError; ms: number } {
  const started = performance.now();
  const error = errorOf(text);
  return { error, ms: performance.now() - started };
}

const DEEP = 100_000;
const nestedArrays = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;
const nestedObjects = (n: number) => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`;

describe("nesting", () => {
  it.each([
    ["arrays in workspaces", `{"workspaces":${nestedArrays(DEEP)}}`, `$.workspaces${"[0]".repeat(31)}`],
    ["a whole file of arrays", nestedArrays(DEEP), `$${"[0]".repeat(32)}`],
    ["objects at the top", nestedObjects(DEEP), `$${".a".repeat(32)}`],
    [
      "objects in a workspace",
      `{"workspaces":[{"groupId":"${GROUP}","tenantName":"t","x":${nestedObjects(DEEP)}}]}`,
      `$.workspaces[0].x${".a".repeat(29)}`,
    ],
    ["an unknown key's value", `{"zz":${nestedArrays(DEEP)},"workspaces":[]}`, `$.zz${"[0]".repeat(31)}`],
    [
      "mixed, in a later element",
      `{"workspaces":[1,[{"b":[{"c":${nestedArrays(40)}}]}]]}`,
      `$.workspaces[1][0].b[0].c${"[0]".repeat(26)}`,
    ],
  ])("refuses %s deeper than 32 levels, naming where", (_name, text, path) => {
    const { error, ms } = timed(text);
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.problems).toEqual([{ path, message: expect.stringContaining("deeper than 32 levels") }]);
    expect(error.message).toBe(
      `config/workspaces.json has 1 problem:\n  - ${path}: ${error.problems[0]?.message as string}`,
    );
    expect(ms).toBeLessThan(1000);
  });

  it("accepts 32 levels", () => {
    const deep = `{"workspaces":[{"groupId":"${GROUP}","tenantName":"t"}],"x":${nestedArrays(31)}}`;
    expect(errorOf(deep).problems.map((p) => p.path)).toEqual(["$.x"]);
  });

  it("locates the syntax error of a deep, unbalanced file", () => {
    for (const [text, offset] of [
      [`{"workspaces":${"[".repeat(DEEP)}}`, 14 + DEEP],
      [`${"[".repeat(DEEP)}1,}`, DEEP + 2],
      [`${'{"a":'.repeat(DEEP)}]`, 5 * DEEP],
    ] as const) {
      expect(jsonSyntaxErrorOffset(text)).toBe(offset);
      const { error, ms } = timed(text);
      expect(error.code).toBe("CONFIG_MALFORMED_JSON");
      expect(error.problems[0]).toMatchObject({ line: 1, column: offset + 1 });
      expect(ms).toBeLessThan(1000);
    }
    expect(jsonSyntaxErrorOffset(nestedArrays(DEEP))).toBeUndefined();
  });

  it("still parses a valid file", () => {
    expect(parseConfig(JSON.stringify(file()), "ok.json").workspaces).toHaveLength(1);
  });
});

const MB10 = 10 * 1024 * 1024;
const long = (unit: string) => unit.repeat(Math.ceil(MB10 / unit.length)).slice(0, MB10);
const workspace = (fields: Record<string, unknown> = {}) => ({ groupId: GROUP, tenantName: "t", ...fields });

/** Every echoed part of the error is short: the message, each problem's path and value. */
function expectBounded(error: ConfigError, ms: number): void {
  expect(error.code).toBe("CONFIG_INVALID");
  expect(ms).toBeLessThan(1000);
  // At most 100 problems, each line with a short path and value and a message of at most 1000 characters.
  expect(error.message.length).toBeLessThan(150_000);
  for (const p of error.problems) {
    expect(p.path.length).toBeLessThan(200);
    expect(p.message.length).toBeLessThanOrEqual(1000);
    expect(JSON.stringify(p.value ?? null).length).toBeLessThan(1100);
  }
  expect(JSON.stringify(error.toJSON()).length).toBeLessThan(300_000);
}

describe("long values", () => {
  const payloads = {
    letters: long("a"),
    "URL-like runs": long("https://"),
    "scheme runs": long("a://"),
    "at signs": long("@"),
    "a URL with a long user": `https://${long("u")}@cloud.mongodb.com`,
    "distinct characters": Array.from({ length: 500_000 }, (_, i) => String.fromCodePoint(0x4e00 + i)).join(
      "",
    ),
    spaces: long(" "),
    digits: long("1"),
  };
  const fields: Record<string, (value: string) => unknown> = {
    groupId: (v) => file({ workspaces: [workspace({ groupId: v })] }),
    tenantName: (v) => file({ workspaces: [workspace({ tenantName: v })] }),
    "a repeated tenantName": (v) =>
      file({ workspaces: [workspace({ tenantName: v }), workspace({ tenantName: v })] }),
    spName: (v) => file({ workspaces: [workspace({ spName: v })] }),
    baseUrl: (v) => file({ atlas: { baseUrl: v } }),
    "baseUrl after https://": (v) => file({ atlas: { baseUrl: `https://${v}` } }),
    apiVersion: (v) => file({ atlas: { apiVersion: v } }),
    bucket: (v) => file({ archive: { bucket: v } }),
    prefix: (v) => file({ archive: { prefix: v } }),
    "prefix of allowed characters": (v) => file({ archive: { prefix: `${v.replace(/[^a-z]/g, "x")}` } }),
    schedule: (v) => file({ schedule: v }),
    "a rate": (v) => file({ schedule: `rate(${v} minutes)` }),
    "a rate's unit": (v) => file({ schedule: `rate(5 ${v})` }),
    "a rate's amount": (v) => file({ schedule: `rate(${v.replace(/./g, "1")} minute)` }),
    "a cron": (v) => file({ schedule: `cron(${v})` }),
    "a cron field": (v) => file({ schedule: `cron(0 ${v} * * ? *)` }),
    "an unknown key's value": (v) => file({ region: v }),
    "an unknown key's name": (v) => file({ [v]: 1 }),
    "an unknown key's name in a workspace": (v) => file({ workspaces: [workspace({ [v]: 1 })] }),
    "a workspace": (v) => file({ workspaces: [v] }),
    "the whole file": (v) => v,
  };
  // Every payload in the fields named by the fuzzing report, one payload (in turn) in each other field.
  const named = ["tenantName", "baseUrl", "an unknown key's value", "an unknown key's name"];
  const names = Object.keys(payloads) as (keyof typeof payloads)[];
  const cases = Object.keys(fields).flatMap((field, i) =>
    (named.includes(field) ? names : [names[i % names.length] as keyof typeof payloads]).map(
      (payload) => [payload, field] as const,
    ),
  );
  it.each(cases)("refuses %s in %s quickly, echoing a few characters", (payload, field) => {
    const text = JSON.stringify((fields[field] as (v: string) => unknown)(payloads[payload]));
    const { error, ms } = timed(text);
    expectBounded(error, ms);
  });

  it("shows the start of a long value, and keeps the first 1000 characters in the problem", () => {
    const tenantName = `${"a".repeat(2000)}/`;
    const error = errorOf(JSON.stringify(file({ workspaces: [workspace({ tenantName })] })));
    expect(error.message).toContain(`= "${"a".repeat(76)}...:`);
    expect(error.problems[0]?.value).toBe(`${"a".repeat(997)}...`);
  });

  it("shortens a long key in the path", () => {
    const error = errorOf(JSON.stringify(file({ [long("k")]: 1 })));
    expect(error.problems[0]?.path).toBe(`$["${"k".repeat(37)}..."]`);
  });

  it("names a few of many refused characters", () => {
    const tenantName = Array.from({ length: 1000 }, (_, i) => String.fromCodePoint(0x4e00 + i)).join("");
    const message = errorOf(JSON.stringify(file({ workspaces: [workspace({ tenantName })] }))).problems[0]
      ?.message as string;
    expect(message).toContain('"一", "丁", "丂"');
    expect(message.length).toBeLessThan(300);
  });
});

describe("many problems", () => {
  it("refuses an array of more than 10000 entries before validating it", () => {
    const { error, ms } = timed(`{"workspaces":[${Array(2_000_000).fill("1").join(",")}]}`);
    expectBounded(error, ms);
    expect(error.problems).toEqual([
      { path: "$.workspaces", message: expect.stringContaining("has 2000000 entries; at most 10000") },
    ]);
  });

  it("lists the first 100 problems and counts the others", () => {
    // 10000 workspaces (the most allowed), each with three problems.
    const { error, ms } = timed(JSON.stringify(file({ workspaces: Array(10_000).fill({ x: 1 }) })));
    expectBounded(error, ms);
    expect(error.problems).toHaveLength(100);
    expect(error.message).toMatch(/^config\/workspaces\.json has 30000 problems:\n/);
    expect(error.message).toMatch(/\n {2}… and 29900 more problems, not listed$/);
  });

  it("lists 100 of many unknown keys", () => {
    // About 3 MB, within the 4 MiB a parameter file may have.
    const keys = Object.fromEntries(Array.from({ length: 250_000 }, (_, i) => [`k${i}`, 1]));
    const { error, ms } = timed(JSON.stringify(file(keys)));
    expectBounded(error, ms);
    expect(error.problems).toHaveLength(100);
    expect(error.message).toMatch(/^config\/workspaces\.json has 250000 problems:/);
    expect(error.message).toMatch(/\n {2}… and 249900 more problems, not listed$/);
  });
});

describe("credentials in values", () => {
  /** Asserts that nothing the error shows or serialises holds "SEKRET". */
  function expectHidden(error: ConfigError): void {
    expect(error.message).not.toContain("SEKRET");
    expect(JSON.stringify(error.toJSON())).not.toContain("SEKRET");
  }

  const passwords = [
    "x@SEKRET",
    "x:SEKRET",
    "a/SEKRET",
    "a#SEKRET",
    "a%40SEKRET",
    "a SEKRET",
    "a\tSEKRET",
    'a"SEKRET',
    "a'SEKRET",
    "a\\SEKRET",
    "SEKRET?x=1",
    "a@b@SEKRET",
    "SEKRET://x",
    "SEKRET@",
    "@SEKRET",
  ];

  it.each(passwords)("refuses a base URL whose password is %j without showing any of it", (password) => {
    const error = errorOf(
      JSON.stringify(file({ atlas: { baseUrl: `https://svc:${password}@cloud.mongodb.com` } })),
    );
    expect(error.problems.map((p) => p.path)).toEqual(["$.atlas.baseUrl"]);
    expect(error.problems[0]?.value).toBe("https://***@cloud.mongodb.com");
    expect(error.message).toContain('$.atlas.baseUrl = "https://***@cloud.mongodb.com": ');
    expectHidden(error);
  });

  it.each([
    ["no scheme", "svc:SEKRET@cloud.mongodb.com", "***@cloud.mongodb.com"],
    ["a broken scheme", "https:/svc:SEKRET@cloud.mongodb.com", "***@cloud.mongodb.com"],
    [
      "a query after the password",
      "https://svc:SEKRET@cloud.mongodb.com/?a=b",
      "https://***@cloud.mongodb.com/?a=b",
    ],
    ["plain http", "http://svc:SEKRET@localhost:8080", "http://***@localhost:8080"],
  ])("hides the credentials of a base URL with %s", (_name, baseUrl, shown) => {
    const error = errorOf(JSON.stringify(file({ atlas: { baseUrl } })));
    expect(error.problems[0]?.value).toBe(shown);
    expectHidden(error);
  });

  it("never shows any part of a base URL's password, whatever it holds", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (before, after) => {
        const baseUrl = `https://svc:${before}SEKRET${after}@cloud.mongodb.com`;
        expectHidden(errorOf(JSON.stringify(file({ atlas: { baseUrl } }))));
      }),
      { numRuns: 300 },
    );
  });

  it.each<[string, (url: string) => unknown]>([
    ["a tenantName", (url) => file({ workspaces: [workspace({ tenantName: url })] })],
    [
      "a repeated tenantName",
      (url) => file({ workspaces: [workspace({ tenantName: url }), workspace({ tenantName: url })] }),
    ],
    ["an unknown key's value", (url) => file({ region: `see ${url} today` })],
    ["an unknown key's name", (url) => file({ [url]: 1 })],
    ["a workspace", (url) => file({ workspaces: [url] })],
    ["an object in place of a workspace", (url) => file({ workspaces: [{ notes: [url] }] })],
    ["the whole file", (url) => url],
    ["the schedule", (url) => file({ schedule: `cron(0 ${url} * * ? *)` })],
  ])("hides the credentials of a URL in %s", (_name, data) => {
    for (const password of passwords.filter((p) => !/[\s"'`\\]/.test(p))) {
      expectHidden(errorOf(JSON.stringify(data(`https://svc:${password}@cloud.mongodb.com/x`))));
    }
  });

  it("hides the credentials of a URL around a JSON syntax error", () => {
    const error = errorOf(
      '{"atlas": {"baseUrl": "https://svc:a b@SEKRET@cloud.mongodb.com"},, "workspaces": []}',
    );
    expect(error.code).toBe("CONFIG_MALFORMED_JSON");
    // Masked character for character, so the caret still points at the error.
    expect(error.message).toContain('"baseUrl": "https://**************@cloud.mongodb.com"},, "workspaces"');
    expect(error.message).toMatch(/\n {4}\| {61}\^$/);
    expectHidden(error);
    expect((error.cause as Error).message).not.toContain("SEKRET");
  });
});

describe("any input", () => {
  /** Parses `text`: a config, or a ConfigError whose every echoed part is bounded. */
  function expectHandled(text: string): void {
    const started = performance.now();
    try {
      parseConfig(text, "fuzz.json");
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      expect(["CONFIG_INVALID", "CONFIG_MALFORMED_JSON"]).toContain(error.code);
      expect(error.message.length).toBeLessThan(150_000);
      expect(error.problems.length).toBeLessThanOrEqual(100);
    }
    expect(performance.now() - started).toBeLessThan(1000);
  }

  it("ends with a config or a ConfigError for any JSON value, anywhere", () => {
    const value = fc.jsonValue({ maxDepth: 40 });
    fc.assert(
      fc.property(
        fc.oneof(
          value,
          value.map((v) => file({ workspaces: [v] })),
          value.map((v) => file({ workspaces: [workspace({ tenantName: v })] })),
          value.map((v) => file({ atlas: v, window: { minutes: v } })),
          fc.dictionary(fc.string(), value).map((extra) => ({ ...file(), ...extra })),
        ),
        (data) => expectHandled(JSON.stringify(data)),
      ),
      { numRuns: 500 },
    );
  });

  it("ends with a config or a ConfigError for a valid file with any edit", () => {
    const valid = JSON.stringify(file({ atlas: { baseUrl: "https://svc@cloud.mongodb.com" } }), null, 2);
    fc.assert(
      fc.property(fc.nat(), fc.nat({ max: 5 }), fc.string({ unit: "binary" }), (at, remove, text) => {
        const i = at % (valid.length + 1);
        expectHandled(valid.slice(0, i) + text + valid.slice(i + remove));
      }),
      { numRuns: 1000 },
    );
  });

  it("keeps a __proto__ key as a key in the value it reports", () => {
    const problems = errorOf(`{"workspaces":[], "x": {"__proto__": 1, "a": 2}}`).problems;
    expect(problems.find((p) => p.path === "$.x")?.value).toEqual(JSON.parse('{"__proto__": 1, "a": 2}'));
  });

  it("shows no control character of the file around a syntax error", () => {
    const error = errorOf('{"workspaces": [\u001b[2J]}'.replace("\\u001b", "\u001b"));
    expect(error.code).toBe("CONFIG_MALFORMED_JSON");
    expect(error.message).not.toContain("\u001b");
    expect(error.message).toContain('{"workspaces": [?[2J]}');
  });
});
