/**
 * The digests section's child tasks (issue 13): what receipts and sealing cost in requests, and
 * what `verify` costs with and without digests. Every request is counted as the S3 or KMS client
 * sends it (each attempt), by phase and by area of the bucket.
 *
 * - `digests-steady`: the deployed design hour by hour: the planner (`planAndEnqueue`, a stand-in
 *   SQS that keeps the messages), its sealing pass (`sealDigests` over `sealDates`, as
 *   `planner-handler.ts` calls it) when digests are on, then the worker (`handleBatch`) on the
 *   messages the planner sent;
 * - `digests-archive`: a day of large logs through `archiveRun`, then `sealDigests` of that day;
 * - `digests-verify`: `verifyArchive` over a prefix, CRC-only or against the digests.
 */
import { generateKeyPairSync, sign } from "node:crypto";
import { KMSClient } from "@aws-sdk/client-kms";
import type { S3Client } from "@aws-sdk/client-s3";
import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { archiveRun } from "../lambda/archive/run";
import { archiveWindow } from "../lambda/archive/window";
import { DEFAULT_UPLOAD_SETTINGS } from "../lambda/bucket/multipart";
import { DIGESTS_FOLDER, RECEIPTS_FOLDER } from "../lambda/config";
import type { DigestSigner } from "../lambda/digest/format";
import { verifyDigestSignature } from "../lambda/digest/format";
import { kmsSigner } from "../lambda/digest/kms";
import { sealDates, sealDigests } from "../lambda/digest/seal";
import { forEachLimited } from "../lambda/pool";
import { planAndEnqueue } from "../lambda/queue/planner";
import { handleBatch, type QueueRecord } from "../lambda/queue/worker";
import { verifyArchive } from "../lambda/reader/verify";
import { formatWindow, windowsInRange } from "../lambda/windows";
import { atlasClient, benchConfig, failuresOf, s3Client } from "./child-clients";
import {
  type DigestsArchiveRun,
  type DigestsMeasures,
  type DigestsSigning,
  type DigestsSteadyRun,
  type DigestsVerifyRun,
  scaleWorkspaces,
} from "./tasks";

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** The deployed planner's `LIST_CONCURRENCY` and the worker's `GROUP_CONCURRENCY`. */
const PLANNER_CONCURRENCY = 16;
const WORKER_GROUPS = 4;
/** The deployed schedule: hourly windows, 15 minutes of lag, 72 hours of lookback, an hourly run. */
const HOURLY = {
  window: { minutes: 60, lagMinutes: 15, lookbackHours: 72 },
  schedule: "rate(1 hour)",
} as const;
/** The deployed lag and lookback with windows of `minutes`, run as often. */
function scheduleOf(minutes: number) {
  return {
    window: { ...HOURLY.window, minutes },
    schedule: `rate(${minutes} minutes)`,
  };
}
const QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/000000000000/bench-digests.fifo";
/** The KMS key moto answers for (any credentials do). */
const MOTO_CREDENTIALS = { accessKeyId: "testing", secretAccessKey: "testing" } as const;

/** Counts requests by phase, area and command; `phase` is set by the sequential code around it. */
class RequestCounter {
  phase = "setup";
  private counts: Record<string, Record<string, Record<string, number>>> = {};

  /** One request of `command` in `area`, in the current phase. */
  add(area: string, command: string): void {
    const phase = this.counts[this.phase] ?? {};
    const areas = phase[area] ?? {};
    areas[command] = (areas[command] ?? 0) + 1;
    phase[area] = areas;
    this.counts[this.phase] = phase;
  }

  /** Forgets what was counted (after the warm-up). */
  reset(): void {
    this.counts = {};
  }

  snapshot(): DigestsMeasures["requests"] {
    return structuredClone(this.counts);
  }

  /** Counts every attempt `client` sends (after retries are decided: each is one request billed). */
  watch(client: S3Client | KMSClient, areaOf: (input: Record<string, unknown>) => string): void {
    (client as S3Client).middlewareStack.add(
      (next, context) => async (args) => {
        const command = (context.commandName ?? "unknown").replace(/Command$/, "");
        this.add(areaOf((args.input ?? {}) as Record<string, unknown>), command);
        return next(args);
      },
      { step: "finalizeRequest", name: "benchDigestsCount", priority: "low" },
    );
  }
}

/** The area of the bucket an S3 request concerns: the integrity records' folders, or the archive. */
function s3Area(prefix: string): (input: Record<string, unknown>) => string {
  return (input) => {
    const key = String(input.Key ?? input.Prefix ?? "");
    const rest = key.startsWith(prefix) ? key.slice(prefix.length) : key;
    if (rest.startsWith(RECEIPTS_FOLDER)) return "receipts";
    if (rest.startsWith(DIGESTS_FOLDER)) return "digests";
    return "archive";
  };
}

/** The signer: KMS on moto (its Sign requests counted), or a local P-256 key (its signatures counted). */
function signerFor(
  signing: DigestsSigning | undefined,
  counter: RequestCounter,
): { signer: DigestSigner; publicKeyPem?: string } {
  if (signing?.kind === "kms") {
    const kms = new KMSClient({
      endpoint: signing.endpoint,
      region: "us-east-1",
      credentials: { ...MOTO_CREDENTIALS },
    });
    counter.watch(kms, () => "kms");
    return { signer: kmsSigner(kms, signing.keyArn) };
  }
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return {
    publicKeyPem: publicKey.export({ format: "pem", type: "spki" }).toString(),
    signer: {
      keyId: "arn:aws:kms:us-east-1:111122223333:key/bench-local-p256",
      sign: async (message) => {
        counter.add("kms", "Sign");
        return sign("sha256", message, { key: privateKey, dsaEncoding: "der" });
      },
    },
  };
}

/** A stand-in SQS for the planner that keeps what it was sent, as the worker's event records. */
function holdingSqs(): { client: SQSClient; take(): QueueRecord[] } {
  let held: QueueRecord[] = [];
  let sent = 0;
  const client = {
    send: async (command: unknown) => {
      if (!(command instanceof SendMessageBatchCommand))
        throw new Error(`The bench's SQS stand-in accepts SendMessageBatch only, not ${String(command)}`);
      for (const e of command.input.Entries ?? []) {
        held.push({
          messageId: `m${++sent}`,
          receiptHandle: `r${sent}`,
          body: e.MessageBody ?? "",
          attributes: { MessageGroupId: e.MessageGroupId ?? "", ApproximateReceiveCount: "1" },
        });
      }
      return { Failed: [], Successful: [] };
    },
  } as unknown as SQSClient;
  return {
    client,
    take: () => {
      const out = held;
      held = [];
      return out;
    },
  };
}

/** The worker's SQS: only failed messages would reach it, and a bench run has none. */
const REFUSING_SQS = {
  send: async (command: unknown) => {
    throw new Error(`The bench's worker had a message to send back (${String(command)}): a window failed`);
  },
} as unknown as SQSClient;

/**
 * Scheduled runs of the warm-up after its backfill (which ends at midnight): at 01:00 the
 * backfill's days are sealed, at 02:00 nothing is left to seal. The measured runs then go from
 * 03:00 to 02:00, so each measured day seals one day per workspace (at 02:00, after the 01:00 pass
 * found it waiting for its last window, enqueued by that run), and the last day they archive is
 * still pending at the end.
 */
const WARMUP_RUNS = 2;

/** A scheduled run of the planner; then, with digests, its sealing pass. */
interface RunTiming {
  readonly nowMs: number;
  readonly previousRunMs: number;
}

/** What a digests run measured: its time and bytes, the windows archived and failed, and the requests. */
export interface DigestsRunResult {
  readonly seconds: number;
  readonly bytes: number;
  readonly archived: number;
  readonly failed: number;
  readonly digests: DigestsMeasures;
}

/** Windows the warm-up's backfill archives at once. */
const BACKFILL_CONCURRENCY = 8;

/**
 * Hourly scheduled runs as deployed: planner, sealing (with `seal`), worker. The warm-up (see
 * {@link DigestsSteadyRun}) is not counted.
 */
export async function runDigestsSteady(task: DigestsSteadyRun): Promise<DigestsRunResult> {
  const workspaces = scaleWorkspaces(task.projects, task.perProject, "together");
  const config = benchConfig(task.endpoints, task.prefix, workspaces, HOURLY);
  const bucket = task.endpoints.bucket;
  const s3 = s3Client(task.endpoints);
  const counter = new RequestCounter();
  counter.watch(s3, s3Area(config.archive.prefix));
  const signing = task.seal ? signerFor(task.signing, counter) : undefined;
  const atlas = atlasClient(task.endpoints);
  const sqs = holdingSqs();
  let nowMs = task.startMs;
  const clock = () => nowMs;
  const job = { config, bucket, atlas, s3, upload: DEFAULT_UPLOAD_SETTINGS, clock };

  // The warm-up's backfill: what the queue's worker would have stored (logs and receipts), written
  // by the same core (archiveWindow) several windows at once, since it is not what is measured.
  counter.phase = "backfill";
  const backfill = windowsInRange(task.startMs - task.backfillDays * DAY_MS, task.startMs, 60);
  await forEachLimited(
    workspaces.flatMap((w) => backfill.map((window) => ({ w, window }))),
    BACKFILL_CONCURRENCY,
    async ({ w, window }) => {
      const outcome = await archiveWindow({ ...job, runId: "bench-digests-backfill" }, w, window);
      if (outcome.type !== "archived" || outcome.receiptFailure)
        throw new Error(`The warm-up's backfill did not archive ${formatWindow(window)}: ${outcome.type}`);
    },
  );

  const measuredRuns = task.days * 24;
  const runs: RunTiming[] = Array.from({ length: WARMUP_RUNS + measuredRuns }, (_, i) => ({
    nowMs: task.startMs + (i + 1) * HOUR_MS,
    previousRunMs: task.startMs + i * HOUR_MS,
  }));
  const warmup = WARMUP_RUNS;
  let windows = 0;
  let bytes = 0;
  let sealedDays = 0;
  let warmupSealedDays = 0;
  let measuredStart = performance.now();
  for (const [i, run] of runs.entries()) {
    nowMs = run.nowMs;
    if (i === warmup) {
      counter.reset();
      measuredStart = performance.now();
    }
    const measured = i >= warmup;
    const timing = { nowMs, previousRunMs: run.previousRunMs };
    counter.phase = "planner";
    const plan = await planAndEnqueue({
      config,
      bucket,
      s3,
      sqs: sqs.client,
      queueUrl: QUEUE_URL,
      ...timing,
      concurrency: PLANNER_CONCURRENCY,
      lanesPerProject: 2,
      clock,
    });
    if (plan.failed > 0 || plan.expired > 0)
      throw new Error(`Run ${i}: the planner failed ${plan.failed} and expired ${plan.expired} window(s)`);
    // As planner-handler.ts: a scheduled run seals after enqueueing.
    if (signing) {
      counter.phase = "seal";
      const failures: string[] = [];
      const sealed = await sealDigests({
        config,
        bucket,
        s3,
        signer: signing.signer,
        nowMs,
        dates: sealDates(config.window, nowMs, timing),
        concurrency: PLANNER_CONCURRENCY,
        clock,
        onEvent: (e) => {
          if (e.type === "failed") failures.push(`${e.workspace} ${e.date}: ${e.code} ${e.message}`);
        },
      });
      if (sealed.failed > 0) throw new Error(`Run ${i}: sealing failed: ${failures.slice(0, 3).join("; ")}`);
      if (measured) sealedDays += sealed.sealed;
      else warmupSealedDays += sealed.sealed;
    }
    counter.phase = "worker";
    const batch = await handleBatch(sqs.take(), {
      ...job,
      runId: `bench-digests-${i}`,
      sqs: REFUSING_SQS,
      queueUrl: QUEUE_URL,
      concurrency: WORKER_GROUPS,
      rateLimitDelaySeconds: 60,
    });
    for (const o of batch.outcomes) {
      if (o.status !== "archived" || o.receiptFailure)
        throw new Error(`Run ${i}: a message ended ${o.status}: ${JSON.stringify(o)}`);
      if (measured) {
        windows++;
        bytes += o.bytes;
      }
    }
  }
  return {
    seconds: (performance.now() - measuredStart) / 1000,
    bytes,
    archived: windows,
    failed: 0,
    digests: {
      requests: counter.snapshot(),
      windows,
      runs: measuredRuns,
      sealedDays,
      warmupSealedDays,
      endMs: nowMs,
      ...(signing?.publicKeyPem ? { publicKeyPem: signing.publicKeyPem } : {}),
    },
  };
}

/** A day of large logs through `archiveRun` (phase `run`), then sealed (phase `seal`) when asked. */
export async function runDigestsArchive(task: DigestsArchiveRun): Promise<DigestsRunResult> {
  const origin = performance.now();
  const workspaces = scaleWorkspaces(1, task.workspaces, "together");
  const config = benchConfig(task.endpoints, task.prefix, workspaces, scheduleOf(task.windowMinutes));
  const s3 = s3Client(task.endpoints);
  const counter = new RequestCounter();
  counter.watch(s3, s3Area(config.archive.prefix));
  const fromMs = Date.parse(`${task.date}T00:00:00Z`);
  const nowMs = fromMs + DAY_MS + HOUR_MS;
  counter.phase = "run";
  const summary = await archiveRun({
    config,
    bucket: task.endpoints.bucket,
    atlas: atlasClient(task.endpoints),
    s3,
    nowMs,
    range: { fromMs, toMs: fromMs + DAY_MS },
    runId: "bench-digests-archive",
    clock: () => nowMs,
    settings: { concurrency: 2, maxWindows: Number.POSITIVE_INFINITY },
  });
  if (!summary.ok) throw new Error(`The archive run failed: ${failuresOf(summary).slice(0, 3).join("; ")}`);
  let publicKeyPem: string | undefined;
  let sealedDays = 0;
  if (task.seal) {
    const signing = signerFor(task.signing, counter);
    publicKeyPem = signing.publicKeyPem;
    counter.phase = "seal";
    const sealed = await sealDigests({
      config,
      bucket: task.endpoints.bucket,
      s3,
      signer: signing.signer,
      nowMs,
      dates: [task.date],
      clock: () => nowMs,
    });
    sealedDays = sealed.sealed;
    if (sealed.sealed !== task.workspaces)
      throw new Error(`Sealed ${sealed.sealed} of ${task.workspaces} days: ${JSON.stringify(sealed)}`);
  }
  return {
    seconds: (performance.now() - origin) / 1000,
    bytes: summary.totals.bytes,
    archived: summary.totals.archived,
    failed: summary.totals.failed,
    digests: {
      requests: counter.snapshot(),
      windows: summary.totals.archived,
      sealedDays,
      endMs: nowMs,
      ...(publicKeyPem ? { publicKeyPem } : {}),
    },
  };
}

/** `verifyArchive` over the whole prefix: CRC-only without a key, against the digests with one. */
export async function runDigestsVerify(task: DigestsVerifyRun): Promise<{
  seconds: number;
  bytes: number;
  digests: DigestsMeasures;
}> {
  const s3 = s3Client(task.endpoints);
  const counter = new RequestCounter();
  counter.watch(s3, s3Area(task.prefix));
  counter.phase = "verify";
  const pem = task.publicKeyPem;
  const started = performance.now();
  const report = await verifyArchive({
    s3,
    location: { bucket: task.endpoints.bucket, prefix: task.prefix },
    window: scheduleOf(task.windowMinutes).window,
    nowMs: task.nowMs,
    ...(pem === undefined
      ? {}
      : {
          signatures: {
            method: "public-key" as const,
            verify: async (bytes: Buffer, signature: Buffer) => verifyDigestSignature(bytes, signature, pem),
          },
        }),
  });
  const seconds = (performance.now() - started) / 1000;
  return {
    seconds,
    bytes: report.bytes,
    digests: {
      requests: counter.snapshot(),
      verify: {
        ok: report.ok,
        checked: report.checked,
        bytes: report.bytes,
        digests: report.digests,
        sealedDays: report.days.sealed,
        pendingDays: report.days.pending,
        unsealedDays: report.days.unsealed,
        problems: report.bad.slice(0, 5).map((b) => `${b.problem} ${b.key}: ${b.reason}`),
      },
    },
  };
}
