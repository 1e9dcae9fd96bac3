/**
 * The demo's way of running the command line: the real `main` of `bin/cli.ts`, in this process
 * (a child per command would cost a TypeScript loader's start each time), with the command shown
 * first as a user would type it, and its stdout and stderr printed in the order they were written.
 */
import { Writable } from "node:stream";
import { main } from "../../bin/cli";

/** The program name shown before each command. */
export const PROGRAM = "atlas-audit-archiver";

/** How a command's output is shown. */
export interface ShowOptions {
  /** Print only the first lines of stdout, then how many were left out (what `| head -n` does). */
  readonly headLines?: number;
  /** Lines (of stdout or stderr) left out of the display; the count left out is printed after. */
  readonly hide?: (line: string) => boolean;
  /** What the hidden lines are, for the count line: "window lines" gives "(72 window lines not shown)". */
  readonly hiddenWhat?: string;
}

/** What a command did. */
export interface CommandResult {
  readonly status: number;
  /** Every stdout line, shown or not. */
  readonly stdoutLines: number;
}

/** Quotes an argument for display as a POSIX shell would need it. */
export function shellWord(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** The command line as a user types it, e.g. `$ atlas-audit-archiver ls --group 32b6…`. */
export function commandLine(argv: readonly string[]): string {
  return `$ ${[PROGRAM, ...argv].map(shellWord).join(" ")}`;
}

/** A stream that prints whole lines through `line`, a last unterminated one at the end. */
class LineWriter extends Writable {
  private pending = "";

  constructor(private readonly line: (text: string) => void) {
    super({ decodeStrings: false });
  }

  override _write(
    chunk: Buffer | string,
    _encoding: BufferEncoding,
    done: (error?: Error | null) => void,
  ): void {
    const lines = (this.pending + chunk.toString()).split("\n");
    this.pending = lines.pop() ?? "";
    for (const text of lines) this.line(text);
    done();
  }

  /** Prints what is left of a last line without a newline. */
  flushPending(): void {
    if (this.pending) this.line(this.pending);
    this.pending = "";
  }
}

/**
 * Runs `argv` through the real command line and prints it: the command, then its output.
 * Environment and working directory are the process's (the demo sets them, so what runs here is
 * what the `--keep` instructions tell a user to type). `print` receives every line shown.
 */
export async function runShown(
  argv: readonly string[],
  print: (line: string) => void,
  options: ShowOptions = {},
): Promise<CommandResult> {
  print(commandLine(argv));
  let stdoutLines = 0;
  let cut = 0;
  let hidden = 0;
  const show = (text: string): void => {
    if (options.hide?.(text)) hidden++;
    else print(text);
  };
  const stdout = new LineWriter((text) => {
    stdoutLines++;
    if (options.headLines !== undefined && stdoutLines > options.headLines) cut++;
    else show(text);
  });
  const stderr = new LineWriter(show);
  const status = await main(argv, process.env, { stdout, stderr });
  stdout.flushPending();
  stderr.flushPending();
  if (cut > 0)
    print(
      `… ${cut} more line${cut === 1 ? "" : "s"} (cut by the demo, as | head -n ${options.headLines} would)`,
    );
  if (hidden > 0) print(`(${hidden} ${options.hiddenWhat ?? "lines"} not shown)`);
  return { status, stdoutLines };
}
