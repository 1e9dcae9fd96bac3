/**
 * The shape of a command module (`bin/cli/commands/*.ts`): its options for `node:util.parseArgs`,
 * its help, and `run(values, io)`. The dispatcher parses the arguments, answers `--help`, and
 * hands the values to `run`; the helpers here are what every command needs to refuse its input.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { type FieldNamer, InputError } from "../../lambda/errors";
import { parseInstant } from "../../lambda/range";
import type { CliIo } from "./io";

/** The options of a command, as `parseArgs` takes them. */
export type CommandOptions = NonNullable<ParseArgsConfig["options"]>;

/** The values `parseArgs` returns for `O` (strict, no positionals). */
export type OptionValues<O extends CommandOptions> = ReturnType<
  typeof parseArgs<{ options: O; strict: true; allowPositionals: false }>
>["values"];

/**
 * Options that each take a string value, e.g. `stringOptions("group", "from")` for
 * `{ group: { type: "string" }, from: { type: "string" } }`.
 */
export function stringOptions<const K extends string>(
  ...names: K[]
): { readonly [P in K]: { readonly type: "string" } } {
  return Object.fromEntries(names.map((name) => [name, { type: "string" }])) as {
    readonly [P in K]: { readonly type: "string" };
  };
}

/** `--json`: print the result as one JSON object on stdout. */
export const JSON_OPTION = { json: { type: "boolean" } } as const;

/** What a command module exports. */
export interface CommandModule<O extends CommandOptions> {
  /** One line for the command list of `atlas-audit-archiver --help`. */
  readonly summary: string;
  /** Its options, `--help` excepted (the dispatcher adds it). */
  readonly options: O;
  /** What `atlas-audit-archiver <command> --help` prints. */
  readonly help: string;
  /** Runs the command; resolves to the exit status (errors are reported by the dispatcher). */
  run(values: OptionValues<O>, io: CliIo): Promise<number>;
}

/** The command line's names for the core's fields: `from` is `--from`. */
export const flagName: FieldNamer = (field) => `--${field}`;

/**
 * A refusal of how the command was called (kind `usage`: exit 2, with the usage hint).
 *
 * @example
 * ```ts
 * throw usageError("group", (n) => `ls needs ${n("group")} G.`); // "ls needs --group G."
 * ```
 */
export function usageError(field: string, describe: (namer: FieldNamer) => string): InputError {
  return new InputError("CLI_USAGE", { field }, describe);
}

/** `value`, or a refusal saying that `command` needs `--field WHAT`. */
export function required<T>(value: T | undefined, field: string, what: string, command: string): T {
  if (value === undefined) throw usageError(field, (n) => `${command} needs ${n(field)} ${what}.`);
  return value;
}

/** Whether `err` is `parseArgs`'s refusal of the arguments (an unknown option, a missing value). */
function isParseArgsError(err: unknown): err is TypeError {
  return err instanceof TypeError && String((err as { code?: unknown }).code).startsWith("ERR_PARSE_ARGS");
}

/**
 * Parses `args` for a command with `options` and `--help`.
 *
 * @throws {InputError} `CLI_USAGE` with `parseArgs`'s message for arguments it refuses
 */
export function parseCommandArgs<O extends CommandOptions>(
  options: O,
  args: readonly string[],
): OptionValues<O> & { readonly help?: boolean } {
  try {
    const { values } = parseArgs({
      args: [...args],
      options: { ...options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    });
    return values as OptionValues<O> & { readonly help?: boolean };
  } catch (err) {
    if (!isParseArgsError(err)) throw err;
    throw new InputError("CLI_USAGE", { field: "arguments", cause: err }, () => err.message);
  }
}

/** `--now`: an ISO 8601 instant with its zone (see lambda/range.ts), or the clock's time. */
export function parseNow(value: string | undefined, io: CliIo): number {
  return value === undefined ? io.now() : parseInstant(value, "now");
}
