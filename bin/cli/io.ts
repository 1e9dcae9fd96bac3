/**
 * What a command works with besides its options: where it prints, the environment it reads and
 * the clock it asks for "now". `main` passes the process's; tests pass memory streams and a
 * fixed clock, and run commands in process.
 */
import type { Writable } from "node:stream";

/** A stream a command prints to; `isTTY` when it is a terminal (`get` then draws its progress). */
export type CliOutput = Writable & { readonly isTTY?: boolean };

/** The streams, environment and clock of one command-line run. */
export interface CliIo {
  /** Results: reports, JSON, log lines. */
  readonly stdout: CliOutput;
  /** Progress, summaries for people, errors. */
  readonly stderr: CliOutput;
  /** The variables the command reads (credentials, bucket, endpoints). */
  readonly env: NodeJS.ProcessEnv;
  /** The current time in epoch milliseconds (the default of `--now`, run ids, progress redraws). */
  now(): number;
}

/** The process's own streams and clock, with `env`. */
export function processIo(env: NodeJS.ProcessEnv): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env, now: Date.now };
}
