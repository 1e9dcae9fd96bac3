/**
 * The queue's planner: the same planning as a run (every workspace listed once, the windows due
 * and missing, the expired ones counted), with the missing windows sent to the queue in the run's
 * order instead of downloaded here: the oldest first and the workspaces in turn, each message in
 * its project's lane.
 *
 * A long range is planned in slices of time (whole UTC days where they fit), each listed, planned
 * and sent before the next: memory stays bounded by one slice (about 0.9 KB per window), and a
 * backfill that would outlast the invocation stops between slices and says where to go on.
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
import { type ArchiverConfig, utcDate } from "../config";
import { ArchiverError } from "../errors";
import { sleep } from "../timers";
import type { TimeWindow } from "../windows";
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
  /** Aborts the slice in flight: its windows are deferred (a range's go to `next`). */
  readonly signal?: AbortSignal;
  /**
   * When a range's planning must stop: no slice starts that the slowest one so far (times 1.5)
   * would carry past it; the rest is `next`. @default none: every slice is planned
   */
  readonly deadlineMs?: number;
  /** Windows planned at once over all workspaces. @default {@link DEFAULT_SLICE_WINDOWS} */
  readonly sliceWindows?: number;
  /** @default Date.now */
  readonly clock?: () => number;
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
  /** Slices planned. */
  readonly slices: number;
  /** The part of the range left for another invocation (`{"from": …, "to": …}`), when the deadline came first. */
  readonly next?: { readonly fromMs: number; readonly toMs: number };
  /** Windows of `next` over all workspaces (0 when the range is all planned, or for a scheduled run). */
  readonly windowsLeft: number;
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
 * Windows planned at once over all workspaces: 100,000 is about 90 MB of tasks, and at 500
 * hourly workspaces a slice of 8 days, so a year's backfill lists each workspace 46 times.
 */
export const DEFAULT_SLICE_WINDOWS = 100_000;

/**
 * `candidates` (oldest first) cut into slices of at most `perSlice` windows. Where a whole UTC day
 * fits, slices hold whole days, so no date partition is listed twice; a day longer than a slice is
 * cut into slices of its own.
 *
 * @example
 * ```ts
 * planSlices(windowsOfTwoDays, 30); // [first day's 24, second day's 24]
 * ```
 */
export function planSlices(candidates: readonly TimeWindow[], perSlice: number): TimeWindow[][] {
  const size = Math.max(1, Math.floor(perSlice));
  const slices: TimeWindow[][] = [];
  let current: TimeWindow[] = [];
  const flush = () => {
    if (current.length > 0) slices.push(current);
    current = [];
  };
  let i = 0;
  while (i < candidates.length) {
    const date = utcDate((candidates[i] as TimeWindow).startMs);
    let end = i;
    while (end < candidates.length && utcDate((candidates[end] as TimeWindow).startMs) === date) end++;
    const day = candidates.slice(i, end);
    if (day.length > size) {
      flush();
      for (let j = 0; j < day.length; j += size) slices.push(day.slice(j, j + size));
    } else {
      if (current.length + day.length > size) flush();
      current.push(...day);
    }
    i = end;
  }
  flush();
  return slices;
}

/**
 * Plans the run and sends every missing window to the queue, in the run's order.
 *
 * @throws {QueueSendError} when SQS keeps refusing messages (the rest were sent; the next run plans again)
 */
export async function planAndEnqueue(request: PlannerRequest): Promise<PlannerSummary> {
  const { config, nowMs, range } = request;
  const clock = request.clock ?? Date.now;
  const signal = request.signal ?? new AbortController().signal;
  const workspaces = config.workspaces.length;
  const candidates = candidateWindows(config, nowMs, range);
  const slices = planSlices(candidates, (request.sliceWindows ?? DEFAULT_SLICE_WINDOWS) / workspaces);
  let enqueued = 0;
  let expired = 0;
  let failed = 0;
  const emit = (event: RunEvent) => {
    if (event.type === "expired") expired++;
    if (event.type === "failed") failed++;
    request.onEvent?.(event);
  };
  const expiring =
    range === undefined && request.previousRunMs !== undefined
      ? expiringWindows(config.window, nowMs, request.previousRunMs)
      : [];
  let slowestMs = 0;
  let stoppedAt: number | undefined;
  for (const [i, slice] of slices.entries()) {
    const startedMs = clock();
    const late =
      i > 0 && request.deadlineMs !== undefined && startedMs + 1.5 * slowestMs > request.deadlineMs;
    if (late || signal.aborted) {
      stoppedAt = i;
      break;
    }
    const tasks = await planRun({
      config,
      bucket: request.bucket,
      s3: request.s3,
      candidates: slice,
      expiring: i === 0 ? expiring : [],
      concurrency: request.concurrency,
      lanesPerProject: request.lanesPerProject,
      rotation: Math.floor(nowMs / (config.window.minutes * 60_000)),
      signal,
      emit,
    });
    if (signal.aborted) {
      // Cut off inside the slice: all of it is left (what was planned of it is not sent; a
      // scheduled run's next run plans its lookback again, a range goes on from this slice).
      stoppedAt = i;
      break;
    }
    try {
      await sendTasks(request.sqs, request.queueUrl, tasks, signal);
    } catch (err) {
      if (!signal.aborted) throw err;
      // Cut off while sending: as above (the messages already sent are delivered once, or cost a HEAD).
      stoppedAt = i;
      break;
    }
    enqueued += tasks.length;
    slowestMs = Math.max(slowestMs, clock() - startedMs);
  }
  const left =
    stoppedAt === undefined
      ? 0
      : slices.slice(stoppedAt).reduce((n, slice) => n + slice.length, 0) * workspaces;
  const resumeFrom = stoppedAt === undefined ? undefined : slices[stoppedAt]?.[0];
  // Never before the range's own start (its first window may begin earlier): the rest of a range
  // is never longer than the range, so it is never refused as too long.
  const next =
    range && resumeFrom
      ? { fromMs: Math.max(range.fromMs, resumeFrom.startMs), toMs: range.toMs }
      : undefined;
  const deferred = range ? 0 : left;
  return {
    due: candidates.length * workspaces,
    enqueued,
    expired,
    failed,
    deferred,
    slices: slices.length,
    ...(next ? { next } : {}),
    windowsLeft: range ? left : 0,
  };
}

/**
 * The part of `range` from the window `from` on: what a continuation plans. Never before the
 * range's own start (its first window may begin earlier), so the rest of a range is never longer
 * than the range and never refused as too long; the window `from` still overlaps it.
 */
export function restOfRange(
  range: { readonly fromMs: number; readonly toMs: number },
  from: TimeWindow,
): { readonly fromMs: number; readonly toMs: number } {
  return { fromMs: Math.max(range.fromMs, from.startMs), toMs: range.toMs };
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
