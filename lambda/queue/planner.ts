/**
 * The queue's planner: the same planning as a run (every workspace listed once, the windows due
 * and missing, the expired ones counted), with the missing windows sent to the queue in the run's
 * order instead of downloaded here: the oldest first and the workspaces in turn, each message in
 * its project's lane.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import {
  SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { planRun } from "../archive/execute";
import { candidateWindows, expiringWindows, type WindowTask } from "../archive/plan";
import type { RunEvent } from "../archive/summary";
import type { ArchiverConfig } from "../config";
import { ArchiverError } from "../errors";
import { sleep } from "../timers";
import { taskMessage } from "./message";

/** What the planner plans, and where it sends the work. */
export interface PlannerRequest {
  readonly config: ArchiverConfig;
  readonly bucket: string;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly nowMs: number;
  /** Plan the due windows overlapping `[fromMs, toMs)` instead of the lookback (a backfill). */
  readonly range?: { readonly fromMs: number; readonly toMs: number };
  /** When the previous scheduled run happened: windows that left the lookback since are counted as expired. */
  readonly previousRunMs?: number;
  /** Workspaces listed at once. */
  readonly concurrency: number;
  readonly lanesPerProject: number;
  readonly onEvent?: (event: RunEvent) => void;
  readonly signal?: AbortSignal;
}

/** What the planner did. */
export interface PlannerSummary {
  /** Due windows over all workspaces. */
  readonly due: number;
  /** Messages sent: the windows missing (an SQS FIFO queue drops a repeat of one sent in the last 5 minutes). */
  readonly enqueued: number;
  readonly expired: number;
  /** Windows whose workspace could not be listed: they are not enqueued; the next run plans them again. */
  readonly failed: number;
  /** Windows of workspaces not planned before the deadline: the next run plans them. */
  readonly deferred: number;
}

/** Sending messages failed after retries (transient): the windows not sent are planned again by the next run. */
export class QueueSendError extends ArchiverError {
  constructor(message: string, cause?: unknown) {
    super("QUEUE_SEND_FAILED", message, { kind: "transient", ...(cause === undefined ? {} : { cause }) });
  }
}

/** Entries of one SendMessageBatch: SQS's maximum. */
const BATCH = 10;
/** Batches in flight at once. */
const SENDERS = 8;
/** Attempts at the entries SQS refused in a batch, 200 ms then 800 ms apart. */
const SEND_ATTEMPTS = 3;

/**
 * Plans the run and sends every missing window to the queue, in the run's order.
 *
 * @throws {QueueSendError} when SQS keeps refusing messages (the rest were sent; the next run plans again)
 */
export async function planAndEnqueue(request: PlannerRequest): Promise<PlannerSummary> {
  const { config, nowMs, range } = request;
  const candidates = candidateWindows(config, nowMs, range);
  let expired = 0;
  let failed = 0;
  let deferred = 0;
  const emit = (event: RunEvent) => {
    if (event.type === "expired") expired++;
    if (event.type === "failed") failed++;
    if (event.type === "deferred") deferred += event.windows;
    request.onEvent?.(event);
  };
  const tasks = await planRun({
    config,
    bucket: request.bucket,
    s3: request.s3,
    candidates,
    expiring:
      range === undefined && request.previousRunMs !== undefined
        ? expiringWindows(config.window, nowMs, request.previousRunMs)
        : [],
    concurrency: request.concurrency,
    lanesPerProject: request.lanesPerProject,
    rotation: Math.floor(nowMs / (config.window.minutes * 60_000)),
    signal: request.signal ?? new AbortController().signal,
    emit,
  });
  await sendTasks(request.sqs, request.queueUrl, tasks, request.signal);
  return {
    due: candidates.length * config.workspaces.length,
    enqueued: tasks.length,
    expired,
    failed,
    deferred,
  };
}

/** Sends `tasks` in batches of ten, {@link SENDERS} batches at once. */
export async function sendTasks(
  sqs: SQSClient,
  queueUrl: string,
  tasks: readonly WindowTask[],
  signal?: AbortSignal,
): Promise<void> {
  const batches: WindowTask[][] = [];
  for (let i = 0; i < tasks.length; i += BATCH) batches.push(tasks.slice(i, i + BATCH));
  // SENDERS batches at a time, each set after the previous one was accepted: the queue receives
  // the windows in nearly the run's order (within one set a lane's messages may swap places; the
  // order is a preference, oldest first, never needed for correctness: a message is one window).
  for (let i = 0; i < batches.length; i += SENDERS) {
    await Promise.all(batches.slice(i, i + SENDERS).map((batch) => sendBatch(sqs, queueUrl, batch, signal)));
  }
}

async function sendBatch(
  sqs: SQSClient,
  queueUrl: string,
  batch: readonly WindowTask[],
  signal?: AbortSignal,
): Promise<void> {
  let entries = batch.map((task, i) => {
    const m = taskMessage(task);
    return {
      Id: String(i),
      MessageBody: m.body,
      MessageGroupId: m.groupId,
      MessageDeduplicationId: m.deduplicationId,
    };
  });
  for (let attempt = 1; ; attempt++) {
    let answer: SendMessageBatchCommandOutput;
    try {
      answer = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }), {
        ...(signal ? { abortSignal: signal } : {}),
      });
    } catch (err) {
      throw new QueueSendError(
        `SendMessageBatch to ${queueUrl} failed (${err instanceof Error ? err.message : String(err)}); the next ` +
          "run plans the windows again.",
        err,
      );
    }
    const refused = new Set((answer.Failed ?? []).map((f) => f.Id));
    if (refused.size === 0) return;
    const first = answer.Failed?.[0];
    if (attempt >= SEND_ATTEMPTS || (answer.Failed ?? []).some((f) => f.SenderFault)) {
      throw new QueueSendError(
        `SQS refused ${refused.size} of ${entries.length} messages to ${queueUrl} (${first?.Code}: ${first?.Message}); ` +
          "the next run plans the windows again.",
      );
    }
    entries = entries.filter((e) => refused.has(e.Id));
    await sleep(200 * 4 ** (attempt - 1), signal);
  }
}
