import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Context, SQSEvent } from "aws-lambda";
import { afterAll, afterEach, beforeAll, beforeEach, expect, it, vi } from "vitest";
import { renderBundledConfig, type Workspace } from "../../../lambda/config";
import { createPlannerHandler } from "../../../lambda/planner-handler";
import { createWorkerHandler } from "../../../lambda/worker-handler";
import { GROUP, testConfig } from "../../support/archive-fixture";
import {
  type AtlasSimulator,
  DEFAULT_SERVICE_ACCOUNT,
  startAtlasSimulator,
} from "../../support/atlas-simulator";
import {
  createFifoQueueWithDlq,
  describeWithMoto,
  type FifoQueueWithDlq,
  type MotoServer,
  motoSqsClient,
  startMoto,
} from "../../support/moto";
import { S3RVER_CREDENTIALS, type S3TestServer, startS3Server } from "../../support/s3-server";
import { type SecretsManagerFake, startSecretsManager } from "../../support/secrets-manager";

const PROD: Workspace = { groupId: GROUP, tenantName: "prod-workspace" };
const context = (id: string) =>
  ({ awsRequestId: id, getRemainingTimeInMillis: () => 600_000 }) as unknown as Context;

describeWithMoto("the planner and worker functions", () => {
  let moto: MotoServer;
  let sqs: SQSClient;
  let sim: AtlasSimulator;
  let s3server: S3TestServer;
  let secrets: SecretsManagerFake;
  let queue: FifoQueueWithDlq;
  let dir: string;
  let stdout: string[];

  beforeAll(async () => {
    moto = await startMoto();
    sqs = motoSqsClient(moto);
    dir = await mkdtemp(join(tmpdir(), "queue-handlers-"));
  }, 30_000);
  afterAll(async () => {
    sqs?.destroy();
    await moto?.close();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await moto.reset();
    queue = await createFifoQueueWithDlq(moto, "windows", {
      maxReceiveCount: 3,
      visibilityTimeoutSeconds: 30,
    });
    sim = await startAtlasSimulator({ workspaces: [PROD] });
    s3server = await startS3Server({ conditionalWrites: true });
    secrets = await startSecretsManager();
    secrets.setSecret("atlas/archiver", JSON.stringify(DEFAULT_SERVICE_ACCOUNT));
    // Lookback 4 hours: three due windows at the real clock's now.
    const file = join(dir, `config-${Date.now()}.json`);
    await writeFile(
      file,
      renderBundledConfig(
        testConfig(sim.baseUrl, {
          workspaces: [PROD],
          window: { minutes: 60, lagMinutes: 15, lookbackHours: 4 },
        }),
      ),
    );
    vi.stubEnv("ARCHIVER_CONFIG_FILE", file);
    vi.stubEnv("ARCHIVE_BUCKET", s3server.bucket);
    vi.stubEnv("QUEUE_URL", queue.queueUrl);
    vi.stubEnv("ATLAS_SECRET_ARN", "atlas/archiver");
    vi.stubEnv("RUN_INTERVAL_MINUTES", "60");
    vi.stubEnv("AWS_REGION", "us-east-1");
    vi.stubEnv("AWS_ACCESS_KEY_ID", S3RVER_CREDENTIALS.accessKeyId);
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", S3RVER_CREDENTIALS.secretAccessKey);
    vi.stubEnv("AWS_ENDPOINT_URL_S3", s3server.endpoint);
    vi.stubEnv("AWS_ENDPOINT_URL_SQS", moto.endpoint);
    vi.stubEnv("AWS_ENDPOINT_URL_SECRETS_MANAGER", secrets.endpoint);
    stdout = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      stdout.push(String(chunk));
      return true;
    });
    vi.spyOn(console, "info").mockImplementation(() => {});
    vi.spyOn(console, "warn").mockImplementation(() => {});
    vi.spyOn(console, "error").mockImplementation(() => {});
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
    await sim?.close();
    await s3server?.close();
    await secrets?.close();
  });

  /** What the queue hands out now, as the Lambda SQS event source delivers it. */
  async function sqsEvent(): Promise<SQSEvent> {
    const answer = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queue.queueUrl,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ["All"],
      }),
    );
    return {
      Records: (answer.Messages ?? []).map((m) => ({
        messageId: m.MessageId,
        receiptHandle: m.ReceiptHandle,
        body: m.Body,
        attributes: m.Attributes,
      })),
    } as unknown as SQSEvent;
  }

  const emf = () => stdout.map((l) => JSON.parse(l) as Record<string, unknown>).filter((d) => "_aws" in d);

  it("plans into the queue without Atlas credentials, then the worker archives every window it receives", async () => {
    const planned = await createPlannerHandler()({}, context("plan-1"));
    expect(planned).toMatchObject({ due: 3, enqueued: 3, failed: 0 });
    expect(secrets.calls).toHaveLength(0);
    expect(emf().at(-1)).toMatchObject({ BacklogWindows: 3, WindowsExpired: 0 });

    const event = await sqsEvent();
    expect(event.Records).toHaveLength(3);
    const answer = await createWorkerHandler()(event, context("work-1"));
    expect(answer).toEqual({ batchItemFailures: [] });
    expect(await s3server.keys()).toHaveLength(3);
    expect(emf().at(-1)).toMatchObject({ WindowsArchived: 3, WindowsFailed: 0 });
  });

  it("answers every message failed when the secret cannot be read, so none is lost", async () => {
    await createPlannerHandler()({}, context("plan-2"));
    vi.stubEnv("ATLAS_SECRET_ARN", "no/such/secret");
    const event = await sqsEvent();
    const answer = await createWorkerHandler()(event, context("work-2"));
    expect(answer.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(
      event.Records.map((r) => r.messageId),
    );
    expect(emf().at(-1)).toMatchObject({ SetupFailures: 1, WindowsArchived: 0 });
  });

  it("plans a backfill event's range, and refuses a bad one naming the event's field", async () => {
    const planned = await createPlannerHandler()(
      { from: "2026-11-01T00:00:00Z", to: "2026-11-01T06:00:00Z" },
      context("plan-3"),
    );
    expect(planned).toMatchObject({ due: 6, enqueued: 6 });
    await expect(createPlannerHandler()({ from: "2026-11-01" }, context("plan-4"))).rejects.toThrow(
      'A backfill needs both Event field "from" and Event field "to"',
    );
  });
});
