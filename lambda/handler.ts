/**
 * The Lambda shell: reads the bundled parameter file and the Atlas secret, runs the archive with a
 * deadline before the invocation's timeout, logs the summary, emits metrics, and fails the
 * invocation when any window failed.
 */
import type { Context } from "aws-lambda";
import { type ArchiveRunRequest, archiveRun, type RunSummary } from "./archive/run";
import { HANDLER_ENVIRONMENT } from "./config";
import { ArchiverError } from "./errors";
import { runMetrics, setupFailureMetrics } from "./metrics";
import { createRuntime, type Runtime } from "./runtime";
import {
  deadlineMargin,
  eventRange,
  type FunctionSetup,
  functionSetup,
  log,
  positiveNumber,
  required,
  writeMetrics,
} from "./shell";

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

/** What is built once per container and reused by warm invocations. */
interface State extends FunctionSetup {
  readonly runtime: Runtime;
}

let state: State | undefined;

function init(): State {
  return {
    ...functionSetup(),
    runtime: createRuntime({ secretId: required(HANDLER_ENVIRONMENT.secretArn) }, process.env),
  };
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
  const range = eventRange(event);

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
