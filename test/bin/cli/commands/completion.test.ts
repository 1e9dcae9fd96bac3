import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMMANDS } from "../../../../bin/cli/commands";
import { bashScript, zshScript } from "../../../../bin/cli/commands/completion";
import { runMain } from "../../../support/cli";

/** Whether `program` runs here. */
function has(program: string): boolean {
  return spawnSync(program, ["--version"], { stdio: "ignore" }).status === 0;
}

const BASH = has("bash");
const ZSH = has("zsh");
if (!BASH) console.log("completion: bash is not installed; the bash completion tests are skipped");
if (!ZSH) console.log("completion: zsh is not installed; the zsh syntax check is skipped");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "cli-completion-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("atlas-audit-archiver completion", () => {
  it.each(["bash", "zsh"])("prints the %s script on stdout and exits 0 (also as --shell)", async (shell) => {
    const result = await runMain(["completion", shell], { env: {} });
    expect(result.status).toBe(0);
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe(shell === "bash" ? bashScript() : zshScript());
    expect((await runMain(["completion", "--shell", shell], { env: {} })).stdout).toBe(result.stdout);
  });

  it("writes every command and every option of each into both scripts", () => {
    const bash = bashScript();
    const zsh = zshScript();
    for (const [name, module] of Object.entries(COMMANDS)) {
      expect(bash).toContain(`    ${name})\n`);
      expect(zsh).toContain(`    ${name})\n`);
      expect(zsh).toContain(`'${name}:`);
      for (const option of Object.keys(module.options)) {
        expect(bash).toMatch(new RegExp(`flags="[^"]*--${option}\\b`));
        expect(zsh).toContain(`'--${option}`);
      }
    }
  });
});

describe.runIf(BASH)("the bash script", () => {
  /** What bash completes for the words typed so far (the last one being completed). */
  function complete(...words: string[]): string[] {
    const script = join(dir, "completion.bash");
    const quoted = words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(" ");
    const probe = [
      `source ${JSON.stringify(script)}`,
      `COMP_WORDS=(${quoted})`,
      `COMP_CWORD=${words.length - 1}`,
      "_atlas_audit_archiver",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a bash expansion, not a template
      'printf "%s\\n" "${COMPREPLY[@]}"',
    ].join("\n");
    const result = spawnSync("bash", ["--norc", "--noprofile", "-c", probe], { cwd: dir, encoding: "utf8" });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    return result.stdout.split("\n").filter(Boolean).sort();
  }

  beforeAll(async () => {
    await writeFile(join(dir, "completion.bash"), bashScript());
    await writeFile(join(dir, "workspaces.json"), "{}");
    await writeFile(join(dir, "public.pem"), "");
  });

  it("is valid bash", () => {
    expect(spawnSync("bash", ["-n", join(dir, "completion.bash")]).status).toBe(0);
  });

  it("completes the commands and the global flags", () => {
    expect(complete("atlas-audit-archiver", "")).toEqual(
      [...Object.keys(COMMANDS), "help", "--help", "-h", "--version", "-V"].sort(),
    );
    expect(complete("atlas-audit-archiver", "l")).toEqual(["ls"]);
    expect(complete("atlas-audit-archiver", "--v")).toEqual(["--version"]);
  });

  it("completes each command's own flags", () => {
    expect(complete("atlas-audit-archiver", "cat", "--s")).toEqual(["--sp"]);
    expect(complete("atlas-audit-archiver", "run", "--c")).toEqual(["--concurrency", "--config"]);
    expect(complete("atlas-audit-archiver", "ls", "--group", "g", "--")).toEqual(
      Object.keys(COMMANDS.ls?.options ?? {})
        .map((o) => `--${o}`)
        .concat("--help")
        .sort(),
    );
    expect(complete("atlas-audit-archiver", "verify", "--ten")).toEqual([]);
  });

  it("completes files after a FILE option, nothing after another value, the shells after completion", () => {
    expect(complete("atlas-audit-archiver", "ls", "--config", "work")).toEqual(["workspaces.json"]);
    expect(complete("atlas-audit-archiver", "verify", "--public-key", "pub")).toEqual(["public.pem"]);
    expect(complete("atlas-audit-archiver", "ls", "--group", "")).toEqual([]);
    expect(complete("atlas-audit-archiver", "completion", "")).toEqual(["bash", "zsh"]);
    expect(complete("atlas-audit-archiver", "completion", "--shell", "z")).toEqual(["zsh"]);
    expect(complete("atlas-audit-archiver", "help", "pu")).toEqual(["public-key"]);
  });
});

describe.runIf(ZSH)("the zsh script", () => {
  it("is valid zsh", async () => {
    const file = join(dir, "_atlas-audit-archiver");
    await writeFile(file, zshScript());
    const result = spawnSync("zsh", ["-n", file], { encoding: "utf8" });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });
});
