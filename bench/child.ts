/**
 * One measurement in a fresh process (this file bundled by esbuild, `node child.mjs '<task JSON>'`), so that
 * its peak RSS is its own and no earlier run warmed or polluted it. The servers live in other
 * processes; this one plays the Lambda function. Prints `BENCH_RESULT {json}` on stdout.
 */
import { cpus } from "node:os";
import { type Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DeleteObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { archiveRun } from "../lambda/archive/run";
import { DEFAULT_UPLOAD_SETTINGS } from "../lambda/bucket/multipart";
import type { Workspace } from "../lambda/config";
import { largeGzip } from "../test/support/large-gzip";
import { atlasClient, benchConfig, failuresOf, runResult, S3Timings, s3Client } from "./child-clients";
import { runDigestsArchive, runDigestsSteady, runDigestsVerify } from "./child-digests";
import { runScale } from "./child-scale";
import {
  BENCH_GROUP,
  BENCH_TENANT,
  type Endpoints,
  RESULT_MARKER,
  type Task,
  type TaskResult,
} from "./tasks";

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
      return runResult(summary, elapsed());
    }
    case "scale-plan":
    case "scale-drain":
      return runScale(task);
    case "digests-steady":
      return runDigestsSteady(task);
    case "digests-archive":
      return runDigestsArchive(task);
    case "digests-verify":
      return runDigestsVerify(task);
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
