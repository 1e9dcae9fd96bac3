import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SDK_NODE_NOTICE_VARIABLE } from "../../bin/cli";
import { COMMANDS } from "../../bin/cli/commands";
import { GROUP } from "../support/archive-fixture";
import { runCli, runMain } from "../support/cli";
import { type S3TestServer, startS3Server } from "../support/s3-server";

const HINT = "Run atlas-audit-archiver --help for usage.\n";
const hint = (command: string) => `Run atlas-audit-archiver ${command} --help for usage.\n`;

/** In this process, with no environment at all. */
const cli = (args: string[]) => runMain(args, { env: {} });

const VERSION = (JSON.parse(await readFile("package.json", "utf8")) as { version: string }).version;

describe("atlas-audit-archiver", () => {
  it("prints the command list on stderr, nothing on stdout, and exits 2 when called without a command", async () => {
    const result = await cli([]);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^Usage: atlas-audit-archiver <command> \[options\]\n/);
    for (const command of Object.keys(COMMANDS)) {
      expect(result.stderr).toMatch(new RegExp(`\n  ${command} +[A-Z]`));
    }
    expect(result.stderr).toContain("Run atlas-audit-archiver <command> --help");
    expect(result.stderr).toContain("  -V, --version  Print the version");
  });

  it.each(["--help", "-h", "help"])("prints the command list on stdout and exits 0 for %s", async (flag) => {
    const result = await cli([flag]);
    expect(result.status).toBe(0);
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe((await cli([])).stderr);
    expect(result.stdout).not.toContain("--secret-id");
  });

  it.each(["--version", "-V"])("prints the package's version for %s and exits 0", async (flag) => {
    const result = await cli([flag]);
    expect(result).toEqual({ status: 0, stdout: `${VERSION}\n`, stderr: "" });
  });

  describe.each(Object.keys(COMMANDS))("%s --help", (command) => {
    it("prints the command's own help, naming every option it takes, on stdout with exit 0", async () => {
      const module = COMMANDS[command] as (typeof COMMANDS)[string];
      const global = (await cli(["--help"])).stdout;
      for (const args of [
        [command, "--help"],
        [command, "-h"],
        ["help", command],
      ]) {
        const result = await cli(args);
        expect(result.status).toBe(0);
        expect(result.stderr).toBe("");
        expect(result.stdout).toBe(`${module.help}\n`);
        expect(result.stdout).not.toBe(global);
        expect(result.stdout).toMatch(new RegExp(`^Usage: atlas-audit-archiver ${command} `));
        expect(result.stdout).toContain(module.summary);
        for (const option of Object.keys(module.options)) expect(result.stdout).toContain(`--${option}`);
        expect(result.stdout).toContain("\n  -h, --help");
        for (const line of result.stdout.split("\n")) expect(line.length).toBeLessThanOrEqual(100);
      }
    });
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
      "plan",
      ["--config FILE", "--now INSTANT", "--from, --to", "--json"],
      ["--group", "--bucket", "--secret-id", "--out"],
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
    [
      "report",
      ["--group G", "--from, --to", "--out FILE", "--public-key FILE", "--digest-key ARN", "--json"],
      ["--secret-id", "--sp", "--tenant", "--now"],
    ],
    ["public-key", ["--digest-key ARN", "--out FILE"], ["--group", "--bucket", "--from", "--json"]],
    ["completion", ["bash", "zsh", "--shell SHELL"], ["--group", "--bucket", "--json", "AWS_REGION"]],
  ])("lists only the options of %s in its help", async (command, own, others) => {
    const result = await cli([command, "--help"]);
    for (const option of own) expect(result.stdout).toContain(`\n  ${option}`);
    for (const option of others) expect(result.stdout).not.toContain(option);
  });

  it("answers --help before it looks at the other options", async () => {
    const result = await cli(["ls", "--group", "not-a-group", "--help"]);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^Usage: atlas-audit-archiver ls /);
  });

  it.each<[string[], string]>([
    [["lss"], 'Unknown command "lss". Did you mean ls?'],
    [["reprot"], 'Unknown command "reprot". Did you mean report?'],
    [["Verify"], 'Unknown command "Verify". Did you mean verify?'],
    [["publickey"], 'Unknown command "publickey". Did you mean public-key?'],
    [["launch"], 'Unknown command "launch".'],
    [["help", "lss"], 'Unknown command "lss". Did you mean ls?'],
    [
      ["--verbose"],
      'Unknown option "--verbose": the first word is a command (options come after it), or --help or --version.',
    ],
  ])("exits 2 with the closest commands and the usage hint for %j", async (args, message) => {
    const result = await cli(args);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(`atlas-audit-archiver: ${message}\n${HINT}`);
  });

  it.each<[string[], string, string]>([
    [["ls", "--grop", GROUP], "ls", "Unknown option --grop for ls. Did you mean --group?"],
    [["ls", "--tennat", "t"], "ls", "Unknown option --tennat for ls. Did you mean --tenant?"],
    [["run", "--conc", "3"], "run", "Unknown option --conc for run. Did you mean --concurrency?"],
    [["cat", "-sp", "x"], "cat", "Unknown option -sp for cat. Did you mean --sp?"],
    [
      ["get", "--from=2026-11-28", "--ot", "d"],
      "get",
      "Unknown option --ot for get. Did you mean --out or --to?",
    ],
    [["verify", "--out", "x"], "verify", "Unknown option --out for verify."],
    [["run", "--frobnicate"], "run", "Unknown option --frobnicate for run."],
    [["ls", "-x"], "ls", "Unknown option -x for ls."],
    [["ls", "group", GROUP], "ls", 'ls takes options only, not "group". Did you mean --group?'],
    [["ls", "extra"], "ls", 'ls takes options only, not "extra".'],
    [["get", "--out"], "get", "Option '--out <value>' argument missing"],
    [["completion", "fish"], "completion", 'completion does not know shell "fish": use bash or zsh.'],
    [["completion", "bahs"], "completion", "use bash or zsh. Did you mean bash?"],
    [["completion", "bash", "zsh"], "completion", 'completion takes one argument, not also "zsh".'],
    [["completion"], "completion", "completion needs the shell: bash or zsh"],
  ])("exits 2 with one message and the command's usage hint for %j", async (args, command, message) => {
    const result = await cli(args);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^atlas-audit-archiver: [^\n]+\n[^\n]+\n$/);
    expect(result.stderr).toContain(message);
    expect(result.stderr.endsWith(hint(command))).toBe(true);
  });
});

describe("the atlas-audit-archiver executable", () => {
  const PATH_ONLY = { env: { PATH: process.env.PATH } };

  it("prints the command list on stderr and exits 2 without a command, on stdout with 0 for --help", async () => {
    const bare = await runCli([], PATH_ONLY);
    expect(bare.status).toBe(2);
    expect(bare.stdout).toBe("");
    expect(bare.stderr).toMatch(/^Usage: atlas-audit-archiver <command>/);
    const help = await runCli(["--help"], PATH_ONLY);
    expect(help.status).toBe(0);
    expect(help.stderr).toBe("");
    expect(help.stdout).toBe(bare.stderr);
  });

  it("answers --version with the package's version", async () => {
    expect(await runCli(["--version"], PATH_ONLY)).toEqual({ status: 0, stdout: `${VERSION}\n`, stderr: "" });
  });

  it("exits 2 with the message and the hint on stderr, nothing on stdout, for an unknown option", async () => {
    const result = await runCli(["ls", "--frobnicate"], PATH_ONLY);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^atlas-audit-archiver: Unknown option --frobnicate for ls\.\n/);
    expect(result.stderr.endsWith(hint("ls"))).toBe(true);
  });

  describe("against an S3 server", () => {
    let s3: S3TestServer;
    let dir: string;
    beforeAll(async () => {
      s3 = await startS3Server();
      dir = await mkdtemp(join(tmpdir(), "cli-notice-"));
    });
    afterAll(async () => {
      await s3?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    /** `ls` of an empty group: one S3 listing, a report on stdout, exit 1 (nothing archived). */
    const ls = (extra: Record<string, string> = {}) =>
      runCli(["ls", "--bucket", s3.bucket, "--group", GROUP], {
        cwd: dir,
        env: {
          PATH: process.env.PATH,
          AWS_ENDPOINT_URL_S3: s3.endpoint,
          AWS_REGION: "us-east-1",
          AWS_ACCESS_KEY_ID: "test",
          AWS_SECRET_ACCESS_KEY: "test",
          ...extra,
        },
      });
    const NOTICE = "NodeVersionSupportWarning";
    const nodeMajor = Number(process.versions.node.split(".")[0]);

    it("prints no AWS SDK notice about Node.js 22: stderr stays empty", async () => {
      const result = await ls();
      expect(result.stdout).toContain("check --group, --tenant and --config");
      expect(result.stderr).toBe("");
      expect(result.status).toBe(1);
    });

    it("leaves the notice to a user who sets the SDK's variable to false (the SDK prints it on Node < 22)", async () => {
      const result = await ls({ [SDK_NODE_NOTICE_VARIABLE]: "false" });
      if (nodeMajor < 22) {
        expect(result.stderr).toContain(NOTICE);
        expect(result.stderr).toContain("will require node >=22");
      } else {
        expect(result.stderr).not.toContain(NOTICE);
      }
    });

    it("hides no other warning", async () => {
      const warn = join(dir, "warn.mjs");
      await writeFile(warn, 'process.emitWarning("another warning, not the SDK\'s");\n');
      const result = await ls({ NODE_OPTIONS: `--import=${pathToFileURL(warn).href}` });
      expect(result.stderr).toContain("Warning: another warning, not the SDK's");
      expect(result.stderr).not.toContain(NOTICE);
    });
  });
});
