/**
 * What a run reports: its events as they happen, and the summary built from them alone, so that
 * the log, the command line's output and the metrics can never disagree.
 */

import { INVALID_OBJECT_CODES } from "../bucket/errors";
import { type ArchiverConfig, workspaceLabel } from "../config";
import { formatInstant } from "../windows";

/** A window that could not be archived, and why. */
export interface WindowFailure {
  readonly window: string;
  readonly key: string;
  readonly code: string;
  readonly message: string;
  readonly status?: number;
  readonly atlasErrorCode?: string;
}

/** A window archived by this run. */
export interface ArchivedWindow {
  readonly window: string;
  readonly key: string;
  readonly bytes: number;
  readonly lines: number;
  /** Hex SHA-256 of the stored object, measured in flight: a record kept apart from the bucket. */
  readonly sha256: string;
}

/** Why windows were left for the next run. */
export type DeferralReason = "deadline" | "window cap" | "rate limit";

/** Progress events, in the order they happen per workspace. */
export type RunEvent =
  | {
      readonly type: "planned";
      readonly workspace: string;
      readonly due: number;
      readonly missing: number;
      /** Due windows whose verified object was already there. */
      readonly present: number;
    }
  | ({ readonly type: "archived"; readonly workspace: string } & ArchivedWindow)
  | {
      readonly type: "already-present";
      readonly workspace: string;
      readonly window: string;
      readonly key: string;
    }
  | ({ readonly type: "failed"; readonly workspace: string } & WindowFailure)
  | {
      /** A window that left the lookback since the previous run with no object at its key. */
      readonly type: "expired";
      readonly workspace: string;
      readonly window: string;
      readonly key: string;
    }
  | {
      readonly type: "deferred";
      readonly workspace: string;
      readonly windows: number;
      readonly reason: DeferralReason;
      /** What Atlas asked, for a rate-limit deferral. */
      readonly detail?: string;
    };

/** What a run did for one workspace. */
export interface WorkspaceSummary {
  readonly workspace: string;
  readonly groupId: string;
  readonly tenantName: string;
  readonly spName?: string;
  /** Due windows considered (inside the lookback, or the requested range). */
  readonly due: number;
  readonly archived: readonly ArchivedWindow[];
  /** Windows whose object already existed (before the run, or written by a concurrent run). */
  readonly alreadyPresent: number;
  readonly failed: readonly WindowFailure[];
  /** Windows not done because of the deadline, the per-run cap or an Atlas pause: the next run takes them. */
  readonly deferred: number;
  /** Why windows were deferred, when some were (the first reason). */
  readonly deferredReason?: DeferralReason;
  /** Windows that left the lookback since the previous run unarchived (see the `expired` events). */
  readonly expired: number;
}

/** The outcome of a run, for people (CLI), logs and metrics. */
export interface RunSummary {
  readonly runId: string;
  readonly now: string;
  readonly range?: { readonly from: string; readonly to: string };
  readonly bucket: string;
  readonly prefix: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly workspaces: readonly WorkspaceSummary[];
  readonly totals: {
    readonly due: number;
    readonly archived: number;
    readonly alreadyPresent: number;
    readonly failed: number;
    readonly deferred: number;
    readonly bytes: number;
    /** Failed windows whose key holds an object that is not their verified archive. */
    readonly invalid: number;
    /** Windows that left the lookback since the previous run unarchived. */
    readonly expired: number;
  };
  /** Due windows still missing at the end of the run (failed + deferred). */
  readonly backlog: number;
  /** True when no window failed (deferred windows are not failures). */
  readonly ok: boolean;
}

/** What the summary says about the run besides its events. */
export interface RunFacts {
  readonly config: ArchiverConfig;
  readonly bucket: string;
  readonly runId: string;
  readonly nowMs: number;
  readonly range?: { readonly fromMs: number; readonly toMs: number };
  /** Due windows per workspace. */
  readonly due: number;
  readonly startedAtMs: number;
  readonly finishedAtMs: number;
}

/** One workspace's counts while the events are read. */
interface Tally {
  archived: ArchivedWindow[];
  failed: WindowFailure[];
  alreadyPresent: number;
  deferred: number;
  deferredReason?: DeferralReason;
  expired: number;
}

/**
 * The run's summary, from its events: every workspace of the configuration, in its order, with
 * what happened to its due windows.
 *
 * @example
 * ```ts
 * const events: RunEvent[] = [];
 * await executeRun({ ...request, onEvent: (e) => events.push(e) });
 * const summary = summarize(events, facts);
 * ```
 */
export function summarize(events: readonly RunEvent[], facts: RunFacts): RunSummary {
  const tallies = new Map<string, Tally>();
  const tally = (workspace: string): Tally => {
    let t = tallies.get(workspace);
    if (t === undefined) {
      t = { archived: [], failed: [], alreadyPresent: 0, deferred: 0, expired: 0 };
      tallies.set(workspace, t);
    }
    return t;
  };
  for (const event of events) {
    const t = tally(event.workspace);
    switch (event.type) {
      case "planned":
        t.alreadyPresent += event.present;
        break;
      case "already-present":
        t.alreadyPresent++;
        break;
      case "archived": {
        const { type: _type, workspace: _workspace, ...archived } = event;
        t.archived.push(archived);
        break;
      }
      case "failed": {
        const { type: _type, workspace: _workspace, ...failure } = event;
        t.failed.push(failure);
        break;
      }
      case "deferred":
        t.deferred += event.windows;
        t.deferredReason ??= event.reason;
        break;
      case "expired":
        t.expired++;
        break;
    }
  }
  const workspaces: WorkspaceSummary[] = facts.config.workspaces.map((w) => {
    const label = workspaceLabel(w);
    const t = tally(label);
    return {
      workspace: label,
      groupId: w.groupId,
      tenantName: w.tenantName,
      ...(w.spName === undefined ? {} : { spName: w.spName }),
      due: facts.due,
      archived: t.archived,
      alreadyPresent: t.alreadyPresent,
      failed: t.failed,
      deferred: t.deferred,
      ...(t.deferredReason === undefined ? {} : { deferredReason: t.deferredReason }),
      expired: t.expired,
    };
  });
  const sum = (f: (s: WorkspaceSummary) => number) => workspaces.reduce((n, s) => n + f(s), 0);
  const totals = {
    due: sum((s) => s.due),
    archived: sum((s) => s.archived.length),
    alreadyPresent: sum((s) => s.alreadyPresent),
    failed: sum((s) => s.failed.length),
    deferred: sum((s) => s.deferred),
    bytes: sum((s) => s.archived.reduce((n, a) => n + a.bytes, 0)),
    invalid: sum((s) => s.failed.filter((f) => INVALID_OBJECT_CODES.has(f.code)).length),
    expired: sum((s) => s.expired),
  };
  const { range } = facts;
  return {
    runId: facts.runId,
    now: formatInstant(facts.nowMs),
    ...(range ? { range: { from: formatInstant(range.fromMs), to: formatInstant(range.toMs) } } : {}),
    bucket: facts.bucket,
    prefix: facts.config.archive.prefix,
    startedAt: new Date(facts.startedAtMs).toISOString(),
    finishedAt: new Date(facts.finishedAtMs).toISOString(),
    durationMs: facts.finishedAtMs - facts.startedAtMs,
    workspaces,
    totals,
    backlog: totals.failed + totals.deferred,
    ok: totals.failed === 0,
  };
}
