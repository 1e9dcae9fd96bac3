import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig } from "../../../lambda/config";
import { file, GROUP } from "./support";

describe("loadConfig", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "config-test-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads and validates a file", async () => {
    const path = join(dir, "ok.json");
    await writeFile(path, JSON.stringify(file({ schedule: "rate(30 minutes)" })));
    const config = await loadConfig(path);
    expect(config.schedule).toBe("rate(30 minutes)");
    expect(config.workspaces[0]?.groupId).toBe(GROUP);
  });

  it("reports a missing file with its full path and how to create it", async () => {
    const path = join(dir, "missing.json");
    const error = await loadConfig(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ code: "CONFIG_UNREADABLE", problems: [], context: { file: path } });
    expect((error as ConfigError).message).toContain(`Parameter file ${path} does not exist`);
    expect((error as ConfigError).message).toContain(
      "cp config/workspaces.example.json config/workspaces.json",
    );
  });

  it("reports a directory given as the file", async () => {
    const error = await loadConfig(dir).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "CONFIG_UNREADABLE" });
    expect((error as ConfigError).message).toMatch(/is a directory/);
  });

  it("names the file in validation errors", async () => {
    const path = join(dir, "bad.json");
    await writeFile(path, JSON.stringify(file({ schedule: "hourly" })));
    await expect(loadConfig(path)).rejects.toThrow(`${path} has 1 problem:`);
  });

  it("defaults to config/workspaces.json", () => {
    expect(DEFAULT_CONFIG_PATH).toBe("config/workspaces.json");
  });
});
