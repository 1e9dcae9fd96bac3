/**
 * The planner function: on its schedule (or a backfill event `{"from": …, "to": …}`), it plans
 * the run (every workspace listed once, the expired windows counted) and sends every missing
 * window to the queue (`queue/planner.ts`). It never downloads and needs no Atlas credentials.
 * Not deployed yet: the stack still runs the scheduled function of `handler.ts`.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { Context } from "aws-lambda";
import { DEFAULT_RUN_SETTINGS } from "./archive/run";
import { HANDLER_ENVIRONMENT, RUN_METRICS } from "./config";
import { invocationMetrics } from "./metrics";
import { type PlannerSummary, planAndEnqueue } from "./queue/planner";
import { s3ClientFor } from "./runtime";
import * as shell from "./shell";

/** Workspaces listed at once. */
const LIST_CONCURRENCY = 16;

interface State extends shell.FunctionSetup {
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly lanesPerProject: number;
  readonly runIntervalMinutes: number | undefined;
}

/** A planner handler with its own warm state (the module's `handler` is one; tests make their own). */
export function createPlannerHandler(): (event: unknown, context: Context) => Promise<PlannerSummary> {
  let state: State | undefined;
  return async (event, context) => {
    state ??= init();
    const { config, namespace } = state;
    const range = shell.eventRange(event);
    const nowMs = Date.now();
    const remaining = context.getRemainingTimeInMillis();
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
      lanesPerProject: state.lanesPerProject,
      signal: AbortSignal.timeout(Math.max(1, remaining - shell.deadlineMargin(remaining))),
      onEvent: (e) => {
        if (e.type === "failed" || e.type === "expired") shell.log("error", e.type, { ...e });
      },
    });
    shell.log(summary.failed > 0 ? "error" : summary.deferred > 0 ? "warn" : "info", "plan summary", {
      summary,
    });
    shell.writeMetrics(
      invocationMetrics(
        namespace,
        process.env.AWS_LAMBDA_FUNCTION_NAME ?? "local",
        Date.now(),
        context.awsRequestId,
        {
          [RUN_METRICS.windowsExpired]: summary.expired,
          [RUN_METRICS.windowsFailed]: summary.failed,
          [RUN_METRICS.windowsDeferred]: summary.deferred,
          [RUN_METRICS.backlogWindows]: summary.enqueued,
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
    queueUrl: shell.required(HANDLER_ENVIRONMENT.queueUrl),
    lanesPerProject:
      shell.positiveNumber(process.env[HANDLER_ENVIRONMENT.lanesPerProject]) ??
      DEFAULT_RUN_SETTINGS.lanesPerProject,
    runIntervalMinutes: shell.positiveNumber(process.env[HANDLER_ENVIRONMENT.runIntervalMinutes]),
  };
}

/** The planner function's entry point (the schedule's target, or a manual backfill). */
export const handler = createPlannerHandler();
