/**
 * What a run would do, without doing it (`plan`): per workspace, the windows due, those present
 * (archived, or recorded empty), those missing (what a run would download), and the missing ones
 * about to leave the lookback. No download from Atlas, no write to S3: only the listings a run
 * makes.
 *
 * It plans as the deployed planner does ({@link planAndEnqueue}), through the same functions:
 * the due windows ({@link candidateWindows}), cut into the planner's slices ({@link planSlices}),
 * each workspace listed once per slice over the slice's date partitions ({@link existingObjects}),
 * split by what exists ({@link planWorkspace}), the windows that left the lookback since the
 * previous scheduled run counted as the run counts them ({@link expiringWindows}). Where it
 * differs, it says so: an object the listing shows without S3's full-object CRC32 is counted "to
 * check" (a run HEADs it, and on a store that keeps no checksums reads it back, before it counts),
 * and the listing's sizes are kept to tell an empty window from an archived one.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { candidateWindows, expiringWindows, partitionDates, planWorkspace } from "../archive/plan";
import { DEFAULT_RUN_SETTINGS } from "../archive/run";
import { existingObjects, type ListedObject } from "../bucket/list";
import {
  type ArchiverConfig,
  archiveKey,
  rateIntervalMinutes,
  scheduleIntervalMinutes,
  type Workspace,
  workspaceLabel,
} from "../config";
import { forEachLimited } from "../pool";
import { DEFAULT_SLICE_WINDOWS, planSlices } from "../queue/planner";
import type { TimeRange } from "../range";
import { formatInstant, formatWindow, type TimeWindow, type WindowSettings } from "../windows";

/**
 * The size of Atlas's gzip for a window without events (one empty member): an object of at most
 * this many bytes is a window recorded empty. A log holding one audit line is larger.
 */
export const EMPTY_GZIP_BYTES = 23;

/** How many run intervals ahead "expiring soon" looks: a window the run after next no longer sees. */
export const EXPIRING_INTERVALS = 2;

/** A run of consecutive missing windows, oldest first. */
export interface MissingRun {
  /** Start of the first window, ISO 8601. */
  readonly from: string;
  /** End of the last window, ISO 8601. */
  readonly to: string;
  readonly windows: number;
}

/** Window counts, of one workspace or all. */
export interface PlanCounts {
  /** Due windows of the lookback or range. */
  readonly due: number;
  /** Objects with S3's full-object CRC32 at their keys: `archived + empty`. */
  readonly present: number;
  /** Present, larger than {@link EMPTY_GZIP_BYTES}: a log with events. */
  readonly archived: number;
  /** Present, at most {@link EMPTY_GZIP_BYTES}: recorded empty (Atlas had no event). */
  readonly empty: number;
  /** An object listed without a full-object CRC32: a run looks at it (HEAD) before it counts. */
  readonly toCheck: number;
  /** No object at their keys: what a run would download. */
  readonly missing: number;
  /** Missing, and out of the lookback of the run {@link EXPIRING_INTERVALS} intervals from now. */
  readonly expiringSoon: number;
  /** Missing, and already out of the lookback (a range only): no scheduled run takes them. */
  readonly outsideLookback: number;
  /** Left the lookback since the previous scheduled run with no object (a run counts them expired). */
  readonly expired: number;
}

/** One workspace's plan. */
export interface WorkspacePreview extends PlanCounts {
  /** `groupId/tenantName[/spName]`. */
  readonly workspace: string;
  readonly groupId: string;
  readonly tenantName: string;
  readonly spName?: string;
  /** The missing windows, as runs of consecutive ones, oldest first. */
  readonly missingRuns: MissingRun[];
  /** The missing windows expiring soon, `start/end`, oldest first. */
  readonly expiringSoonWindows: string[];
  /** The windows expired since the previous scheduled run, `start/end`. */
  readonly expiredWindows: string[];
}

/** What {@link previewRun} found. */
export interface PlanReport {
  readonly bucket: string;
  readonly prefix: string;
  /** The instant due-ness was judged at. */
  readonly now: string;
  /** `lookback`: what a scheduled run at `now` would consider; `range`: a backfill's. */
  readonly mode: "lookback" | "range";
  /** The lookback (`now - lookbackHours` to `now`) or the range, ISO 8601, the end excluded. */
  readonly range: { readonly from: string; readonly to: string };
  readonly window: WindowSettings;
  readonly schedule: string;
  /**
   * The schedule's fixed interval: a `rate(...)`'s, or a `cron(...)`'s that fires at one interval
   * all day every day (see `scheduleIntervalMinutes`); `null` for any other cron (expiring soon is
   * then not judged).
   */
  readonly runIntervalMinutes: number | null;
  /**
   * A missing window that starts before this instant and inside the lookback is expiring soon:
   * `now + 2 × interval - lookbackHours`. `null` without a run interval.
   */
  readonly expiringSoonBefore: string | null;
  /** The planner's slices: each workspace is listed once per slice. */
  readonly slices: number;
  readonly workspaces: WorkspacePreview[];
  readonly totals: PlanCounts;
  /** True when no due window is missing and none expired since the previous scheduled run. */
  readonly ok: boolean;
}

/** What to plan. */
export interface PreviewRequest {
  readonly config: ArchiverConfig;
  readonly bucket: string;
  readonly s3: S3Client;
  readonly nowMs: number;
  /** Plan the due windows overlapping `[fromMs, toMs)` instead of the lookback (a backfill). */
  readonly range?: TimeRange;
  /** Workspaces listed at once. @default the run's concurrency (4) */
  readonly concurrency?: number;
  /** Windows planned at once over all workspaces. @default {@link DEFAULT_SLICE_WINDOWS}, the planner's */
  readonly sliceWindows?: number;
  readonly signal?: AbortSignal;
}

const ZERO: PlanCounts = {
  due: 0,
  present: 0,
  archived: 0,
  empty: 0,
  toCheck: 0,
  missing: 0,
  expiringSoon: 0,
  outsideLookback: 0,
  expired: 0,
};

type Counts = { -readonly [K in keyof PlanCounts]: number };

/** One workspace's plan as it is gathered, slice after slice. */
interface Gathered {
  readonly workspace: Workspace;
  readonly counts: Counts;
  readonly runs: { startMs: number; endMs: number; windows: number }[];
  readonly expiringSoon: string[];
  readonly expired: string[];
}

/**
 * Plans a run at `nowMs` (its lookback, or `range`) and reports what it would do, per workspace,
 * without downloading or writing anything. A listing that fails throws, as the reader commands'.
 *
 * @throws {InputError} `RUN_RANGE_INVALID` for an empty, reversed or too long range
 * @throws {StorageError} when a workspace's listing fails (access denied, no such bucket, …)
 * @example
 * ```ts
 * const report = await previewRun({ config, bucket, s3, nowMs: Date.now() });
 * if (!report.ok) process.exitCode = 1;
 * ```
 */
export async function previewRun(request: PreviewRequest): Promise<PlanReport> {
  const { config, bucket, s3, nowMs, range } = request;
  const { prefix } = config.archive;
  const lookbackMs = config.window.lookbackHours * 3_600_000;
  // As the planner's shell and `run` do: a scheduled run's previous run was one interval ago, on a
  // `rate(...)` schedule only (they count expired windows only there).
  const rateMinutes = rateIntervalMinutes(config.schedule);
  const previousRunMs =
    range === undefined && rateMinutes !== undefined ? nowMs - rateMinutes * 60_000 : undefined;
  // Expiring soon needs only the time of the run two runs from now: any fixed interval will do.
  const intervalMinutes = scheduleIntervalMinutes(config.schedule);
  const earliestMs = nowMs - lookbackMs;
  const soonBeforeMs =
    intervalMinutes === undefined
      ? undefined
      : nowMs + EXPIRING_INTERVALS * intervalMinutes * 60_000 - lookbackMs;

  const candidates = candidateWindows(config, nowMs, range);
  const expiring = previousRunMs === undefined ? [] : expiringWindows(config.window, nowMs, previousRunMs);
  const workspaces = config.workspaces.length;
  const slices = planSlices(candidates, (request.sliceWindows ?? DEFAULT_SLICE_WINDOWS) / workspaces);
  const gathered: Gathered[] = config.workspaces.map((workspace) => ({
    workspace,
    counts: { ...ZERO },
    runs: [],
    expiringSoon: [],
    expired: [],
  }));

  for (const [i, slice] of slices.entries()) {
    const sliceExpiring = i === 0 ? expiring : [];
    await forEachLimited(gathered, request.concurrency ?? DEFAULT_RUN_SETTINGS.concurrency, async (g) => {
      const keyOf = (w: TimeWindow) => archiveKey(prefix, g.workspace, w);
      const label = workspaceLabel(g.workspace);
      const existing = await existingObjects(
        s3,
        { bucket, prefix },
        { ...g.workspace, label },
        partitionDates([...sliceExpiring, ...slice]),
        request.signal,
      );
      gatherSlice(g, slice, sliceExpiring, keyOf, existing, { earliestMs, soonBeforeMs });
    });
  }

  const previews = gathered.map(toPreview);
  const totals = previews.reduce<Counts>(
    (sum, w) => {
      for (const k of Object.keys(ZERO) as (keyof PlanCounts)[]) sum[k] += w[k];
      return sum;
    },
    { ...ZERO },
  );
  return {
    bucket,
    prefix,
    now: formatInstant(nowMs),
    mode: range === undefined ? "lookback" : "range",
    range: {
      from: formatInstant(range?.fromMs ?? earliestMs),
      to: formatInstant(range?.toMs ?? nowMs),
    },
    window: config.window,
    schedule: config.schedule,
    runIntervalMinutes: intervalMinutes ?? null,
    expiringSoonBefore: soonBeforeMs === undefined ? null : formatInstant(soonBeforeMs),
    slices: slices.length,
    workspaces: previews,
    totals,
    ok: totals.missing === 0 && totals.expired === 0,
  };
}

/** Adds one slice of one workspace to what is gathered: the planner's split, and the sizes. */
function gatherSlice(
  g: Gathered,
  slice: readonly TimeWindow[],
  expiring: readonly TimeWindow[],
  keyOf: (w: TimeWindow) => string,
  existing: ReadonlyMap<string, ListedObject>,
  bounds: { readonly earliestMs: number; readonly soonBeforeMs: number | undefined },
): void {
  const { counts } = g;
  // The planner's rule: a workspace with none of these windows archived has never been archived
  // here, so the windows behind its lookback were never any run's to lose.
  const archivedHere = [...expiring, ...slice].some((w) => existing.has(keyOf(w)));
  for (const window of archivedHere ? expiring : []) {
    if (!existing.has(keyOf(window))) {
      counts.expired++;
      g.expired.push(formatWindow(window));
    }
  }
  const plan = planWorkspace(slice, keyOf, existing);
  counts.due += slice.length;
  counts.toCheck += plan.toCheck.length;
  counts.present += plan.present;
  if (plan.present > 0) {
    for (const window of slice) {
      const listed = existing.get(keyOf(window));
      if (listed?.fullObjectCrc32) {
        if (listed.size <= EMPTY_GZIP_BYTES) counts.empty++;
        else counts.archived++;
      }
    }
  }
  counts.missing += plan.missing.length;
  for (const window of plan.missing) {
    const last = g.runs.at(-1);
    if (last !== undefined && last.endMs === window.startMs) {
      last.endMs = window.endMs;
      last.windows++;
    } else {
      g.runs.push({ startMs: window.startMs, endMs: window.endMs, windows: 1 });
    }
    if (window.startMs < bounds.earliestMs) counts.outsideLookback++;
    else if (bounds.soonBeforeMs !== undefined && window.startMs < bounds.soonBeforeMs) {
      counts.expiringSoon++;
      g.expiringSoon.push(formatWindow(window));
    }
  }
}

function toPreview(g: Gathered): WorkspacePreview {
  const { workspace } = g;
  return {
    workspace: workspaceLabel(workspace),
    groupId: workspace.groupId,
    tenantName: workspace.tenantName,
    ...(workspace.spName === undefined ? {} : { spName: workspace.spName }),
    ...g.counts,
    missingRuns: g.runs.map((r) => ({
      from: formatInstant(r.startMs),
      to: formatInstant(r.endMs),
      windows: r.windows,
    })),
    expiringSoonWindows: g.expiringSoon,
    expiredWindows: g.expired,
  };
}
