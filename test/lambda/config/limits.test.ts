/**
 * Hostile parameter files (found by fuzzing): each is refused with one clear error, never a crash
 * or a hang, in well under a second.
 */
import { describe, expect, it } from "vitest";
import { type ConfigError, parseConfig } from "../../../lambda/config";
import { jsonSyntaxErrorOffset } from "../../../lambda/config/parse";
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
