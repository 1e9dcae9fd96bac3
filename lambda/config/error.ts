import { ArchiverError, type ErrorContext } from "../errors";

/** What a configuration error names: the file. */
export interface ConfigErrorContext extends ErrorContext {
  /** The parameter file (or the variable) the error is about. */
  readonly file?: string;
}

/** One thing wrong with the parameter file. */
export interface ConfigProblem {
  /** JSON path of the offending value, e.g. `$.workspaces[1].groupId` (`$` for the whole file). */
  readonly path: string;
  /** The offending value as found in the file (absent when the key is missing). */
  readonly value?: unknown;
  /** What is allowed, e.g. `must be 1 to 64 letters, digits, "-" or "_"`. */
  readonly message: string;
  /** 1-based line of a JSON syntax error. */
  readonly line?: number;
  /** 1-based column of a JSON syntax error. */
  readonly column?: number;
}

/**
 * `CONFIG_INVALID`: the file breaks rules; `CONFIG_MALFORMED_JSON`: not JSON; `CONFIG_UNREADABLE`:
 * cannot be read; `CONFIG_TOO_LARGE`: more than 4 MiB.
 */
export type ConfigErrorCode =
  | "CONFIG_INVALID"
  | "CONFIG_MALFORMED_JSON"
  | "CONFIG_UNREADABLE"
  | "CONFIG_TOO_LARGE";

/**
 * The parameter file cannot be used (kind `setup`); the message lists every problem at once.
 *
 * @example
 * ```ts
 * try { await loadConfig("config/workspaces.json"); } catch (e) {
 *   if (e instanceof ConfigError) for (const p of e.problems) console.error(p.path, p.message);
 * }
 * ```
 */
export class ConfigError extends ArchiverError<ConfigErrorContext> {
  declare readonly code: ConfigErrorCode;
  readonly problems: readonly ConfigProblem[];

  constructor(
    code: ConfigErrorCode,
    message: string,
    options: ConfigErrorContext & {
      readonly cause?: unknown;
      readonly problems?: readonly ConfigProblem[];
    } = {},
  ) {
    const { problems = [], ...rest } = options;
    super(code, message, { ...rest, kind: "setup" });
    this.problems = Object.freeze(problems.map((p) => Object.freeze({ ...p })));
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), problems: this.problems };
  }
}
