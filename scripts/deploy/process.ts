/**
 * Child processes of the deploy check: every one bounded in time, its output drained and the end of
 * it kept for the error message.
 */
import { spawn, spawnSync } from "node:child_process";

/** Lines of a command's output kept for its error message. */
const KEPT_LINES = 60;

/** How a command ended, and the end of what it wrote (stdout and stderr interleaved). */
export interface CommandResult {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last {@link KEPT_LINES} lines of its output. */
  readonly tail: string;
  /** The whole of its stdout (commands whose answer is read, such as `cfn-lint --format json`). */
  readonly stdout: string;
  readonly ms: number;
  readonly timedOut: boolean;
}

/** What {@link runCommand} runs. */
export interface CommandOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Killed (SIGTERM, then SIGKILL 5 s later) after this long. */
  readonly timeoutMs: number;
  /** Also echo its output, prefixed, as it comes. @default false */
  readonly echo?: string;
}

/** A command the check needs failed; the message names it, how it ended and the end of its output. */
export class CommandFailedError extends Error {
  override readonly name = "CommandFailedError";

  constructor(
    readonly command: string,
    readonly result: CommandResult,
  ) {
    const how = result.timedOut
      ? `did not finish within its bound and was killed`
      : result.signal
        ? `was killed by ${result.signal}`
        : `exited with status ${result.status}`;
    super(`${command} ${how} after ${(result.ms / 1000).toFixed(1)} s. Its last output:\n${result.tail}`);
  }
}

/** Runs `command args` to its end (or its bound); never rejects for a failing command. */
export function runCommand(
  command: string,
  args: readonly string[],
  options: CommandOptions,
): Promise<CommandResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const lines: string[] = [];
    let partial = "";
    let stdout = "";
    const keep = (chunk: Buffer): void => {
      const text = chunk.toString("utf8");
      if (options.echo) {
        for (const line of text.split("\n"))
          if (line.trim() !== "") process.stderr.write(`${options.echo}${line}\n`);
      }
      const parts = (partial + text).split("\n");
      partial = parts.pop() ?? "";
      lines.push(...parts);
      if (lines.length > KEPT_LINES) lines.splice(0, lines.length - KEPT_LINES);
    };
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
      keep(chunk);
    });
    child.stderr.on("data", keep);
    let timedOut = false;
    let kill: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGTERM");
      kill = setTimeout(() => child.kill("SIGKILL"), 5_000);
    }, options.timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (status, signal) => {
      clearTimeout(timer);
      clearTimeout(kill);
      const tail = [...lines, partial].filter((line) => line.trim() !== "").join("\n");
      resolve({ status, signal, tail, stdout, ms: performance.now() - started, timedOut });
    });
  });
}

/** {@link runCommand}, throwing {@link CommandFailedError} unless the command exits 0. */
export async function mustRun(
  command: string,
  args: readonly string[],
  options: CommandOptions,
): Promise<CommandResult> {
  const result = await runCommand(command, args, options);
  if (result.status !== 0) throw new CommandFailedError([command, ...args].join(" "), result);
  return result;
}

/** Whether `command args` runs and exits 0 within 20 s (a tool's `--version`). */
export function toolAnswers(command: string, args: readonly string[] = ["--version"]): boolean {
  const result = spawnSync(command, args, { stdio: "ignore", timeout: 20_000 });
  return result.error === undefined && result.status === 0;
}
