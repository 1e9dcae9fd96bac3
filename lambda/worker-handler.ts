/**
 * The worker function: an SQS event source hands it a batch of window messages; it archives each
 * (the queue's worker core, `queue/worker.ts`) and answers which failed, so SQS redelivers only
 * those (and moves one that keeps failing to the dead-letter queue). Each failure is one log line
 * naming the workspace, window, reason and receive count; the last one before the dead-letter
 * queue says so ("window dead-lettered") and counts in `WindowsDeadLettered`.
 *
 * Invoked by hand with `{"doctor": true}`, it checks its own setup instead (`lambda/doctor`: the
 * bundled configuration, the secret's credentials, each workspace, the access list from its own
 * egress address, the bucket, write permission under the prefix) and answers the report. It
 * holds no digest key (the planner signs), so that check is skipped.
 */
import { SQSClient } from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { INVALID_OBJECT_CODES } from "./bucket/errors";
import { DEFAULT_UPLOAD_SETTINGS } from "./bucket/multipart";
import { HANDLER_ENVIRONMENT, RUN_METRICS } from "./config";
import { configFailureReport, type DoctorReport, runDoctor } from "./doctor";
import { ArchiverError } from "./errors";
import { invocationMetrics } from "./metrics";
import { handleBatch } from "./queue/worker";
import { createRuntime, type Runtime } from "./runtime";
import { boundedRequestHandler } from "./s3-client";
import {
  deadlineMargin,
  type FunctionSetup,
  functionSetup,
  log,
  positiveNumber,
  required,
  writeMetrics,
} from "./shell";

/** Groups of a batch worked on at once. */
const GROUP_CONCURRENCY = 4;
/** The delay of a message Atlas rate-limited without saying for how long. */
const RATE_LIMIT_DELAY_SECONDS = 60;

interface State extends FunctionSetup {
  readonly runtime: Runtime;
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly maxReceiveCount: number | undefined;
}

/** A manual invocation that asks the worker to check its setup. */
export interface DoctorEvent {
  readonly doctor: true;
}

/** Whether `event` is `{"doctor": true}` (an SQS event has `Records`). */
function isDoctorEvent(event: unknown): event is DoctorEvent {
  return typeof event === "object" && event !== null && (event as { doctor?: unknown }).doctor === true;
}

/** What the worker answers: SQS's partial batch response, or a doctor's report. */
export type WorkerHandler = {
  (event: SQSEvent, context: Context): Promise<SQSBatchResponse>;
  (event: DoctorEvent, context: Context): Promise<DoctorReport>;
  (event: SQSEvent | DoctorEvent, context: Context): Promise<SQSBatchResponse | DoctorReport>;
};

/** The worker's own checks, bounded by the invocation's remaining time as well as their own bounds. */
async function doctor(current: () => State): Promise<DoctorReport> {
  const subject = `bundled configuration of ${process.env.AWS_LAMBDA_FUNCTION_NAME ?? "the worker"}`;
  let state: State;
  try {
    state = current();
  } catch (err) {
    const report = configFailureReport(subject, err);
    log("error", "doctor", { ...report });
    return report;
  }
  const report = await runDoctor({
    configSubject: subject,
    loadConfig: () => state.config,
    bucket: state.bucket,
    credentials: () => state.runtime.credentials,
    dispatcher: state.runtime.dispatcher,
    s3: state.runtime.s3,
    digestKey: {
      absent:
        "the worker holds no digest key and may not sign (the planner seals the digests); check the key with " +
        "atlas-audit-archiver doctor --digest-key ARN",
    },
    nowMs: Date.now(),
  });
  log(report.ok ? "info" : "error", "doctor", { ...report });
  return report;
}

/** A worker handler with its own warm state (the module's `handler` is one; tests make their own). */
export function createWorkerHandler(): WorkerHandler {
  let state: State | undefined;
  const handler = async (event: SQSEvent | DoctorEvent, context: Context) => {
    if (isDoctorEvent(event)) return doctor(() => (state ??= init()));
    state ??= init();
    const { config, bucket, runtime, sqs, queueUrl, namespace, maxReceiveCount } = state;
    const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME ?? "local";
    const remaining = context.getRemainingTimeInMillis();
    const deadlineMs = Date.now() + remaining - deadlineMargin(remaining);
    const signal = AbortSignal.timeout(Math.max(1, deadlineMs - Date.now()));
    const atlas = runtime.atlasClient(config, (e) => log("warn", "retrying Atlas", { ...e }));
    try {
      await atlas.prepare(signal);
    } catch (err) {
      // Unusable credentials: the invocation fails (Lambda's Errors metric, the errors alarm) and
      // every message of the batch comes back after the queue's visibility timeout.
      const error =
        err instanceof ArchiverError ? err.toJSON() : { code: "HANDLER_SETUP_FAILED", message: String(err) };
      log("error", "worker could not start", { error, messages: event.Records.length });
      writeMetrics(
        invocationMetrics(namespace, functionName, Date.now(), context.awsRequestId, {
          [RUN_METRICS.setupFailures]: 1,
        }),
      );
      throw err;
    }
    const result = await handleBatch(event.Records, {
      config,
      bucket,
      atlas,
      s3: runtime.s3,
      runId: context.awsRequestId,
      upload: DEFAULT_UPLOAD_SETTINGS,
      signal,
      deadlineMs,
      sqs,
      queueUrl,
      concurrency: GROUP_CONCURRENCY,
      rateLimitDelaySeconds: RATE_LIMIT_DELAY_SECONDS,
      ...(maxReceiveCount === undefined ? {} : { maxReceiveCount }),
    });
    const count = (status: string) => result.outcomes.filter((o) => o.status === status).length;
    let deadLettered = 0;
    let invalid = 0;
    let bytes = 0;
    let receiptFailures = 0;
    for (const outcome of result.outcomes) {
      if (outcome.status === "archived") {
        bytes += outcome.bytes;
        if (outcome.receiptFailure) receiptFailures++;
        log(outcome.receiptFailure ? "error" : "info", "window archived", { ...outcome });
      }
      if (outcome.status === "failed" && INVALID_OBJECT_CODES.has(outcome.failure.code)) invalid++;
      if ("deadLettered" in outcome && outcome.deadLettered) {
        deadLettered++;
        log("error", "window dead-lettered", { ...outcome });
      } else if (outcome.status === "failed") log("error", "window failed", { ...outcome });
      else if (outcome.status === "delayed") log("warn", "window delayed", { ...outcome });
    }
    writeMetrics(
      invocationMetrics(namespace, functionName, Date.now(), context.awsRequestId, {
        [RUN_METRICS.windowsArchived]: count("archived"),
        [RUN_METRICS.windowsAlreadyPresent]: count("already-present"),
        [RUN_METRICS.windowsFailed]: count("failed"),
        [RUN_METRICS.windowsDeferred]: count("delayed") + count("not-tried"),
        [RUN_METRICS.windowsInvalid]: invalid,
        [RUN_METRICS.bytesArchived]: bytes,
        [RUN_METRICS.windowsDeadLettered]: deadLettered,
        [RUN_METRICS.digestFailures]: receiptFailures,
      }),
    );
    return { batchItemFailures: result.batchItemFailures };
  };
  return handler as WorkerHandler;
}

function init(): State {
  return {
    ...functionSetup(),
    runtime: createRuntime({ secretId: required(HANDLER_ENVIRONMENT.secretArn) }, process.env),
    sqs: new SQSClient({ requestHandler: boundedRequestHandler() }),
    queueUrl: required(HANDLER_ENVIRONMENT.queueUrl),
    maxReceiveCount: positiveNumber(process.env[HANDLER_ENVIRONMENT.maxReceiveCount]),
  };
}

/** The worker function's entry point (an SQS event source with partial batch responses). */
export const handler = createWorkerHandler();
