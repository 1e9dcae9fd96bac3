import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { Agent } from "undici";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_UPLOAD_SETTINGS } from "../../../lambda/bucket/multipart";
import { type ArchiverConfig, archiveKey, type Workspace } from "../../../lambda/config";
import { parseMessage, QueueMessageError } from "../../../lambda/queue/message";
import { planAndEnqueue } from "../../../lambda/queue/planner";
import { handleBatch, type QueueRecord, type WorkerJob } from "../../../lambda/queue/worker";
import { createS3Client } from "../../../lambda/s3-client";
import { GROUP, OTHER_GROUP, simulatorClient, testConfig } from "../../support/archive-fixture";
import { type AtlasSimulator, startAtlasSimulator } from "../../support/atlas-simulator";
import {
  createFifoQueueWithDlq,
  describeWithMoto,
  type FifoQueueWithDlq,
  type MotoServer,
  motoSqsClient,
  startMoto,
} from "../../support/moto";
import { S3RVER_CREDENTIALS, type S3TestServer, startS3Server } from "../../support/s3-server";

/** The archived logs among `keys`: without the receipts written beside them (`_receipts/`). */
const logKeys = (keys: string[]) => keys.filter((k) => !/(^|\/)_receipts\//.test(k));

const NOW = Date.parse("2026-11-28T15:20:00Z");
const PROD: Workspace = { groupId: GROUP, tenantName: "prod-workspace" };
const EU: Workspace = { groupId: OTHER_GROUP, tenantName: "eu" };

describe("parseMessage", () => {
  const config = testConfig("http://127.0.0.1:1", { workspaces: [PROD] });
  const body = (o: Record<string, unknown>) =>
    JSON.stringify({ v: 1, ...PROD, startMs: 0, endMs: 3_600_000, ...o });

  it("gives the configured workspace, the window and its key", () => {
    const parsed = parseMessage(body({}), config);
    expect(parsed.workspace).toBe(config.workspaces[0]);
    expect(parsed.key).toBe(archiveKey(config.archive.prefix, PROD, { startMs: 0, endMs: 3_600_000 }));
  });

  it.each([
    ["not JSON", "{"],
    ["another version", body({ v: 2 })],
    ["a workspace no longer configured", body({ tenantName: "gone" })],
    ["a window of another length", body({ endMs: 1_800_000 })],
    ["a window off the grid", body({ startMs: 60_000, endMs: 3_660_000 })],
    ["a huge body", "x".repeat(10_000)],
  ])("refuses %s as a permanent error", (_what, text) => {
    expect(() => parseMessage(text, config)).toThrow(QueueMessageError);
  });
});

describeWithMoto("the queue's planner and worker, against moto's SQS", () => {
  let moto: MotoServer;
  let sqs: SQSClient;
  let sim: AtlasSimulator;
  let s3server: S3TestServer;
  let queue: FifoQueueWithDlq;
  let dispatcher: Agent;
  let config: ArchiverConfig;
  const s3 = () =>
    createS3Client({
      region: "us-east-1",
      endpoint: s3server.endpoint,
      forcePathStyle: true,
      credentials: { ...S3RVER_CREDENTIALS },
    });

  beforeAll(async () => {
    moto = await startMoto();
    sqs = motoSqsClient(moto);
  }, 30_000);
  afterAll(async () => {
    sqs?.destroy();
    await moto?.close();
  });
  beforeEach(async () => {
    await moto.reset();
    queue = await createFifoQueueWithDlq(moto, "windows", {
      maxReceiveCount: 2,
      visibilityTimeoutSeconds: 1,
    });
    sim = await startAtlasSimulator({ workspaces: [PROD, EU] });
    s3server = await startS3Server({ conditionalWrites: true });
    dispatcher = new Agent({ connect: { timeout: 2_000 } });
    config = testConfig(sim.baseUrl, { workspaces: [PROD, EU] });
  });
  afterEach(async () => {
    await dispatcher?.close();
    await sim?.close();
    await s3server?.close();
  });

  function job(client = s3()): WorkerJob {
    return {
      config,
      bucket: s3server.bucket,
      atlas: simulatorClient(sim, dispatcher, { retry: { baseDelayMs: 5, maxDelayMs: 20, maxAttempts: 2 } }),
      s3: client,
      runId: "worker-test",
      upload: DEFAULT_UPLOAD_SETTINGS,
      sqs,
      queueUrl: queue.queueUrl,
      concurrency: 4,
      rateLimitDelaySeconds: 30,
    };
  }

  const plan = (overrides = {}) =>
    planAndEnqueue({
      config,
      bucket: s3server.bucket,
      s3: s3(),
      sqs,
      queueUrl: queue.queueUrl,
      nowMs: NOW,
      concurrency: 4,
      lanesPerProject: 2,
      ...overrides,
    });

  /** Receives what the queue hands out now, as the Lambda SQS event source delivers it. */
  async function receive(queueUrl = queue.queueUrl, max = 10): Promise<QueueRecord[]> {
    const answer = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: max,
        AttributeNames: ["All"],
        MessageSystemAttributeNames: ["All"],
      }),
    );
    return (answer.Messages ?? []).map((m: Message) => ({
      messageId: m.MessageId as string,
      receiptHandle: m.ReceiptHandle as string,
      body: m.Body as string,
      attributes: {
        MessageGroupId: m.Attributes?.MessageGroupId,
        ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount,
      },
    }));
  }

  /** What Lambda does after the handler: deletes the messages that did not fail. */
  async function deleteSucceeded(
    records: readonly QueueRecord[],
    failed: readonly { itemIdentifier: string }[],
  ) {
    const done = records.filter((r) => !failed.some((f) => f.itemIdentifier === r.messageId));
    if (done.length === 0) return;
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queue.queueUrl,
        Entries: done.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
      }),
    );
  }

  async function visible(queueUrl: string): Promise<number> {
    const a = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    return (
      Number(a.Attributes?.ApproximateNumberOfMessages ?? 0) +
      Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
    );
  }

  it("enqueues every missing window once, in its project's lane; a second plan within minutes adds nothing", async () => {
    const first = await plan();
    expect(first).toMatchObject({ due: 10, enqueued: 10, expired: 0, failed: 0, deferred: 0 });
    await plan();
    expect(await visible(queue.queueUrl)).toBe(10);
    const records = await receive();
    expect(new Set(records.map((r) => r.attributes.MessageGroupId))).toEqual(
      new Set([`${GROUP}#0`, `${OTHER_GROUP}#0`]),
    );
  });

  it("says what it left unplanned at its deadline, and sends nothing for it", async () => {
    const summary = await plan({ signal: AbortSignal.abort() });
    expect(summary).toMatchObject({ due: 10, enqueued: 0, deferred: 10 });
    expect(await visible(queue.queueUrl)).toBe(0);
  });

  it("plans a long range in slices of whole days, listing each workspace once a slice", async () => {
    const range = { fromMs: Date.parse("2026-11-01T00:00:00Z"), toMs: Date.parse("2026-11-04T00:00:00Z") };
    s3server.clearOperations();
    const summary = await plan({ range, sliceWindows: 60 });
    expect(summary).toMatchObject({ due: 144, enqueued: 144, slices: 3, windowsLeft: 0 });
    expect(summary.next).toBeUndefined();
    expect(s3server.operations.filter((o) => o.op === "ListObjectsV2")).toHaveLength(6);
    expect(await visible(queue.queueUrl)).toBe(144);
  });

  it("stops a range between slices when the next would outlast the deadline, and says where to go on", async () => {
    const range = { fromMs: Date.parse("2026-11-01T00:00:00Z"), toMs: Date.parse("2026-11-04T00:00:00Z") };
    let t = 0;
    // Each clock reading is a second later: a slice takes 1 s, and at 3 s 1.5 s more is past 4 s.
    const summary = await plan({ range, sliceWindows: 60, clock: () => (t += 1_000), deadlineMs: 4_000 });
    expect(summary).toMatchObject({ enqueued: 48, windowsLeft: 96 });
    expect(summary.next).toEqual({ fromMs: Date.parse("2026-11-02T00:00:00Z"), toMs: range.toMs });
    expect(await visible(queue.queueUrl)).toBe(48);
  });

  it("hands a range cut off by its signal on from the slice it was in, sending none of it", async () => {
    const range = { fromMs: Date.parse("2026-11-01T00:00:00Z"), toMs: Date.parse("2026-11-02T00:00:00Z") };
    const summary = await plan({ range, signal: AbortSignal.abort() });
    expect(summary).toMatchObject({ enqueued: 0, deferred: 0, windowsLeft: 48, next: range });
    expect(await visible(queue.queueUrl)).toBe(0);
  });

  it("drains the queue into the bucket: every window archived once, the messages deleted", async () => {
    await plan();
    const worker = job();
    for (let round = 0; round < 20 && (await visible(queue.queueUrl)) > 0; round++) {
      const records = await receive();
      const { batchItemFailures } = await handleBatch(records, worker);
      expect(batchItemFailures).toEqual([]);
      await deleteSucceeded(records, batchItemFailures);
    }
    expect(await visible(queue.queueUrl)).toBe(0);
    expect(logKeys(await s3server.keys()).length).toBe(10);
    expect(sim.requests.filter((r) => r.endpoint === "download")).toHaveLength(10);
  });

  it("costs one HEAD and no download for a window delivered again after it was archived", async () => {
    await plan();
    const worker = job();
    const records = await receive();
    await handleBatch(records, worker);
    const downloads = sim.requests.filter((r) => r.endpoint === "download").length;
    s3server.clearOperations();
    // The same messages again (a redelivery): nothing is downloaded or written.
    const again = await handleBatch(records, worker);
    expect(again.outcomes.map((o) => o.status)).toEqual(records.map(() => "already-present"));
    expect(sim.requests.filter((r) => r.endpoint === "download")).toHaveLength(downloads);
    expect(s3server.operations.map((o) => o.op)).toEqual(records.map(() => "HeadObject"));
  });

  it("delays a rate-limited project's message until Atlas allows it, and returns its group's later messages untried", async () => {
    await plan();
    sim.inject({
      fault: { kind: "status", status: 429, errorCode: "RATE_LIMITED_TOKEN_BUCKET", retryAfter: 3 },
      match: { groupId: GROUP },
      times: 5,
    });
    const records = (await receive()).filter((r) => r.attributes.MessageGroupId === `${GROUP}#0`);
    expect(records.length).toBeGreaterThan(0);
    const result = await handleBatch(records, job());
    expect(result.outcomes[0]).toMatchObject({ status: "delayed" });
    expect((result.outcomes[0] as { delaySeconds: number }).delaySeconds).toBeGreaterThanOrEqual(2);
    expect(result.outcomes.slice(1)).toEqual(
      records
        .slice(1)
        .map((r) => ({ messageId: r.messageId, status: "not-tried", reason: "paused", deadLettered: false })),
    );
    expect(result.batchItemFailures).toHaveLength(records.length);
  });

  it("still tries a group's later messages after one fails, and brings the failed one back after its backoff", async () => {
    await plan();
    // Both of the Atlas client's attempts at PROD's first window answer 500.
    sim.inject({ fault: { kind: "status", status: 500 }, match: { groupId: GROUP }, times: 2 });
    const records = (await receive()).filter((r) => r.attributes.MessageGroupId === `${GROUP}#0`);
    expect(records.length).toBeGreaterThan(1);
    const result = await handleBatch(records, job());
    expect(result.outcomes[0]).toMatchObject({
      status: "failed",
      kind: "transient",
      receiveCount: 1,
      retrySeconds: 30,
      deadLettered: false,
    });
    expect(result.outcomes.slice(1).map((o) => o.status)).toEqual(records.slice(1).map(() => "archived"));
    await deleteSucceeded(records, result.batchItemFailures);
    // The queue's own visibility timeout is 1 s: the failed message stays away for its 30 s.
    await new Promise((r) => setTimeout(r, 1_300));
    const again = await receive();
    expect(again.map((r) => r.messageId)).not.toContain(records[0]?.messageId);
  });

  it("hands back at once the messages it had no time to try", async () => {
    await plan();
    const records = await receive();
    const result = await handleBatch(records, { ...job(), deadlineMs: 0 });
    expect(result.outcomes.map((o) => o.status === "not-tried" && o.reason)).toEqual(
      records.map(() => "deadline"),
    );
    expect(sim.requests.filter((r) => r.endpoint === "download")).toHaveLength(0);
    // Visible again now, not after the queue's visibility timeout.
    const again = await receive();
    expect(again.length).toBeGreaterThan(0);
    expect(records.map((r) => r.messageId)).toEqual(expect.arrayContaining(again.map((r) => r.messageId)));
  });

  it("still answers the rate-limited message failed when SQS refuses to change its visibility", async () => {
    await plan();
    sim.inject({
      fault: { kind: "status", status: 429, errorCode: "RATE_LIMITED_TOKEN_BUCKET", retryAfter: 3 },
      match: { groupId: GROUP },
      times: 5,
    });
    const records = (await receive()).filter((r) => r.attributes.MessageGroupId === `${GROUP}#0`).slice(0, 1);
    const refusing = { send: () => Promise.reject(new Error("MessageNotInflight")) } as unknown as SQSClient;
    const result = await handleBatch(records, { ...job(), sqs: refusing });
    expect(result.outcomes.map((o) => o.status)).toEqual(["delayed"]);
    expect(result.batchItemFailures).toHaveLength(1);
  });

  it("sends a window whose workspace Atlas does not know to the dead-letter queue after its receives, saying so on the last", async () => {
    const ghost: Workspace = { groupId: GROUP, tenantName: "deleted-one" };
    config = testConfig(sim.baseUrl, { workspaces: [ghost] });
    await plan({ config });
    // The queue moves a message after 2 receives; a failure no retry cures comes back in 1 s here.
    const worker = {
      ...job(),
      config,
      maxReceiveCount: 2,
      retry: { permanentSeconds: 1, transientSeconds: 1, maxTransientSeconds: 1 },
    };
    const seen: unknown[] = [];
    for (let round = 0; round < 6 && seen.length < 2; round++) {
      const records = await receive(queue.queueUrl, 1);
      if (records.length > 0) seen.push((await handleBatch(records, worker)).outcomes[0]);
      await new Promise((r) => setTimeout(r, 1_100));
    }
    const failure = {
      status: "failed",
      kind: "setup",
      failure: expect.objectContaining({ code: "ATLAS_NOT_FOUND" }),
      retrySeconds: 1,
    };
    expect(seen).toEqual([
      expect.objectContaining({ ...failure, receiveCount: 1, deadLettered: false }),
      expect.objectContaining({ ...failure, receiveCount: 2, deadLettered: true }),
    ]);
    await new Promise((r) => setTimeout(r, 1_100));
    await receive(queue.queueUrl, 1); // the receive at which SQS moves it
    expect(await visible(queue.dlqUrl)).toBe(1);
  }, 20_000);
});
