/**
 * The Lambda shell: reads the bundled parameter file and the Atlas secret, runs the archive with a
 * deadline before the invocation's timeout, logs the summary, emits metrics, and fails the
 * invocation when any window failed.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Context } from "aws-lambda";
import { type ArchiveRunRequest, archiveRun, type RunSummary } from "./archive/run";
import {
  type ArchiverConfig,
  BUNDLED_CONFIG_FILE,
  ConfigError,
  DEFAULT_METRICS_NAMESPACE,
  HANDLER_ENVIRONMENT,
  parseBundledConfig,
} from "./config";
import { ArchiverError, InputError } from "./errors";
import { runMetrics, setupFailureMetrics } from "./metrics";
import { parseBoundary } from "./range";
import { createRuntime, type Runtime } from "./runtime";

/** The invocation ended with failed windows: the message says how many; `summary` has each one. */
export class RunFailedError extends ArchiverError {
  constructor(readonly summary: RunSummary) {
    const failed = summary.workspaces.flatMap((w) =>
      w.failed.map((f) => `${w.workspace} ${f.window}: ${f.code}`),
    );
    super(
      "RUN_FAILED",
      `${summary.totals.failed} window(s) failed in run ${summary.runId} (the next run retries them): ` +
        `${failed.slice(0, 10).join("; ")}${failed.length > 10 ? `; and ${failed.length - 10} more` : ""}`,
      { kind: "transient" },
    );
  }
}

/** The function's environment or bundle is not what the stack deploys (kind `setup`): redeploy. */
export class HandlerMisconfiguredError extends ArchiverError {
  constructor(message: string) {
    super("HANDLER_MISCONFIGURED", message, { kind: "setup" });
  }
}

/** How the Lambda event's fields are named in messages. */
const eventField = (field: string) => `Event field "${field}"`;

/** What is built once per container and reused by warm invocations. */
interface State {
  readonly config: ArchiverConfig;
  readonly bucket: string;
  readonly runtime: Runtime;
  readonly namespace: string;
}

let state: State | undefined;

function required(name: string): string {
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
function bundledConfig(): ArchiverConfig {
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

function init(): State {
  const config = bundledConfig();
  const bucket = process.env[HANDLER_ENVIRONMENT.bucket] ?? config.archive.bucket;
  if (!bucket) {
    throw new HandlerMisconfiguredError("No bucket: set ARCHIVE_BUCKET or archive.bucket, and redeploy.");
  }
  return {
    config,
    bucket,
    runtime: createRuntime({ secretId: required(HANDLER_ENVIRONMENT.secretArn) }),
    namespace: process.env[HANDLER_ENVIRONMENT.metricsNamespace] ?? DEFAULT_METRICS_NAMESPACE,
  };
}

/**
 * Time kept free at the end of an invocation: at `timeout − margin` the run stops, aborting the
 * work in flight (its uploads are aborted, bounded at 10 s each), and the summary and metrics are
 * written. Two minutes, or a quarter of the time left when that is short.
 */
function deadlineMargin(remainingMs: number): number {
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
function positiveNumber(value: string | undefined): number | undefined {
  const n = Number(value);
  return value !== undefined && Number.isFinite(n) && n > 0 ? n : undefined;
}

function log(level: "info" | "warn" | "error", message: string, fields: Record<string, unknown> = {}): void {
  console[level](JSON.stringify({ message, ...fields }));
}

/** Writes one EMF line straight to stdout. */
function writeMetrics(document: Record<string, unknown>): void {
  // Straight to stdout: with Lambda's JSON log format, console output is wrapped in an envelope
  // that CloudWatch would not recognise as EMF.
  process.stdout.write(`${JSON.stringify(document)}\n`);
}

/**
 * The Lambda entry point, invoked by the EventBridge schedule, or by hand for a backfill with
 * `aws lambda invoke --payload '{"from":"…","to":"…"}'` (instants with their zone, or dates: a `to`
 * date is included, as on the command line).
 */
export async function handler(event: unknown, context: Context): Promise<RunSummary> {
  state ??= init();
  const { config, bucket, runtime, namespace } = state;
  const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME ?? "local";
  const manual = (event && typeof event === "object" ? event : {}) as Record<string, unknown>;
  const fromMs = eventBoundary(manual, "from");
  const toMs = eventBoundary(manual, "to");
  if ((fromMs === undefined) !== (toMs === undefined)) {
    throw badEvent(
      fromMs === undefined ? "from" : "to",
      (n) => `A backfill needs both ${n("from")} and ${n("to")} (ISO dates).`,
    );
  }
  const range = fromMs !== undefined && toMs !== undefined ? { fromMs, toMs } : undefined;

  const startedAt = Date.now();
  const runIntervalMinutes = positiveNumber(process.env[HANDLER_ENVIRONMENT.runIntervalMinutes]);
  const remaining = context.getRemainingTimeInMillis();
  const deadlineMs = startedAt + remaining - deadlineMargin(remaining);
  const atlas = runtime.atlasClient(config, (e) => log("warn", "retrying Atlas", { ...e }));

  // Credentials first: an unreadable or refused secret is one clear error, not one per window.
  try {
    await atlas.prepare(AbortSignal.timeout(Math.max(1, deadlineMs - Date.now())));
  } catch (err) {
    const error =
      err instanceof ArchiverError ? err.toJSON() : { code: "HANDLER_SETUP_FAILED", message: String(err) };
    log("error", "run could not start", { error });
    writeMetrics(setupFailureMetrics(namespace, functionName, Date.now(), context.awsRequestId));
    throw err;
  }

  const request: ArchiveRunRequest = {
    config,
    bucket,
    atlas,
    s3: runtime.s3,
    nowMs: startedAt,
    runId: context.awsRequestId,
    ...(range ? { range } : {}),
    deadlineMs,
    ...(range || runIntervalMinutes === undefined
      ? {}
      : { previousRunMs: startedAt - runIntervalMinutes * 60_000 }),
    onEvent: (e) => log(e.type === "failed" || e.type === "expired" ? "error" : "info", e.type, { ...e }),
  };
  const summary = await archiveRun(request);
  log(summary.ok ? "info" : "error", "run summary", { summary });
  writeMetrics(runMetrics(summary, namespace, functionName, Date.now()));
  if (!summary.ok) throw new RunFailedError(summary);
  return summary;
}
