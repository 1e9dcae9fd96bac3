/**
 * One measurement in a fresh process (this file bundled by esbuild, `node child.mjs '<task JSON>'`), so that
 * its peak RSS is its own and no earlier run warmed or polluted it. The servers live in other
 * processes; this one plays the Lambda function. Prints `BENCH_RESULT {json}` on stdout.
 */
import { cpus } from "node:os";
import { type Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DeleteObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { Upload } from "@aws-sdk/lib-storage";
import { archiveRun, type RunSummary } from "../lambda/archive/run";
import { type AtlasClient, createAtlasClient, createAtlasDispatcher } from "../lambda/atlas";
import { DEFAULT_UPLOAD_SETTINGS } from "../lambda/bucket/multipart";
import { parseConfig, type Workspace } from "../lambda/config";
import { planAndEnqueue } from "../lambda/queue/planner";
import { DEFAULT_SERVICE_ACCOUNT } from "../test/support/atlas-simulator/defaults";
import { largeGzip } from "../test/support/large-gzip";
import { S3RVER_CREDENTIALS } from "../test/support/s3-server/owner";
import {
  BENCH_GROUP,
  BENCH_TENANT,
  type Endpoints,
  RESULT_MARKER,
  type ScaleMeasures,
  type ScaleRun,
  type ShareStep,
  scaleWorkspaces,
  type Task,
  type TaskResult,
} from "./tasks";

/** Seconds spent in each S3 command (summed over concurrent calls), and when the last one ended. */
class S3Timings {
  readonly sums: Record<string, number> = {};
  readonly lastEnd: Record<string, number> = {};

  constructor(private readonly origin: number) {}

  record(command: string, started: number, ended: number): void {
    this.sums[command] = (this.sums[command] ?? 0) + (ended - started) / 1000;
    this.lastEnd[command] = (ended - this.origin) / 1000;
  }
}

function s3Client(endpoints: Endpoints, timings?: S3Timings): S3Client {
  const client = new S3Client({
    region: "us-east-1",
    endpoint: endpoints.s3Endpoint,
    forcePathStyle: true,
    credentials: { ...S3RVER_CREDENTIALS },
  });
  if (timings) {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const started = performance.now();
        try {
          return await next(args);
        } finally {
          timings.record(context.commandName ?? "unknown", started, performance.now());
        }
      },
      { step: "initialize", name: "benchTiming" },
    );
  }
  return client;
}

function atlasClient(endpoints: Endpoints): AtlasClient {
  return createAtlasClient({
    baseUrl: endpoints.atlasUrl,
    apiVersion: "2023-02-01",
    dispatcher: createAtlasDispatcher(),
    credentials: { kind: "service-account", ...DEFAULT_SERVICE_ACCOUNT },
  });
}

const BENCH_WORKSPACE: Workspace = { groupId: BENCH_GROUP, tenantName: BENCH_TENANT };

/** Downloads one window into memory (baseline b) or into a null sink; returns the bytes. */
async function download(
  endpoints: Endpoints,
  task: { window: { startMs: number; endMs: number } },
  keep: Buffer[] | undefined,
): Promise<number> {
  const log = await atlasClient(endpoints).download(BENCH_WORKSPACE, task.window);
  let bytes = 0;
  await pipeline(
    log.body,
    new Writable({
      // A null sink that never holds the stream back (a large buffer, no work per chunk).
      highWaterMark: 1024 * 1024,
      write(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        keep?.push(chunk);
        callback();
      },
    }),
  );
  return bytes;
}

/** Multipart upload of a buffer with the archiver's part size and queue size. */
async function upload(s3: S3Client, bucket: string, key: string, body: Buffer): Promise<void> {
  await new Upload({
    client: s3,
    params: { Bucket: bucket, Key: key, Body: body, ContentType: "application/gzip" },
    partSize: DEFAULT_UPLOAD_SETTINGS.partSizeBytes,
    queueSize: DEFAULT_UPLOAD_SETTINGS.queueSize,
    leavePartsOnError: false,
  }).done();
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function benchConfig(
  endpoints: Endpoints,
  prefix: string,
  workspaces: readonly Workspace[],
  timing: Pick<ScaleRun, "window" | "schedule"> = {
    window: { minutes: 60, lagMinutes: 15, lookbackHours: 72 },
    schedule: "rate(1 hour)",
  },
) {
  return parseConfig(
    JSON.stringify({
      atlas: { baseUrl: endpoints.atlasUrl },
      archive: { bucket: endpoints.bucket, prefix },
      window: timing.window,
      schedule: timing.schedule,
      workspaces,
    }),
    "bench config",
  );
}

/** Counts the requests an S3 client sends, by command (every attempt). */
function countRequests(client: S3Client): Record<string, number> {
  const counts: Record<string, number> = {};
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? "unknown";
      counts[name] = (counts[name] ?? 0) + 1;
      return next(args);
    },
    // After retries are decided: each attempt is one request S3 bills.
    { step: "finalizeRequest", name: "benchRequestCount", priority: "low" },
  );
  return counts;
}

/**
 * A stand-in SQS client for the planner: it accepts SendMessageBatch and counts it (the queue's
 * semantics are tested against moto, not here).
 */
function countingSqs(): { client: SQSClient; batches: number; messages: number } {
  const counter = {
    batches: 0,
    messages: 0,
    client: undefined as unknown as SQSClient,
  };
  counter.client = {
    send: async (command: unknown) => {
      if (!(command instanceof SendMessageBatchCommand))
        throw new Error(`The bench's SQS stand-in accepts SendMessageBatch only, not ${String(command)}`);
      counter.batches++;
      counter.messages += command.input.Entries?.length ?? 0;
      return { Failed: [], Successful: [] };
    },
  } as unknown as SQSClient;
  return counter;
}

/**
 * Shares of a drain: at each tenth of `total` windows archived, the fewest archived for one key (a
 * project, or a workspace) over the mean (counts only, whatever the size of the run).
 */
class Shares {
  private readonly counts = new Map<string, number>();
  private archived = 0;
  private nextStep = 1;
  readonly steps: ShareStep[] = [];

  constructor(
    keys: Iterable<string>,
    private readonly total: number,
    private readonly elapsed: () => number,
  ) {
    for (const k of keys) this.counts.set(k, 0);
  }

  /** One window of `key` archived. */
  add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.archived++;
    while (this.nextStep <= 10 && this.archived >= Math.ceil((this.total * this.nextStep) / 10)) {
      let min = Number.POSITIVE_INFINITY;
      for (const n of this.counts.values()) min = Math.min(min, n);
      const mean = this.archived / this.counts.size;
      this.steps.push({
        at: this.nextStep / 10,
        seconds: this.elapsed(),
        minOverMean: min / mean,
        lag: mean - min,
      });
      this.nextStep++;
    }
  }
}

async function runScale(task: ScaleRun & { kind: "scale-plan" | "scale-drain" }) {
  const origin = performance.now();
  const elapsed = () => (performance.now() - origin) / 1000;
  const workspaces = scaleWorkspaces(task.projects, task.perProject, task.layout);
  const config = benchConfig(task.endpoints, task.prefix, workspaces, task);
  const s3 = s3Client(task.endpoints);
  const s3Requests = countRequests(s3);
  const timing = {
    nowMs: task.nowMs,
    ...(task.previousRunMs === undefined ? {} : { previousRunMs: task.previousRunMs }),
    ...(task.range === undefined ? {} : { range: task.range }),
  };
  if (task.kind === "scale-plan") {
    const sqs = countingSqs();
    const summary = await planAndEnqueue({
      config,
      bucket: task.endpoints.bucket,
      s3,
      sqs: sqs.client,
      queueUrl: "https://sqs.us-east-1.amazonaws.com/000000000000/bench.fifo",
      ...timing,
      concurrency: task.concurrency,
      lanesPerProject: task.lanesPerProject,
    });
    const scale: ScaleMeasures = {
      s3Requests,
      sendBatches: sqs.batches,
      messages: sqs.messages,
      due: summary.due,
    };
    if (summary.failed > 0 || sqs.messages !== summary.enqueued)
      throw new Error(
        `The planner failed ${summary.failed} window(s), sent ${sqs.messages} of ${summary.enqueued}`,
      );
    return { seconds: elapsed(), bytes: 0, archived: summary.enqueued, failed: summary.failed, scale };
  }
  // The drain: how many windows are due is known before the run (nothing is archived yet).
  let planned = 0;
  let total = 0;
  let planSeconds = 0;
  let shares: { projects: Shares; workspaces: Shares } | undefined;
  const summary = await archiveRun({
    config,
    bucket: task.endpoints.bucket,
    atlas: atlasClient(task.endpoints),
    s3,
    ...timing,
    runId: `bench-scale-c${task.concurrency}`,
    settings: {
      concurrency: task.concurrency,
      lanesPerProject: task.lanesPerProject,
      maxWindows: Number.POSITIVE_INFINITY,
    },
    onEvent: (event) => {
      if (event.type === "planned") {
        total += event.missing;
        if (++planned === workspaces.length) {
          planSeconds = elapsed();
          const sinceDrain = () => elapsed() - planSeconds;
          shares = {
            projects: new Shares(
              workspaces.map((w) => w.groupId),
              total,
              sinceDrain,
            ),
            workspaces: new Shares(
              workspaces.map((w) => `${w.groupId}/${w.tenantName}`),
              total,
              sinceDrain,
            ),
          };
        }
      } else if (event.type === "archived" || event.type === "already-present") {
        shares?.projects.add(event.workspace.slice(0, event.workspace.indexOf("/")));
        shares?.workspaces.add(event.workspace);
      }
    },
  });
  const scale: ScaleMeasures = {
    s3Requests,
    planSeconds,
    projectShares: shares?.projects.steps ?? [],
    workspaceShares: shares?.workspaces.steps ?? [],
  };
  return {
    seconds: elapsed(),
    bytes: summary.totals.bytes,
    archived: summary.totals.archived,
    failed: summary.totals.failed,
    failures: failuresOf(summary).slice(0, 5),
    scale,
  };
}

function failuresOf(summary: RunSummary): string[] {
  return summary.workspaces.flatMap((w) =>
    w.failed.map((f) => `${w.workspace} ${f.window}: ${f.code} ${f.message}`),
  );
}

/** Busy and total CPU time of all the machine's cores so far, in ms. */
function machineCpu(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times } of cpus()) {
    const all = times.user + times.nice + times.sys + times.irq + times.idle;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

async function runTask(task: Task): Promise<Omit<TaskResult, "peakRssBytes" | "cpuSeconds" | "machineBusy">> {
  const origin = performance.now();
  const elapsed = () => (performance.now() - origin) / 1000;
  switch (task.kind) {
    case "idle":
      return { seconds: 0, bytes: 0 };
    case "download": {
      const bytes = await download(task.endpoints, task, undefined);
      return { seconds: elapsed(), bytes };
    }
    case "upload": {
      const body = await readAll(largeGzip(task.bytes).stream);
      const s3 = s3Client(task.endpoints);
      const started = performance.now();
      await upload(s3, task.endpoints.bucket, task.key, body);
      const seconds = (performance.now() - started) / 1000;
      await s3.send(new DeleteObjectCommand({ Bucket: task.endpoints.bucket, Key: task.key }));
      return { seconds, bytes: body.length };
    }
    case "download-then-upload": {
      const chunks: Buffer[] = [];
      const s3 = s3Client(task.endpoints);
      await download(task.endpoints, task, chunks);
      const downloaded = elapsed();
      const body = Buffer.concat(chunks.splice(0));
      await upload(s3, task.endpoints.bucket, task.key, body);
      const seconds = elapsed();
      await s3.send(new DeleteObjectCommand({ Bucket: task.endpoints.bucket, Key: task.key }));
      return { seconds, bytes: body.length, legs: { download: downloaded, upload: seconds - downloaded } };
    }
    case "pipeline": {
      const timings = new S3Timings(origin);
      const s3 = s3Client(task.endpoints, timings);
      const atlas = atlasClient(task.endpoints);
      let downloaded = 0;
      const summary = await archiveRun({
        config: benchConfig(task.endpoints, task.prefix, [BENCH_WORKSPACE]),
        bucket: task.endpoints.bucket,
        // The real client, watched: when the body's last byte was read.
        atlas: {
          download: async (workspace, window, signal) => {
            const log = await atlas.download(workspace, window, signal);
            log.body.once("end", () => {
              downloaded = elapsed();
            });
            return log;
          },
        },
        s3,
        nowMs: task.window.endMs + 24 * 3_600_000,
        range: { fromMs: task.window.startMs, toMs: task.window.endMs },
        runId: "bench",
      });
      const seconds = elapsed();
      const archived = summary.workspaces[0]?.archived[0];
      if (!summary.ok || !archived)
        throw new Error(`The pipeline did not archive the log: ${failuresOf(summary).join("; ")}`);
      await s3.send(new DeleteObjectCommand({ Bucket: task.endpoints.bucket, Key: archived.key }));
      return {
        seconds,
        bytes: archived.bytes,
        legs: {
          // From the start until the download's last byte was read.
          downloaded,
          // From the start until the multipart upload completed: download, inspection and upload overlapped.
          streamed: timings.lastEnd.CompleteMultipartUploadCommand ?? timings.lastEnd.PutObjectCommand ?? 0,
          // CompleteMultipartUpload alone (the store assembles the parts).
          complete: timings.sums.CompleteMultipartUploadCommand ?? 0,
          list: timings.sums.ListObjectsV2Command ?? 0,
          verify: timings.sums.HeadObjectCommand ?? 0,
        },
      };
    }
    case "fan-in": {
      const s3 = s3Client(task.endpoints);
      const summary = await archiveRun({
        config: benchConfig(task.endpoints, task.prefix, task.workspaces),
        bucket: task.endpoints.bucket,
        atlas: atlasClient(task.endpoints),
        s3,
        nowMs: task.range.endMs + 24 * 3_600_000,
        range: { fromMs: task.range.startMs, toMs: task.range.endMs },
        runId: `bench-c${task.concurrency}`,
        settings: { concurrency: task.concurrency, maxWindows: Number.MAX_SAFE_INTEGER },
      });
      return {
        seconds: elapsed(),
        bytes: summary.totals.bytes,
        archived: summary.totals.archived,
        failed: summary.totals.failed,
        failures: failuresOf(summary).slice(0, 5),
      };
    }
    case "scale-plan":
    case "scale-drain":
      return runScale(task);
  }
}

const task = JSON.parse(process.argv[2] ?? '{"kind":"idle"}') as Task;
const cpuBefore = process.cpuUsage();
const machineBefore = machineCpu();
const result = await runTask(task);
const cpu = process.cpuUsage(cpuBefore);
const machineAfter = machineCpu();
const output: TaskResult = {
  ...result,
  machineBusy:
    (machineAfter.busy - machineBefore.busy) / Math.max(1, machineAfter.total - machineBefore.total),
  peakRssBytes: process.resourceUsage().maxRSS * 1024,
  cpuSeconds: (cpu.user + cpu.system) / 1e6,
};
process.stdout.write(`${RESULT_MARKER}${JSON.stringify(output)}\n`);
// Keep-alive sockets and the SDK's agents would hold the process open for a while.
process.exit(0);
