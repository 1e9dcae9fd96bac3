/**
 * `ls`: the archived windows of each workspace in a range, with their size, and the gaps (due
 * windows that have no object), so the archive's completeness can be checked.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { type Workspace, workspaceLabel } from "../config";
import type { TimeRange } from "../range";
import { formatInstantExact, formatWindow, type TimeWindow, type WindowSettings } from "../windows";
import { type ArchiveLocation, listArchive, type UnparsedKey } from "./listing";

/** A run of consecutive missing windows. */
export interface Gap {
  /** Start of the first missing window, ISO 8601. */
  readonly from: string;
  /** End of the last missing window, ISO 8601. */
  readonly to: string;
  readonly windows: number;
}

/** One workspace's archived windows and gaps. */
export interface WorkspaceListing {
  readonly workspace: string;
  readonly groupId: string;
  readonly tenantName: string;
  readonly spName?: string;
  readonly windows: Array<{ readonly window: string; readonly key: string; readonly bytes: number }>;
  readonly bytes: number;
  readonly gaps: Gap[];
  /** Missing windows, the sum of `gaps[].windows`. */
  readonly missing: number;
}

/** The result of {@link listWindows}. */
export interface ListReport {
  readonly bucket: string;
  readonly prefix: string;
  readonly range: { readonly from: string; readonly to: string };
  /** The instant due-ness was judged at. */
  readonly now: string;
  readonly windowMinutes: number;
  readonly workspaces: WorkspaceListing[];
  /** Keys in the listed area that are not archive keys. */
  readonly unparsed: UnparsedKey[];
  readonly totals: { readonly objects: number; readonly bytes: number; readonly missing: number };
  /**
   * True when no due window is missing. False too when no workspace is known at all (none configured
   * for the group, none found in the range): an empty answer is no proof of completeness.
   */
  readonly ok: boolean;
}

/** What {@link listWindows} lists. */
export interface ListRequest {
  readonly s3: S3Client;
  readonly location: ArchiveLocation;
  readonly groupId: string;
  readonly tenantName?: string;
  /** The range; absent = the lookback at `nowMs` (exactly the windows a run would fetch). */
  readonly range?: TimeRange;
  readonly nowMs: number;
  readonly window: WindowSettings;
  /**
   * Workspaces that should have windows (the configured ones); they are reported even when they have
   * no object at all. Workspaces found in the archive are always reported.
   */
  readonly expected?: readonly Workspace[];
  readonly signal?: AbortSignal;
}

/**
 * Lists the archived windows and the gaps of a group (or one tenant) in a range. A window is a gap
 * when it is due at `nowMs` (its end plus the lag has passed), lies in the range, and has no object
 * at the key the archiver would write.
 *
 * @example
 * ```ts
 * const report = await listWindows({ s3, location, groupId, nowMs: Date.now(), window: config.window });
 * if (!report.ok) process.exitCode = 1;
 * ```
 */
export async function listWindows(request: ListRequest): Promise<ListReport> {
  const { s3, location, groupId, tenantName, nowMs, window } = request;
  const due = dueRun(request.range, nowMs, window);
  const range = request.range ?? { fromMs: nowMs - window.lookbackHours * 3_600_000, toMs: nowMs };
  const listing = await listArchive(s3, location, { groupId, tenantName, range }, request.signal);

  const byLabel = new Map<string, { workspace: Workspace; objects: typeof listing.objects }>();
  for (const w of request.expected ?? []) {
    if (w.groupId === groupId && (tenantName === undefined || w.tenantName === tenantName)) {
      byLabel.set(workspaceLabel(w), { workspace: w, objects: [] });
    }
  }
  for (const o of listing.objects) {
    const label = workspaceLabel(o.workspace);
    const entry = byLabel.get(label) ?? { workspace: o.workspace, objects: [] };
    entry.objects.push(o);
    byLabel.set(label, entry);
  }

  const workspaces = [...byLabel.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([label, { workspace, objects }]): WorkspaceListing => {
      const gaps = gapsOf(
        due,
        objects.map((o) => o.window),
      );
      return {
        workspace: label,
        groupId: workspace.groupId,
        tenantName: workspace.tenantName,
        ...(workspace.spName === undefined ? {} : { spName: workspace.spName }),
        windows: objects.map((o) => ({ window: formatWindow(o.window), key: o.key, bytes: o.size })),
        bytes: objects.reduce((n, o) => n + o.size, 0),
        gaps,
        missing: gaps.reduce((n, g) => n + g.windows, 0),
      };
    });
  const totals = {
    objects: workspaces.reduce((n, w) => n + w.windows.length, 0),
    bytes: workspaces.reduce((n, w) => n + w.bytes, 0),
    missing: workspaces.reduce((n, w) => n + w.missing, 0),
  };
  return {
    bucket: location.bucket,
    prefix: location.prefix,
    range: { from: formatInstantExact(range.fromMs), to: formatInstantExact(range.toMs) },
    now: formatInstantExact(nowMs),
    windowMinutes: window.minutes,
    workspaces,
    unparsed: listing.unparsed,
    totals,
    ok: totals.missing === 0 && workspaces.length > 0,
  };
}

/**
 * The due windows of a range, or of the lookback: always one contiguous run of aligned windows
 * `[startMs, endMs)` (empty when `endMs <= startMs`), so that no range, however long, needs its
 * windows listed one by one.
 */
export interface WindowRun {
  readonly startMs: number;
  readonly endMs: number;
  readonly lengthMs: number;
}

/** The largest multiple of `stepMs` that is `<= timeMs`. */
function floorTo(timeMs: number, stepMs: number): number {
  return timeMs - (((timeMs % stepMs) + stepMs) % stepMs) + 0;
}

/** The smallest multiple of `stepMs` that is `>= timeMs`. */
function ceilTo(timeMs: number, stepMs: number): number {
  const floor = floorTo(timeMs, stepMs);
  return floor === timeMs ? floor : floor + stepMs;
}

/**
 * The windows due at `nowMs` (their end plus the lag has passed) that overlap `range`, or, without
 * a range, those a run would fetch (starting inside the lookback): the same windows as
 * `windowsInRange(...).filter(isDue)` and `dueWindows`, as one run, in constant time.
 *
 * @example
 * ```ts
 * dueRun(undefined, Date.parse("2026-11-28T15:20:00Z"), { minutes: 60, lagMinutes: 15, lookbackHours: 72 });
 * // 2026-11-25T16:00Z to 2026-11-28T15:00Z: 71 windows of 1 hour
 * ```
 */
export function dueRun(range: TimeRange | undefined, nowMs: number, window: WindowSettings): WindowRun {
  const lengthMs = window.minutes * 60_000;
  const lastDueEnd = floorTo(nowMs - Math.round(window.lagMinutes * 60_000), lengthMs);
  if (range) {
    // The windows overlapping [from, to): from the one containing `from` to the one containing `to - 1`.
    const startMs = floorTo(range.fromMs, lengthMs);
    const endMs = range.toMs > range.fromMs ? Math.min(ceilTo(range.toMs, lengthMs), lastDueEnd) : startMs;
    return { startMs, endMs, lengthMs };
  }
  const startMs = ceilTo(nowMs - Math.round(window.lookbackHours * 3_600_000), lengthMs);
  return { startMs, endMs: lastDueEnd, lengthMs };
}

/**
 * The gaps of `run`: the stretches between the windows present exactly on its grid (same start and
 * length). Other windows (another length, misaligned) fill no gap. O(n log n) in the windows present,
 * whatever the length of the run.
 */
export function gapsOf(run: WindowRun, present: readonly TimeWindow[]): Gap[] {
  const { startMs, endMs, lengthMs } = run;
  const starts = [
    ...new Set(
      present
        .filter(
          (w) =>
            w.endMs - w.startMs === lengthMs &&
            floorTo(w.startMs, lengthMs) === w.startMs &&
            w.startMs >= startMs &&
            w.endMs <= endMs,
        )
        .map((w) => w.startMs),
    ),
  ].sort((a, b) => a - b);
  const gaps: Gap[] = [];
  const gap = (from: number, to: number) => {
    if (to > from)
      gaps.push({
        from: formatInstantExact(from),
        to: formatInstantExact(to),
        windows: (to - from) / lengthMs,
      });
  };
  let cursor = startMs;
  for (const start of starts) {
    gap(cursor, start);
    cursor = start + lengthMs;
  }
  gap(cursor, endMs);
  return gaps;
}
