/**
 * The planner function: on its schedule (or a backfill event `{"from": …, "to": …}`), it plans
 * the run (every workspace listed once, the expired windows counted) and sends every missing
 * window to the queue (`queue/planner.ts`). It never downloads and needs no Atlas credentials.
 *
 * A backfill too long for one invocation goes on by itself: before its deadline the planner
 * invokes itself asynchronously with the rest of the range (`{"from", "to", "part"}`), so a year
 * of thousands of workspaces is enqueued without anyone invoking anything again. A continuation
 * Lambda could not deliver (after its two retries) lands in the failed-runs queue, with its range.
 *
 * After a scheduled run's windows are enqueued, it seals the digests of the days that are
 * complete (`digest/seal.ts`), signing with the KMS key of `DIGEST_KEY_ARN`, within the same
 * deadline (what is left is sealed by the next run). A backfill's days are not sealed while it is
 * planned (their windows are not archived yet): once its queue drained, a manual event
 * `{"seal": true, "from": …, "to": …}` seals the range's complete days, and enqueues nothing.
 */

import { KMSClient } from "@aws-sdk/client-kms";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import type { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { Context } from "aws-lambda";
import { DEFAULT_RUN_SETTINGS } from "./archive/run";
import { INVALID_OBJECT_CODES } from "./bucket/errors";
import { type ArchiverConfig, HANDLER_ENVIRONMENT, RUN_METRICS } from "./config";
import { kmsSigner } from "./digest/kms";
import { type SealSummary, sealDates, sealDigests } from "./digest/seal";
import { InputError } from "./errors";
import { invocationMetrics } from "./metrics";
import { type PlannerSummary, planAndEnqueue } from "./queue/planner";
import { s3ClientFor } from "./runtime";
import { boundedRequestHandler } from "./s3-client";
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
  /** The digests' signing key, and a KMS client for it; undefined when `DIGEST_KEY_ARN` is not set. */
  readonly digests: { readonly keyArn: string; readonly kms: KMSClient } | undefined;
}

/** What a planner invocation did: its planning, and the digests it sealed (when it sealed). */
export type PlannerResult = PlannerSummary & { readonly digests?: SealSummary };

/** What a test may set of a planner handler. */
export interface PlannerHandlerOptions {
  /** Windows planned at once. @default `DEFAULT_SLICE_WINDOWS` of `queue/planner.ts` */
  readonly sliceWindows?: number;
}

/** A planner handler with its own warm state (the module's `handler` is one; tests make their own). */
export function createPlannerHandler(
  options: PlannerHandlerOptions = {},
): (event: unknown, context: Context) => Promise<PlannerResult> {
  let state: State | undefined;
  return async (event, context) => {
    state ??= init();
    const { config, namespace } = state;
    const range = shell.eventRange(event);
    const part = eventPart(event);
    const nowMs = Date.now();
    const remaining = context.getRemainingTimeInMillis();
    const margin = shell.deadlineMargin(remaining);
    const signal = AbortSignal.timeout(Math.max(1, remaining - margin));
    // Slices (and days to seal) stop a little earlier than the signal, leaving time to report.
    const deadlineMs = nowMs + remaining - 2 * margin;
    const previousRunMs =
      range || state.runIntervalMinutes === undefined ? undefined : nowMs - state.runIntervalMinutes * 60_000;
    const seal = eventSeal(event, range !== undefined);
    let invalid = 0;
    const summary: PlannerSummary = seal
      ? NOTHING_PLANNED
      : await planAndEnqueue({
          config,
          bucket: state.bucket,
          s3: state.s3,
          sqs: state.sqs,
          queueUrl: state.queueUrl,
          nowMs,
          ...(range ? { range } : {}),
          ...(previousRunMs === undefined ? {} : { previousRunMs }),
          concurrency: LIST_CONCURRENCY,
          ...(options.sliceWindows === undefined ? {} : { sliceWindows: options.sliceWindows }),
          lanesPerProject: state.lanesPerProject,
          signal,
          deadlineMs,
          onEvent: (e) => {
            if (e.type === "failed" && INVALID_OBJECT_CODES.has(e.code)) invalid++;
            if (e.type === "failed" || e.type === "expired") shell.log("error", e.type, { ...e });
          },
        });
    if (!seal) {
      shell.log(summary.failed > 0 ? "error" : summary.deferred > 0 ? "warn" : "info", "plan summary", {
        summary,
        ...(range ? { part } : {}),
      });
    }
    if (summary.next) await continueBackfill(state.lambda, summary, part + 1);
    // A backfill's days are sealed by a seal event once its windows are archived, not while planned.
    const digests =
      range && !seal
        ? undefined
        : await sealDays(state, config, {
            nowMs,
            dates: sealDates(config.window, nowMs, {
              ...(range ? { range } : {}),
              ...(previousRunMs === undefined ? {} : { previousRunMs }),
            }),
            signal,
            deadlineMs,
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
          [RUN_METRICS.windowsInvalid]: invalid,
          [RUN_METRICS.windowsDeferred]: summary.deferred,
          [RUN_METRICS.backlogWindows]: summary.enqueued,
          [RUN_METRICS.backfillWindowsLeft]: summary.windowsLeft,
          [RUN_METRICS.digestsSealed]: digests?.sealed ?? 0,
          // No key: every run's days go unsealed, a misconfiguration the alarm should see.
          [RUN_METRICS.digestFailures]: digests === undefined ? (range && !seal ? 0 : 1) : digests.failed,
        },
      ),
    );
    return { ...summary, ...(digests ? { digests } : {}) };
  };
}

/** A seal event's planning: nothing. */
const NOTHING_PLANNED: PlannerSummary = {
  due: 0,
  enqueued: 0,
  expired: 0,
  failed: 0,
  deferred: 0,
  slices: 0,
  windowsLeft: 0,
};

/**
 * Seals the complete days among `dates`, logging each digest sealed and each failure; undefined
 * (and one log line) when there is no signing key.
 */
async function sealDays(
  state: State,
  config: ArchiverConfig,
  pass: { nowMs: number; dates: string[]; signal: AbortSignal; deadlineMs: number },
): Promise<SealSummary | undefined> {
  if (!state.digests) {
    shell.log("error", `digests not sealed: ${HANDLER_ENVIRONMENT.digestKeyArn} not set`, {
      dates: pass.dates,
    });
    return undefined;
  }
  const digests = await sealDigests({
    config,
    bucket: state.bucket,
    s3: state.s3,
    signer: kmsSigner(state.digests.kms, state.digests.keyArn),
    nowMs: pass.nowMs,
    dates: pass.dates,
    concurrency: LIST_CONCURRENCY,
    signal: pass.signal,
    deadlineMs: pass.deadlineMs,
    onEvent: (e) => {
      if (e.type === "sealed") shell.log("info", "digest sealed", { ...e });
      else if (e.type === "failed") shell.log("error", "digest failed", { ...e });
    },
  });
  shell.log(digests.failed > 0 ? "error" : "info", "seal summary", { digests });
  return digests;
}

/**
 * Whether the event asks to seal a range (`{"seal": true, "from", "to"}`) instead of planning it.
 *
 * @throws {InputError} `HANDLER_BAD_EVENT` for a `seal` that is not a boolean, or without a range
 */
function eventSeal(event: unknown, hasRange: boolean): boolean {
  const seal = (event as { seal?: unknown } | null)?.seal;
  if (seal === undefined || seal === false) return false;
  const name = (field: string) => `Event field "${field}"`;
  if (seal !== true) {
    throw new InputError(
      "HANDLER_BAD_EVENT",
      { field: "seal" },
      (n) => `${n("seal")} must be true or false.`,
      name,
    );
  }
  if (!hasRange) {
    throw new InputError(
      "HANDLER_BAD_EVENT",
      { field: "seal" },
      (n) => `${n("seal")} needs the days to seal: ${n("from")} and ${n("to")} (ISO dates).`,
      name,
    );
  }
  return true;
}

function init(): State {
  const keyArn = process.env[HANDLER_ENVIRONMENT.digestKeyArn];
  return {
    ...shell.functionSetup(),
    s3: s3ClientFor(process.env),
    sqs: new SQSClient({ requestHandler: boundedRequestHandler() }),
    lambda: new LambdaClient({ requestHandler: boundedRequestHandler() }),
    queueUrl: shell.required(HANDLER_ENVIRONMENT.queueUrl),
    lanesPerProject:
      shell.positiveNumber(process.env[HANDLER_ENVIRONMENT.lanesPerProject]) ??
      DEFAULT_RUN_SETTINGS.lanesPerProject,
    runIntervalMinutes: shell.positiveNumber(process.env[HANDLER_ENVIRONMENT.runIntervalMinutes]),
    digests: keyArn ? { keyArn, kms: new KMSClient({ requestHandler: boundedRequestHandler() }) } : undefined,
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
