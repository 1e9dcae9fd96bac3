/**
 * One archive run, as plan, execute, summarize: for every configured workspace, find the due
 * windows that have no object in S3 yet, download each from Atlas and store it, oldest first, and
 * report what happened. The S3 layout is the checkpoint: there is no other state.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { DEFAULT_UPLOAD_SETTINGS, type UploadSettings } from "../bucket/multipart";
import type { ArchiverConfig } from "../config";
import { timerDelay } from "../timers";
import { RunDeadlineError } from "./errors";
import { executeRun } from "./execute";
import { candidateWindows, expiringWindows } from "./plan";
import { type RunEvent, type RunSummary, summarize } from "./summary";
import type { AtlasSource } from "./window";

export type {
  ArchivedWindow,
  DeferralReason,
  RunEvent,
  RunSummary,
  WindowFailure,
  WorkspaceSummary,
} from "./summary";
export type { AtlasSource } from "./window";

/** Tunables of a run. */
export interface RunSettings {
  /**
   * Most windows downloaded in one run, over all workspaces; the rest are deferred (`window cap`).
   * For a caller that must bound a run; the command line sets none.
   */
  readonly maxWindows: number;
  /** Workspaces planned at the same time, and downloads in flight at the same time. */
  readonly concurrency: number;
  /**
   * Downloads in flight at most per Atlas project: the project's workspaces are dealt out to this
   * many lanes, and a workspace's windows go one after another.
   */
  readonly lanesPerProject: number;
  readonly upload: UploadSettings;
}

/**
 * Run defaults, resolved here only: no cap on the windows of a run (the whole lookback or range),
 * 4 downloads at a time, at most 2 of them in one Atlas project (Atlas's rate limits
 * are per project: two lanes keep a one-project deployment parallel without letting one project
 * take every download), and the upload defaults of {@link DEFAULT_UPLOAD_SETTINGS}.
 */
export const DEFAULT_RUN_SETTINGS: RunSettings = {
  maxWindows: Number.POSITIVE_INFINITY,
  concurrency: 4,
  lanesPerProject: 2,
  upload: DEFAULT_UPLOAD_SETTINGS,
};

/** A request to archive. */
export interface ArchiveRunRequest {
  readonly config: ArchiverConfig;
  /** The bucket to write to (the parameter file's, or an override). */
  readonly bucket: string;
  readonly atlas: AtlasSource;
  readonly s3: S3Client;
  /** The run's notion of "now": which windows are due is computed from it. */
  readonly nowMs: number;
  /** Identifies the run in object metadata and logs. */
  readonly runId: string;
  /** Archive the due windows overlapping `[fromMs, toMs)` instead of the lookback. */
  readonly range?: { readonly fromMs: number; readonly toMs: number };
  /**
   * When the previous scheduled run happened (now minus the run interval): the windows that were
   * in its lookback and have left this run's with no object are counted as expired. Not with a range.
   */
  readonly previousRunMs?: number;
  /**
   * The run's deadline (epoch ms): no new window starts at or after it, and the work in flight
   * then is aborted (its upload aborted, nothing left at its key); what is left is deferred.
   */
  readonly deadlineMs?: number;
  /** Read for the deadline. @default Date.now */
  readonly clock?: () => number;
  readonly settings?: Partial<Omit<RunSettings, "upload">> & { readonly upload?: Partial<UploadSettings> };
  /** Progress, as it happens. */
  readonly onEvent?: (event: RunEvent) => void;
  readonly signal?: AbortSignal;
}

/**
 * Archives every due window that is missing from S3, for every workspace of the configuration.
 * Never throws for a window or workspace failure: those are in the summary (check `ok`).
 *
 * @throws {InputError} `RUN_RANGE_INVALID` for an empty, reversed or too long range
 * @example
 * ```ts
 * const summary = await archiveRun({ config, bucket, atlas, s3, nowMs: Date.now(), runId });
 * if (!summary.ok) process.exitCode = 1;
 * ```
 */
export async function archiveRun(request: ArchiveRunRequest): Promise<RunSummary> {
  const { config, runId, deadlineMs } = request;
  const settings: RunSettings = {
    ...DEFAULT_RUN_SETTINGS,
    ...request.settings,
    upload: { ...DEFAULT_RUN_SETTINGS.upload, ...request.settings?.upload },
  };
  const clock = request.clock ?? Date.now;
  const startedAtMs = clock();
  const candidates = candidateWindows(config, request.nowMs, request.range);

  // The run's own signal: it aborts the work in flight (downloads, uploads, listings) at the
  // deadline, or when the caller's signal aborts, so that the run always ends in time to report.
  const stop = new AbortController();
  const stopNow = () => stop.abort(new RunDeadlineError(runId));
  const outer = request.signal;
  if (outer?.aborted) stopNow();
  else outer?.addEventListener("abort", stopNow, { once: true });
  const deadlineTimer =
    deadlineMs === undefined ? undefined : setTimeout(stopNow, timerDelay(deadlineMs - clock()));

  const events: RunEvent[] = [];
  try {
    await executeRun({
      config,
      bucket: request.bucket,
      atlas: request.atlas,
      s3: request.s3,
      runId,
      candidates,
      expiring:
        request.range === undefined && request.previousRunMs !== undefined
          ? expiringWindows(config.window, request.nowMs, request.previousRunMs)
          : [],
      concurrency: settings.concurrency,
      lanesPerProject: settings.lanesPerProject,
      // A different workspace first on every run (per window length), so none is always last.
      rotation: Math.floor(request.nowMs / (config.window.minutes * 60_000)),
      upload: settings.upload,
      budget: { remaining: settings.maxWindows },
      ...(deadlineMs === undefined ? {} : { deadlineMs }),
      signal: stop.signal,
      pastDeadline: () => stop.signal.aborted || (deadlineMs !== undefined && clock() >= deadlineMs),
      emit: (event) => {
        events.push(event);
        request.onEvent?.(event);
      },
    });
  } finally {
    if (deadlineTimer !== undefined) clearTimeout(deadlineTimer);
    outer?.removeEventListener("abort", stopNow);
  }
  return summarize(events, {
    config,
    bucket: request.bucket,
    runId,
    nowMs: request.nowMs,
    ...(request.range ? { range: request.range } : {}),
    due: candidates.length,
    startedAtMs,
    finishedAtMs: clock(),
  });
}
