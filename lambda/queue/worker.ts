/**
 * The queue's worker: the messages of one SQS batch, each one window to archive with the same core
 * as a run (download, inspect, conditional store). It answers which messages failed (SQS partial
 * batch responses), so only those come back; a project that Atlas asked to wait has its message
 * delayed until then (its visibility timeout), which holds back that project's lane only.
 */
import { ChangeMessageVisibilityCommand, type SQSClient } from "@aws-sdk/client-sqs";
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
  /** Read for Atlas's pauses. @default Date.now */
  readonly clock?: () => number;
}

/** What became of one message. */
export type MessageOutcome =
  | {
      readonly messageId: string;
      readonly status: "archived" | "already-present";
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
    }
  | {
      readonly messageId: string;
      readonly status: "failed";
      readonly workspace?: string;
      readonly kind: ErrorKind;
      readonly failure: WindowFailure;
      /** SQS's count of receives, so far. */
      readonly receiveCount: number;
    }
  /** Not tried: an earlier message of its group failed in this batch, and a FIFO group keeps its order. */
  | { readonly messageId: string; readonly status: "not-tried" };

/** The answer to SQS, and what happened to each message. */
export interface BatchResult {
  readonly batchItemFailures: { readonly itemIdentifier: string }[];
  readonly outcomes: readonly MessageOutcome[];
}

/** SQS's longest visibility timeout: 12 hours. */
const MAX_VISIBILITY_SECONDS = 43_200;

/**
 * Works through one batch: the messages of each group in order, `concurrency` groups at once.
 * After a message fails, the group's later messages of the batch are not tried and are returned
 * failed with it, as SQS requires of a FIFO queue. Never throws for a message's failure.
 *
 * @example
 * ```ts
 * const { batchItemFailures } = await handleBatch(event.Records, job);
 * return { batchItemFailures };
 * ```
 */
export async function handleBatch(records: readonly QueueRecord[], job: WorkerJob): Promise<BatchResult> {
  const groups = new Map<string, QueueRecord[]>();
  for (const record of records) {
    const group = record.attributes.MessageGroupId ?? record.messageId;
    groups.set(group, [...(groups.get(group) ?? []), record]);
  }
  const outcomes = new Map<string, MessageOutcome>();
  await forEachLimited([...groups.values()], job.concurrency, async (group) => {
    let failed = false;
    for (const record of group) {
      const outcome: MessageOutcome = failed
        ? { messageId: record.messageId, status: "not-tried" as const }
        : await handle(record, job);
      failed ||= outcome.status === "failed" || outcome.status === "delayed";
      outcomes.set(record.messageId, outcome);
    }
  });
  const ordered = records.map((r) => outcomes.get(r.messageId) as MessageOutcome);
  return {
    batchItemFailures: ordered
      .filter((o) => o.status === "failed" || o.status === "delayed" || o.status === "not-tried")
      .map((o) => ({ itemIdentifier: o.messageId })),
    outcomes: ordered,
  };
}

/** One message: parse it, look at its key (one HEAD), archive the window if it is missing. */
async function handle(record: QueueRecord, job: WorkerJob): Promise<MessageOutcome> {
  const receiveCount = Number(record.attributes.ApproximateReceiveCount ?? "1");
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
    return { messageId, status: outcome.type, workspace: label, window: outcome.window.window };
  } catch (err) {
    if (parsed && (err instanceof AtlasPausedError || err instanceof AtlasRateLimitedError)) {
      const now = (job.clock ?? Date.now)();
      const resumeAt = job.atlas.resumeAt?.(parsed.workspace.groupId);
      const wait = resumeAt === undefined ? job.rateLimitDelaySeconds : Math.ceil((resumeAt - now) / 1000);
      const delaySeconds = Math.min(MAX_VISIBILITY_SECONDS, Math.max(1, wait));
      // Best effort: if SQS refuses (a delay past 12 hours since the receipt, a stale handle), the
      // message still comes back, after the queue's own visibility timeout.
      await job.sqs
        .send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: job.queueUrl,
            ReceiptHandle: record.receiptHandle,
            VisibilityTimeout: delaySeconds,
          }),
        )
        .catch(() => {});
      return {
        messageId,
        status: "delayed",
        workspace: workspaceLabel(parsed.workspace),
        window: formatWindow(parsed.window),
        delaySeconds,
      };
    }
    const kind: ErrorKind = err instanceof ArchiverError ? err.kind : "transient";
    return {
      messageId,
      status: "failed",
      ...(parsed ? { workspace: workspaceLabel(parsed.workspace) } : {}),
      kind,
      failure: failureOf(err, parsed ? formatWindow(parsed.window) : "", parsed?.key ?? ""),
      receiveCount,
    };
  }
}
