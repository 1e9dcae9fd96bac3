/**
 * Executing a run: plan every workspace (list what exists), then download and store the missing
 * windows through one queue, fairly across workspaces and projects. It reports only through
 * events (see `summary.ts`); the run's bounds (deadline, window cap, Atlas's pauses) decide what
 * is deferred.
 */
import { AtlasPausedError } from "../atlas/errors";
import { checkExisting } from "../bucket/existing";
import { existingObjects } from "../bucket/list";
import { archiveKey, type Workspace, workspaceLabel } from "../config";
import { ruleFor } from "../errors";
import { forEachLimited } from "../pool";
import { formatWindow, type TimeWindow } from "../windows";
import { LaneQueue } from "./lanes";
import { laneGroups, orderTasks, partitionDates, planWorkspace, type WindowTask } from "./plan";
import type { DeferralReason, RunEvent } from "./summary";
import { archiveWindow, failureOf, type WindowJob } from "./window";

/** What planning a run works with: the windows due, where to look, and where to report. */
export interface Planning {
  readonly config: WindowJob["config"];
  readonly bucket: string;
  readonly s3: WindowJob["s3"];
  readonly candidates: readonly TimeWindow[];
  /** Windows that have left the lookback since the previous run: counted as expired when missing. */
  readonly expiring: readonly TimeWindow[];
  /** Workspaces planned at once. */
  readonly concurrency: number;
  /** Downloads in flight at most per Atlas project (each workspace keeps to one lane). */
  readonly lanesPerProject: number;
  /** Which workspace goes first among windows of the same start (see `orderTasks`). */
  readonly rotation: number;
  /** Aborted at the deadline (or by the caller): planning stops and defers what is left. */
  readonly signal: AbortSignal;
  readonly emit: (event: RunEvent) => void;
}

/** Everything the executor works with, resolved by `archiveRun`. */
export interface Execution extends Planning, WindowJob {
  readonly signal: AbortSignal;
  /** Windows that may still be downloaded in this run, over all workspaces. */
  readonly budget: { remaining: number };
  /** Whether the run is past its deadline (by the signal, or by the clock a moment before the timer fires). */
  readonly pastDeadline: () => boolean;
}

/**
 * The run in two steps: every workspace is planned ({@link planRun}); then all missing windows go
 * through one queue, with `concurrency` downloads in flight and at most one per lane of a project.
 * Never throws for a window's failure.
 */
export async function executeRun(run: Execution): Promise<void> {
  await runTasks(run, await planRun(run));
}

/**
 * Plans every workspace (lists what exists, checks the objects that need it), `concurrency` at a
 * time, and returns the missing windows as tasks in the queue's order: the oldest first, the
 * workspaces in turn. Reports `planned`, `expired`, and the windows a listing failure fails.
 */
export async function planRun(plan: Planning): Promise<WindowTask[]> {
  const { workspaces } = plan.config;
  const groups = laneGroups(workspaces, plan.lanesPerProject);
  const planned: WindowTask[][] = workspaces.map(() => []);
  await forEachLimited([...workspaces.keys()], plan.concurrency, async (i) => {
    planned[i] = await planTasks(plan, workspaces[i] as Workspace, groups[i] as string);
  });
  return orderTasks(planned, plan.rotation);
}

/** One workspace's plan: list what exists, check the objects that need it; the missing windows as tasks. */
async function planTasks(run: Planning, workspace: Workspace, group: string): Promise<WindowTask[]> {
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
  // A workspace with none of these windows archived has never been archived here (a first run, a
  // new workspace): the windows behind its lookback were never any run's to lose. (The listing is
  // the tenant's: other stream processors' objects of the tenant do not count.)
  const archivedHere = [...run.expiring, ...candidates].some((w) => existing.has(keyOf(w)));
  for (const window of archivedHere ? run.expiring : []) {
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
        const outcome = await archiveWindow(run, task.workspace, task.window);
        run.emit(
          outcome.type === "archived"
            ? { type: "archived", workspace: task.label, ...outcome.window }
            : { type: "already-present", workspace: task.label, ...outcome.window },
        );
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
