import { expect } from "vitest";
import { ConfigError, type ConfigProblem, parseConfig } from "../../../lambda/config";

export const GROUP = "32b6e34b3d91647abb20e7b8";

/** A minimal valid parameter file, with `overrides` merged on top. */
export function file(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { workspaces: [{ groupId: GROUP, tenantName: "prod-workspace" }], ...overrides };
}

/** The ConfigError that parsing `text` throws (fails the test when it does not throw one). */
export function errorOf(text: string, source = "config/workspaces.json"): ConfigError {
  try {
    parseConfig(text, source);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`expected ${text} to be rejected`);
}

/** The problems reported for the parameter file `data`. */
export function problemsOf(data: unknown): readonly ConfigProblem[] {
  const error = errorOf(JSON.stringify(data));
  expect(error.code).toBe("CONFIG_INVALID");
  return error.problems;
}

/** The single problem reported for `data`, which must be at `path`. */
export function onlyProblem(data: unknown, path: string): ConfigProblem {
  const problems = problemsOf(data);
  expect(problems.map((p) => p.path)).toEqual([path]);
  return problems[0] as ConfigProblem;
}

/** The config parsed from `data` (must be valid). */
export function parsed(data: unknown) {
  return parseConfig(JSON.stringify(data), "test.json");
}
