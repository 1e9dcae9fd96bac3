/**
 * Planning a run, pure: which windows are due, and for one workspace, given the keys that exist,
 * which are missing, which are archived, and which objects need a closer look.
 */
import { type ArchiverConfig, utcDate, type Workspace } from "../config";
import { InputError } from "../errors";
import {
  dueWindows,
  formatInstant,
  isDue,
  type TimeWindow,
  type WindowSettings,
  windowsInRange,
} from "../windows";

/** The longest historical range one run accepts. */
export const MAX_RANGE_MS = 366 * 24 * 3_600_000;

/**
 * The due windows of a run, oldest first: those of the lookback, or those overlapping `range`.
 *
 * @throws {InputError} `RUN_RANGE_INVALID` for an empty, reversed or too long range
 */
export function candidateWindows(
  config: ArchiverConfig,
  nowMs: number,
  range?: { readonly fromMs: number; readonly toMs: number },
): TimeWindow[] {
  if (range === undefined) {
    return dueWindows(nowMs, config.window).filter((w) => w.startMs >= 0); // Atlas takes epoch seconds >= 0
  }
  const { fromMs, toMs } = range;
  if (toMs <= fromMs || toMs - fromMs > MAX_RANGE_MS) {
    throw new InputError(
      "RUN_RANGE_INVALID",
      { field: "from", value: formatInstant(fromMs) },
      (n) =>
        `The range ${formatInstant(fromMs)} to ${formatInstant(toMs)} is ` +
        (toMs <= fromMs
          ? `empty or reversed: ${n("from")} must be before ${n("to")}.`
          : "longer than 366 days: split it."),
    );
  }
  return windowsInRange(fromMs, toMs, config.window.minutes).filter((w) =>
    isDue(w, nowMs, config.window.lagMinutes),
  );
}

/**
 * The windows that were due inside the lookback at `previousRunMs` and have left it at `nowMs`:
 * the ones a run must find archived, or count as expired (lost unless someone backfills them).
 *
 * @example
 * ```ts
 * // Hourly runs, 6 hours of lookback: at 15:20 the window 09:00-10:00 has just left it.
 * expiringWindows({ minutes: 60, lagMinutes: 15, lookbackHours: 6 }, now, now - 3_600_000);
 * ```
 */
export function expiringWindows(
  settings: WindowSettings,
  nowMs: number,
  previousRunMs: number,
): TimeWindow[] {
  const earliestStartMs = nowMs - settings.lookbackHours * 3_600_000;
  return dueWindows(previousRunMs, settings).filter((w) => w.startMs < earliestStartMs && w.startMs >= 0);
}

/** The UTC date partitions the windows start in: what a workspace's planning lists. */
export function partitionDates(windows: readonly TimeWindow[]): string[] {
  return [...new Set(windows.map((w) => utcDate(w.startMs)))];
}

/** What a listing shows of an existing object. */
export interface ExistingObject {
  /** Whether the listing shows S3's full-object CRC32 (every object the archiver writes has one). */
  readonly fullObjectCrc32: boolean;
}

/** One workspace's plan. */
export interface WorkspacePlan {
  /** No object at their key: to download, oldest first. */
  readonly missing: readonly TimeWindow[];
  /** An object with S3's full-object CRC32 at their key: archived. */
  readonly present: number;
  /**
   * An object the listing shows without a full-object CRC32: looked at more closely (HeadObject)
   * before it counts. `index` is the window's place among the candidates.
   */
  readonly toCheck: readonly { readonly window: TimeWindow; readonly key: string; readonly index: number }[];
}

/**
 * Splits `candidates` by what exists at their keys.
 *
 * @example
 * ```ts
 * const plan = planWorkspace(candidates, (w) => archiveKey(prefix, workspace, w), existing);
 * plan.missing; // the windows to download
 * ```
 */
export function planWorkspace(
  candidates: readonly TimeWindow[],
  keyOf: (window: TimeWindow) => string,
  existing: ReadonlyMap<string, ExistingObject>,
): WorkspacePlan {
  const missing: TimeWindow[] = [];
  const toCheck: { window: TimeWindow; key: string; index: number }[] = [];
  let present = 0;
  for (const [index, window] of candidates.entries()) {
    const key = keyOf(window);
    const listed = existing.get(key);
    if (listed === undefined) missing.push(window);
    else if (listed.fullObjectCrc32) present++;
    else toCheck.push({ window, key, index });
  }
  return { missing, present, toCheck };
}

/** One window of one workspace to download and store. */
export interface WindowTask {
  readonly workspace: Workspace;
  /** `groupId/tenantName[/spName]`. */
  readonly label: string;
  readonly window: TimeWindow;
  readonly key: string;
  /** The queue group it belongs to: its project and lane (see {@link laneGroups}). */
  readonly group: string;
}

/**
 * Each workspace's queue group: `groupId#lane`, the lanes dealt out in turn to a project's
 * workspaces, so that a project has at most `lanes` downloads in flight and a workspace's windows
 * go one after another.
 */
export function laneGroups(workspaces: readonly Workspace[], lanes: number): string[] {
  const seen = new Map<string, number>();
  return workspaces.map((w) => {
    const n = seen.get(w.groupId) ?? 0;
    seen.set(w.groupId, n + 1);
    return `${w.groupId}#${n % lanes}`;
  });
}

/**
 * Every workspace's tasks in one order: the oldest window first (the closest to leaving the
 * lookback), and among windows of the same start the projects in turn, from `rotation` (a
 * different one first on every run): the first workspace of each project, then the second of
 * each, and so on. No workspace waits because of its place in the parameter file, and no project
 * because its workspaces stand together in it.
 *
 * @example
 * ```ts
 * // a1, a2 in project A; b1 in project B; one window each:
 * orderTasks([[a1], [a2], [b1]], 0); // a1, b1, a2
 * ```
 */
export function orderTasks(perWorkspace: readonly (readonly WindowTask[])[], rotation: number): WindowTask[] {
  // Each workspace's turn among equals: its rank within its project, then its project's place.
  const projects = new Map<string, number>();
  const ranks: number[] = [];
  const sizes = new Map<string, number>();
  const projectOf: string[] = [];
  for (const [i, tasks] of perWorkspace.entries()) {
    const groupId = tasks[0]?.workspace.groupId ?? `#${i}`;
    projectOf.push(groupId);
    if (!projects.has(groupId)) projects.set(groupId, projects.size);
    ranks.push(sizes.get(groupId) ?? 0);
    sizes.set(groupId, (sizes.get(groupId) ?? 0) + 1);
  }
  const p = projects.size;
  const turn = (i: number) => {
    const groupId = projectOf[i] as string;
    const size = sizes.get(groupId) as number;
    const rank = ((((ranks[i] as number) - rotation) % size) + size) % size;
    const project = ((((projects.get(groupId) as number) - rotation) % p) + p) % p;
    return rank * p + project;
  };
  return perWorkspace
    .flatMap((tasks, i) => tasks.map((task) => ({ task, turn: turn(i) })))
    .sort((a, b) => a.task.window.startMs - b.task.window.startMs || a.turn - b.turn)
    .map((t) => t.task);
}
