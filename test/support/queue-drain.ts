/**
 * The queue's consumers, in process, and a queue fast enough for them at scale.
 *
 * - {@link drainQueue} drains an SQS queue as Lambda's SQS event source mapping does with partial
 *   batch responses: `handlers.length` pollers at once (each like one worker function instance,
 *   one batch at a time), each receiving up to ten messages with their system attributes, handing
 *   them to its handler as the Lambda SQS event's records, and deleting the messages the handler
 *   did not answer failed. A failed message comes back when its visibility timeout ends (or goes
 *   to the dead-letter queue after the queue's `maxReceiveCount`), as on AWS.
 * - {@link createMemoryFifoQueue} is an in-memory SQS FIFO queue with a dead-letter queue, behind
 *   an `SQSClient`'s `send`: the commands the planner, the worker and the drain send, with SQS's
 *   FIFO rules (a message group is handed to one consumer at a time, in order; deduplication for
 *   five minutes; visibility timeouts; redrive after `maxReceiveCount` receives). Its test runs
 *   the same steps against moto and compares.
 *
 * Why a second queue: moto 5.2.1's SQS costs time in proportion to the queue's length for every
 * message sent or received (each `SendMessage` reads the queue's attributes, which count every
 * message with a datetime clock, several times): 500 messages take 13 s to send, 2,500 about five
 * minutes. moto stays the queue of the tests that need AWS's wire protocol; this one carries the
 * scenarios of thousands of windows.
 *
 * @example
 * ```ts
 * const queue = createMemoryFifoQueue({ maxReceiveCount: 3, visibilityTimeoutSeconds: 30 });
 * await planAndEnqueue({ ...request, sqs: queue.sqs, queueUrl: queue.queueUrl });
 * const result = await drainQueue({
 *   sqs: queue.sqs,
 *   queueUrl: queue.queueUrl,
 *   handlers: [0, 1, 2, 3].map(() => (records) => handleBatch(records, job())),
 *   timeoutMs: 20_000,
 * });
 * expect(result.failed).toBe(0);
 * ```
 */
import { randomUUID } from "node:crypto";
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { QueueRecord } from "../../lambda/queue/worker";

/** One worker function instance: a batch's records in, the partial batch response out. */
export type BatchHandler = (
  records: readonly QueueRecord[],
) => Promise<{ readonly batchItemFailures: readonly { readonly itemIdentifier: string }[] }>;

/** Options of {@link drainQueue}. */
export interface DrainOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  /** One per concurrent poller. */
  readonly handlers: readonly BatchHandler[];
  /** Messages per receive (Lambda's batch size): 1 to 10. @default 10 */
  readonly batchSize?: number;
  /** How long a poller that received nothing waits before it asks again. @default 20 */
  readonly idleMs?: number;
  /** The drain throws when the queue is not empty by then. */
  readonly timeoutMs: number;
  /** Stop receiving once this many messages were received (the batches in hand are finished). */
  readonly maxMessages?: number;
}

/** What a drain did. */
export interface DrainResult {
  /** Batches handed to handlers. */
  readonly batches: number;
  /** Messages received (a message received twice counts twice). */
  readonly received: number;
  /** Messages deleted after their batch. */
  readonly deleted: number;
  /** Messages answered failed (left for SQS to hand out again). */
  readonly failed: number;
  /** The highest `ApproximateReceiveCount` seen. */
  readonly maxReceiveCount: number;
  /** Batches in hand at once, at most. */
  readonly maxConcurrentBatches: number;
  /**
   * Whether two batches in hand at once ever held messages of one message group (a FIFO queue
   * never hands out a group while one of its messages is in flight).
   */
  readonly groupOverlap: boolean;
  /** Whether it stopped at `maxMessages` rather than at an empty queue. */
  readonly stoppedEarly: boolean;
  readonly elapsedMs: number;
}

/** Messages in the queue: visible, in flight and delayed. */
export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
      ],
    }),
  );
  return (
    Number(Attributes.ApproximateNumberOfMessages ?? 0) +
    Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) +
    Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0)
  );
}

/** A received message as the Lambda SQS event delivers it. */
export function toRecord(m: Message): QueueRecord {
  return {
    messageId: m.MessageId as string,
    receiptHandle: m.ReceiptHandle as string,
    body: m.Body as string,
    attributes: {
      MessageGroupId: m.Attributes?.MessageGroupId,
      ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount,
    },
  };
}

/**
 * Drains the queue (see the module's comment). Receives go one at a time: SQS hands out a
 * message group atomically, but moto's ReceiveMessage is not atomic across its threads (two
 * concurrent receives can both take one group, even one message).
 *
 * @throws {Error} when the queue is not empty after `timeoutMs`, or a DeleteMessageBatch fails
 */
export async function drainQueue(options: DrainOptions): Promise<DrainResult> {
  const { sqs, queueUrl, handlers, timeoutMs } = options;
  const batchSize = options.batchSize ?? 10;
  const idleMs = options.idleMs ?? 20;
  if (handlers.length === 0) throw new RangeError("drainQueue needs at least one handler");
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10) {
    throw new RangeError(`batchSize ${batchSize} must be 1 to 10`);
  }
  const started = performance.now();
  const deadline = started + timeoutMs;
  const s = {
    batches: 0,
    received: 0,
    deleted: 0,
    failed: 0,
    maxReceiveCount: 0,
    maxConcurrentBatches: 0,
    groupOverlap: false,
    stoppedEarly: false,
  };
  let inHand = 0;
  let stopped = false;
  const heldGroups = new Map<string, number>();
  let receiving: Promise<unknown> = Promise.resolve();
  const receive = (): Promise<QueueRecord[]> => {
    const next = receiving.then(async () => {
      const answer = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: batchSize,
          MessageSystemAttributeNames: ["All"],
        }),
      );
      return (answer.Messages ?? []).map(toRecord);
    });
    receiving = next.catch(() => {});
    return next;
  };

  const poller = async (handler: BatchHandler): Promise<void> => {
    while (!stopped) {
      if (options.maxMessages !== undefined && s.received >= options.maxMessages) {
        s.stoppedEarly = true;
        return;
      }
      if (performance.now() > deadline) {
        throw new Error(
          `drainQueue: the queue was not empty after ${timeoutMs} ms (${s.received} received, ` +
            `${s.deleted} deleted, ${s.failed} answered failed in ${s.batches} batches)`,
        );
      }
      const records = await receive();
      if (records.length === 0) {
        if (inHand === 0 && (await queueDepth(sqs, queueUrl)) === 0) return;
        await new Promise((resolve) => setTimeout(resolve, idleMs));
        continue;
      }
      s.batches++;
      s.received += records.length;
      s.maxConcurrentBatches = Math.max(s.maxConcurrentBatches, ++inHand);
      const groups = new Set(records.map((r) => r.attributes.MessageGroupId ?? r.messageId));
      for (const g of groups) {
        const holders = (heldGroups.get(g) ?? 0) + 1;
        if (holders > 1) s.groupOverlap = true;
        heldGroups.set(g, holders);
      }
      for (const r of records) {
        s.maxReceiveCount = Math.max(s.maxReceiveCount, Number(r.attributes.ApproximateReceiveCount ?? 0));
      }
      try {
        const { batchItemFailures } = await handler(records);
        const failedIds = new Set(batchItemFailures.map((f) => f.itemIdentifier));
        s.failed += failedIds.size;
        const done = records.filter((r) => !failedIds.has(r.messageId));
        if (done.length > 0) {
          const answer = await sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: done.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
            }),
          );
          const refused = answer.Failed ?? [];
          if (refused.length > 0) {
            throw new Error(`drainQueue: DeleteMessageBatch refused ${refused.length} (${refused[0]?.Code})`);
          }
          s.deleted += done.length;
        }
      } finally {
        inHand--;
        for (const g of groups) {
          const holders = (heldGroups.get(g) ?? 1) - 1;
          if (holders === 0) heldGroups.delete(g);
          else heldGroups.set(g, holders);
        }
      }
    }
  };

  try {
    await Promise.all(handlers.map(poller));
  } finally {
    stopped = true;
  }
  return { ...s, elapsedMs: performance.now() - started };
}

/** Options of {@link createMemoryFifoQueue}. */
export interface MemoryFifoQueueOptions {
  /** Receives after which the next receive moves a message to the dead-letter queue. */
  readonly maxReceiveCount: number;
  /** The queue's default visibility timeout. */
  readonly visibilityTimeoutSeconds: number;
  /** @default "windows" */
  readonly name?: string;
  /** @default Date.now */
  readonly clock?: () => number;
}

/** A queue of {@link createMemoryFifoQueue}. */
export interface MemoryFifoQueue {
  /** Answers the commands below for both queues' URLs; any other command rejects. */
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly dlqUrl: string;
  /** Requests answered, per command name (e.g. `SendMessageBatch`), over both queues. */
  readonly calls: Map<string, number>;
  /** The messages in a queue (default: the main one), in order, without receiving them. */
  peek(queueUrl?: string): { readonly body: string; readonly groupId: string; readonly receives: number }[];
}

/** SQS's longest visibility timeout, and how far from a message's receipt it may reach. */
const MAX_VISIBILITY_SECONDS = 43_200;
/** SQS FIFO's deduplication interval. */
const DEDUPLICATION_MS = 5 * 60_000;
const ENTRY_ID = /^[\w-]{1,80}$/;

interface Stored {
  readonly id: string;
  readonly body: string;
  readonly group: string;
  readonly dedup: string;
  readonly sequence: string;
  readonly sentAt: number;
  receives: number;
  firstReceiveAt?: number;
  receivedAt?: number;
  visibleAt: number;
  receipt?: string;
}

interface Fifo {
  readonly name: string;
  readonly arn: string;
  readonly visibilitySeconds: number;
  readonly redrive?: { readonly dlq: Fifo; readonly maxReceiveCount: number };
  /** In send order; deleted ones are removed. */
  messages: Stored[];
  readonly dedup: Map<string, { readonly at: number; readonly id: string }>;
  readonly byReceipt: Map<string, Stored>;
  /** Receipts of deleted messages: deleting one again succeeds, as on SQS. */
  readonly deleted: Set<string>;
}

class QueueError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

/**
 * An in-memory SQS FIFO queue and its dead-letter queue (see the module's comment), answering
 * SendMessageBatch, ReceiveMessage, DeleteMessage(Batch), ChangeMessageVisibility(Batch) and
 * GetQueueAttributes. Receives never wait (`WaitTimeSeconds` is ignored).
 */
export function createMemoryFifoQueue(options: MemoryFifoQueueOptions): MemoryFifoQueue {
  const clock = options.clock ?? Date.now;
  const name = options.name ?? "windows";
  const make = (queueName: string, redrive?: Fifo["redrive"]): Fifo => ({
    name: queueName,
    arn: `arn:aws:sqs:us-east-1:123456789012:${queueName}`,
    visibilitySeconds: options.visibilityTimeoutSeconds,
    ...(redrive ? { redrive } : {}),
    messages: [],
    dedup: new Map(),
    byReceipt: new Map(),
    deleted: new Set(),
  });
  const dlq = make(`${name}-dlq.fifo`);
  const main = make(`${name}.fifo`, { dlq, maxReceiveCount: options.maxReceiveCount });
  const url = (q: Fifo) => `http://sqs.memory/123456789012/${q.name}`;
  const queues = new Map([main, dlq].map((q) => [url(q), q]));
  const calls = new Map<string, number>();
  let sequence = 0n;

  const queueOf = (input: { QueueUrl?: string | undefined }): Fifo => {
    const q = queues.get(input.QueueUrl ?? "");
    if (!q) throw new QueueError("QueueDoesNotExist", `The queue ${input.QueueUrl} does not exist.`);
    return q;
  };
  const add = (q: Fifo, m: Omit<Stored, "sequence" | "receives" | "visibleAt">): string => {
    const now = clock();
    const seen = q.dedup.get(m.dedup);
    if (seen && now - seen.at < DEDUPLICATION_MS) return seen.id;
    sequence += 1n;
    q.dedup.set(m.dedup, { at: now, id: m.id });
    q.messages.push({ ...m, sequence: sequence.toString().padStart(20, "0"), receives: 0, visibleAt: 0 });
    return m.id;
  };
  const checkIds = (entries: readonly { Id?: string | undefined }[]) => {
    if (entries.length === 0)
      throw new QueueError("EmptyBatchRequest", "There should be at least one entry.");
    if (entries.length > 10) throw new QueueError("TooManyEntriesInBatchRequest", "At most 10 entries.");
    const ids = new Set<string>();
    for (const e of entries) {
      if (!ENTRY_ID.test(e.Id ?? "")) throw new QueueError("InvalidBatchEntryId", `Bad entry id ${e.Id}.`);
      if (ids.has(e.Id as string)) throw new QueueError("BatchEntryIdsNotDistinct", `Id ${e.Id} repeats.`);
      ids.add(e.Id as string);
    }
  };
  /** The message `receipt` names, if it is its latest receipt and the message is still here. */
  const byReceipt = (q: Fifo, receipt: string | undefined): Stored | undefined => {
    const m = q.byReceipt.get(receipt ?? "");
    return m && m.receipt === receipt ? m : undefined;
  };
  const remove = (q: Fifo, m: Stored) => {
    q.messages.splice(q.messages.indexOf(m), 1);
    if (m.receipt) q.byReceipt.delete(m.receipt);
  };
  const deleteByReceipt = (q: Fifo, receipt: string | undefined): boolean => {
    if (q.deleted.has(receipt ?? "")) return true;
    const m = byReceipt(q, receipt);
    if (!m) return false;
    remove(q, m);
    q.deleted.add(receipt as string);
    return true;
  };
  const changeVisibility = (q: Fifo, receipt: string | undefined, seconds: number | undefined) => {
    const m = byReceipt(q, receipt);
    if (!m) throw new QueueError("ReceiptHandleIsInvalid", `The receipt handle ${receipt} is not valid.`);
    const now = clock();
    if (m.visibleAt <= now) throw new QueueError("MessageNotInflight", "The message is not in flight.");
    const t = seconds ?? -1;
    if (
      !Number.isInteger(t) ||
      t < 0 ||
      now + t * 1000 - (m.receivedAt ?? now) > MAX_VISIBILITY_SECONDS * 1000
    ) {
      throw new QueueError("InvalidParameterValue", `VisibilityTimeout ${seconds} is invalid.`);
    }
    m.visibleAt = now + t * 1000;
  };

  const handlers: Record<string, (input: never) => unknown> = {
    SendMessageBatch: (input: SendMessageBatchCommand["input"]) => {
      const q = queueOf(input);
      const entries = input.Entries ?? [];
      checkIds(entries);
      const Successful = entries.map((e) => {
        if (!e.MessageGroupId) throw new QueueError("MissingParameter", "MessageGroupId is required.");
        if (!e.MessageDeduplicationId) {
          throw new QueueError(
            "InvalidParameterValue",
            "MessageDeduplicationId is required (no content-based deduplication).",
          );
        }
        if (e.DelaySeconds)
          throw new QueueError("InvalidParameterValue", "A FIFO message has no DelaySeconds.");
        const id = add(q, {
          id: randomUUID(),
          body: e.MessageBody ?? "",
          group: e.MessageGroupId,
          dedup: e.MessageDeduplicationId,
          sentAt: clock(),
        });
        return { Id: e.Id, MessageId: id };
      });
      return { Successful, Failed: [] };
    },
    ReceiveMessage: (input: ReceiveMessageCommand["input"]) => {
      const q = queueOf(input);
      const max = input.MaxNumberOfMessages ?? 1;
      if (!Number.isInteger(max) || max < 1 || max > 10) {
        throw new QueueError("InvalidParameterValue", `MaxNumberOfMessages ${max} must be 1 to 10.`);
      }
      const now = clock();
      const busy = new Set(q.messages.filter((m) => m.visibleAt > now).map((m) => m.group));
      const taken: Stored[] = [];
      for (const m of [...q.messages]) {
        if (taken.length >= max) break;
        // A group with a message in flight is nobody else's until it comes back or is deleted.
        if (busy.has(m.group)) continue;
        if (q.redrive && m.receives >= q.redrive.maxReceiveCount) {
          remove(q, m);
          q.redrive.dlq.messages.push({ ...m, visibleAt: 0 });
          continue;
        }
        m.receives++;
        m.firstReceiveAt ??= now;
        m.receivedAt = now;
        m.visibleAt = now + (input.VisibilityTimeout ?? q.visibilitySeconds) * 1000;
        if (m.receipt) q.byReceipt.delete(m.receipt);
        m.receipt = randomUUID();
        q.byReceipt.set(m.receipt, m);
        taken.push(m);
      }
      const all = [...(input.MessageSystemAttributeNames ?? []), ...(input.AttributeNames ?? [])].length > 0;
      return {
        Messages: taken.map((m) => ({
          MessageId: m.id,
          ReceiptHandle: m.receipt,
          Body: m.body,
          ...(all
            ? {
                Attributes: {
                  MessageGroupId: m.group,
                  MessageDeduplicationId: m.dedup,
                  SequenceNumber: m.sequence,
                  SenderId: "AIDAMEMORYQUEUE",
                  SentTimestamp: String(m.sentAt),
                  ApproximateReceiveCount: String(m.receives),
                  ApproximateFirstReceiveTimestamp: String(m.firstReceiveAt),
                },
              }
            : {}),
        })),
      };
    },
    DeleteMessage: (input: DeleteMessageCommand["input"]) => {
      if (!deleteByReceipt(queueOf(input), input.ReceiptHandle)) {
        throw new QueueError(
          "ReceiptHandleIsInvalid",
          `The receipt handle ${input.ReceiptHandle} is not valid.`,
        );
      }
      return {};
    },
    DeleteMessageBatch: (input: DeleteMessageBatchCommand["input"]) => {
      const q = queueOf(input);
      const entries = input.Entries ?? [];
      checkIds(entries);
      const Successful: { Id: string }[] = [];
      const Failed: { Id: string; SenderFault: boolean; Code: string; Message: string }[] = [];
      for (const e of entries) {
        if (deleteByReceipt(q, e.ReceiptHandle)) {
          Successful.push({ Id: e.Id as string });
        } else {
          Failed.push({
            Id: e.Id as string,
            SenderFault: true,
            Code: "ReceiptHandleIsInvalid",
            Message: "Not valid.",
          });
        }
      }
      return { Successful, Failed };
    },
    ChangeMessageVisibility: (input: ChangeMessageVisibilityCommand["input"]) => {
      changeVisibility(queueOf(input), input.ReceiptHandle, input.VisibilityTimeout);
      return {};
    },
    ChangeMessageVisibilityBatch: (input: ChangeMessageVisibilityBatchCommand["input"]) => {
      const q = queueOf(input);
      const entries = input.Entries ?? [];
      checkIds(entries);
      const Successful: { Id: string }[] = [];
      const Failed: { Id: string; SenderFault: boolean; Code: string; Message: string }[] = [];
      for (const e of entries) {
        try {
          changeVisibility(q, e.ReceiptHandle, e.VisibilityTimeout);
          Successful.push({ Id: e.Id as string });
        } catch (err) {
          const { code, message } = err as QueueError;
          Failed.push({ Id: e.Id as string, SenderFault: true, Code: code, Message: message });
        }
      }
      return { Successful, Failed };
    },
    GetQueueAttributes: (input: GetQueueAttributesCommand["input"]) => {
      const q = queueOf(input);
      const now = clock();
      const visible = q.messages.filter((m) => m.visibleAt <= now).length;
      const all: Record<string, string> = {
        QueueArn: q.arn,
        FifoQueue: "true",
        ContentBasedDeduplication: "false",
        VisibilityTimeout: String(q.visibilitySeconds),
        ApproximateNumberOfMessages: String(visible),
        ApproximateNumberOfMessagesNotVisible: String(q.messages.length - visible),
        ApproximateNumberOfMessagesDelayed: "0",
        ...(q.redrive
          ? {
              RedrivePolicy: JSON.stringify({
                deadLetterTargetArn: q.redrive.dlq.arn,
                maxReceiveCount: q.redrive.maxReceiveCount,
              }),
            }
          : {}),
      };
      const names = input.AttributeNames ?? [];
      return {
        Attributes: names.includes("All")
          ? all
          : Object.fromEntries(names.flatMap((n) => (n in all ? [[n, all[n] as string]] : []))),
      };
    },
  };
  const commands: [abstract new (...args: never[]) => unknown, string][] = [
    [SendMessageBatchCommand, "SendMessageBatch"],
    [ReceiveMessageCommand, "ReceiveMessage"],
    [DeleteMessageCommand, "DeleteMessage"],
    [DeleteMessageBatchCommand, "DeleteMessageBatch"],
    [ChangeMessageVisibilityCommand, "ChangeMessageVisibility"],
    [ChangeMessageVisibilityBatchCommand, "ChangeMessageVisibilityBatch"],
    [GetQueueAttributesCommand, "GetQueueAttributes"],
  ];
  const sqs = {
    async send(command: { input: unknown }, sendOptions?: { abortSignal?: AbortSignal }) {
      // Answer on a later turn of the event loop, as a network call would.
      await new Promise((resolve) => setImmediate(resolve));
      sendOptions?.abortSignal?.throwIfAborted();
      const name = commands.find(([type]) => command instanceof type)?.[1] ?? "";
      const handler = handlers[name];
      if (!handler)
        throw new QueueError(
          "UnsupportedOperation",
          `The memory queue does not answer ${name || "this command"}.`,
        );
      calls.set(name, (calls.get(name) ?? 0) + 1);
      return handler(command.input as never);
    },
    destroy() {},
  } as unknown as SQSClient;
  return {
    sqs,
    queueUrl: url(main),
    dlqUrl: url(dlq),
    calls,
    peek: (queueUrl = url(main)) =>
      queueOf({ QueueUrl: queueUrl }).messages.map((m) => ({
        body: m.body,
        groupId: m.group,
        receives: m.receives,
      })),
  };
}
