/**
 * One large log: the pipeline against its two baselines on the same bytes in the same run, per
 * size and network setting, every measurement in a fresh process (which also gives its peak RSS).
 */
import type { S3Host } from "./servers";
import { runChild, startLogSimulator } from "./servers";
import { mbPerSecond, median, mib, round } from "./stats";
import type { Endpoints, TaskResult } from "./tasks";

/** A network setting of the Atlas side. */
export interface NetworkSetting {
  readonly name: string;
  /** For S3 keys: letters, digits and `-`. */
  readonly slug: string;
  /** Simulator body throttle; undefined = as fast as loopback goes. */
  readonly bytesPerSecond?: number;
}

/** Medians of one size in one setting. */
export interface SizeResult {
  readonly sizeMB: number;
  readonly bytes: number;
  readonly repetitions: number;
  readonly downloadMBps: number;
  readonly uploadMBps: number;
  /** The slower leg alone: what a pipeline that overlaps both legs can reach at best. */
  readonly ceilingMBps: number;
  readonly slowerLeg: "download" | "upload";
  /** Baseline (b): download all, then upload. */
  readonly downloadThenUploadMBps: number;
  readonly pipelineMBps: number;
  readonly pipelineOverCeiling: number;
  readonly pipelineOverDownloadThenUpload: number;
  /** Median seconds of the pipeline's parts (see `TaskResult.legs`). */
  readonly pipelineLegs: Readonly<Record<string, number>>;
  /** Median peak RSS of the pipeline's process, MiB. */
  readonly pipelinePeakRssMiB: number;
  /** Median CPU seconds of the pipeline's process per GB of log: what Lambda's CPU share must cover. */
  readonly pipelineCpuSecondsPerGB: number;
  /** Median share of the machine's cores busy during each variant (servers included). */
  readonly machineBusy: {
    readonly download: number;
    readonly upload: number;
    readonly downloadThenUpload: number;
    readonly pipeline: number;
  };
}

/** One setting's sizes. */
export interface SettingResult {
  readonly setting: NetworkSetting;
  readonly sizes: readonly SizeResult[];
}

/** Medians of each named leg. */
function medianLegs(results: readonly TaskResult[]): Record<string, number> {
  const names = new Set(results.flatMap((r) => Object.keys(r.legs ?? {})));
  return Object.fromEntries(
    [...names].map((n) => [n, round(median(results.map((r) => r.legs?.[n] ?? 0)), 2)]),
  );
}

/** Median share of the machine's cores busy. */
function busy(results: readonly TaskResult[]): number {
  return round(median(results.map((r) => r.machineBusy)), 2);
}

/** Throughput of each result, median. */
function medianMBps(results: readonly TaskResult[]): number {
  return median(results.map((r) => mbPerSecond(r.bytes, r.seconds)));
}

/**
 * Measures every size in `setting`. The upload leg does not depend on the Atlas side: when
 * `uploads` has it for a size already (the unthrottled setting measured it), it is reused.
 */
export async function measureSetting(
  setting: NetworkSetting,
  sizesMB: readonly number[],
  repetitions: (sizeMB: number) => number,
  s3: S3Host,
  uploads: Map<number, TaskResult[]>,
  progress: (line: string) => void,
): Promise<SettingResult> {
  const simulator = await startLogSimulator(
    setting.bytesPerSecond === undefined ? {} : { bytesPerSecond: setting.bytesPerSecond },
  );
  const endpoints: Endpoints = {
    atlasUrl: simulator.sim.baseUrl,
    s3Endpoint: s3.endpoint,
    bucket: s3.bucket,
  };
  const window = { startMs: Date.UTC(2026, 10, 1, 12), endMs: Date.UTC(2026, 10, 1, 13) };
  const sizes: SizeResult[] = [];
  try {
    for (const sizeMB of sizesMB) {
      const bytes = sizeMB * 1_000_000;
      simulator.setLogBytes(bytes);
      const download: TaskResult[] = [];
      const upload = uploads.get(sizeMB) ?? [];
      const reuseUpload = upload.length > 0;
      const sequential: TaskResult[] = [];
      const pipeline: TaskResult[] = [];
      const reps = repetitions(sizeMB);
      for (let rep = 0; rep < reps; rep++) {
        // Interleaved, so that drift on a shared machine hits every variant alike.
        pipeline.push(
          await runChild({ kind: "pipeline", endpoints, window, prefix: `bench/${setting.slug}/` }),
        );
        download.push(await runChild({ kind: "download", endpoints, window }));
        if (!reuseUpload)
          upload.push(await runChild({ kind: "upload", endpoints, bytes, key: "bench/upload-only" }));
        sequential.push(
          await runChild({ kind: "download-then-upload", endpoints, window, key: "bench/sequential" }),
        );
        progress(`  ${setting.name} ${sizeMB} MB: repetition ${rep + 1}/${reps} done`);
      }
      uploads.set(sizeMB, upload);
      const downloadMBps = medianMBps(download);
      const uploadMBps = medianMBps(upload);
      const ceilingMBps = Math.min(downloadMBps, uploadMBps);
      const pipelineMBps = medianMBps(pipeline);
      const sequentialMBps = medianMBps(sequential);
      sizes.push({
        sizeMB,
        bytes,
        repetitions: reps,
        downloadMBps: round(downloadMBps, 1),
        uploadMBps: round(uploadMBps, 1),
        ceilingMBps: round(ceilingMBps, 1),
        slowerLeg: downloadMBps < uploadMBps ? "download" : "upload",
        downloadThenUploadMBps: round(sequentialMBps, 1),
        pipelineMBps: round(pipelineMBps, 1),
        pipelineOverCeiling: round(pipelineMBps / ceilingMBps, 2),
        pipelineOverDownloadThenUpload: round(pipelineMBps / sequentialMBps, 2),
        pipelineLegs: medianLegs(pipeline),
        pipelinePeakRssMiB: round(median(pipeline.map((r) => mib(r.peakRssBytes))), 1),
        pipelineCpuSecondsPerGB: round(median(pipeline.map((r) => r.cpuSeconds / (r.bytes / 1e9))), 1),
        machineBusy: {
          download: busy(download),
          upload: busy(upload),
          downloadThenUpload: busy(sequential),
          pipeline: busy(pipeline),
        },
      });
    }
  } finally {
    await simulator.close();
  }
  return { setting, sizes };
}
