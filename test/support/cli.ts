/**
 * Runs the real `atlas-audit-archiver` executable in a child process, as a user would, and
 * collects its exit status and output.
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";

/** What a command-line run printed, and its exit status. */
export interface CliResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The executable, from the repository root. */
export const CLI_BIN = resolve("bin/atlas-audit-archiver.js");

/** `node bin/atlas-audit-archiver.js args...`, quoted for a POSIX shell. */
export function cliShellCommand(args: readonly string[]): string {
  return [process.execPath, CLI_BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
}

/**
 * Runs the command line with exactly `env` (nothing inherited). With `pipeTo`, its stdout goes
 * through that shell command (e.g. `head -n 1`), and the status is still the CLI's own.
 *
 * @example
 * ```ts
 * const { status, stderr } = await runCli(["run", "--config", file], { env: { PATH: process.env.PATH } });
 * ```
 */
export function runCli(
  args: readonly string[],
  options: {
    readonly env: Record<string, string | undefined>;
    readonly cwd?: string;
    readonly pipeTo?: string;
  },
): Promise<CliResult> {
  return new Promise((done, reject) => {
    const spawnOptions = { env: options.env, ...(options.cwd ? { cwd: options.cwd } : {}) };
    const child = options.pipeTo
      ? spawn(
          "bash",
          ["-c", `${cliShellCommand(args)} | ${options.pipeTo}; exit "\${PIPESTATUS[0]}"`],
          spawnOptions,
        )
      : spawn(process.execPath, [CLI_BIN, ...args], spawnOptions);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject).on("exit", (code) => done({ status: code ?? -1, stdout, stderr }));
  });
}
