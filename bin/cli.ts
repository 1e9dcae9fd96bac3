/**
 * `atlas-audit-archiver`: the command line's dispatcher. It picks the command module
 * (`bin/cli/commands/*.ts`), parses its options, answers `--help`, runs it, and reports an error
 * that stops it: the message on stderr, and the exit status of the error's kind (`ruleFor`).
 */
import { ArchiverError, describeError, ruleFor } from "../lambda/errors";
import { didYouMean } from "../lambda/suggest";
import {
  type CommandModule,
  type CommandOptions,
  flagName,
  parseCommandArgs,
  usageError,
} from "./cli/command";
import { COMMANDS } from "./cli/commands";
import { type CliIo, processIo } from "./cli/io";
import { cliVersion } from "./cli/version";

/** Runs the command `name` with `args`: parses its options, answers `--help`. */
async function runCommand(
  name: string,
  module: CommandModule<CommandOptions>,
  args: readonly string[],
  io: CliIo,
): Promise<number> {
  const values = parseCommandArgs(name, module, args);
  if (values.help) {
    io.stdout.write(`${module.help}\n`);
    return 0;
  }
  return module.run(values, io);
}

/** The command list, as `atlas-audit-archiver --help` prints it. */
function usage(): string {
  return `Usage: atlas-audit-archiver <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, { summary }]) => `  ${name.padEnd(12)}${summary}`)
  .join("\n")}

Options:
  -h, --help     Show this list
  -V, --version  Print the version of atlas-audit-archiver

Run atlas-audit-archiver <command> --help (or help <command>) for the options and environment of
a command.

Exit status: 0 when nothing failed, 1 when a window failed (run), a window is missing (plan), a
gap was found (ls), an object was bad (verify) or could not be fetched (get), 2 on a usage or
configuration error, a missing bucket or denied access.`;
}

/** The last line of a usage error: where to read how the command is called. */
function usageHint(command: string | undefined): string {
  return `Run atlas-audit-archiver ${command === undefined ? "" : `${command} `}--help for usage.`;
}

/** The words the dispatcher answers itself, before any command. */
const HELP_WORDS = new Set(["-h", "--help", "help"]);
const VERSION_WORDS = new Set(["-V", "--version"]);

/**
 * The variable that keeps the AWS SDK's notice about Node.js 22 out of the output (see
 * {@link quietSdkNodeNotice}).
 */
export const SDK_NODE_NOTICE_VARIABLE = "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED";

/**
 * Keeps the AWS SDK's nine-line notice that its releases after the first week of January 2027
 * need Node.js 22 out of the command line's output: on Node.js 20 the SDK prints it, through
 * `process.emitWarning`, when the first client is built, unless its documented variable
 * `AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED` is `true` (aws/aws-sdk-js-v3#7983). This
 * sets the variable in this process only, and only when it is unset or empty: a user who sets it
 * to anything else (`false`) sees the notice, and every other warning is printed as before.
 */
export function quietSdkNodeNotice(env: NodeJS.ProcessEnv = process.env): void {
  if (!env[SDK_NODE_NOTICE_VARIABLE]) env[SDK_NODE_NOTICE_VARIABLE] = "true";
}

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
  // The SDK reads the variable from the process's environment, whatever `env` the commands get.
  quietSdkNodeNotice();
  const cli: CliIo = { ...processIo(env), ...io };
  const [name, ...args] = argv;
  let command: string | undefined;
  try {
    if (name === undefined) {
      cli.stderr.write(`${usage()}\n`);
      return 2;
    }
    if (VERSION_WORDS.has(name)) {
      cli.stdout.write(`${cliVersion()}\n`);
      return 0;
    }
    if (HELP_WORDS.has(name)) {
      // `help <command>` is `<command> --help`.
      const [topic] = args;
      if (topic === undefined || HELP_WORDS.has(topic)) {
        cli.stdout.write(`${usage()}\n`);
        return 0;
      }
      return await main([topic, "--help"], env, io);
    }
    const selected = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!selected) throw unknownCommand(name);
    command = name;
    return await runCommand(name, selected, args, cli);
  } catch (err) {
    // Anything else is a bug: its stack trace goes out as it is.
    if (!(err instanceof ArchiverError)) throw err;
    const rule = ruleFor(err);
    cli.stderr.write(`atlas-audit-archiver: ${describeError(err, flagName)}\n`);
    if (rule.usageHint) cli.stderr.write(`${usageHint(command)}\n`);
    return rule.exitStatus;
  }
}

/** The refusal of a first word that is no command: the closest commands, or where options go. */
function unknownCommand(name: string) {
  const shown = JSON.stringify(name.slice(0, 64));
  if (name.startsWith("-")) {
    return usageError(
      "command",
      () =>
        `Unknown option ${shown}: the first word is a command (options come after it), or --help or --version.`,
    );
  }
  return usageError("command", () => `Unknown command ${shown}.${didYouMean(name, Object.keys(COMMANDS))}`);
}
