import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Context, SQSEvent } from "aws-lambda";
import { afterAll, afterEach, beforeAll, beforeEach, expect, it, vi } from "vitest";
import { archiveKey, digestKey, renderBundledConfig, type Workspace } from "../../../lambda/config";
import {
  type Digest,
  SIGNATURE_METADATA,
  signedMessage,
  verifyDigestSignature,
} from "../../../lambda/digest/format";
import { kmsPublicKeyPem, kmsVerify } from "../../../lambda/digest/kms";
import { createPlannerHandler } from "../../../lambda/planner-handler";
import { dueWindows } from "../../../lambda/windows";
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

/** The archived logs among `keys`: without the receipts written beside them (`_receipts/`). */
const logKeys = (keys: string[]) => keys.filter((k) => !/(^|\/)_receipts\//.test(k));

const PROD: Workspace = { groupId: GROUP, tenantName: "prod-workspace" };
const WINDOW = { minutes: 60, lagMinutes: 15, lookbackHours: 4 };
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
          window: WINDOW,
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
    // Three or two windows are due, as the real clock is past a quarter past the hour or not.
    const due = dueWindows(Date.now(), WINDOW).length;
    const planned = await createPlannerHandler()({}, context("plan-1"));
    expect(planned).toMatchObject({ due, enqueued: due, failed: 0 });
    expect(secrets.calls).toHaveLength(0);
    expect(emf().at(-1)).toMatchObject({ BacklogWindows: due, WindowsExpired: 0 });

    const event = await sqsEvent();
    expect(event.Records).toHaveLength(due);
    const answer = await createWorkerHandler()(event, context("work-1"));
    expect(answer).toEqual({ batchItemFailures: [] });
    const keys = logKeys(await s3server.keys());
    expect(keys).toHaveLength(due);
    const stored = await Promise.all(keys.map((k) => s3server.getObject(k)));
    expect(emf().at(-1)).toMatchObject({
      WindowsArchived: due,
      WindowsFailed: 0,
      BytesArchived: stored.reduce((n, o) => n + o.contentLength, 0),
    });
  });

  it("counts an object at a window's key that is not an archive object as invalid, and enqueues nothing for it", async () => {
    const [window] = dueWindows(Date.now(), WINDOW);
    if (!window) throw new Error("no window due");
    const key = archiveKey("atlas/stream-audit/", PROD, window);
    // Written by hand, without a checksum: not what the archiver writes.
    await s3server.putObject(key, "not the archiver's");
    const planned = await createPlannerHandler()({}, context("plan-invalid"));
    expect(planned).toMatchObject({ failed: 1, enqueued: dueWindows(Date.now(), WINDOW).length - 1 });
    expect(emf().at(-1)).toMatchObject({ WindowsInvalid: 1, WindowsFailed: 1 });
  });

  it("fails the invocation when the secret cannot be read, so the batch comes back and the errors alarm sees it", async () => {
    await createPlannerHandler()({}, context("plan-2"));
    vi.stubEnv("ATLAS_SECRET_ARN", "no/such/secret");
    const event = await sqsEvent();
    await expect(createWorkerHandler()(event, context("work-2"))).rejects.toMatchObject({
      name: "AtlasCredentialsError",
    });
    expect(emf().at(-1)).toMatchObject({ SetupFailures: 1, WindowsArchived: 0 });
  });

  it("goes on with a long backfill by invoking itself with the rest of the range, until all of it is enqueued", async () => {
    const invokes: { path: string; type: string | undefined; body: string }[] = [];
    const lambda: Server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        invokes.push({ path: req.url ?? "", type: req.headers["x-amz-invocation-type"] as string, body });
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((r) => lambda.listen(0, "127.0.0.1", r));
    try {
      vi.stubEnv("AWS_ENDPOINT_URL_LAMBDA", `http://127.0.0.1:${(lambda.address() as AddressInfo).port}`);
      vi.stubEnv("AWS_LAMBDA_FUNCTION_NAME", "archiver-planner");
      // 12 days of one workspace, a day a slice, and 0.4 s before the deadline: not all of it. (Kept
      // short: moto's FIFO queue takes longer for each message it already holds.)
      const planner = createPlannerHandler({ sliceWindows: 24 });
      const short = { awsRequestId: "bf-1", getRemainingTimeInMillis: () => 800 } as unknown as Context;
      const first = await planner({ from: "2026-10-01", to: "2026-10-12" }, short);
      expect(first.due).toBe(288);
      expect(first.windowsLeft).toBeGreaterThan(0);
      expect(first.enqueued + first.windowsLeft).toBe(288);
      expect(emf().at(-1)).toMatchObject({ BackfillWindowsLeft: first.windowsLeft });
      expect(invokes).toHaveLength(1);
      expect(invokes[0]).toMatchObject({
        path: "/2015-03-31/functions/archiver-planner/invocations",
        type: "Event",
      });
      const next = JSON.parse(invokes[0]?.body ?? "{}") as Record<string, unknown>;
      expect(next).toEqual({
        from: expect.stringMatching(/^2026-\d\d-\d\dT00:00:00Z$/),
        to: "2026-10-13T00:00:00Z",
        part: 2,
      });

      // Lambda delivers that event: the rest is planned, and the chain ends.
      const second = await planner(next, context("bf-2"));
      expect(second).toMatchObject({ enqueued: first.windowsLeft, windowsLeft: 0 });
      expect(invokes).toHaveLength(1);
      expect(emf().at(-1)).toMatchObject({ BackfillWindowsLeft: 0 });
    } finally {
      await new Promise((r) => lambda.close(r));
    }
  }, 30_000);

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

  it("seals a backfill's day on a seal event once the queue drained, signed by KMS; without a key it says so", async () => {
    const kms = new KMSClient({
      endpoint: moto.endpoint,
      region: moto.region,
      credentials: moto.credentials,
    });
    try {
      const created = await kms.send(
        new CreateKeyCommand({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" }),
      );
      const keyArn = created.KeyMetadata?.Arn as string;
      vi.stubEnv("DIGEST_KEY_ARN", keyArn);
      vi.stubEnv("AWS_ENDPOINT_URL_KMS", moto.endpoint);
      // Two days ago: out of the lookback whatever the clock. Three of its windows are backfilled.
      const date = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
      const backfill = await createPlannerHandler()(
        { from: `${date}T00:00:00Z`, to: `${date}T03:00:00Z` },
        context("plan-backfill"),
      );
      expect(backfill).toMatchObject({ enqueued: 3 });
      expect(backfill).not.toHaveProperty("digests");
      await createWorkerHandler()(await sqsEvent(), context("work-backfill"));
      const receipts = await s3server.keys("atlas/stream-audit/_receipts/");
      expect(receipts.filter((k) => k.includes(`date=${date}/`))).toHaveLength(3);

      const sealed = await createPlannerHandler()({ seal: true, from: date, to: date }, context("plan-seal"));
      expect(sealed).toMatchObject({ enqueued: 0, digests: { sealed: 1, failed: 0 } });
      expect(emf().at(-1)).toMatchObject({ DigestsSealed: 1, DigestFailures: 0, BacklogWindows: 0 });
      const stored = await s3server.getObject(digestKey("atlas/stream-audit/", PROD, date));
      const digest = JSON.parse(stored.body.toString()) as Digest;
      expect(digest).toMatchObject({ date, sequence: 1, previous: null, signing: { keyId: keyArn } });
      expect(digest.windows.map((w) => w.state)).toEqual([
        "archived",
        "archived",
        "archived",
        ...Array(21).fill("missing"),
      ]);
      const signature = Buffer.from(stored.metadata[SIGNATURE_METADATA] as string, "base64");
      expect(await kmsVerify(kms, keyArn, signedMessage(stored.body), signature)).toBe(true);
      expect(verifyDigestSignature(stored.body, signature, await kmsPublicKeyPem(kms, keyArn))).toBe(true);
      // A second seal event: sealed already, nothing written.
      const again = await createPlannerHandler()(
        { seal: true, from: date, to: date },
        context("plan-seal-2"),
      );
      expect(again).toMatchObject({ digests: { sealed: 0, alreadySealed: 1 } });
      await expect(createPlannerHandler()({ seal: true }, context("plan-seal-3"))).rejects.toThrow(
        'Event field "seal" needs the days to seal',
      );
      // Without a key: a scheduled run plans as ever, says the days are not sealed, and counts it.
      vi.stubEnv("DIGEST_KEY_ARN", "");
      await createPlannerHandler()({}, context("plan-nokey"));
      expect(emf().at(-1)).toMatchObject({ DigestsSealed: 0, DigestFailures: 1 });
      expect(vi.mocked(console.error).mock.calls.flat().join("\n")).toContain(
        "digests not sealed: DIGEST_KEY_ARN not set",
      );
    } finally {
      kms.destroy();
    }
  }, 30_000);
});
