import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { QueueRecord } from "../../lambda/queue/worker";
import { createFifoQueueWithDlq, describeWithMoto, type MotoServer, motoSqsClient, startMoto } from "./moto";
import { createMemoryFifoQueue, drainQueue, queueDepth, toRecord } from "./queue-drain";

interface Queues {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly dlqUrl: string;
}

/**
 * The same steps against either queue, and what they saw: FIFO order and groups, deduplication,
 * visibility, partial deletes, the redrive to the dead-letter queue, the counts. (Only behaviour
 * moto and SQS agree on: no stale receipts, no long polls.)
 */
async function transcript({ sqs, queueUrl, dlqUrl }: Queues): Promise<unknown[]> {
  const seen: unknown[] = [];
  const send = async (entries: [id: string, group: string, dedup: string][]) => {
    const answer = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: entries.map(([id, group, dedup]) => ({
          Id: id,
          MessageBody: `body-${id}`,
          MessageGroupId: group,
          MessageDeduplicationId: dedup,
        })),
      }),
    );
    return [answer.Successful?.length ?? 0, answer.Failed?.length ?? 0];
  };
  const receive = async (max: number, url = queueUrl) => {
    const answer = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: max,
        MessageSystemAttributeNames: ["All"],
      }),
    );
    return (answer.Messages ?? []).map(toRecord);
  };
  const shown = (records: QueueRecord[]) =>
    records.map((r) => `${r.body}@${r.attributes.MessageGroupId}#${r.attributes.ApproximateReceiveCount}`);
  const counts = async (url: string) => {
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    return [Attributes.ApproximateNumberOfMessages, Attributes.ApproximateNumberOfMessagesNotVisible];
  };
  const remove = (records: QueueRecord[]) =>
    sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: records.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
      }),
    );
  const comeBack = async (records: QueueRecord[]) => {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: records.map((r, i) => ({
          Id: String(i),
          ReceiptHandle: r.receiptHandle,
          VisibilityTimeout: 0,
        })),
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 20)); // moto: visible once its clock has moved on
  };

  // a1's duplicate (same deduplication id) is accepted and dropped.
  seen.push(
    await send([
      ["a1", "a", "d-a1"],
      ["a2", "a", "d-a2"],
      ["b1", "b", "d-b1"],
      ["c1", "c", "d-c1"],
    ]),
  );
  seen.push(await send([["a1again", "a", "d-a1"]]));
  seen.push(await counts(queueUrl));
  // In send order, a group's messages together; then nothing while every group is in flight.
  const first = await receive(3);
  seen.push(shown(first), shown(await receive(10)), shown(await receive(10)));
  seen.push(await counts(queueUrl));
  // a1 done, a2 failed (back at once): a2 again, its second receive; b still in flight.
  await remove(first.slice(0, 1));
  await comeBack(first.slice(1, 2));
  const again = await receive(10);
  seen.push(shown(again));
  // Back after its second receive: the next receive moves it to the dead-letter queue.
  await comeBack(again);
  seen.push(shown(await receive(10)), await counts(queueUrl), await counts(dlqUrl));
  seen.push(shown(await receive(10, dlqUrl)));
  return seen;
}

/** `perGroup` messages in each of `groups` groups. */
const fill = async (queue: Queues, groups: number, perGroup: number) => {
  for (let g = 0; g < groups; g++) {
    await queue.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queue.queueUrl,
        Entries: Array.from({ length: perGroup }, (_, i) => ({
          Id: `m${i}`,
          MessageBody: `g${g}-${i}`,
          MessageGroupId: `g${g}`,
          MessageDeduplicationId: `g${g}-${i}`,
        })),
      }),
    );
  }
};

describe("the memory FIFO queue", () => {
  it("goes through the steps as SQS does", async () => {
    const queue = createMemoryFifoQueue({ maxReceiveCount: 2, visibilityTimeoutSeconds: 30 });
    expect(await transcript(queue)).toEqual([
      [4, 0],
      [1, 0],
      ["4", "0"],
      ["body-a1@a#1", "body-a2@a#1", "body-b1@b#1"],
      ["body-c1@c#1"],
      [],
      ["0", "4"],
      ["body-a2@a#2"],
      [],
      ["0", "2"],
      ["1", "0"],
      ["body-a2@a#3"],
    ]);
  });

  it("hands a message out again when its visibility timeout ends, and takes a repeat once five minutes passed", async () => {
    let now = 1_000_000;
    const { sqs, queueUrl } = createMemoryFifoQueue({
      maxReceiveCount: 5,
      visibilityTimeoutSeconds: 30,
      clock: () => now,
    });
    const send = () =>
      sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: [{ Id: "1", MessageBody: "x", MessageGroupId: "g", MessageDeduplicationId: "d" }],
        }),
      );
    const receive = async () =>
      (
        (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 })))
          .Messages ?? []
      ).length;
    await send();
    expect(await receive()).toBe(1);
    now += 29_000;
    expect(await receive()).toBe(0);
    now += 1_000;
    expect(await receive()).toBe(1);
    await send();
    expect(await queueDepth(sqs, queueUrl)).toBe(1);
    now += 5 * 60_000;
    await send();
    expect(await queueDepth(sqs, queueUrl)).toBe(2);
  });

  it("refuses what SQS refuses: a batch of 11, repeated entry ids, a message without a group", async () => {
    const { sqs, queueUrl } = createMemoryFifoQueue({ maxReceiveCount: 2, visibilityTimeoutSeconds: 30 });
    const entry = (id: string, group?: string) => ({
      Id: id,
      MessageBody: "x",
      MessageDeduplicationId: id,
      ...(group ? { MessageGroupId: group } : {}),
    });
    const send = (entries: ReturnType<typeof entry>[]) =>
      sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    await expect(send(Array.from({ length: 11 }, (_, i) => entry(`e${i}`, "g")))).rejects.toThrow(
      /At most 10/,
    );
    await expect(send([entry("e", "g"), entry("e", "g")])).rejects.toThrow(/repeats/);
    await expect(send([entry("e")])).rejects.toThrow(/MessageGroupId/);
    await expect(
      sqs.send(new ReceiveMessageCommand({ QueueUrl: "http://nowhere/q.fifo", MaxNumberOfMessages: 1 })),
    ).rejects.toThrow(/does not exist/);
  });
});

describe("drainQueue", () => {
  it("hands every message to a handler, a group to one poller at a time, and deletes what did not fail", async () => {
    const queue = createMemoryFifoQueue({ maxReceiveCount: 3, visibilityTimeoutSeconds: 30 });
    await fill(queue, 6, 5);
    const handled: string[] = [];
    let failedOnce = false;
    const handler = async (records: readonly QueueRecord[]) => {
      await new Promise((resolve) => setTimeout(resolve, 2));
      // The first batch's first message fails once and comes back at once (as the worker sets it).
      const first = records[0] as QueueRecord;
      if (!failedOnce) {
        failedOnce = true;
        await queue.sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: queue.queueUrl,
            Entries: [{ Id: "0", ReceiptHandle: first.receiptHandle, VisibilityTimeout: 0 }],
          }),
        );
        handled.push(...records.slice(1).map((r) => r.body));
        return { batchItemFailures: [{ itemIdentifier: first.messageId }] };
      }
      handled.push(...records.map((r) => r.body));
      return { batchItemFailures: [] };
    };
    const result = await drainQueue({
      ...queue,
      handlers: [handler, handler, handler],
      batchSize: 4,
      timeoutMs: 5_000,
    });
    expect(handled.sort()).toEqual(
      Array.from({ length: 6 }, (_, g) => Array.from({ length: 5 }, (_, i) => `g${g}-${i}`))
        .flat()
        .sort(),
    );
    expect(result).toMatchObject({
      received: 31,
      deleted: 30,
      failed: 1,
      maxReceiveCount: 2,
      groupOverlap: false,
    });
    expect(result.maxConcurrentBatches).toBeGreaterThan(1);
    expect(await queueDepth(queue.sqs, queue.queueUrl)).toBe(0);
  });

  it("stops after maxMessages, and throws when the queue does not empty in time", async () => {
    const queue = createMemoryFifoQueue({ maxReceiveCount: 3, visibilityTimeoutSeconds: 30 });
    await fill(queue, 4, 10);
    const ok = async () => ({ batchItemFailures: [] });
    const part = await drainQueue({ ...queue, handlers: [ok], maxMessages: 15, timeoutMs: 5_000 });
    expect(part).toMatchObject({ received: 20, deleted: 20, stoppedEarly: true });
    expect(await queueDepth(queue.sqs, queue.queueUrl)).toBe(20);
    // Every message fails and stays in flight for 30 s: the drain gives up, saying so.
    const failing = async (records: readonly QueueRecord[]) => ({
      batchItemFailures: records.map((r) => ({ itemIdentifier: r.messageId })),
    });
    await expect(drainQueue({ ...queue, handlers: [failing], timeoutMs: 200 })).rejects.toThrow(
      /not empty after 200 ms \(20 received, 0 deleted, 20 answered failed/,
    );
  });
});

describeWithMoto("the memory FIFO queue, compared with moto's", () => {
  let moto: MotoServer;
  let sqs: SQSClient;
  beforeAll(async () => {
    moto = await startMoto();
    sqs = motoSqsClient(moto);
  }, 30_000);
  afterAll(async () => {
    sqs?.destroy();
    await moto?.close();
  });

  it("sees what moto sees, step by step", async () => {
    const queues = await createFifoQueueWithDlq(moto, "compare", {
      maxReceiveCount: 2,
      visibilityTimeoutSeconds: 30,
    });
    const memory = createMemoryFifoQueue({ maxReceiveCount: 2, visibilityTimeoutSeconds: 30 });
    expect(await transcript(memory)).toEqual(await transcript({ sqs, ...queues }));
  });

  it("drains moto's queue with concurrent pollers, never two holding one group", async () => {
    const queues = await createFifoQueueWithDlq(moto, "drain", {
      maxReceiveCount: 3,
      visibilityTimeoutSeconds: 30,
    });
    const queue = { sqs, ...queues };
    await fill(queue, 8, 5);
    const seen: string[] = [];
    const handler = async (records: readonly QueueRecord[]) => {
      seen.push(...records.map((r) => r.body));
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { batchItemFailures: [] };
    };
    const result = await drainQueue({
      ...queue,
      handlers: [handler, handler, handler, handler],
      timeoutMs: 20_000,
    });
    expect(result).toMatchObject({ received: 40, deleted: 40, maxReceiveCount: 1, groupOverlap: false });
    expect(new Set(seen).size).toBe(40);
    expect(await queueDepth(sqs, queues.queueUrl)).toBe(0);
  }, 30_000);
});
