import { execFileSync, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig } from "../../../lambda/config";
import { MAX_CONFIG_BYTES } from "../../../lambda/config/load";
import { file, GROUP } from "./support";

/** The error `promise` rejects with, and how long it took. */
async function timedError(promise: Promise<unknown>): Promise<{ error: ConfigError; ms: number }> {
  const started = performance.now();
  const error = await promise.then(
    () => {
      throw new Error("expected the file to be refused");
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return { error: error as ConfigError, ms: performance.now() - started };
}

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

  it("caps the file at 4 MiB", async () => {
    expect(MAX_CONFIG_BYTES).toBe(4 * 1024 * 1024);
    const text = JSON.stringify(file());
    const exact = join(dir, "exact.json");
    await writeFile(exact, text.padEnd(MAX_CONFIG_BYTES, " "));
    expect((await loadConfig(exact)).workspaces).toHaveLength(1);
    const over = join(dir, "over.json");
    await writeFile(over, text.padEnd(MAX_CONFIG_BYTES + 1, " "));
    const { error } = await timedError(loadConfig(over));
    expect(error.code).toBe("CONFIG_TOO_LARGE");
    expect(error.context.file).toBe(over);
    expect(error.message).toContain(`Parameter file ${over} is larger than 4 MiB (4194304 bytes)`);
  });

  it("reads at most 4 MiB of a device that never ends", async () => {
    const { error, ms } = await timedError(loadConfig("/dev/zero"));
    expect(error.code).toBe("CONFIG_TOO_LARGE");
    expect(error.message).toContain("/dev/zero is larger than 4 MiB");
    expect(ms).toBeLessThan(1000);
  });

  it("reports an empty device as an empty file", async () => {
    const { error } = await timedError(loadConfig("/dev/null"));
    expect(error.code).toBe("CONFIG_MALFORMED_JSON");
    expect(error.message).toContain("the file is empty");
  });

  it("reports a directory quickly", async () => {
    const { error, ms } = await timedError(loadConfig(dir));
    expect(error.message).toContain(`Parameter file ${dir} is a directory`);
    expect(ms).toBeLessThan(1000);
  });

  describe("a named pipe", () => {
    const fifo = () => {
      const path = join(dir, `fifo-${Math.random().toString(36).slice(2)}`);
      execFileSync("mkfifo", [path]);
      return path;
    };

    it.each([
      ["already waiting", 100],
      ["starting later", 0],
    ])("reads what a program writes into it (the writer %s)", async (_when, delay) => {
      const path = fifo();
      const writer = spawn("sh", [
        "-c",
        'sleep "$2"; printf "%s" "$0" > "$1"',
        JSON.stringify(file()),
        path,
        "0.05",
      ]);
      try {
        await new Promise((done) => setTimeout(done, delay));
        expect((await loadConfig(path)).workspaces).toHaveLength(1);
      } finally {
        writer.kill();
      }
    });

    it("does not wait for a writer that never comes", async () => {
      const { error, ms } = await timedError(loadConfig(fifo()));
      expect(error.code).toBe("CONFIG_UNREADABLE");
      expect(error.message).toMatch(/is a named pipe \(FIFO\) that nothing was written to/);
      expect(ms).toBeLessThan(1000);
    });

    it("gives up on a writer that writes nothing", async () => {
      const path = fifo();
      // Holds the pipe open for writing without writing.
      const writer = spawn("sh", ["-c", 'exec 3>"$0"; sleep 30', path]);
      try {
        await new Promise((done) => setTimeout(done, 100));
        const { error, ms } = await timedError(loadConfig(path, { pipeIdleMs: 300 }));
        expect(error.code).toBe("CONFIG_UNREADABLE");
        expect(error.message).toContain("nothing arrived for 0.3 s");
        expect(ms).toBeLessThan(1000);
      } finally {
        writer.kill();
      }
    });
  });

  it("defaults to config/workspaces.json", () => {
    expect(DEFAULT_CONFIG_PATH).toBe("config/workspaces.json");
  });
});
