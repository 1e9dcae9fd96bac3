import { describe, expect, it } from "vitest";
import { runCli, runMain } from "../support/cli";

const HINT = "Run atlas-audit-archiver --help for usage.\n";
const COMMANDS = ["run", "ls", "cat", "get", "verify"];

/** In this process, with no environment at all. */
const cli = (args: string[]) => runMain(args, { env: {} });

describe("atlas-audit-archiver", () => {
  it("prints the command list on stdout and exits 2 when called without a command", async () => {
    const result = await cli([]);
    expect(result.status).toBe(2);
    expect(result.stderr).toBe("");
    expect(result.stdout).toMatch(/^Usage: atlas-audit-archiver <command> \[options\]\n/);
    for (const command of COMMANDS) expect(result.stdout).toMatch(new RegExp(`\n  ${command} +[A-Z]`));
    expect(result.stdout).toContain("Run atlas-audit-archiver <command> --help");
  });

  it.each(["--help", "-h", "help"])("prints the command list and exits 0 for %s", async (flag) => {
    const result = await cli([flag]);
    expect(result.status).toBe(0);
    expect(result.stdout).toBe((await cli([])).stdout);
    expect(result.stdout).not.toContain("--secret-id");
  });

  it.each<[string, string[], string[]]>([
    [
      "run",
      ["--config FILE", "--now INSTANT", "--from, --to", "--secret-id ID", "--json", "ATLAS_CLIENT_ID"],
      ["--bucket", "--out", "--group", "--sp"],
    ],
    [
      "ls",
      [
        "--group G",
        "--tenant T",
        "--from, --to",
        "--now INSTANT",
        "--json",
        "--bucket NAME",
        "--prefix PREFIX",
      ],
      ["--secret-id", "--out", "--sp", "ATLAS_CLIENT_ID"],
    ],
    [
      "cat",
      ["--group G", "--tenant T", "--sp NAME", "--from, --to", "--bucket NAME"],
      ["--secret-id", "--out", "--now", "--json"],
    ],
    [
      "get",
      ["--group G", "--tenant T", "--from, --to", "--out DIR", "--json", "--bucket NAME"],
      ["--secret-id", "--sp", "--now"],
    ],
    [
      "verify",
      ["--group G", "--from, --to", "--json", "--bucket NAME"],
      ["--secret-id", "--out", "--sp", "--tenant", "--now"],
    ],
  ])("prints only the options of %s for its --help, and exits 0", async (command, own, others) => {
    for (const flag of ["--help", "-h"]) {
      const result = await cli([command, flag]);
      expect(result.status).toBe(0);
      expect(result.stderr).toBe("");
      expect(result.stdout).toMatch(new RegExp(`^Usage: atlas-audit-archiver ${command} `));
      for (const option of [...own, "-h, --help"]) expect(result.stdout).toContain(`\n  ${option}`);
      for (const option of others) expect(result.stdout).not.toContain(option);
      for (const line of result.stdout.split("\n")) expect(line.length).toBeLessThanOrEqual(100);
    }
  });

  it("answers --help before it looks at the other options", async () => {
    const result = await cli(["ls", "--group", "not-a-group", "--help"]);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^Usage: atlas-audit-archiver ls /);
  });

  it.each<[string[], string]>([
    [["launch"], 'Unknown command "launch".'],
    [["run", "--frobnicate"], "Unknown option '--frobnicate'"],
    [["verify", "--out", "x"], "Unknown option '--out'"],
    [["ls", "extra"], "Unexpected argument 'extra'"],
    [["get", "--out"], "Option '--out <value>' argument missing"],
  ])("exits 2 with one message and the usage hint for %j", async (args, message) => {
    const result = await cli(args);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^atlas-audit-archiver: [^\n]+\n[^\n]+\n$/);
    expect(result.stderr).toContain(message);
    expect(result.stderr.endsWith(HINT)).toBe(true);
  });
});

describe("the atlas-audit-archiver executable", () => {
  it("prints the command list on stdout and exits 2 without a command, 0 with --help", async () => {
    const bare = await runCli([], { env: { PATH: process.env.PATH } });
    expect(bare.status).toBe(2);
    expect(bare.stdout).toMatch(/^Usage: atlas-audit-archiver <command>/);
    expect(bare.stderr).toBe("");
    const help = await runCli(["--help"], { env: { PATH: process.env.PATH } });
    expect(help.status).toBe(0);
    expect(help.stdout).toBe(bare.stdout);
  });

  it("exits 2 with the message and the hint on stderr, nothing on stdout, for an unknown option", async () => {
    const result = await runCli(["ls", "--frobnicate"], { env: { PATH: process.env.PATH } });
    expect(result.status).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^atlas-audit-archiver: Unknown option '--frobnicate'[^\n]*\n/);
    expect(result.stderr.endsWith(HINT)).toBe(true);
  });
});
