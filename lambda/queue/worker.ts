/**
 * The queue's worker: the messages of one SQS batch, each one window to archive with the same core
 * as a run (download, inspect, conditional store). It answers which messages failed (SQS partial
 * batch responses), so only those come back, each when its failure says:
 *
 * - a project that Atlas asked to wait: when Atlas allows it again (that lane only waits);
 * - a failure no retry cures (400/403/404, an invalid object at the key): in seconds, so that it
 *   reaches the dead-letter queue after the queue's `maxReceiveCount` receives instead of holding
 *   its lane for hours;
 * - a transient one: after a backoff that doubles with each receive (30 s to 15 minutes);
 * - not tried (its lane was paused, or the invocation's deadline came): at once.
 *
 * A FIFO message group is a project's lane, not an order anyone relies on (each message is one
 * independent window): after one message fails, its group's later messages are still tried,
 * unless Atlas paused the project, which would only answer 429 to them too.
 */
import { ChangeMessageVisibilityBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { WindowFailure } from "../archive/summary";
import { archiveWindow, failureOf, type WindowJob } from "../archive/window";
import { AtlasPausedError, AtlasRateLimitedError } from "../atlas/errors";
import { checkExisting } from "../bucket/existing";
import { headObjectIfAny } from "../bucket/objects";
import { workspaceLabel } from "../config";
import { ArchiverError, type ErrorKind } from "../errors";
import { forEachLimited } from "../pool";
import { formatWindow } from "../windows";
import { parseMessage } from "./message";

/** One message as the Lambda SQS event delivers it (the fields the worker reads). */
export interface QueueRecord {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly attributes: { readonly MessageGroupId?: string; readonly ApproximateReceiveCount?: string };
}

/** What the worker needs besides the window core's clients. */
export interface WorkerJob extends WindowJob {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  /** Groups worked on at once (each group's messages go one after another, in order). */
  readonly concurrency: number;
  /** The delay of a rate-limited message when Atlas named no time. */
  readonly rateLimitDelaySeconds: number;
  /**
   * The queue's receives before SQS moves a message to the dead-letter queue: a message failing
   * at this count is reported `deadLettered`. @default never reported
   */
  readonly maxReceiveCount?: number;
  /** When failed messages come back. @default {@link DEFAULT_RETRY} */
  readonly retry?: RetrySettings;
  /** Read for Atlas's pauses and the deadline. @default Date.now */
  readonly clock?: () => number;
}

/** When a failed message comes back (its visibility timeout), in seconds. */
export interface RetrySettings {
  /** After a permanent or setup failure: soon, so it reaches the dead-letter queue and frees its lane. */
  readonly permanentSeconds: number;
  /** After a transient failure's first receive; doubled at each receive after it. */
  readonly transientSeconds: number;
  /** The most a transient failure's backoff grows to. */
  readonly maxTransientSeconds: number;
}

/**
 * 10 seconds after a permanent failure; 30 s, 60 s, … up to 15 minutes after a transient one (at
 * the default 10 receives, about 74 minutes in all before the dead-letter queue, while the planner
 * enqueues the window again every run as long as it is in the lookback).
 */
export const DEFAULT_RETRY: RetrySettings = {
  permanentSeconds: 10,
  transientSeconds: 30,
  maxTransientSeconds: 900,
};

/** What became of one message. */
export type MessageOutcome =
  | {
      readonly messageId: string;
      readonly status: "archived";
      readonly window: string;
      readonly workspace: string;
      readonly key: string;
      readonly bytes: number;
      /** Hex SHA-256 of the stored object, measured in flight (logged: a record kept apart from the bucket). */
      readonly sha256: string;
      /** Why its receipt could not be written, if it could not (the window is sealed as unreceipted). */
      readonly receiptFailure?: WindowFailure;
    }
  | {
      readonly messageId: string;
      readonly status: "already-present";
      readonly window: string;
      readonly workspace: string;
    }
  | {
      readonly messageId: string;
      readonly status: "delayed";
      readonly workspace: string;
      readonly window: string;
      /** The message's new visibility timeout. */
      readonly delaySeconds: number;
      /** This was its last receive: SQS moves it to the dead-letter queue. */
      readonly deadLettered: boolean;
    }
  | {
      readonly messageId: string;
      readonly status: "failed";
      readonly workspace?: string;
      readonly window?: string;
      readonly kind: ErrorKind;
      readonly failure: WindowFailure;
      /** SQS's count of receives, so far. */
      readonly receiveCount: number;
      /** When it is received again. */
      readonly retrySeconds: number;
      /** This was its last receive: SQS moves it to the dead-letter queue. */
      readonly deadLettered: boolean;
    }
  /** Not tried: Atlas paused its project earlier in this batch, or the invocation's deadline came. */
  | {
      readonly messageId: string;
      readonly status: "not-tried";
      readonly reason: "paused" | "deadline";
      readonly deadLettered: boolean;
    };

/** The answer to SQS, and what happened to each message. */
export interface BatchResult {
  readonly batchItemFailures: { readonly itemIdentifier: string }[];
  readonly outcomes: readonly MessageOutcome[];
}

/** SQS's longest visibility timeout: 12 hours. */
const MAX_VISIBILITY_SECONDS = 43_200;
/**
 * When a failed message comes back: soon after a failure no retry cures (permanent, setup,
 * usage), after a backoff that doubles with each receive after a transient one.
 *
 * @example
 * ```ts
 * retryDelaySeconds("transient", 3); // 120
 * ```
 */
export function retryDelaySeconds(kind: ErrorKind, receiveCount: number, retry = DEFAULT_RETRY): number {
  if (kind !== "transient") return retry.permanentSeconds;
  const doublings = Math.min(20, Math.max(0, receiveCount - 1));
  return Math.min(retry.maxTransientSeconds, retry.transientSeconds * 2 ** doublings);
}

/**
 * Works through one batch: the messages of each group in order, `concurrency` groups at once.
 * Every message that did not succeed is answered failed and its visibility set to when it should
 * come back (one ChangeMessageVisibilityBatch, best effort). Never throws for a message's failure.
 *
 * @example
 * ```ts
 * const { batchItemFailures } = await handleBatch(event.Records, job);
 * return { batchItemFailures };
 * ```
 */
export async function handleBatch(records: readonly QueueRecord[], job: WorkerJob): Promise<BatchResult> {
  const clock = job.clock ?? Date.now;
  const groups = new Map<string, QueueRecord[]>();
  for (const record of records) {
    const group = record.attributes.MessageGroupId ?? record.messageId;
    groups.set(group, [...(groups.get(group) ?? []), record]);
  }
  const outcomes = new Map<string, MessageOutcome>();
  const lastReceive = (record: QueueRecord) =>
    job.maxReceiveCount !== undefined && receiveCountOf(record) >= job.maxReceiveCount;
  await forEachLimited([...groups.values()], job.concurrency, async (group) => {
    let paused = false;
    for (const record of group) {
      const late =
        job.signal?.aborted === true || (job.deadlineMs !== undefined && clock() >= job.deadlineMs);
      const outcome: MessageOutcome =
        paused || late
          ? {
              messageId: record.messageId,
              status: "not-tried",
              reason: paused ? "paused" : "deadline",
              deadLettered: lastReceive(record),
            }
          : await handle(record, job, lastReceive(record));
      paused ||= outcome.status === "delayed";
      outcomes.set(record.messageId, outcome);
    }
  });
  const ordered = records.map((r) => outcomes.get(r.messageId) as MessageOutcome);
  const comeBack = records.flatMap((record, i) => {
    const seconds = visibilityOf(ordered[i] as MessageOutcome);
    return seconds === undefined ? [] : [{ record, seconds }];
  });
  await changeVisibility(job, comeBack);
  return {
    batchItemFailures: ordered
      .filter((o) => o.status === "failed" || o.status === "delayed" || o.status === "not-tried")
      .map((o) => ({ itemIdentifier: o.messageId })),
    outcomes: ordered,
  };
}

function receiveCountOf(record: QueueRecord): number {
  const n = Number(record.attributes.ApproximateReceiveCount ?? "1");
  return Number.isFinite(n) && n >= 1 ? n : 1;
}

/** The visibility timeout an outcome asks for; undefined for a message that succeeded. */
function visibilityOf(outcome: MessageOutcome): number | undefined {
  switch (outcome.status) {
    case "delayed":
      return outcome.delaySeconds;
    case "failed":
      return outcome.retrySeconds;
    case "not-tried":
      return 0;
    default:
      return undefined;
  }
}

/**
 * Sets each message's visibility. Best effort: if SQS refuses (a delay past 12 hours since the
 * receipt, a stale handle), the message still comes back, after the queue's own visibility timeout.
 */
async function changeVisibility(
  job: WorkerJob,
  changes: readonly { readonly record: QueueRecord; readonly seconds: number }[],
): Promise<void> {
  for (let i = 0; i < changes.length; i += 10) {
    const entries = changes.slice(i, i + 10).map(({ record, seconds }, j) => ({
      Id: String(i + j),
      ReceiptHandle: record.receiptHandle,
      VisibilityTimeout: seconds,
    }));
    await job.sqs
      .send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: job.queueUrl, Entries: entries }))
      .catch(() => {});
  }
}

/** One message: parse it, look at its key (one HEAD), archive the window if it is missing. */
async function handle(record: QueueRecord, job: WorkerJob, last: boolean): Promise<MessageOutcome> {
  const receiveCount = receiveCountOf(record);
  const { messageId } = record;
  let parsed: ReturnType<typeof parseMessage> | undefined;
  try {
    parsed = parseMessage(record.body, job.config);
    const { workspace, window, key } = parsed;
    const label = workspaceLabel(workspace);
    const where = {
      bucket: job.bucket,
      key,
      workspace: label,
      window: formatWindow(window),
      ...(job.signal ? { signal: job.signal } : {}),
    };
    // A window delivered twice (two planner runs, a redelivery) costs this one request.
    const head = await headObjectIfAny(job.s3, where, "HeadObject (queued window)");
    if (head !== undefined) {
      await checkExisting(job.s3, where, { workspace, window }, head);
      return { messageId, status: "already-present", workspace: label, window: formatWindow(window) };
    }
    const outcome = await archiveWindow(job, workspace, window);
    if (outcome.type === "already-present") {
      return { messageId, status: "already-present", workspace: label, window: outcome.window.window };
    }
    const { window: archived, key: stored, bytes, sha256 } = outcome.window;
    return {
      messageId,
      status: "archived",
      workspace: label,
      window: archived,
      key: stored,
      bytes,
      sha256,
      ...(outcome.receiptFailure ? { receiptFailure: outcome.receiptFailure } : {}),
    };
  } catch (err) {
    if (parsed && (err instanceof AtlasPausedError || err instanceof AtlasRateLimitedError)) {
      const now = (job.clock ?? Date.now)();
      const resumeAt = job.atlas.resumeAt?.(parsed.workspace.groupId);
      const wait = resumeAt === undefined ? job.rateLimitDelaySeconds : Math.ceil((resumeAt - now) / 1000);
      return {
        messageId,
        status: "delayed",
        workspace: workspaceLabel(parsed.workspace),
        window: formatWindow(parsed.window),
        delaySeconds: Math.min(MAX_VISIBILITY_SECONDS, Math.max(1, wait)),
        deadLettered: last,
      };
    }
    const kind: ErrorKind = err instanceof ArchiverError ? err.kind : "transient";
    const window = parsed ? formatWindow(parsed.window) : undefined;
    return {
      messageId,
      status: "failed",
      ...(parsed ? { workspace: workspaceLabel(parsed.workspace) } : {}),
      ...(window ? { window } : {}),
      kind,
      failure: failureOf(err, window ?? "", parsed?.key ?? ""),
      receiveCount,
      retrySeconds: retryDelaySeconds(kind, receiveCount, job.retry),
      deadLettered: last,
    };
  }
}
