import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../lambda/config";
import { jsonSyntaxErrorOffset, locateJsonError } from "../../../lambda/config/json-syntax";
import { closestKey } from "../../../lambda/config/parse";
import { ArchiverError } from "../../../lambda/errors";
import { errorOf, file, GROUP, onlyProblem, problemsOf } from "./support";

describe("one error listing every problem", () => {
  const broken = {
    atlas: { baseUrl: "http://cloud.mongodb.com" },
    window: { minutes: 7 },
    workspaces: [
      { groupId: GROUP.toUpperCase(), tenantName: "prod/eu" },
      { groupId: GROUP, tenantName: "billing" },
      { groupId: GROUP, tenantName: "billing" },
    ],
  };

  it("names the file, counts the problems and gives path, value and rule on each line", () => {
    const error = errorOf(JSON.stringify(broken), "config/prod.json");
    expect(error.code).toBe("CONFIG_INVALID");
    const [head, ...lines] = error.message.split("\n");
    expect(head).toBe("config/prod.json has 5 problems:");
    expect(lines).toEqual([
      expect.stringMatching(
        /^ {2}- \$\.atlas\.baseUrl = "http:\/\/cloud\.mongodb\.com": must use https:\/\//,
      ),
      "  - $.window.minutes = 7: must be a whole number of minutes that divides a day (1440 minutes) evenly, e.g. 5, 10, 15, 30, 60, 120, 1440",
      expect.stringMatching(
        /^ {2}- \$\.workspaces\[0\]\.groupId = "32B6E34B3D91647ABB20E7B8": must be the 24-character/,
      ),
      expect.stringMatching(/^ {2}- \$\.workspaces\[0\]\.tenantName = "prod\/eu": .*"\/" is refused because/),
      expect.stringMatching(/^ {2}- \$\.workspaces\[2\] = \{.*\}: repeats \$\.workspaces\[1\]/),
    ]);
  });

  it("gives each problem as data too", () => {
    const problems = problemsOf(broken);
    expect(problems.map((p) => p.path)).toEqual([
      "$.atlas.baseUrl",
      "$.window.minutes",
      "$.workspaces[0].groupId",
      "$.workspaces[0].tenantName",
      "$.workspaces[2]",
    ]);
    expect(problems[1]).toEqual({
      path: "$.window.minutes",
      value: 7,
      message:
        "must be a whole number of minutes that divides a day (1440 minutes) evenly, e.g. 5, 10, 15, 30, 60, 120, 1440",
    });
  });

  it("says '1 problem' for one", () => {
    expect(errorOf(JSON.stringify(file({ schedule: "hourly" }))).message).toMatch(
      /^config\/workspaces\.json has 1 problem:\n/,
    );
  });

  it("reports a cross-field problem alongside problems elsewhere in the file", () => {
    const problems = problemsOf({
      window: { minutes: 60, lagMinutes: 120, lookbackHours: 2 },
      workspaces: [{ groupId: "nope", tenantName: 5 }, 3],
    });
    expect(problems.map((p) => p.path)).toEqual([
      "$.workspaces[0].groupId",
      "$.workspaces[0].tenantName",
      "$.workspaces[1]",
      "$.window.lookbackHours",
    ]);
  });

  it("skips the schedule check while the window itself is invalid", () => {
    const problems = problemsOf(file({ window: { minutes: 7, lookbackHours: 1 }, schedule: "rate(2 days)" }));
    expect(problems.map((p) => p.path)).toEqual(["$.window.minutes"]);
  });

  it("is a ConfigError and an ArchiverError that names the file and serialises its problems", () => {
    const error = errorOf(JSON.stringify(file({ schedule: 5 })), "custom.json");
    expect(error).toBeInstanceOf(ArchiverError);
    expect(error.name).toBe("ConfigError");
    expect(error.context.file).toBe("custom.json");
    expect(error.toJSON()).toMatchObject({
      code: "CONFIG_INVALID",
      file: "custom.json",
      problems: error.problems,
    });
  });

  it("reports a whole file that is not an object", () => {
    for (const data of [[], null, "workspaces", 3]) {
      const problem = onlyProblem(data, "$");
      expect(problem.value).toEqual(data);
      expect(problem.message).toMatch(/JSON object with at least a "workspaces" array/);
    }
  });

  it("shortens long values", () => {
    const tenantName = `${"a".repeat(200)}/`;
    const error = errorOf(JSON.stringify(file({ workspaces: [{ groupId: GROUP, tenantName }] })));
    const line = error.message.split("\n")[1] ?? "";
    expect(line).toContain(`= "${"a".repeat(76)}...:`);
    expect(error.problems[0]?.value).toBe(tenantName);
  });
});

describe("unknown keys", () => {
  it.each([
    [{ window: { lagMinute: 5 } }, "$.window.lagMinute", "lagMinutes"],
    [{ atlas: { baseURL: "https://x.example" } }, "$.atlas.baseURL", "baseUrl"],
    [{ archive: { bucketName: "b-1" } }, "$.archive.bucketName", "bucket"],
    [{ schedules: "rate(1 hour)" }, "$.schedules", "schedule"],
    [{ workspaces: [{ groupId: GROUP, tenantName: "t", spname: "p" }] }, "$.workspaces[0].spname", "spName"],
  ])("reports %j at %s and suggests %s", (overrides, path, suggestion) => {
    const problem = onlyProblem(file(overrides), path);
    expect(problem.message).toContain(`is not a known key; did you mean "${suggestion}"?`);
  });

  it("lists the allowed keys, without a guess when nothing is close", () => {
    const problem = onlyProblem(file({ region: "eu-west-1" }), "$.region");
    expect(problem.value).toBe("eu-west-1");
    expect(problem.message).toBe(
      "is not a known key; allowed here: $schema, atlas, archive, window, schedule, workspaces",
    );
  });

  it("reports each unknown key of one object separately", () => {
    const problems = problemsOf(file({ window: { minute: 5, lag: 1 } }));
    expect(problems.map((p) => p.path)).toEqual(["$.window.minute", "$.window.lag"]);
  });

  it("writes keys that are not identifiers in bracket notation", () => {
    onlyProblem(file({ "my key": 1 }), '$["my key"]');
  });

  it("guesses only near misses", () => {
    const known = ["minutes", "lagMinutes", "lookbackHours"];
    expect(closestKey("minute", known)).toBe("minutes");
    expect(closestKey("LAGMINUTES", known)).toBe("lagMinutes");
    expect(closestKey("lookback", known)).toBe("lookbackHours");
    expect(closestKey("region", known)).toBeUndefined();
    expect(closestKey("x", known)).toBeUndefined();
  });
});

describe("malformed JSON", () => {
  it("reports the line and column of the first error, with the line and a caret", () => {
    const error = errorOf('{\n  "workspaces": []\n  "schedule": "rate(1 hour)"\n}', "config/workspaces.json");
    expect(error.code).toBe("CONFIG_MALFORMED_JSON");
    expect(error.message).toMatch(/^config\/workspaces\.json is not valid JSON at line 3, column 3: /);
    expect(error.message).toContain('\n  3 |   "schedule": "rate(1 hour)"\n    |   ^');
    expect(error.problems).toEqual([expect.objectContaining({ path: "$", line: 3, column: 3 })]);
    expect(error.cause).toBeInstanceOf(SyntaxError);
  });

  it("points at a trailing comma's closing brace and says to remove the comma", () => {
    const error = errorOf('{\n  "workspaces": [],\n}');
    expect(error.message).toMatch(/at line 3, column 1: .*remove the trailing comma/);
  });

  it("says JSON has no comments", () => {
    const error = errorOf('{\n  // archive prod\n  "workspaces": []\n}');
    expect(error.message).toMatch(/at line 2, column 3: .*JSON has no comments/);
  });

  it("locates errors V8 reports without a position", () => {
    const error = errorOf('{\n  "schedule": ,\n  "workspaces": []\n}');
    expect(error.message).toMatch(/at line 2, column 15: Unexpected token ','$/m);
  });

  it("reports an empty or blank file as such", () => {
    for (const text of ["", "  \n\t"]) {
      const error = errorOf(text);
      expect(error.code).toBe("CONFIG_MALFORMED_JSON");
      expect(error.message).toMatch(/is not valid JSON: the file is empty/);
    }
  });

  it("reports a file cut short at its end", () => {
    const error = errorOf('{\n  "workspaces": [\n');
    expect(error.problems[0]).toMatchObject({ line: 2, column: 18 });
  });

  it("ignores a UTF-8 byte order mark", () => {
    expect(parseConfig(`\uFEFF${JSON.stringify(file())}`, "bom.json").workspaces).toHaveLength(1);
  });
});

describe("locateJsonError", () => {
  const text = '{\n  "a": 1\n  "b": 2\n}';

  it("uses Node 22's line and column", () => {
    const message = "Expected ',' or '}' after property value in JSON at position 13 (line 3 column 3)";
    expect(locateJsonError(message, text)).toEqual({ position: 13, line: 3, column: 3 });
  });

  it("computes line and column from Node 20's position", () => {
    const message = "Expected ',' or '}' after property value in JSON at position 13";
    expect(locateJsonError(message, text)).toEqual({ position: 13, line: 3, column: 3 });
  });

  it("places an unexpected end after the last character", () => {
    expect(locateJsonError("Unexpected end of JSON input", '{\n  "a": [\n\n')).toEqual({
      position: 10,
      line: 2,
      column: 9,
    });
  });

  it("scans for the position when the message has none", () => {
    expect(locateJsonError('Unexpected token \'}\', "{"a":}" is not valid JSON', '{"a":}')).toEqual({
      position: 5,
      line: 1,
      column: 6,
    });
  });
});

describe("jsonSyntaxErrorOffset", () => {
  it("finds no error in valid JSON", () => {
    fc.assert(
      fc.property(fc.json(), (json) => {
        expect(jsonSyntaxErrorOffset(json)).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it("finds the position V8 reports in JSON broken by one edit", () => {
    const edit = fc.record({
      json: fc.json(),
      at: fc.nat(),
      text: fc.constantFrom(
        ",",
        "}",
        "]",
        "{",
        "[",
        ":",
        '"',
        "x",
        "/",
        "'",
        "0",
        "-",
        ".",
        "e",
        "\\",
        "\u0001",
        "",
      ),
      remove: fc.integer({ min: 0, max: 1 }),
    });
    fc.assert(
      fc.property(edit, ({ json, at, text, remove }) => {
        const i = at % (json.length + 1);
        const broken = json.slice(0, i) + text + json.slice(i + remove);
        let message: string | undefined;
        try {
          JSON.parse(broken);
        } catch (error) {
          message = (error as SyntaxError).message;
        }
        const offset = jsonSyntaxErrorOffset(broken);
        if (message === undefined) {
          expect(offset).toBeUndefined();
          return;
        }
        expect(offset).toBeGreaterThanOrEqual(0);
        expect(offset).toBeLessThanOrEqual(broken.length);
        const position = /at position (\d+)/.exec(message)?.[1];
        if (position !== undefined) expect(offset).toBe(Number(position));
        const token = /^Unexpected token '(.)'/.exec(message)?.[1];
        if (token !== undefined) expect(broken[offset ?? -1]).toBe(token);
      }),
      { numRuns: 2000 },
    );
  });
});
