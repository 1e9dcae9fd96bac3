/**
 * `atlas-audit-archiver`: the command line's dispatcher. It picks the command module
 * (`bin/cli/commands/*.ts`), parses its options, answers `--help`, runs it, and reports an error
 * that stops it: the message on stderr, and the exit status of the error's kind (`ruleFor`).
 */
import { ArchiverError, describeError, ruleFor } from "../lambda/errors";
import {
  type CommandModule,
  type CommandOptions,
  flagName,
  parseCommandArgs,
  usageError,
} from "./cli/command";
import { COMMANDS } from "./cli/commands";
import { type CliIo, processIo } from "./cli/io";

/** Runs `module` with `args`: parses its options, answers `--help`. */
async function runCommand(
  module: CommandModule<CommandOptions>,
  args: readonly string[],
  io: CliIo,
): Promise<number> {
  const values = parseCommandArgs(module.options, args);
  if (values.help) {
    io.stdout.write(`${module.help}\n`);
    return 0;
  }
  return module.run(values, io);
}

const USAGE = `Usage: atlas-audit-archiver <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, { summary }]) => `  ${name.padEnd(12)}${summary}`)
  .join("\n")}

Run atlas-audit-archiver <command> --help for the options and environment of a command.

Exit status: 0 when nothing failed, 1 when a window failed (run), a gap was found (ls), an object
was bad (verify) or could not be fetched (get), 2 on a usage or configuration error, a missing
bucket or denied access.`;

const USAGE_HINT = "Run atlas-audit-archiver --help for usage.";

/**
 * Runs the command line with `argv` (without node and script) and returns the exit status.
 *
 * @param io the streams and clock to use instead of the process's (tests run commands in process)
 * @example
 * ```ts
 * process.exitCode = await main(process.argv.slice(2));
 * ```
 */
export async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  io: Partial<Omit<CliIo, "env">> = {},
): Promise<number> {
  const cli: CliIo = { ...processIo(env), ...io };
  const [name, ...args] = argv;
  try {
    if (name === undefined || name === "-h" || name === "--help" || name === "help") {
      cli.stdout.write(`${USAGE}\n`);
      return name === undefined ? 2 : 0;
    }
    const selected = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!selected) throw usageError("command", () => `Unknown command ${JSON.stringify(name)}.`);
    return await runCommand(selected, args, cli);
  } catch (err) {
    // Anything else is a bug: its stack trace goes out as it is.
    if (!(err instanceof ArchiverError)) throw err;
    const rule = ruleFor(err);
    cli.stderr.write(`atlas-audit-archiver: ${describeError(err, flagName)}\n`);
    if (rule.usageHint) cli.stderr.write(`${USAGE_HINT}\n`);
    return rule.exitStatus;
  }
}
