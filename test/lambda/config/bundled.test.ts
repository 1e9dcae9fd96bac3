import { describe, expect, it } from "vitest";
import {
  BUNDLED_CONFIG_FORMAT,
  BUNDLED_CONFIG_VERSION,
  type ConfigError,
  parseBundledConfig,
  renderBundledConfig,
} from "../../../lambda/config";
import { file, GROUP, parsed } from "./support";

/** The ConfigError that reading `text` as the bundled configuration throws. */
function refusal(text: string): ConfigError {
  try {
    parseBundledConfig(text, "/var/task/archiver-config.json");
  } catch (error) {
    return error as ConfigError;
  }
  throw new Error(`expected ${text} to be refused`);
}

/** The envelope that renderBundledConfig writes for the minimal parameter file, as an object. */
function envelope(): { format: unknown; version: unknown; config: Record<string, Record<string, unknown>> } {
  return JSON.parse(renderBundledConfig(parsed(file())));
}

describe("renderBundledConfig and parseBundledConfig", () => {
  it("give back, frozen, exactly the configuration the schema resolved", () => {
    const configs = [
      parsed(file()),
      parsed(
        file({
          atlas: { baseUrl: "https://cloud.mongodbgov.com/", apiVersion: "2024-08-05" },
          archive: { bucket: "my-archive", prefix: "" },
          window: { minutes: 15, lagMinutes: 0, lookbackHours: 24 },
          schedule: "cron(0/15 * * * ? *)",
          workspaces: [
            { groupId: GROUP, tenantName: "prod-workspace" },
            { groupId: GROUP, tenantName: "billing", spName: "payments" },
          ],
        }),
      ),
    ];
    for (const config of configs) {
      const read = parseBundledConfig(renderBundledConfig(config), "archiver-config.json");
      expect(read).toEqual(config);
      expect(Object.isFrozen(read.workspaces[0])).toBe(true);
      expect(Object.isFrozen(read.window)).toBe(true);
    }
  });

  it("write the configuration inside an envelope that names the format and its version", () => {
    const written = envelope();
    expect(written.format).toBe(BUNDLED_CONFIG_FORMAT);
    expect(written.version).toBe(BUNDLED_CONFIG_VERSION);
    expect(written.config.window).toEqual({ minutes: 60, lagMinutes: 15, lookbackHours: 72 });
  });

  it("refuse a parameter file that cdk synth did not validate and bundle, saying what to do", () => {
    const error = refusal(JSON.stringify(file()));
    expect(error).toMatchObject({
      code: "CONFIG_INVALID",
      problems: [{ path: "$.format" }],
      context: { file: "/var/task/archiver-config.json" },
    });
    expect(error.message).toContain("is not a configuration bundled by cdk synth");
    expect(error.message).toContain("$.format: missing");
    expect(error.message).toContain("redeploy with cdk deploy");
  });

  it("refuse a file bundled by another version, naming both versions", () => {
    const other = { ...envelope(), version: BUNDLED_CONFIG_VERSION + 1 };
    const error = refusal(JSON.stringify(other));
    expect(error).toMatchObject({
      code: "CONFIG_INVALID",
      problems: [{ path: "$.version", value: BUNDLED_CONFIG_VERSION + 1 }],
    });
    expect(error.message).toContain(`reads format version ${BUNDLED_CONFIG_VERSION}`);
    expect(error.message).toContain(`$.version = ${BUNDLED_CONFIG_VERSION + 1}`);
  });

  it("refuse a damaged file, listing every field the runtime cannot use", () => {
    const damaged = envelope();
    delete damaged.config.window?.minutes;
    (damaged.config.atlas as Record<string, unknown>).baseUrl = 42;
    damaged.config.workspaces = [{ groupId: GROUP }] as never;
    const error = refusal(JSON.stringify(damaged));
    expect(error.code).toBe("CONFIG_INVALID");
    expect(error.problems.map((p) => p.path)).toEqual([
      "$.config.atlas.baseUrl",
      "$.config.window.minutes",
      "$.config.workspaces[0].tenantName",
    ]);
    expect(error.message).toContain("$.config.atlas.baseUrl = 42: must be a string");
    expect(error.message).toContain("$.config.window.minutes: missing; must be a whole number");
  });

  it("refuse an envelope without workspaces, and text that is not JSON", () => {
    const empty = envelope();
    empty.config.workspaces = [] as never;
    expect(refusal(JSON.stringify(empty)).problems).toEqual([
      { path: "$.config.workspaces", value: [], message: "must be a non-empty array" },
    ]);
    const truncated = renderBundledConfig(parsed(file())).slice(0, 40);
    expect(refusal(truncated)).toMatchObject({ code: "CONFIG_MALFORMED_JSON" });
  });
});
