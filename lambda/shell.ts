/**
 * What every Lambda function of the archiver shares: the bundled configuration, the environment
 * the stack sets, the deadline before the timeout, a backfill event's range, and one JSON log and
 * EMF line at a time.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type ArchiverConfig,
  BUNDLED_CONFIG_FILE,
  ConfigError,
  DEFAULT_METRICS_NAMESPACE,
  HANDLER_ENVIRONMENT,
  parseBundledConfig,
} from "./config";
import { ArchiverError, InputError } from "./errors";
import { parseBoundary } from "./range";

/** The function's environment or bundle is not what the stack deploys (kind `setup`): redeploy. */
export class HandlerMisconfiguredError extends ArchiverError {
  constructor(message: string) {
    super("HANDLER_MISCONFIGURED", message, { kind: "setup" });
  }
}

/** How the Lambda event's fields are named in messages. */
const eventField = (field: string) => `Event field "${field}"`;

/** A variable the stack sets, or {@link HandlerMisconfiguredError}. */
export function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new HandlerMisconfiguredError(
      `Environment variable ${name} is not set; the stack sets it, so redeploy with cdk deploy.`,
    );
  }
  return value;
}

/**
 * The configuration `cdk synth` validated and bundled. Read without the schema: parsing the
 * parameter file again would put zod (half a megabyte) into the bundle and its cold start.
 */
export function bundledConfig(): ArchiverConfig {
  const file =
    process.env[HANDLER_ENVIRONMENT.configFile] ??
    join(process.env.LAMBDA_TASK_ROOT ?? process.cwd(), BUNDLED_CONFIG_FILE);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(
      "CONFIG_UNREADABLE",
      `Bundled configuration ${file} cannot be read (${error instanceof Error ? error.message : String(error)}); ` +
        `redeploy with cdk deploy, or point ${HANDLER_ENVIRONMENT.configFile} at the bundled ${BUNDLED_CONFIG_FILE}.`,
      { file, cause: error },
    );
  }
  return parseBundledConfig(text, file);
}

/**
 * Time kept free at the end of an invocation: at `timeout − margin` the run stops, aborting the
 * work in flight (its uploads are aborted, bounded at 10 s each), and the summary and metrics are
 * written. Two minutes, or a quarter of the time left when that is short.
 */
export function deadlineMargin(remainingMs: number): number {
  return Math.min(120_000, Math.floor(remainingMs / 4));
}

/** One end of a backfill range: an ISO 8601 instant with its zone, or a date (a whole UTC day). */
function eventBoundary(event: Record<string, unknown>, field: "from" | "to"): number | undefined {
  const value = event[field];
  if (value === undefined) return undefined;
  if (typeof value !== "string") {
    throw badEvent(
      field,
      (n) =>
        `${n(field)} must be a string (an ISO 8601 instant with its zone, or a date YYYY-MM-DD), not ${typeof value}.`,
    );
  }
  try {
    return parseBoundary(value, field);
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    throw badEvent(field, err.describe, err);
  }
}

/** `HANDLER_BAD_EVENT`: an event field that cannot be used, its message rendered with the event's names. */
function badEvent(field: string, describe: InputError["describe"], cause?: unknown): InputError {
  // Lambda reports `message`: it names the event's field, not a command-line flag.
  return new InputError("HANDLER_BAD_EVENT", { field, ...(cause ? { cause } : {}) }, describe, eventField);
}

/** A positive number from an environment variable the stack sets, or undefined. */
export function positiveNumber(value: string | undefined): number | undefined {
  const n = Number(value);
  return value !== undefined && Number.isFinite(n) && n > 0 ? n : undefined;
}

/** One JSON log line. */
export function log(
  level: "info" | "warn" | "error",
  message: string,
  fields: Record<string, unknown> = {},
): void {
  console[level](JSON.stringify({ message, ...fields }));
}

/** Writes one EMF line straight to stdout. */
export function writeMetrics(document: Record<string, unknown>): void {
  // Straight to stdout: with Lambda's JSON log format, console output is wrapped in an envelope
  // that CloudWatch would not recognise as EMF.
  process.stdout.write(`${JSON.stringify(document)}\n`);
}

/**
 * The backfill range of a manual invocation's event (`{"from": …, "to": …}`), or undefined for a
 * scheduled one.
 *
 * @throws {InputError} `HANDLER_BAD_EVENT` naming the event's field
 */
export function eventRange(event: unknown): { readonly fromMs: number; readonly toMs: number } | undefined {
  const fields = (event && typeof event === "object" ? event : {}) as Record<string, unknown>;
  const fromMs = eventBoundary(fields, "from");
  const toMs = eventBoundary(fields, "to");
  if ((fromMs === undefined) !== (toMs === undefined)) {
    throw badEvent(
      fromMs === undefined ? "from" : "to",
      (n) => `A backfill needs both ${n("from")} and ${n("to")} (ISO dates).`,
    );
  }
  return fromMs !== undefined && toMs !== undefined ? { fromMs, toMs } : undefined;
}

/** What every function reads first: the bundled configuration, the bucket, the metrics namespace. */
export interface FunctionSetup {
  readonly config: ArchiverConfig;
  readonly bucket: string;
  readonly namespace: string;
}

/**
 * The bundled configuration, the bucket (`ARCHIVE_BUCKET` or the file's) and the metrics namespace.
 *
 * @throws {HandlerMisconfiguredError} when there is no bucket
 */
export function functionSetup(): FunctionSetup {
  const config = bundledConfig();
  const bucket = process.env[HANDLER_ENVIRONMENT.bucket] ?? config.archive.bucket;
  if (!bucket)
    throw new HandlerMisconfiguredError("No bucket: set ARCHIVE_BUCKET or archive.bucket, and redeploy.");
  return {
    config,
    bucket,
    namespace: process.env[HANDLER_ENVIRONMENT.metricsNamespace] ?? DEFAULT_METRICS_NAMESPACE,
  };
}
