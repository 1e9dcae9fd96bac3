import { type ChildProcess, fork } from "node:child_process";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { CreateKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { afterAll, beforeAll, expect, it } from "vitest";
import { expiringWindows } from "../../lambda/archive/plan";
import {
  type ArchiverConfig,
  archiveKey,
  digestKey,
  HANDLER_ENVIRONMENT,
  RUN_METRICS,
} from "../../lambda/config";
import {
  type Digest,
  SIGNATURE_METADATA,
  sha256Hex,
  verifyDigestSignature,
} from "../../lambda/digest/format";
import { kmsPublicKeyPem } from "../../lambda/digest/kms";
import type { PlannerSummary } from "../../lambda/queue/planner";
import { dueWindows } from "../../lambda/windows";
import { AtlasAuditArchiver } from "../../lib";
import {
  bundledFunction,
  functionAssetHash,
  onlyResource,
  PLANNER,
  resourceById,
  TestApps,
  WORKER,
} from "../lib/support";
import { GROUP, testConfig } from "../support/archive-fixture";
import {
  type AtlasSimulator,
  DEFAULT_SERVICE_ACCOUNT,
  startAtlasSimulator,
} from "../support/atlas-simulator";
import { type LargeGzip, largeGzip } from "../support/large-gzip";
import {
  createFifoQueueWithDlq,
  describeWithMoto,
  type FifoQueueWithDlq,
  lambdaSqsRecord,
  type MotoServer,
  motoSqsClient,
  startMoto,
} from "../support/moto";
import { type S3TestServer, startS3Server } from "../support/s3-server";
import { type SecretsManagerFake, startSecretsManager } from "../support/secrets-manager";

// The deployed artifacts, run as Lambda would run them: the planner's and the worker's esbuild
// bundles that `cdk synth` stages (minified, with the parameter file inside), each loaded in a
// fresh Node process with the environment the stack gives it, against loopback stand-ins for
// Atlas, S3 and Secrets Manager, and moto's SQS as the window queue. The test plays Lambda's SQS
// event source: it receives a batch, invokes the worker with it, and deletes the messages the
// worker did not report failed (none when the invocation failed).

const MB = 1024 * 1024;
const PROD = { groupId: GROUP, tenantName: "prod-workspace" };
const PREFIX = "atlas/stream-audit/";
const NAMES = { planner: "archiver-planner", worker: "archiver-worker" } as const;
/** What EventBridge hands the planner on its schedule. */
const SCHEDULED_EVENT = {
  version: "0",
  id: "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
  "detail-type": "Scheduled Event",
  source: "aws.events",
  account: "123456789012",
  time: "2026-12-01T00:00:00Z",
  region: "us-east-1",
  resources: ["arn:aws:events:us-east-1:123456789012:rule/archiver-schedule"],
  detail: {},
};
/** The one window whose log is above the 8 MiB part size: it takes the multipart path. */
const BIG_WINDOW = {
  startMs: Date.parse("2026-10-01T00:00:00Z"),
  endMs: Date.parse("2026-10-01T01:00:00Z"),
};
const hourWindows = (fromIso: string, hours: number) =>
  Array.from({ length: hours }, (_, h) => {
    const startMs = Date.parse(fromIso) + h * 3_600_000;
    return { startMs, endMs: startMs + 3_600_000 };
  });

/** A staged bundle, and what the stack gives its function. */
interface Bundle {
  readonly dir: string;
  /** The function's environment variables, references replaced by the test's resources. */
  readonly environment: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

/** One invocation, as the driver answered it, with what it wrote. */
interface Invocation<T> {
  readonly ok: boolean;
  readonly result?: T;
  readonly error?: { name: string; code: string; message: string };
  /** Its stdout and stderr. */
  readonly output: string;
  /** Its embedded-metric-format documents (the stdout lines that start with `{"_aws"`). */
  readonly emf: Record<string, unknown>[];
}

/** A fresh process that has loaded a bundle as Lambda would (see `lambda-driver.cjs`). */
interface Driver {
  invoke<T>(event: unknown): Promise<Invocation<T>>;
  /** Everything it wrote so far. */
  output(): string;
}

/** One poll of the event source: the batch it received and the worker's invocation. */
interface Delivery {
  readonly records: readonly SQSRecord[];
  readonly invocation: Invocation<SQSBatchResponse>;
}

describeWithMoto("the bundled planner and worker functions", () => {
  const apps = new TestApps();
  let moto: MotoServer;
  let sqs: SQSClient;
  let kms: KMSClient;
  let digestKeyArn: string;
  let queue: FifoQueueWithDlq;
  let batchSize: number;
  let sim: AtlasSimulator;
  let s3: S3TestServer;
  let secrets: SecretsManagerFake;
  let config: ArchiverConfig;
  let bundles: { readonly planner: Bundle; readonly worker: Bundle };
  let planner: Driver;
  let worker: Driver;
  let namespace: string;
  /** The last large log the simulator served (a retry gets the same bytes anew). */
  let big: LargeGzip | undefined;
  const drivers: ChildProcess[] = [];

  beforeAll(async () => {
    const motoStarted = startMoto();
    sim = await startAtlasSimulator({
      workspaces: [PROD],
      body: (req) => {
        if (req.startDate * 1000 !== BIG_WINDOW.startMs) return undefined;
        big = largeGzip(20 * MB, 11);
        return big.stream;
      },
    });
    s3 = await startS3Server();
    secrets = await startSecretsManager();
    const secretArn = secrets.setSecret(
      "atlas/archiver",
      JSON.stringify({ clientId: "mdb_sa_id_old", clientSecret: "nope" }),
    ).arn;

    config = testConfig(sim.baseUrl, {
      archive: { prefix: PREFIX },
      window: { minutes: 60, lagMinutes: 0, lookbackHours: 3 },
      workspaces: [PROD],
    });
    const app = apps.app();
    const stack = new Stack(app, "FunctionsE2E");
    new AtlasAuditArchiver(stack, "Archiver", { config });
    const template = Template.fromStack(stack);

    // The window queue as the stack defines it: its visibility timeout and redrive, and the event
    // source's batch size.
    const windowQueue = resourceById(template, "AWS::SQS::Queue", "ArchiverWindowQueue").resource.Properties;
    batchSize = onlyResource(template, "AWS::Lambda::EventSourceMapping").resource.Properties.BatchSize;
    moto = await motoStarted;
    sqs = motoSqsClient(moto);
    queue = await createFifoQueueWithDlq(moto, "windows", {
      maxReceiveCount: windowQueue.RedrivePolicy.maxReceiveCount,
      visibilityTimeoutSeconds: windowQueue.VisibilityTimeout,
    });

    // The digests' signing key, in moto's KMS: what the stack creates.
    kms = new KMSClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials });
    const key = await kms.send(new CreateKeyCommand({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" }));
    digestKeyArn = key.KeyMetadata?.Arn as string;
    const refs: Record<string, string> = {
      [HANDLER_ENVIRONMENT.bucket]: s3.bucket,
      [HANDLER_ENVIRONMENT.queueUrl]: queue.queueUrl,
      [HANDLER_ENVIRONMENT.secretArn]: secretArn,
      [HANDLER_ENVIRONMENT.digestKeyArn]: digestKeyArn,
    };
    const bundleOf = (which: string): Bundle => {
      const { Properties } = bundledFunction(template, which).resource;
      const variables = (Properties.Environment?.Variables ?? {}) as Record<string, unknown>;
      const environment = Object.fromEntries(
        Object.entries(variables).map(([name, value]) => {
          const given = typeof value === "string" ? value : refs[name];
          if (given === undefined) throw new Error(`${which}: give the test a value for ${name}`);
          return [name, given];
        }),
      );
      return {
        dir: join(app.outdir, `asset.${functionAssetHash(template, which)}`),
        environment,
        timeoutMs: (Properties.Timeout as number) * 1000,
      };
    };
    bundles = { planner: bundleOf(PLANNER.function), worker: bundleOf(WORKER.function) };
    namespace = bundles.worker.environment[HANDLER_ENVIRONMENT.metricsNamespace] as string;

    [planner, worker] = await Promise.all([startDriver("planner"), startDriver("worker")]);
  }, 120_000);

  afterAll(async () => {
    for (const driver of drivers) driver.kill();
    sqs?.destroy();
    kms?.destroy();
    await moto?.close();
    await sim?.close();
    await s3?.close();
    await secrets?.close();
    apps.cleanup();
  });

  /** A fresh process that loads the function's bundle as Lambda would, with its environment plus `env`. */
  async function startDriver(which: keyof typeof bundles, env: Record<string, string> = {}): Promise<Driver> {
    const bundle = bundles[which];
    const child = fork(join(import.meta.dirname, "../support/lambda-driver.cjs"), {
      env: {
        PATH: process.env.PATH,
        DRIVER_BUNDLE: join(bundle.dir, "index.js"),
        DRIVER_TIMEOUT_MS: String(bundle.timeoutMs),
        LAMBDA_TASK_ROOT: bundle.dir,
        AWS_LAMBDA_FUNCTION_NAME: NAMES[which],
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "test",
        AWS_SECRET_ACCESS_KEY: "test",
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_ENDPOINT_URL_SQS: moto.endpoint,
        AWS_ENDPOINT_URL_KMS: moto.endpoint,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
        ...bundle.environment,
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    drivers.push(child);
    const streams = { stdout: "", stderr: "" };
    child.stdout?.on("data", (d) => (streams.stdout += d));
    child.stderr?.on("data", (d) => (streams.stderr += d));
    await new Promise((resolve) => child.once("message", resolve));
    let invocations = 0;
    /** The output of `stream` up to the end line of `requestId`, taken off the stream. */
    const take = async (stream: keyof typeof streams, requestId: string): Promise<string> => {
      const end = `END RequestId: ${requestId}\n`;
      for (let waited = 0; !streams[stream].includes(end); waited += 5) {
        if (waited > 5_000) throw new Error(`no ${end.trim()} on the ${which}'s ${stream}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const at = streams[stream].indexOf(end);
      const text = streams[stream].slice(0, at);
      streams[stream] = streams[stream].slice(at + end.length);
      return text;
    };
    let written = "";
    // One invocation at a time, as one Lambda execution environment runs them (the tests await each).
    const invoke = async <T>(event: unknown): Promise<Invocation<T>> => {
      const requestId = `request-${++invocations}`;
      const reply = await new Promise<Omit<Invocation<T>, "output" | "emf">>((resolve) => {
        child.once("message", (message) => resolve(message as Omit<Invocation<T>, "output" | "emf">));
        child.send({ event });
      });
      const stdout = await take("stdout", requestId);
      const stderr = await take("stderr", requestId);
      written += stdout + stderr;
      const emf = stdout
        .split("\n")
        .filter((line) => line.startsWith('{"_aws"'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      return { ...reply, output: stdout + stderr, emf };
    };
    return { invoke, output: () => written + streams.stdout + streams.stderr };
  }

  /** What Lambda's SQS event source hands the worker now: at most its batch size of messages. */
  async function receive(): Promise<SQSRecord[]> {
    const answer = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queue.queueUrl,
        MaxNumberOfMessages: batchSize,
        MessageSystemAttributeNames: ["All"],
      }),
    );
    return (answer.Messages ?? []).map((m) =>
      lambdaSqsRecord(m, { arn: queue.queueArn, region: "us-east-1" }),
    );
  }

  /**
   * One poll of the event source: a batch received, the worker invoked with it, and the messages it
   * did not report failed deleted (none when the invocation failed: they all come back after the
   * queue's visibility timeout). Undefined when the queue handed out nothing.
   */
  async function deliver(driver: Driver = worker): Promise<Delivery | undefined> {
    const records = await receive();
    if (records.length === 0) return undefined;
    const invocation = await driver.invoke<SQSBatchResponse>({ Records: records } satisfies SQSEvent);
    const failed = new Set(invocation.result?.batchItemFailures.map((f) => f.itemIdentifier));
    const done = invocation.ok ? records.filter((r) => !failed.has(r.messageId)) : [];
    for (let i = 0; i < done.length; i += 10) {
      const answer = await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queue.queueUrl,
          Entries: done.slice(i, i + 10).map((r, j) => ({ Id: String(j), ReceiptHandle: r.receiptHandle })),
        }),
      );
      expect(answer.Failed ?? []).toEqual([]);
    }
    return { records, invocation };
  }

  /** Polls until the queue hands out nothing, each invocation expected to succeed with no failed message. */
  async function drain(): Promise<Delivery[]> {
    const deliveries: Delivery[] = [];
    for (let delivery = await deliver(); delivery; delivery = await deliver()) {
      expect(delivery.invocation.error).toBeUndefined();
      expect(delivery.invocation.result).toEqual({ batchItemFailures: [] });
      deliveries.push(delivery);
      if (deliveries.length > 20) throw new Error("the queue never drained");
    }
    return deliveries;
  }

  /** Plays the queue's visibility timeout passing for `records` (it is 90 minutes): they are visible again. */
  async function visibilityTimeoutPasses(records: readonly SQSRecord[]): Promise<void> {
    const answer = await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queue.queueUrl,
        Entries: records.map((r, i) => ({
          Id: String(i),
          ReceiptHandle: r.receiptHandle,
          VisibilityTimeout: 0,
        })),
      }),
    );
    expect(answer.Failed ?? []).toEqual([]);
  }

  /** The queue's messages waiting to be received, and those received and neither deleted nor visible again. */
  async function queueCounts(url = queue.queueUrl): Promise<{ visible: number; inFlight: number }> {
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    return {
      visible: Number(Attributes.ApproximateNumberOfMessages),
      inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible),
    };
  }

  const downloads = () => sim.requests.filter((r) => r.endpoint === "download");
  const sum = (deliveries: readonly Delivery[], metric: string) =>
    deliveries.reduce((n, d) => n + d.invocation.emf.reduce((m, doc) => m + (doc[metric] as number), 0), 0);

  /** Shared by the tests below, in order (as one warm planner and one warm worker see them). */
  let due = 0;
  let scheduled: Invocation<PlannerSummary>;
  let refused: Delivery;
  let archived: Delivery;

  it("enqueues the due windows on its schedule; the worker fails once, before any download, when Atlas refuses the secret's credentials, and still writes its metrics", async () => {
    // The planner runs on the real clock: the windows due now. None counts as expired: nothing of
    // the workspace is archived yet, so the windows behind its lookback were never any run's to lose.
    due = dueWindows(Date.now(), config.window).length;
    scheduled = await planner.invoke<PlannerSummary>(SCHEDULED_EVENT);
    expect(scheduled.error).toBeUndefined();
    expect(scheduled.result).toMatchObject({ due, enqueued: due, expired: 0, failed: 0, deferred: 0 });
    // The planner never calls Atlas nor reads its secret.
    expect({ atlas: sim.requests, secrets: secrets.calls }).toEqual({ atlas: [], secrets: [] });
    expect(await queueCounts()).toEqual({ visible: due, inFlight: 0 });

    refused = (await deliver()) as Delivery;
    expect(refused.records).toHaveLength(due);
    const { invocation } = refused;
    expect(invocation.ok).toBe(false);
    expect(invocation.error?.code).toBe("ATLAS_UNAUTHORIZED");
    expect(invocation.error?.message).toContain("Project Stream Processing Manager");
    expect(downloads()).toEqual([]);
    expect(invocation.emf).toMatchObject([
      {
        [RUN_METRICS.setupFailures]: 1,
        [RUN_METRICS.windowsArchived]: 0,
        [RUN_METRICS.windowsFailed]: 0,
        FunctionName: NAMES.worker,
      },
    ]);
    expect(invocation.output.match(/worker could not start/g)).toHaveLength(1);
    expect(worker.output()).not.toContain("nope");
    // Nothing deleted: the whole batch comes back after the queue's visibility timeout.
    expect(await queueCounts()).toEqual({ visible: 0, inFlight: due });
  });

  it("picks up a rotated secret on the next warm invocation, and archives every window the planner enqueued", async () => {
    secrets.setSecret("atlas/archiver", JSON.stringify(DEFAULT_SERVICE_ACCOUNT));
    const reads = secrets.calls.length;
    await visibilityTimeoutPasses(refused.records);
    archived = (await deliver()) as Delivery;
    expect(archived.records.map((r) => r.messageId)).toEqual(refused.records.map((r) => r.messageId));
    expect(archived.records.map((r) => r.attributes.ApproximateReceiveCount)).toEqual(
      refused.records.map(() => "2"),
    );
    const { invocation } = archived;
    expect(invocation.error).toBeUndefined();
    expect(invocation.result).toEqual({ batchItemFailures: [] });
    expect(secrets.calls.length).toBe(reads + 1); // the cached wrong secret was read again once, after the 401
    const keys = (await s3.keys()).filter((k) => !k.startsWith(`${PREFIX}_`));
    expect(keys).toHaveLength(due);
    expect(keys.every((k) => k.startsWith(`${PREFIX}group=${GROUP}/tenant=prod-workspace/`))).toBe(true);
    expect(Object.values(await s3.getObject(keys[0] as string).then((o) => o.metadata))).toContain(
      "request-2",
    );
    expect(await queueCounts()).toEqual({ visible: 0, inFlight: 0 });
    expect(await queueCounts(queue.dlqUrl)).toEqual({ visible: 0, inFlight: 0 });
  });

  it("writes its metrics as one embedded-metric-format line on stdout per invocation", () => {
    const cloudWatch = { CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [["FunctionName"]] }] };
    expect(scheduled.emf).toMatchObject([
      {
        _aws: cloudWatch,
        FunctionName: NAMES.planner,
        RunId: "request-1",
        [RUN_METRICS.backlogWindows]: due,
        [RUN_METRICS.windowsExpired]: 0,
        [RUN_METRICS.windowsFailed]: 0,
        [RUN_METRICS.windowsDeferred]: 0,
        [RUN_METRICS.backfillWindowsLeft]: 0,
        [RUN_METRICS.windowsArchived]: 0,
      },
    ]);
    expect(archived.invocation.emf).toMatchObject([
      {
        _aws: cloudWatch,
        FunctionName: NAMES.worker,
        RunId: "request-2",
        [RUN_METRICS.windowsArchived]: due,
        [RUN_METRICS.windowsAlreadyPresent]: 0,
        [RUN_METRICS.windowsFailed]: 0,
        [RUN_METRICS.windowsDeferred]: 0,
        [RUN_METRICS.setupFailures]: 0,
        [RUN_METRICS.backlogWindows]: 0,
      },
    ]);
    for (const doc of [...scheduled.emf, ...refused.invocation.emf, ...archived.invocation.emf]) {
      for (const name of Object.values(RUN_METRICS)) expect(doc[name], name).toEqual(expect.any(Number));
    }
  });

  it("enqueues nothing new once the worker archived the windows, and backfills a range on request", async () => {
    // Now that the workspace has windows archived, those that left the lookback since the previous
    // scheduled run (RUN_INTERVAL_MINUTES before) with no object count as expired.
    const nowMs = Date.now();
    const interval = Number(bundles.planner.environment[HANDLER_ENVIRONMENT.runIntervalMinutes]);
    const expired = expiringWindows(config.window, nowMs, nowMs - interval * 60_000).length;
    expect(expired).toBe(1); // with a 3-hour lookback and an hourly schedule
    const again = await planner.invoke<PlannerSummary>(SCHEDULED_EVENT);
    expect(again.result).toMatchObject({ due, enqueued: 0, expired, failed: 0 });
    expect(again.emf).toMatchObject([
      { [RUN_METRICS.backlogWindows]: 0, [RUN_METRICS.windowsExpired]: expired },
    ]);
    expect(await queueCounts()).toEqual({ visible: 0, inFlight: 0 });

    const backfill = await planner.invoke<PlannerSummary>({
      from: "2026-11-01T00:00:00Z",
      to: "2026-11-01T03:00:00Z",
    });
    expect(backfill.result).toMatchObject({ due: 3, enqueued: 3, windowsLeft: 0 });
    expect(backfill.emf).toMatchObject([{ [RUN_METRICS.backlogWindows]: 3 }]);
    expect(sum(await drain(), RUN_METRICS.windowsArchived)).toBe(3);

    const bad = await planner.invoke({ from: "2026-11-01T00:00:00Z" });
    expect(bad.error?.code).toBe("HANDLER_BAD_EVENT");
    // Only real instants with a zone, or dates; a `to` date includes its whole day.
    for (const from of ["2026-02-30T00:00:00Z", "2026-11-01T00:00:00", "+275760-09-13T00:00:00Z", 1]) {
      const refusal = await planner.invoke({ from, to: "2026-11-02T00:00:00Z" });
      expect(refusal.error?.code).toBe("HANDLER_BAD_EVENT");
      expect(refusal.error?.message).toContain('Event field "from"');
    }
    expect(await queueCounts()).toEqual({ visible: 0, inFlight: 0 });

    const day = await planner.invoke<PlannerSummary>({ from: "2026-09-01", to: "2026-09-01" });
    expect(day.result).toMatchObject({ due: 24, enqueued: 24 });
    const deliveries = await drain();
    expect(deliveries.map((d) => d.records.length)).toEqual([10, 10, 4]);
    expect(sum(deliveries, RUN_METRICS.windowsArchived)).toBe(24);
    const all = await s3.keys();
    const keys = new Set(all.filter((k) => !k.startsWith(`${PREFIX}_`)));
    const expected = [
      ...hourWindows("2026-11-01T00:00:00Z", 3),
      ...hourWindows("2026-09-01T00:00:00Z", 24),
    ].map((w) => archiveKey(PREFIX, PROD, w));
    expect(expected.filter((k) => !keys.has(k))).toEqual([]);
    expect(keys.size).toBe(due + expected.length);
    // A receipt beside every log, written by the worker bundle.
    expect(all.filter((k) => k.startsWith(`${PREFIX}_receipts/`))).toHaveLength(keys.size);

    // Once the backfill drained, a seal event seals its day: signed in KMS, verifiable offline.
    const sealed = await planner.invoke<PlannerSummary & { digests?: { sealed: number } }>({
      seal: true,
      from: "2026-09-01",
      to: "2026-09-01",
    });
    expect(sealed.error).toBeUndefined();
    expect(sealed.result?.digests).toMatchObject({ sealed: 1, failed: 0 });
    const digest = await s3.getObject(digestKey(PREFIX, PROD, "2026-09-01"));
    const body = JSON.parse(digest.body.toString()) as Digest;
    expect(body.signing.keyId).toBe(digestKeyArn);
    expect(body.windows).toHaveLength(24);
    // The simulator's log of a window is empty now and then: archived, and proven empty.
    expect(
      body.windows.every((w) => (w.state === "empty") === (w.lines === 0) && w.state !== "missing"),
    ).toBe(true);
    const log = await s3.getObject(body.windows[0]?.key as string);
    expect(body.windows[0]?.sha256).toBe(sha256Hex(log.body));
    const signature = Buffer.from(digest.metadata[SIGNATURE_METADATA] as string, "base64");
    expect(verifyDigestSignature(digest.body, signature, await kmsPublicKeyPem(kms, digestKeyArn))).toBe(
      true,
    );
  });

  it("stores a log above the part size with a conditional, full-object-CRC32 multipart upload", async () => {
    const key = archiveKey(PREFIX, PROD, BIG_WINDOW);
    const plan = await planner.invoke<PlannerSummary>({
      from: new Date(BIG_WINDOW.startMs).toISOString(),
      to: new Date(BIG_WINDOW.endMs).toISOString(),
    });
    expect(plan.result).toMatchObject({ due: 1, enqueued: 1 });
    const deliveries = await drain();
    expect(deliveries).toHaveLength(1);
    expect(big, "the simulator served the large log").toBeDefined();
    const produced = (big as LargeGzip).produced();
    expect(produced.bytes).toBeGreaterThan(20 * MB);

    const ops = s3.operations.filter((o) => o.key === key && o.op !== "HeadObject");
    expect(ops.filter((o) => o.op === "PutObject")).toEqual([]);
    expect(ops.filter((o) => o.op === "CreateMultipartUpload").map((o) => o.status)).toEqual([200]);
    const parts = ops.filter((o) => o.op === "UploadPart");
    expect(parts.length).toBeGreaterThanOrEqual(3);
    expect(parts.every((o) => o.status === 200)).toBe(true);
    expect(
      ops.filter((o) => o.op === "CompleteMultipartUpload").map((o) => [o.status, o.ifNoneMatch]),
    ).toEqual([[200, "*"]]);
    expect(s3.openMultipartUploads()).toEqual([]);

    const stored = await s3.getObject(key);
    expect(stored.contentLength).toBe(produced.bytes);
    expect(createHash("sha256").update(stored.body).digest("hex")).toBe(produced.sha256);
    const head = await s3
      .client()
      .send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key, ChecksumMode: "ENABLED" }));
    expect({ crc32: head.ChecksumCRC32, type: head.ChecksumType }).toEqual({
      crc32: produced.crc32,
      type: "FULL_OBJECT",
    });

    expect(deliveries[0]?.invocation.emf).toMatchObject([
      {
        [RUN_METRICS.windowsArchived]: 1,
        [RUN_METRICS.windowsFailed]: 0,
        [RUN_METRICS.bytesArchived]: produced.bytes,
      },
    ]);
  });

  it("answers before the function's timeout against an Atlas that never answers, each message failed and coming back per the retry rules", async () => {
    // A fake context with 4 s left: the worker stops at 3 s (a quarter is kept), aborting the
    // download in flight, and answers before the 4 s are up.
    const driver = await startDriver("worker", { DRIVER_TIMEOUT_MS: "4000" });
    const plan = await planner.invoke<PlannerSummary>({
      from: "2026-10-02T00:00:00Z",
      to: "2026-10-02T03:00:00Z",
    });
    expect(plan.result).toMatchObject({ enqueued: 3 });
    sim.inject({ fault: { kind: "stall-headers", ms: 3_600_000 }, times: Number.POSITIVE_INFINITY });
    const started = Date.now();
    const delivery = (await deliver(driver)) as Delivery;
    const elapsed = Date.now() - started;
    sim.clearFaults();
    const { invocation, records } = delivery;
    expect(invocation.error).toBeUndefined();
    expect(elapsed).toBeGreaterThanOrEqual(2_900);
    expect(elapsed).toBeLessThan(4_000);
    expect(records).toHaveLength(3);
    expect(invocation.result).toEqual({
      batchItemFailures: records.map((r) => ({ itemIdentifier: r.messageId })),
    });
    expect(invocation.emf).toMatchObject([
      {
        [RUN_METRICS.windowsArchived]: 0,
        [RUN_METRICS.windowsFailed]: 1,
        [RUN_METRICS.windowsDeferred]: 2,
        [RUN_METRICS.setupFailures]: 0,
      },
    ]);
    // The one aborted in its download comes back after a transient failure's first backoff; the
    // two never tried are visible again at once.
    expect(invocation.output).toMatch(/"message":"window failed".*"kind":"transient".*"retrySeconds":30/);
    expect(await queueCounts()).toEqual({ visible: 2, inFlight: 1 });
  });

  it("refuses a configuration that cdk synth did not bundle, before calling anyone (both functions)", async () => {
    const window = { startMs: Date.parse("2026-10-03T00:00:00Z"), endMs: Date.parse("2026-10-03T01:00:00Z") };
    const events = {
      planner: SCHEDULED_EVENT,
      worker: {
        Records: [
          {
            messageId: "message-1",
            receiptHandle: "receipt-1",
            body: JSON.stringify({ v: 1, ...PROD, ...window }),
            attributes: { ApproximateReceiveCount: "1", MessageGroupId: `${GROUP}#0` },
          },
        ],
      },
    };
    for (const which of ["planner", "worker"] as const) {
      const raw = join(bundles[which].dir, "workspaces.json");
      writeFileSync(raw, JSON.stringify({ workspaces: [PROD] }));
      const driver = await startDriver(which, { [HANDLER_ENVIRONMENT.configFile]: raw });
      const calls = async () => ({
        atlas: sim.requests.length,
        secrets: secrets.calls.length,
        s3: s3.operations.length,
        queue: await queueCounts(),
      });
      const before = await calls();
      const reply = await driver.invoke(events[which]);
      expect(reply.ok, which).toBe(false);
      expect(reply.error, which).toMatchObject({ name: "ConfigError", code: "CONFIG_INVALID" });
      expect(reply.error?.message).toContain(`${raw} is not a configuration bundled by cdk synth`);
      expect(await calls(), which).toEqual(before);
    }
  });
});
