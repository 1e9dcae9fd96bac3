/**
 * The planner function: on its schedule (or a backfill event `{"from": …, "to": …}`), it plans
 * the run (every workspace listed once, the expired windows counted) and sends every missing
 * window to the queue (`queue/planner.ts`). It never downloads and needs no Atlas credentials.
 *
 * A backfill too long for one invocation goes on by itself: before its deadline the planner
 * invokes itself asynchronously with the rest of the range (`{"from", "to", "part"}`), so a year
 * of thousands of workspaces is enqueued without anyone invoking anything again. A continuation
 * Lambda could not deliver (after its two retries) lands in the failed-runs queue, with its range.
 */

import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import type { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { Context } from "aws-lambda";
import { DEFAULT_RUN_SETTINGS } from "./archive/run";
import { INVALID_OBJECT_CODES } from "./bucket/errors";
import { HANDLER_ENVIRONMENT, RUN_METRICS } from "./config";
import { invocationMetrics } from "./metrics";
import { type PlannerSummary, planAndEnqueue } from "./queue/planner";
import { s3ClientFor } from "./runtime";
import * as shell from "./shell";
import { formatInstantExact } from "./windows";

/** Workspaces listed at once. */
const LIST_CONCURRENCY = 16;

interface State extends shell.FunctionSetup {
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly lambda: LambdaClient;
  readonly queueUrl: string;
  readonly lanesPerProject: number;
  readonly runIntervalMinutes: number | undefined;
}

/** What a test may set of a planner handler. */
export interface PlannerHandlerOptions {
  /** Windows planned at once. @default `DEFAULT_SLICE_WINDOWS` of `queue/planner.ts` */
  readonly sliceWindows?: number;
}

/** A planner handler with its own warm state (the module's `handler` is one; tests make their own). */
export function createPlannerHandler(
  options: PlannerHandlerOptions = {},
): (event: unknown, context: Context) => Promise<PlannerSummary> {
  let state: State | undefined;
  return async (event, context) => {
    state ??= init();
    const { config, namespace } = state;
    const range = shell.eventRange(event);
    const part = eventPart(event);
    const nowMs = Date.now();
    const remaining = context.getRemainingTimeInMillis();
    const margin = shell.deadlineMargin(remaining);
    let invalid = 0;
    const summary = await planAndEnqueue({
      config,
      bucket: state.bucket,
      s3: state.s3,
      sqs: state.sqs,
      queueUrl: state.queueUrl,
      nowMs,
      ...(range ? { range } : {}),
      ...(range || state.runIntervalMinutes === undefined
        ? {}
        : { previousRunMs: nowMs - state.runIntervalMinutes * 60_000 }),
      concurrency: LIST_CONCURRENCY,
      ...(options.sliceWindows === undefined ? {} : { sliceWindows: options.sliceWindows }),
      lanesPerProject: state.lanesPerProject,
      signal: AbortSignal.timeout(Math.max(1, remaining - margin)),
      // Slices stop a little earlier than the signal, leaving time to hand the rest on.
      deadlineMs: nowMs + remaining - 2 * margin,
      onEvent: (e) => {
        if (e.type === "failed" && INVALID_OBJECT_CODES.has(e.code)) invalid++;
        if (e.type === "failed" || e.type === "expired") shell.log("error", e.type, { ...e });
      },
    });
    shell.log(summary.failed > 0 ? "error" : summary.deferred > 0 ? "warn" : "info", "plan summary", {
      summary,
      ...(range ? { part } : {}),
    });
    if (summary.next) await continueBackfill(state.lambda, summary, part + 1);
    shell.writeMetrics(
      invocationMetrics(
        namespace,
        process.env.AWS_LAMBDA_FUNCTION_NAME ?? "local",
        Date.now(),
        context.awsRequestId,
        {
          [RUN_METRICS.windowsExpired]: summary.expired,
          [RUN_METRICS.windowsFailed]: summary.failed,
          [RUN_METRICS.windowsInvalid]: invalid,
          [RUN_METRICS.windowsDeferred]: summary.deferred,
          [RUN_METRICS.backlogWindows]: summary.enqueued,
          [RUN_METRICS.backfillWindowsLeft]: summary.windowsLeft,
        },
      ),
    );
    return summary;
  };
}

function init(): State {
  return {
    ...shell.functionSetup(),
    s3: s3ClientFor(process.env),
    sqs: new SQSClient({}),
    lambda: new LambdaClient({}),
    queueUrl: shell.required(HANDLER_ENVIRONMENT.queueUrl),
    lanesPerProject:
      shell.positiveNumber(process.env[HANDLER_ENVIRONMENT.lanesPerProject]) ??
      DEFAULT_RUN_SETTINGS.lanesPerProject,
    runIntervalMinutes: shell.positiveNumber(process.env[HANDLER_ENVIRONMENT.runIntervalMinutes]),
  };
}

/** Which invocation of a backfill this is: the event's `part`, 1 for the first. */
function eventPart(event: unknown): number {
  const part = (event as { part?: unknown } | null)?.part;
  return typeof part === "number" && Number.isSafeInteger(part) && part > 0 ? part : 1;
}

/**
 * Invokes this function asynchronously with the rest of the range. Lambda queues the event and
 * retries its delivery; if the invocation itself cannot be made, the error fails this one, whose
 * own retries plan its range again (the windows already sent cost one HEAD each).
 */
async function continueBackfill(lambda: LambdaClient, summary: PlannerSummary, part: number): Promise<void> {
  const next = summary.next as NonNullable<PlannerSummary["next"]>;
  const event = { from: formatInstantExact(next.fromMs), to: formatInstantExact(next.toMs), part };
  shell.log("info", "backfill continues", { ...event, windowsLeft: summary.windowsLeft });
  await lambda.send(
    new InvokeCommand({
      FunctionName: shell.required("AWS_LAMBDA_FUNCTION_NAME"),
      InvocationType: "Event",
      Payload: new TextEncoder().encode(JSON.stringify(event)),
    }),
  );
}

/** The planner function's entry point (the schedule's target, or a manual backfill). */
export const handler = createPlannerHandler();
