/**
 * Runs the command line and collects its exit status and output: in this process through `main`
 * with memory streams (fast: most tests), or as the real `atlas-audit-archiver` executable in a
 * child process, as a user would (a few tests: exit status, streams, pipes).
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { Writable } from "node:stream";
import { main } from "../../bin/cli";

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

/** A memory stream that keeps what is written to it; `isTTY` makes it pass for a terminal. */
export class CapturedOutput extends Writable {
  text = "";

  constructor(readonly isTTY = false) {
    super();
  }

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.text += String(chunk);
    callback();
  }
}

/** How {@link runMain} runs the command line. */
export interface InProcessOptions {
  /** The whole environment, as for {@link runCli}: the command's, and the AWS SDK's for the call. */
  readonly env: Record<string, string | undefined>;
  /** The working directory for the call (where the default parameter file is looked for). */
  readonly cwd?: string;
  /** The clock the command reads (default: the real one). */
  readonly now?: () => number;
  /** Whether stderr passes for a terminal. */
  readonly tty?: boolean;
}

/**
 * Runs the command line in this process with memory streams. The AWS SDK reads its configuration
 * (endpoints, region, keys) from `process.env`, which holds exactly `env` during the call.
 *
 * @example
 * ```ts
 * const { status, stderr } = await runMain(["ls", "--bucket", "b"], { env: {} });
 * ```
 */
export async function runMain(args: readonly string[], options: InProcessOptions): Promise<CliResult> {
  const stdout = new CapturedOutput();
  const stderr = new CapturedOutput(options.tty);
  const saved = { env: process.env, cwd: process.cwd() };
  process.env = { ...options.env };
  if (options.cwd) process.chdir(options.cwd);
  try {
    const status = await main(args, process.env, {
      stdout,
      stderr,
      ...(options.now ? { now: options.now } : {}),
    });
    return { status, stdout: stdout.text, stderr: stderr.text };
  } finally {
    process.env = saved.env;
    process.chdir(saved.cwd);
  }
}
