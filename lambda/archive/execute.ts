/**
 * Executing a run: plan every workspace (list what exists), then download and store the missing
 * windows through one queue, fairly across workspaces and projects. It reports only through
 * events (see `summary.ts`); the run's bounds (deadline, window cap, Atlas's pauses) decide what
 * is deferred.
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
import { LaneQueue } from "./lanes";
import { laneGroups, orderTasks, partitionDates, planWorkspace, type WindowTask } from "./plan";
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
  /** Windows that have left the lookback since the previous run: counted as expired when missing. */
  readonly expiring: readonly TimeWindow[];
  readonly concurrency: number;
  /** Downloads in flight at most per Atlas project (each workspace keeps to one lane). */
  readonly lanesPerProject: number;
  /** Which workspace goes first among windows of the same start (see `orderTasks`). */
  readonly rotation: number;
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

/**
 * The run in two steps: every workspace is planned (listed, checked), `concurrency` at a time; then
 * all missing windows go through one queue, the oldest first and the workspaces in turn, with
 * `concurrency` downloads in flight and at most one per lane of a project. Never throws for a
 * window's failure.
 */
export async function executeRun(run: Execution): Promise<void> {
  const { workspaces } = run.config;
  const groups = laneGroups(workspaces, run.lanesPerProject);
  const planned: WindowTask[][] = workspaces.map(() => []);
  await forEachLimited([...workspaces.keys()], run.concurrency, async (i) => {
    planned[i] = await planTasks(run, workspaces[i] as Workspace, groups[i] as string);
  });
  await runTasks(run, orderTasks(planned, run.rotation));
}

/** One workspace's plan: list what exists, check the objects that need it; the missing windows as tasks. */
async function planTasks(run: Execution, workspace: Workspace, group: string): Promise<WindowTask[]> {
  const { config, bucket, candidates, signal, emit } = run;
  const prefix = config.archive.prefix;
  const label = workspaceLabel(workspace);
  const keyOf = (w: TimeWindow) => archiveKey(prefix, workspace, w);
  const fail = (err: unknown, window: TimeWindow) =>
    emit({ type: "failed", workspace: label, ...failureOf(err, formatWindow(window), keyOf(window)) });
  const defer = (windows: number) =>
    emit({ type: "deferred", workspace: label, windows, reason: "deadline" });
  if (signal.aborted) {
    defer(candidates.length);
    return [];
  }

  // What exists: one listing per UTC date partition the candidates (and the expiring windows) fall in.
  let existing: Awaited<ReturnType<typeof existingObjects>>;
  try {
    existing = await existingObjects(
      run.s3,
      { bucket, prefix },
      { ...workspace, label },
      partitionDates([...run.expiring, ...candidates]),
      signal,
    );
  } catch (err) {
    if (signal.aborted) defer(candidates.length);
    else for (const w of candidates) fail(err, w);
    return [];
  }
  // A workspace with no object at all in these partitions has never been archived here (a first
  // run, a new workspace): the windows behind its lookback were never any run's to lose.
  for (const window of existing.size > 0 ? run.expiring : []) {
    const key = keyOf(window);
    if (!existing.has(key)) emit({ type: "expired", workspace: label, window: formatWindow(window), key });
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
      if (signal.aborted) {
        defer(candidates.length - index);
        return [];
      }
      fail(err, window);
    }
  }
  emit({ type: "planned", workspace: label, due: candidates.length, missing: plan.missing.length, present });
  return plan.missing.map((window) => ({ workspace, label, window, key: keyOf(window), group }));
}

/**
 * Downloads and stores the tasks in their order through a {@link LaneQueue}. The deadline and the
 * window cap defer what is left; a project's pause defers that project's tasks only; a setup
 * error (credentials, roles, a missing workspace or bucket) fails the rest of its workspace's
 * tasks without asking Atlas for them.
 */
async function runTasks(run: Execution, tasks: readonly WindowTask[]): Promise<void> {
  const queue = new LaneQueue(tasks, (t) => t.group, 1);
  const fail = (err: unknown, task: WindowTask) =>
    run.emit({
      type: "failed",
      workspace: task.label,
      ...failureOf(err, formatWindow(task.window), task.key),
    });
  const defer = (deferred: readonly WindowTask[], reason: DeferralReason, detail?: string) => {
    const counts = new Map<string, number>();
    for (const t of deferred) counts.set(t.label, (counts.get(t.label) ?? 0) + 1);
    for (const [workspace, windows] of counts) {
      run.emit({ type: "deferred", workspace, windows, reason, ...(detail ? { detail } : {}) });
    }
  };
  // Workers wait here while every project with tasks left has its lanes busy.
  let wake = () => {};
  let changed = new Promise<void>((resolve) => (wake = resolve));
  const notify = () => {
    wake();
    changed = new Promise<void>((resolve) => (wake = resolve));
  };
  let inFlight = 0;

  const worker = async () => {
    while (queue.size > 0) {
      if (run.pastDeadline() || run.budget.remaining <= 0) {
        defer(queue.drain(), run.pastDeadline() ? "deadline" : "window cap");
        notify();
        return;
      }
      const task = queue.take();
      if (task === undefined) {
        if (inFlight === 0) return;
        await changed;
        continue;
      }
      inFlight++;
      run.budget.remaining--;
      try {
        await archiveWindow(run, task.workspace, task.window, task.label);
      } catch (err) {
        if (run.pastDeadline()) {
          // Work cut short by the deadline is not a failure: nothing was stored, the next run takes it.
          run.budget.remaining++;
          defer([task], "deadline");
        } else if (err instanceof AtlasPausedError) {
          const project = task.workspace.groupId;
          defer([task, ...queue.remove((t) => t.workspace.groupId === project)], "rate limit", err.message);
        } else {
          fail(err, task);
          if (ruleFor(err).stopsWorkspace) {
            for (const t of queue.remove((t) => t.label === task.label)) fail(err, t);
          }
        }
      } finally {
        inFlight--;
        queue.done(task);
        notify();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, run.concurrency) }, worker));
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
