/**
 * What a measurement child process is asked to do, and what it answers: shared by the parent
 * (`run.ts`) and the child (`child.ts`).
 */

/** The workspace the large-log measurements download (the simulator serves the log for any window). */
export const BENCH_GROUP = "32b6e34b3d91647abb20e7b8";
export const BENCH_TENANT = "bench-workspace";

/** Where the loopback servers are. */
export interface Endpoints {
  /** The Atlas simulator's base URL. */
  readonly atlasUrl: string;
  /** The S3 proxy's endpoint. */
  readonly s3Endpoint: string;
  readonly bucket: string;
}

/** One hour-long window, as epoch milliseconds. */
export interface WindowMs {
  readonly startMs: number;
  readonly endMs: number;
}

/** One measurement, run alone in a fresh Node process. */
export type Task =
  /** Loads what every task loads, then stops: the RSS floor of a measurement process. */
  | { readonly kind: "idle" }
  /** The download leg alone: one window from the simulator into a null sink. */
  | { readonly kind: "download"; readonly endpoints: Endpoints; readonly window: WindowMs }
  /** The upload leg alone: `bytes` of gzip already in memory, multipart into S3. */
  | { readonly kind: "upload"; readonly endpoints: Endpoints; readonly bytes: number; readonly key: string }
  /** Baseline (b): download the whole log into memory, then upload it. */
  | {
      readonly kind: "download-then-upload";
      readonly endpoints: Endpoints;
      readonly window: WindowMs;
      readonly key: string;
    }
  /** The archiver's pipeline (`archiveRun`) for one workspace and one window. */
  | {
      readonly kind: "pipeline";
      readonly endpoints: Endpoints;
      readonly window: WindowMs;
      readonly prefix: string;
    }
  /** `archiveRun` over many workspaces and windows at a given concurrency. */
  | {
      readonly kind: "fan-in";
      readonly endpoints: Endpoints;
      readonly workspaces: ReadonlyArray<{ readonly groupId: string; readonly tenantName: string }>;
      readonly range: WindowMs;
      readonly concurrency: number;
      readonly prefix: string;
    };

/** What a child prints (one JSON line on stdout). */
export interface TaskResult {
  /** Wall time of the measured part, in seconds. */
  readonly seconds: number;
  /** Bytes moved (gzip bytes of the log), 0 when not applicable. */
  readonly bytes: number;
  /** Peak resident set size of the child process, in bytes. */
  readonly peakRssBytes: number;
  /** CPU time (user + system) of the child process, in seconds: the client's own work. */
  readonly cpuSeconds: number;
  /**
   * Share of all the machine's cores busy during the task (0 to 1): near 1 means the measurement
   * was CPU-bound, client and servers together.
   */
  readonly machineBusy: number;
  /** Time spent per S3 operation (summed), in seconds: where the pipeline's time goes. */
  readonly legs?: Readonly<Record<string, number>>;
  /** Fan-in only: windows archived and failed. */
  readonly archived?: number;
  readonly failed?: number;
  /** Fan-in only: the first few failure messages, to diagnose a broken run. */
  readonly failures?: readonly string[];
}

/** The marker the child prints its result after, so stray output cannot be mistaken for it. */
export const RESULT_MARKER = "BENCH_RESULT ";
