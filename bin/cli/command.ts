/**
 * The shape of a command module (`bin/cli/commands/*.ts`): its options for `node:util.parseArgs`,
 * its help, and `run(values, io)`. The dispatcher parses the arguments, answers `--help`, and
 * hands the values to `run`; the helpers here are what every command needs to refuse its input.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { MAX_RANGE_MS } from "../../lambda/archive/plan";
import type { ArchiverConfig } from "../../lambda/config";
import { type FieldNamer, InputError } from "../../lambda/errors";
import { parseInstant, parseRange, type TimeRange } from "../../lambda/range";
import { didYouMean } from "../../lambda/suggest";
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

/**
 * The one argument a command may take besides its options: a word standing for one of its string
 * options, e.g. `completion bash` for `completion --shell bash`.
 */
export interface CommandArgument {
  /** The string option the argument is the value of. */
  readonly option: string;
  /** The values it may take. */
  readonly choices: readonly string[];
}

/** What a command module exports. */
export interface CommandModule<O extends CommandOptions> {
  /** One line for the command list of `atlas-audit-archiver --help`. */
  readonly summary: string;
  /** Its options, `--help` excepted (the dispatcher adds it). */
  readonly options: O;
  /** Its argument, if it takes one (most commands take options only). */
  readonly argument?: CommandArgument;
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
function isParseArgsError(err: unknown): err is TypeError & { readonly code: string } {
  return err instanceof TypeError && String((err as { code?: unknown }).code).startsWith("ERR_PARSE_ARGS");
}

/** The flags a command takes, as they are written: `--group`, `-h`, `--help`. */
export function commandFlags(options: CommandOptions): string[] {
  const all = { ...options, help: { type: "boolean", short: "h" } } as CommandOptions;
  return Object.entries(all).flatMap(([name, o]) => [`--${name}`, ...(o.short ? [`-${o.short}`] : [])]);
}

/** The first option in `args` that `options` does not have, as written (`--frobnicate`, `-x`). */
function unknownOption(options: CommandOptions, args: readonly string[]): string | undefined {
  const { tokens } = parseArgs({
    args: [...args],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  for (const token of tokens) {
    if (token.kind === "option" && !Object.hasOwn(options, token.name)) return token.rawName;
  }
  return undefined;
}

/** ` Did you mean --flag?` for `flag` itself when it is one of `flags`, else for the closest ones. */
function meant(flag: string, flags: readonly string[]): string {
  return flags.includes(flag) ? ` Did you mean ${flag}?` : didYouMean(flag, flags);
}

/**
 * `ls` has no option `--frobnicate`: the refusal, with the closest long flags it has. A short one
 * is often a long one written with one dash (`-group`): that is what is suggested then.
 */
function refuseOption(
  command: string,
  options: CommandOptions,
  option: string,
  args: readonly string[],
  cause: unknown,
): InputError {
  const long = commandFlags(options).filter((f) => f.startsWith("--"));
  const written = option.startsWith("--")
    ? option
    : args.find((a) => /^-[^-]/.test(a) && a.startsWith(option))?.replace(/=.*$/, "");
  const asLong = written && !written.startsWith("--") && written.length > 2 ? `-${written}` : undefined;
  const close = asLong ? meant(asLong, long) : option.startsWith("--") ? didYouMean(option, long) : "";
  const shown = asLong ? (written as string) : option;
  return new InputError(
    "CLI_USAGE",
    { field: "arguments", value: shown, cause },
    () => `Unknown option ${shown} for ${command}.${close}`,
  );
}

/** A word where `command` takes none (or a second one): the refusal, with the flag it may stand for. */
function refuseArgument(
  command: string,
  options: CommandOptions,
  word: string,
  takesOne: boolean,
): InputError {
  const shown = JSON.stringify(word.slice(0, 64));
  const long = commandFlags(options).filter((f) => f.startsWith("--"));
  const close = /^[a-z][a-z-]*$/.test(word) ? meant(`--${word}`, long) : "";
  return new InputError(
    "CLI_USAGE",
    { field: "arguments", value: word },
    () =>
      `${command} takes ${takesOne ? `one argument, not also ${shown}` : `options only, not ${shown}`}.${close}`,
  );
}

/**
 * Parses `args` for `command` with its options, its argument (if any) and `--help`.
 *
 * @throws {InputError} `CLI_USAGE` for arguments it refuses: an unknown option (with the closest
 *   ones the command has, see lambda/suggest.ts), a word where none is taken, a missing value
 * @example
 * ```ts
 * parseCommandArgs("ls", ls, ["--group", g, "--json"]); // { group: g, json: true }
 * parseCommandArgs("ls", ls, ["--grop", g]); // throws "Unknown option --grop for ls. Did you mean --group?"
 * ```
 */
export function parseCommandArgs<O extends CommandOptions>(
  command: string,
  module: { readonly options: O; readonly argument?: CommandArgument },
  args: readonly string[],
): OptionValues<O> & { readonly help?: boolean } {
  const options = { ...module.options, help: { type: "boolean", short: "h" } } as CommandOptions;
  const { argument } = module;
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: argument !== undefined });
  } catch (err) {
    if (!isParseArgsError(err)) throw err;
    const unknown = err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" ? unknownOption(options, args) : undefined;
    if (unknown !== undefined) throw refuseOption(command, module.options, unknown, args, err);
    if (err.code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
      const { positionals } = parseArgs({ args: [...args], options, strict: false, allowPositionals: true });
      throw refuseArgument(command, module.options, positionals[0] ?? "", false);
    }
    throw new InputError("CLI_USAGE", { field: "arguments", cause: err }, () => err.message);
  }
  const { values, positionals } = parsed;
  if (argument !== undefined && positionals.length > 0) {
    const [word, extra] = positionals as [string, ...string[]];
    if (extra !== undefined) throw refuseArgument(command, module.options, extra, true);
    if (values[argument.option] !== undefined && values[argument.option] !== word) {
      throw usageError(
        argument.option,
        (n) =>
          `${command} ${word} and ${n(argument.option)} ${String(values[argument.option])} disagree: give one.`,
      );
    }
    values[argument.option] = word;
  }
  if (argument !== undefined && !values.help) {
    const value = values[argument.option];
    if (typeof value === "string" && !argument.choices.includes(value)) {
      const shown = JSON.stringify(value.slice(0, 64));
      throw usageError(
        argument.option,
        () =>
          `${command} does not know ${argument.option} ${shown}: use ${argument.choices.join(" or ")}.` +
          didYouMean(value, argument.choices),
      );
    }
  }
  return values as OptionValues<O> & { readonly help?: boolean };
}

/** `--now`: an ISO 8601 instant with its zone (see lambda/range.ts), or the clock's time. */
export function parseNow(value: string | undefined, io: CliIo): number {
  return value === undefined ? io.now() : parseInstant(value, "now");
}

/** The longest `--from`/`--to` range of `run` and `plan`, in days (what `archiveRun` accepts). */
export const MAX_RUN_RANGE_DAYS = MAX_RANGE_MS / 86_400_000;

/**
 * `--from`/`--to` of `run` and `plan`: both or neither, with the readers' rules (a date is a whole
 * UTC day, a `--to` date included; an instant needs a zone), at most {@link MAX_RUN_RANGE_DAYS}
 * days, refused before anything is read or asked. `undefined` when neither is given (the lookback).
 */
export function parseRunRange(values: {
  readonly from?: string;
  readonly to?: string;
}): TimeRange | undefined {
  if (values.from === undefined && values.to === undefined) return undefined;
  return parseRange({ from: values.from, to: values.to }, { required: true, maxSpanMs: MAX_RANGE_MS });
}

/** The bucket `run` and `plan` use: `ARCHIVE_BUCKET`, else the parameter file's `archive.bucket`. */
export function runBucket(env: Readonly<Record<string, string | undefined>>, config: ArchiverConfig): string {
  const bucket = env.ARCHIVE_BUCKET || config.archive.bucket;
  if (!bucket) {
    throw usageError(
      "bucket",
      () => "No bucket: set archive.bucket in the parameter file or the ARCHIVE_BUCKET variable.",
    );
  }
  return bucket;
}
