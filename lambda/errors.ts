/**
 * The one error model of the archiver: one base class, four kinds, and the one table that says
 * what each kind means for a caller (exit status, whether to keep asking for a workspace).
 *
 * Every error the archiver throws on purpose is an {@link ArchiverError}: it has a stable
 * machine-readable `code`, its {@link ErrorKind}, the context of its area (set by the subclass:
 * Atlas status and error code, S3 key, parameter file, input field) and the original `cause`.
 * Messages name the failing value and say what to do; they never contain a secret.
 */

/**
 * What kind of problem an error is, which decides what the caller does with it (see {@link ERROR_KINDS}):
 * - `usage`: how the archiver was called (a flag, an event field, a range): fix the call;
 * - `setup`: the deployment or its surroundings (parameter file, credentials, roles, bucket, permissions);
 * - `transient`: a failure that the same request may not meet again (5xx, 429, network, timeout, a bad body);
 * - `permanent`: this window's request cannot succeed as made (an object at its key that is not its
 *   archive, a log too large for S3): asking again unchanged is pointless, the other windows are not affected.
 */
export type ErrorKind = "usage" | "setup" | "transient" | "permanent";

/** What an {@link ErrorKind} means for the command line, the run and its retries. */
export interface ErrorKindRule {
  /** The command line's exit status when an error of this kind stops a command. */
  readonly exitStatus: 1 | 2;
  /** Whether the rest of a workspace's windows in this run fail with it instead of being asked for. */
  readonly stopsWorkspace: boolean;
  /** Whether asking again later, unchanged, may succeed. */
  readonly retryable: boolean;
  /** Whether the command line adds its "--help for usage" hint. */
  readonly usageHint: boolean;
}

/** The one table: every decision taken on an error's kind is read from here. */
export const ERROR_KINDS: Readonly<Record<ErrorKind, ErrorKindRule>> = {
  usage: { exitStatus: 2, stopsWorkspace: true, retryable: false, usageHint: true },
  setup: { exitStatus: 2, stopsWorkspace: true, retryable: false, usageHint: false },
  transient: { exitStatus: 1, stopsWorkspace: false, retryable: true, usageHint: false },
  permanent: { exitStatus: 1, stopsWorkspace: false, retryable: false, usageHint: false },
};

/** The rule for `err`: its kind's, or `transient`'s for an error the archiver did not raise on purpose. */
export function ruleFor(err: unknown): ErrorKindRule {
  return ERROR_KINDS[err instanceof ArchiverError ? err.kind : "transient"];
}

/** What every error may name: the workspace and window it concerns. Areas add their own fields. */
export interface ErrorContext {
  /** The workspace as `groupId/tenantName[/spName]`. */
  readonly workspace?: string;
  /** The window as `startISO/endISO`. */
  readonly window?: string;
}

/** Options of the {@link ArchiverError} constructor: the area's context, the kind and the cause. */
export type ArchiverErrorOptions<C extends ErrorContext = ErrorContext> = C & {
  readonly kind: ErrorKind;
  readonly cause?: unknown;
};

/**
 * Base class of every error the archiver raises on purpose.
 *
 * @example
 * ```ts
 * try { await run(); } catch (e) {
 *   if (e instanceof ArchiverError) console.error(`${e.code} (${e.kind}): ${e.message}`);
 * }
 * ```
 */
export abstract class ArchiverError<C extends ErrorContext = ErrorContext> extends Error {
  /** Stable identifier for programs and alarms, e.g. `ATLAS_UNAUTHORIZED`. Never changes wording. */
  readonly code: string;
  readonly kind: ErrorKind;
  readonly context: Readonly<C>;

  constructor(code: string, message: string, options: ArchiverErrorOptions<C>) {
    const { cause, kind, ...context } = options;
    super(message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    this.code = code;
    this.kind = kind;
    this.context = context as unknown as C;
  }

  /** Whether asking again later, unchanged, may succeed (from {@link ERROR_KINDS}). */
  get retryable(): boolean {
    return ERROR_KINDS[this.kind].retryable;
  }

  /** A JSON-safe view for logs and run summaries (no stack, no cause chain beyond its message). */
  toJSON(): Record<string, unknown> {
    const cause = this.cause instanceof Error ? this.cause.message : undefined;
    return {
      name: this.name,
      code: this.code,
      kind: this.kind,
      message: this.message,
      ...this.context,
      cause,
    };
  }
}

/** How a caller names the values it was given: `--from` on the command line, `event field "from"` in Lambda. */
export type FieldNamer = (field: string) => string;

/** The names the core uses when no caller renders them: the field's own name, quoted. */
export const PLAIN_FIELD_NAMES: FieldNamer = (field) => `"${field}"`;

/** Context of an {@link InputError}: which input field, and the value given. */
export interface InputErrorContext extends ErrorContext {
  /** The input's neutral name (`from`, `to`, `now`, `group`, ...): rendered by the caller. */
  readonly field: string;
  /** The value as given, when there was one. */
  readonly value?: string;
}

/**
 * A value the caller gave (a command-line flag, a Lambda event field) that cannot be used. The
 * core knows the field, not how the caller spells it: `describe(namer)` renders the message with
 * the caller's names, `message` with `namer` (default {@link PLAIN_FIELD_NAMES}).
 *
 * @example
 * ```ts
 * const e = new InputError("RANGE_INVALID", { field: "from", value: "x" }, (n) => `${n("from")} "x" is not a date.`);
 * e.describe((f) => `--${f}`); // '--from "x" is not a date.'
 * ```
 */
export class InputError extends ArchiverError<InputErrorContext> {
  /** The message with the caller's names for the fields. */
  readonly describe: (namer: FieldNamer) => string;

  constructor(
    code: string,
    context: InputErrorContext & { readonly cause?: unknown },
    describe: (namer: FieldNamer) => string,
    namer: FieldNamer = PLAIN_FIELD_NAMES,
  ) {
    super(code, describe(namer), { ...context, kind: "usage" });
    this.describe = describe;
  }
}

/** The message of `err` with the caller's field names when it is an {@link InputError}. */
export function describeError(err: Error, namer: FieldNamer): string {
  return err instanceof InputError ? err.describe(namer) : err.message;
}
