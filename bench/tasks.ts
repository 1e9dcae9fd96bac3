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
    }
  /**
   * The queue's planner (`planAndEnqueue`, with a stand-in SQS client that counts
   * SendMessageBatch calls) over the scale scenario's workspaces.
   */
  | ({ readonly kind: "scale-plan" } & ScaleRun)
  /** The scale scenario's drain: `archiveRun` with one lane per project, no window cap. */
  | ({ readonly kind: "scale-drain" } & ScaleRun)
  /** Hourly scheduled runs of the deployed design (planner, sealing, worker), digests on or off. */
  | ({ readonly kind: "digests-steady" } & DigestsSteadyRun)
  /** A day of large logs archived through `archiveRun`, then sealed (or not): the archive `verify` reads. */
  | ({ readonly kind: "digests-archive" } & DigestsArchiveRun)
  /** `verifyArchive` over a prefix: CRC-only (no digests, no key), or against the digests with a public key. */
  | ({ readonly kind: "digests-verify" } & DigestsVerifyRun);

/** How a digests child signs: KMS (moto's, with the stack's kind of key), or a local P-256 key. */
export type DigestsSigning =
  | { readonly kind: "kms"; readonly endpoint: string; readonly keyArn: string }
  | { readonly kind: "local" };

/** The digests section's steady state: hourly runs of `projects` × `perProject` hourly workspaces. */
export interface DigestsSteadyRun {
  readonly endpoints: Endpoints;
  readonly prefix: string;
  readonly projects: number;
  readonly perProject: number;
  /**
   * A UTC midnight. Warm-up, not counted: every window of the `backfillDays` before it archived
   * (logs and receipts, not sealed, as a drained backfill leaves them), then the scheduled runs at
   * 01:00 and 02:00, which seal those days. The measured runs follow, hourly.
   */
  readonly startMs: number;
  readonly backfillDays: number;
  /** Days of hourly runs measured after the warm-up. */
  readonly days: number;
  /** Whether the planner seals (a signing key), as with the stack's `digests: true`. */
  readonly seal: boolean;
  /** With `seal`. */
  readonly signing?: DigestsSigning;
}

/** One day of large logs for `workspaces` workspaces, archived and optionally sealed. */
export interface DigestsArchiveRun {
  readonly endpoints: Endpoints;
  readonly prefix: string;
  readonly workspaces: number;
  /** The window length (the schedule runs as often). */
  readonly windowMinutes: number;
  /** The UTC day archived, `YYYY-MM-DD`. */
  readonly date: string;
  readonly seal: boolean;
  readonly signing?: DigestsSigning;
}

/** One `verify` of a prefix. */
export interface DigestsVerifyRun {
  readonly endpoints: Endpoints;
  readonly prefix: string;
  /** Against the digests, offline; absent: CRC-only (the archive has no digests). */
  readonly publicKeyPem?: string;
  /** The archive's window length. */
  readonly windowMinutes: number;
  /** Now, for the days still pending. */
  readonly nowMs: number;
}

/** Requests counted by phase (`planner`, `seal`, `worker`, `run`, `verify`), area and command. */
export type RequestCounts = Readonly<
  Record<string, Readonly<Record<string, Readonly<Record<string, number>>>>>
>;

/** What a digests child measured besides time and memory. */
export interface DigestsMeasures {
  /**
   * S3 requests (every attempt) by phase, then by area (`archive`: logs and their listings;
   * `receipts`; `digests`), then by command without `Command`; and `KMS` `Sign` calls under the
   * `kms` area of the phase that signed.
   */
  readonly requests: RequestCounts;
  /** Steady state: windows archived in the measured runs, scheduled runs measured, days sealed in them. */
  readonly windows?: number;
  readonly runs?: number;
  readonly sealedDays?: number;
  /** Days sealed in the warm-up (not counted). */
  readonly warmupSealedDays?: number;
  /** The last run's instant (for `verify`'s pending days). */
  readonly endMs?: number;
  /** The public key of a local signer, PEM (a KMS key's is read by the parent). */
  readonly publicKeyPem?: string;
  /** Verify: what the report says. */
  readonly verify?: {
    readonly ok: boolean;
    readonly checked: number;
    readonly bytes: number;
    readonly digests: number;
    readonly sealedDays: number;
    readonly pendingDays: number;
    readonly unsealedDays: number;
    readonly problems: readonly string[];
  };
}

/** One run of the scale scenario (planner or drain), in a child process. */
export interface ScaleRun {
  readonly endpoints: Endpoints;
  /** The workspaces: `projects` Atlas projects of `perProject` workspaces each (see {@link scaleWorkspaces}). */
  readonly projects: number;
  readonly perProject: number;
  readonly prefix: string;
  readonly window: { readonly minutes: number; readonly lagMinutes: number; readonly lookbackHours: number };
  readonly schedule: string;
  readonly nowMs: number;
  readonly previousRunMs?: number;
  /** A backfill: the windows overlapping this range instead of the lookback. */
  readonly range?: { readonly fromMs: number; readonly toMs: number };
  /** Workspaces listed at once (planner), or downloads in flight at once (drain). */
  readonly concurrency: number;
  readonly lanesPerProject: number;
  /** How the parameter file lists the workspaces (see {@link scaleWorkspaces}). */
  readonly layout: ScaleLayout;
}

/**
 * `together`: each project's workspaces one after another, as a parameter file usually lists
 * them; `interleaved`: the projects in turn (workspace i in project i mod projects).
 */
export type ScaleLayout = "together" | "interleaved";

/** At one tenth of a drain: the fewest windows archived for one project (or workspace) against the mean. */
export interface ShareStep {
  /** The tenth: 0.1, 0.2, … 1. */
  readonly at: number;
  /** Seconds into the drain. */
  readonly seconds: number;
  readonly minOverMean: number;
  /** The mean minus the fewest, in windows. */
  readonly lag: number;
}

/** What a scale child measured besides time and memory. */
export interface ScaleMeasures {
  /** Requests sent to S3, by command (`ListObjectsV2Command`, `PutObjectCommand`, …). */
  readonly s3Requests: Readonly<Record<string, number>>;
  /** Planner: SendMessageBatch calls and the messages they carried. */
  readonly sendBatches?: number;
  readonly messages?: number;
  /** Planner: due windows over all workspaces. */
  readonly due?: number;
  /** Planner: slices of time it planned the range in. */
  readonly slices?: number;
  /** Drain: seconds from the start until the last workspace was planned (the run's own listing). */
  readonly planSeconds?: number;
  /** Drain: at each tenth of the windows archived (10 %, 20 %, … 100 %), the projects' shares. */
  readonly projectShares?: readonly ShareStep[];
  /** The same over workspaces. */
  readonly workspaceShares?: readonly ShareStep[];
}

/** A 24-hex Atlas project id for project `i`. */
export function benchGroupId(i: number): string {
  return (0x32b6e34b + i).toString(16).padStart(8, "0").padEnd(24, "0");
}

/** The scale scenario's workspaces, `projects` × `perProject`, in the parameter file's order. */
export function scaleWorkspaces(
  projects: number,
  perProject: number,
  layout: ScaleLayout,
): Array<{ readonly groupId: string; readonly tenantName: string }> {
  return Array.from({ length: projects * perProject }, (_, i) => {
    const [project, n] =
      layout === "together"
        ? [Math.floor(i / perProject), i % perProject]
        : [i % projects, Math.floor(i / projects)];
    return { groupId: benchGroupId(project), tenantName: `scale-${project}-${n}` };
  });
}

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
  /** Scale only. */
  readonly scale?: ScaleMeasures;
  /** Digests only. */
  readonly digests?: DigestsMeasures;
}

/** The marker the child prints its result after, so stray output cannot be mistaken for it. */
export const RESULT_MARKER = "BENCH_RESULT ";
