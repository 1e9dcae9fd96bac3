/**
 * Executing a run: for each workspace, list what exists, plan, then download and store each
 * missing window, oldest first. It reports only through events (see `summary.ts`); the run's
 * bounds (deadline, window cap, Atlas's pauses) decide what is deferred.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { AtlasPausedError } from "../atlas/errors";
import type { AuditLogDownload, DownloadOptions } from "../atlas/options";
import { checkExisting } from "../bucket/existing";
import { existingObjects } from "../bucket/list";
import type { UploadSettings } from "../bucket/multipart";
import { storeLog } from "../bucket/store";
import { type ArchiverConfig, archiveKey, objectMetadata, type Workspace, workspaceLabel } from "../config";
import { ArchiverError, ruleFor } from "../errors";
import { forEachLimited } from "../pool";
import { formatWindow, type TimeWindow } from "../windows";
import { partitionDates, planWorkspace } from "./plan";
import type { DeferralReason, RunEvent, WindowFailure } from "./summary";

/** What the run needs from the Atlas client (an `AtlasClient`, or a stand-in in tests). */
export interface AtlasSource {
  /** Its body fails with typed errors naming the window (see `AtlasClient.download`). */
  download(workspace: Workspace, window: TimeWindow, options?: DownloadOptions): Promise<AuditLogDownload>;
}

/** Everything the executor works with, resolved by `archiveRun`. */
export interface Execution {
  readonly config: ArchiverConfig;
  readonly bucket: string;
  readonly atlas: AtlasSource;
  readonly s3: S3Client;
  readonly runId: string;
  readonly candidates: readonly TimeWindow[];
  readonly concurrency: number;
  readonly upload: UploadSettings;
  /** Windows that may still be downloaded in this run, over all workspaces. */
  readonly budget: { remaining: number };
  readonly deadlineMs?: number;
  /** Aborted at the deadline (or by the caller): the work in flight stops. */
  readonly signal: AbortSignal;
  /** Whether the run is past its deadline (by the signal, or by the clock a moment before the timer fires). */
  readonly pastDeadline: () => boolean;
  readonly emit: (event: RunEvent) => void;
}

function failureOf(err: unknown, window: string, key: string): WindowFailure {
  if (err instanceof ArchiverError) {
    const context = err.context as { readonly status?: number; readonly atlasErrorCode?: string };
    return {
      window,
      key,
      code: err.code,
      message: err.message,
      status: context.status,
      atlasErrorCode: context.atlasErrorCode,
    };
  }
  return { window, key, code: "UNEXPECTED", message: err instanceof Error ? err.message : String(err) };
}

/** Every workspace of the configuration, `concurrency` at a time. Never throws for a window's failure. */
export async function executeRun(run: Execution): Promise<void> {
  await forEachLimited(run.config.workspaces, run.concurrency, (workspace) =>
    archiveWorkspace(run, workspace),
  );
}

/** One workspace: list, plan, check the objects that need it, then download and store what is missing. */
async function archiveWorkspace(run: Execution, workspace: Workspace): Promise<void> {
  const { config, bucket, candidates, signal, emit } = run;
  const prefix = config.archive.prefix;
  const label = workspaceLabel(workspace);
  const keyOf = (w: TimeWindow) => archiveKey(prefix, workspace, w);
  const fail = (err: unknown, window: TimeWindow) =>
    emit({ type: "failed", workspace: label, ...failureOf(err, formatWindow(window), keyOf(window)) });
  const defer = (windows: number, reason: DeferralReason, detail?: string) =>
    emit({ type: "deferred", workspace: label, windows, reason, ...(detail ? { detail } : {}) });
  if (signal.aborted) return defer(candidates.length, "deadline");

  // 1. What exists: one listing per UTC date partition the candidates fall in.
  let existing: Awaited<ReturnType<typeof existingObjects>>;
  try {
    existing = await existingObjects(
      run.s3,
      { bucket, prefix },
      { ...workspace, label },
      partitionDates(candidates),
      signal,
    );
  } catch (err) {
    if (signal.aborted) return defer(candidates.length, "deadline");
    for (const w of candidates) fail(err, w);
    return;
  }
  const plan = planWorkspace(candidates, keyOf, existing);
  let present = plan.present;
  for (const { window, key, index } of plan.toCheck) {
    try {
      await checkExisting(
        run.s3,
        { bucket, key, workspace: label, window: formatWindow(window), signal },
        { workspace, window },
      );
      present++;
    } catch (err) {
      if (signal.aborted) return defer(candidates.length - index, "deadline");
      fail(err, window);
    }
  }
  emit({ type: "planned", workspace: label, due: candidates.length, missing: plan.missing.length, present });

  // 2. Fetch and store, oldest first.
  let stop: unknown;
  for (const [index, window] of plan.missing.entries()) {
    if (stop !== undefined) {
      fail(stop, window);
      continue;
    }
    if (run.pastDeadline() || run.budget.remaining <= 0) {
      return defer(plan.missing.length - index, run.pastDeadline() ? "deadline" : "window cap");
    }
    run.budget.remaining--;
    try {
      await archiveWindow(run, workspace, window, label);
    } catch (err) {
      // Work cut short by the deadline is not a failure: nothing was stored, the next run takes it.
      if (run.pastDeadline()) {
        run.budget.remaining++;
        return defer(plan.missing.length - index, "deadline");
      }
      if (err instanceof AtlasPausedError)
        return defer(plan.missing.length - index, "rate limit", err.message);
      fail(err, window);
      // Credentials, roles, a missing workspace or bucket: asking again for this workspace is pointless.
      if (ruleFor(err).stopsWorkspace) stop = err;
    }
  }
}

/** Downloads one window and stores it at its key; emits what happened. */
async function archiveWindow(run: Execution, workspace: Workspace, window: TimeWindow, label: string) {
  const { config, signal } = run;
  const key = archiveKey(config.archive.prefix, workspace, window);
  const windowLabel = formatWindow(window);
  const log = await run.atlas.download(workspace, window, {
    signal,
    ...(run.deadlineMs === undefined ? {} : { deadlineMs: run.deadlineMs }),
  });
  const outcome = await storeLog({
    s3: run.s3,
    bucket: run.bucket,
    key,
    body: log.body,
    metadata: objectMetadata({
      workspace,
      window,
      apiVersion: config.atlas.apiVersion,
      runId: run.runId,
      atlasFileName: log.fileName,
    }),
    upload: run.upload,
    subject: { workspace, window },
    signal,
    workspace: label,
    window: windowLabel,
  });
  if (outcome.status === "already-present") {
    run.emit({ type: "already-present", workspace: label, window: windowLabel, key });
    return;
  }
  const { bytes, lines, sha256 } = outcome.digest;
  run.emit({ type: "archived", workspace: label, window: windowLabel, key, bytes, lines, sha256 });
}
