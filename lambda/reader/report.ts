/**
 * The coverage report's model (issue 13): a {@link VerifyReport} turned into what an auditor looks
 * at, per workspace a calendar of the range's days, each day and each of its windows in one of a
 * few states (archived and verified, empty, missing, failed verification, pending, unsealed, no
 * record), with counts and the problems (code and reason) that concern them. Pure: no I/O; the
 * HTML renderer (`bin/cli/format/report-html.ts`) and `report --json` both take it as it is.
 */

import { digestKey, utcDate, type Workspace } from "../config";
import type { WindowState } from "../digest/format";
import type { DayStatus, Problem, SignatureStatus, VerifyReport, WindowResult } from "./verify";

/** How a day or a window looks in the report. */
export type CellState =
  /** Sealed, and what the digest says is what is there (an archived window). */
  | "verified"
  /** Sealed empty: Atlas had no event in it (a day: every window so). */
  | "empty"
  /** Sealed missing with a reason, or (unsealed) no object: a gap. */
  | "missing"
  /** A problem was found: tampering, a bad signature, a broken chain, an unproven window. */
  | "failed"
  /** Not sealed yet, and not due. */
  | "pending"
  /** No digest seals it though one was due (or the archive has none). */
  | "unsealed"
  /** A day of the range with nothing of this workspace: before its first object or digest. */
  | "none";

/** Every state, in the legend's order. */
export const CELL_STATES: readonly CellState[] = [
  "verified",
  "empty",
  "missing",
  "failed",
  "pending",
  "unsealed",
  "none",
];

/** Windows by state (`none` never applies to a window). */
export interface WindowCounts {
  readonly archived: number;
  readonly empty: number;
  readonly missing: number;
  readonly failed: number;
  readonly pending: number;
  readonly unsealed: number;
}

/** Days by state. */
export type DayCounts = Readonly<Record<CellState, number>>;

/** A problem of the report: its stable code and the reason verify gave. */
export interface ReportProblem {
  readonly code: string;
  readonly key: string;
  readonly reason: string;
}

/** One window (an hour with 60-minute windows). */
export interface ReportWindow {
  /** `start/end`, ISO 8601 UTC. */
  readonly window: string;
  readonly key: string;
  readonly state: Exclude<CellState, "none">;
  /** Its state in the day's digest; null when no digest lists it. */
  readonly sealedAs: WindowState | null;
  /** What verify found. */
  readonly result: WindowResult;
  readonly bytes?: number;
  readonly problems: ReportProblem[];
}

/** One UTC day of one workspace. */
export interface ReportDay {
  /** `YYYY-MM-DD`. */
  readonly date: string;
  readonly state: CellState;
  /** Verify's status of the day; null for a day with no record (`none`). */
  readonly status: DayStatus | null;
  /** Its digest, when one was read. */
  readonly digest: {
    readonly key: string;
    readonly sequence: number | null;
    readonly signature: SignatureStatus;
  } | null;
  readonly counts: WindowCounts;
  /** The day's own problems: its digest's (signature, place, chain), or that no digest seals it. */
  readonly problems: ReportProblem[];
  /** Whether every window is verified or empty and the day has no problem (no detail row needed). */
  readonly clean: boolean;
  readonly windows: ReportWindow[];
}

/** One workspace's calendar. */
export interface ReportWorkspace {
  readonly workspace: Workspace;
  /** `groupId/tenantName[/spName]`. */
  readonly label: string;
  /** `intact`: every digest read links to the one before; `broken`; `none`: no digest read. */
  readonly chain: "intact" | "broken" | "none";
  readonly counts: { readonly days: DayCounts; readonly windows: WindowCounts };
  /** Every date of the report's calendar, in order. */
  readonly days: ReportDay[];
}

/** The coverage report. */
export interface CoverageReport {
  readonly v: 1;
  /** When it was made, ISO 8601 UTC. */
  readonly generatedAt: string;
  /** The command line that reproduces it. */
  readonly command: string;
  readonly bucket: string;
  readonly prefix: string;
  /** The Atlas project; null: every group. */
  readonly group: string | null;
  /** The range verified, ISO 8601 UTC (`to` excluded); null: the whole archive. */
  readonly from: string | null;
  readonly to: string | null;
  /** The calendar's first and last dates, `YYYY-MM-DD` (null: no day at all). */
  readonly firstDate: string | null;
  readonly lastDate: string | null;
  /** How signatures were checked: `public-key` (offline), `kms`, or `none`. */
  readonly signatures: VerifyReport["signatures"];
  /** Whether verify held the archive to its digests. */
  readonly sealed: boolean;
  /** Verify's verdict: true only when everything is sealed (or not due) and verified. */
  readonly ok: boolean;
  /** Objects read, their bytes, and digests read. */
  readonly checked: number;
  readonly bytes: number;
  readonly digests: number;
  readonly counts: {
    /** As verify counts them (over every workspace). */
    readonly days: VerifyReport["days"];
    readonly windows: WindowCounts;
  };
  /** Every problem verify found. */
  readonly problems: number;
  readonly workspaces: ReportWorkspace[];
  /** Problems that concern no day or window of a workspace (unparsable keys, unchecked signatures). */
  readonly otherProblems: ReportProblem[];
}

/** What the report says about itself besides the verification. */
export interface ReportContext {
  /** Epoch milliseconds. */
  readonly generatedAtMs: number;
  readonly command: string;
  readonly group?: string;
}

const DAY_MS = 86_400_000;

const ZERO_WINDOWS: WindowCounts = { archived: 0, empty: 0, missing: 0, failed: 0, pending: 0, unsealed: 0 };

function addWindows(a: WindowCounts, b: WindowCounts): WindowCounts {
  return {
    archived: a.archived + b.archived,
    empty: a.empty + b.empty,
    missing: a.missing + b.missing,
    failed: a.failed + b.failed,
    pending: a.pending + b.pending,
    unsealed: a.unsealed + b.unsealed,
  };
}

function countWindows(windows: readonly ReportWindow[]): WindowCounts {
  const counts = { ...ZERO_WINDOWS };
  for (const w of windows) counts[w.state === "verified" ? "archived" : w.state]++;
  return counts;
}

/** The UTC dates from `first` to `last`, both included. */
function datesBetween(first: string, last: string): string[] {
  const out: string[] = [];
  const end = Date.parse(`${last}T00:00:00Z`);
  for (let t = Date.parse(`${first}T00:00:00Z`); t <= end; t += DAY_MS) out.push(utcDate(t));
  return out;
}

/** A window's look: from what verify found, and the day's status for an unsealed day's windows. */
export function windowState(
  result: WindowResult,
  sealedAs: WindowState | null,
  day: DayStatus,
): Exclude<CellState, "none"> {
  switch (result) {
    case "failed":
    case "unaccounted":
    case "unproven":
      return "failed";
    case "verified":
      return sealedAs === "empty" ? "empty" : sealedAs === "missing" ? "missing" : "verified";
    case "intact":
      return day === "pending" ? "pending" : "unsealed";
    case "absent":
      return day === "pending" ? "pending" : "missing";
  }
}

/**
 * A day's look: failed when any window failed or the day has a problem (its digest's signature is
 * not valid, its chain is broken, it is misplaced); else pending or unsealed as verify says; else missing when a
 * window is; empty when every window is; else verified.
 */
function dayState(
  status: DayStatus,
  windows: readonly ReportWindow[],
  problems: readonly ReportProblem[],
): CellState {
  // That no digest seals it is what `unsealed` says; any other problem fails the day.
  if (problems.some((p) => p.code !== "UNSEALED") || windows.some((w) => w.state === "failed")) {
    return "failed";
  }
  if (status !== "sealed") return status;
  if (windows.some((w) => w.state === "missing")) return "missing";
  if (windows.every((w) => w.state === "empty")) return "empty";
  return "verified";
}

/**
 * The coverage report of `report`: per workspace, every date of the calendar (the range's, or the
 * archive's first to last day) with its state, counts, windows and problems.
 *
 * @example
 * ```ts
 * const model = coverageReport(await verifyArchive(request), { generatedAtMs: Date.now(), command });
 * ```
 */
export function coverageReport(report: VerifyReport, context: ReportContext): CoverageReport {
  // The reasons of the problems, by key and code; which were placed on a day or a window.
  const byKey = new Map<string, Problem[]>();
  for (const p of report.bad) byKey.set(p.key, [...(byKey.get(p.key) ?? []), p]);
  const placed = new Set<Problem>();
  const problemsOf = (key: string, codes?: readonly string[]): ReportProblem[] => {
    const found = (byKey.get(key) ?? []).filter((p) => codes === undefined || codes.includes(p.problem));
    for (const p of found) placed.add(p);
    const named = found.map((p) => ({ code: p.problem, key: p.key, reason: p.reason }));
    // A code verify gave the window without a problem line of that key (none known today) stays a code.
    for (const code of codes ?? []) {
      if (!found.some((p) => p.problem === code)) named.push({ code, key, reason: "" });
    }
    return named;
  };

  const allDates = report.workspaces.flatMap((w) => w.days.map((d) => d.date)).sort();
  const firstDate = report.from ? utcDate(Date.parse(report.from)) : (allDates[0] ?? null);
  const lastDate = report.to ? utcDate(Date.parse(report.to) - 1) : (allDates[allDates.length - 1] ?? null);
  const calendar = firstDate && lastDate && firstDate <= lastDate ? datesBetween(firstDate, lastDate) : [];

  const workspaces: ReportWorkspace[] = report.workspaces.map((w) => {
    const byDate = new Map(w.days.map((d) => [d.date, d]));
    const days: ReportDay[] = calendar.map((date) => {
      const day = byDate.get(date);
      if (!day) {
        return {
          date,
          state: "none",
          status: null,
          digest: null,
          counts: ZERO_WINDOWS,
          problems: [],
          clean: true,
          windows: [],
        };
      }
      const windows: ReportWindow[] = day.windows.map((x) => ({
        window: x.window,
        key: x.key,
        state: windowState(x.result, x.state, day.status),
        sealedAs: x.state,
        result: x.result,
        ...(x.bytes === undefined ? {} : { bytes: x.bytes }),
        problems: problemsOf(x.key, x.problems),
      }));
      const problems = day.digest
        ? problemsOf(day.digest.key, day.digest.problems)
        : problemsOf(digestKey(report.prefix, w.workspace, date));
      if (day.digest && day.digest.signature !== "valid" && !problems.length) {
        // Verify names unchecked signatures once for the archive; the day is not proven.
        problems.push({
          code: day.digest.signature === "unchecked" ? "SIGNATURE_UNCHECKED" : "SIGNATURE_INVALID",
          key: day.digest.key,
          reason: `the digest's signature is ${day.digest.signature}`,
        });
      }
      const state = dayState(day.status, windows, problems);
      return {
        date,
        state,
        status: day.status,
        digest: day.digest
          ? { key: day.digest.key, sequence: day.digest.sequence, signature: day.digest.signature }
          : null,
        counts: countWindows(windows),
        problems,
        clean: state === "verified" || state === "empty",
        windows,
      };
    });
    const dayCounts = Object.fromEntries(CELL_STATES.map((s) => [s, 0])) as Record<CellState, number>;
    for (const d of days) dayCounts[d.state]++;
    return {
      workspace: w.workspace,
      label: w.label,
      chain: w.chain,
      counts: { days: dayCounts, windows: days.reduce((a, d) => addWindows(a, d.counts), ZERO_WINDOWS) },
      days,
    };
  });

  return {
    v: 1,
    generatedAt: new Date(context.generatedAtMs).toISOString().replace(/\.\d{3}Z$/, "Z"),
    command: context.command,
    bucket: report.bucket,
    prefix: report.prefix,
    group: context.group ?? null,
    from: report.from,
    to: report.to,
    firstDate: calendar[0] ?? null,
    lastDate: calendar[calendar.length - 1] ?? null,
    signatures: report.signatures,
    sealed: report.sealed,
    ok: report.ok,
    checked: report.checked,
    bytes: report.bytes,
    digests: report.digests,
    counts: {
      days: report.days,
      windows: workspaces.reduce((a, w) => addWindows(a, w.counts.windows), ZERO_WINDOWS),
    },
    problems: report.bad.length,
    workspaces,
    otherProblems: report.bad
      .filter((p) => !placed.has(p))
      .map((p) => ({ code: p.problem, key: p.key, reason: p.reason })),
  };
}
