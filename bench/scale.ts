/**
 * Scale (queue design), issue 12: a simulated hourly run of thousands of workspaces through the
 * code the queue uses, each measurement in a fresh process against the Atlas simulator (latency,
 * per-project rate limit) and the loopback S3:
 *
 * - the planner (`planAndEnqueue`, a stand-in SQS that counts SendMessageBatch) with nothing
 *   archived yet, and again with nothing missing: wall time, LIST requests, messages;
 * - the drain of the planned windows (`archiveRun`, one lane per project: the in-process stand-in
 *   for the FIFO queue's message groups) at several worker counts: windows/s, 429s, Retry-After
 *   violations, and the projects' shares of the windows archived at each tenth of the drain;
 * - a scaled-down backfill (days of windows of fewer workspaces), extrapolated to a year of 500.
 */
import { startAtlasSimulator } from "../test/support/atlas-simulator";
import type { S3Host } from "./servers";
import { runChild } from "./servers";
import { mib, round } from "./stats";
import type { ScaleLayout, ScaleRun, ShareStep, TaskResult } from "./tasks";

/** The Atlas side of the scenario. */
export interface ScaleAtlas {
  readonly latencyMs: number;
  readonly rateLimit: {
    readonly capacity: number;
    readonly refillPerSecond: number;
    readonly retryAfterSeconds: number;
  };
}

/** The shape of a scale measurement. */
export interface ScalePlan extends ScaleAtlas {
  readonly projects: number;
  readonly perProject: number;
  /** Workspaces the planner lists at once. */
  readonly plannerConcurrency: number;
  /** Drains, by workers (downloads in flight at once), each project's workspaces listed together. */
  readonly workers: readonly number[];
  /** Drains with the projects' workspaces interleaved in the parameter file. */
  readonly interleavedWorkers: readonly number[];
  /** The planner alone over a long range at full scale: what a year's backfill costs to enqueue. */
  readonly yearPlanner: { readonly projects: number; readonly perProject: number; readonly days: number };
  readonly backfill: {
    readonly projects: number;
    readonly perProject: number;
    readonly days: number;
    readonly workers: number;
    /** What the measured rate is extrapolated to. */
    readonly extrapolateTo: { readonly workspaces: number; readonly days: number };
  };
}

/** One planner run. */
export interface PlannerRun {
  readonly label: string;
  readonly workspaces: number;
  readonly due: number;
  readonly seconds: number;
  readonly listRequests: number;
  readonly listsPerWorkspace: number;
  /** Other S3 requests (HEADs of objects a listing could not vouch for). */
  readonly otherS3Requests: number;
  readonly messages: number;
  readonly sendBatches: number;
  readonly peakRssMiB: number;
}

/** One drain. */
export interface DrainRun {
  readonly workers: number;
  readonly layout: ScaleLayout;
  readonly lanesPerProject: number;
  readonly windows: number;
  readonly archived: number;
  readonly failed: number;
  /** From the first download to the last store (the run's own listing excluded). */
  readonly seconds: number;
  readonly windowsPerSecond: number;
  /** The run's own planning (a LIST per workspace) before the drain. */
  readonly planSeconds: number;
  readonly rateLimited: number;
  readonly retryAfterViolations: number;
  /** S3 requests per window archived, by command (the run's LISTs included). */
  readonly s3RequestsPerWindow: Readonly<Record<string, number>>;
  /** At each tenth of the drain: the fewest windows archived for a project against the mean. */
  readonly projectShares: readonly ShareStep[];
  /** The lowest of {@link projectShares}' ratios, and the largest lag (mean − fewest, in windows). */
  readonly minProjectShare: number;
  readonly maxProjectLag: number;
  readonly peakRssMiB: number;
  readonly cpuSeconds: number;
  readonly failures: readonly string[];
}

/** The scaled-down backfill and its extrapolation. */
export interface BackfillRun {
  readonly workspaces: number;
  readonly days: number;
  readonly workers: number;
  readonly windows: number;
  readonly archived: number;
  readonly failed: number;
  readonly seconds: number;
  readonly windowsPerSecond: number;
  readonly rateLimited: number;
  readonly retryAfterViolations: number;
  /** At each tenth of the backfill: the fewest windows archived for a workspace against the mean. */
  readonly workspaceShares: readonly ShareStep[];
  readonly minWorkspaceShare: number;
  /** The planner over the same range: seconds and messages (SQS answered at once). */
  readonly plannerSeconds: number;
  readonly plannerMessages: number;
  readonly plannerPeakRssMiB: number;
  readonly peakRssMiB: number;
  readonly failures: readonly string[];
  readonly extrapolation: {
    readonly workspaces: number;
    readonly days: number;
    readonly windows: number;
    /** At the measured windows/s. */
    readonly hours: number;
    /** Messages the planner would send, and SendMessageBatch calls. */
    readonly messages: number;
    readonly sendBatches: number;
  };
}

/** The planner over a long range, nothing archived: slices, LISTs, messages, time and memory. */
export interface YearPlannerRun extends PlannerRun {
  readonly days: number;
  readonly slices: number;
}

/** What {@link measureScale} reports. */
export interface ScaleResult {
  readonly plan: ScalePlan;
  /** Nothing archived yet, then nothing missing (after the first drain). */
  readonly planner: readonly PlannerRun[];
  readonly yearPlanner: YearPlannerRun;
  readonly drains: readonly DrainRun[];
  readonly backfill: BackfillRun;
}

const HOUR_MS = 3_600_000;
/**
 * A run at 12:20 UTC of hourly windows with a 2-hour lookback and a 15-minute lag: exactly one
 * window (11:00-12:00) is due per workspace (the default 72-hour lookback would make a first run
 * plan 72). With that lookback the parameter file's rule allows runs at most 45 minutes apart
 * (2 × 60 − 60 − 15), so the schedule is every 30 minutes, and the "nothing missing" run is the
 * next one, at 12:50: the same window is due, and archived.
 */
const NOW_MS = Date.UTC(2026, 10, 2, 12, 20);
const RUN_INTERVAL_MS = 30 * 60_000;
const HOURLY = {
  window: { minutes: 60, lagMinutes: 15, lookbackHours: 2 },
  schedule: "rate(30 minutes)",
} as const;

function s3Count(result: TaskResult, command: string): number {
  return result.scale?.s3Requests[command] ?? 0;
}

function sumS3(result: TaskResult): number {
  return Object.values(result.scale?.s3Requests ?? {}).reduce((a, b) => a + b, 0);
}

function roundSteps(steps: readonly ShareStep[] | undefined): ShareStep[] {
  return (steps ?? []).map((f) => ({
    at: f.at,
    seconds: round(f.seconds, 1),
    minOverMean: round(f.minOverMean, 2),
    lag: round(f.lag, 2),
  }));
}

function plannerRun(label: string, workspaces: number, result: TaskResult): PlannerRun {
  const lists = s3Count(result, "ListObjectsV2Command");
  return {
    label,
    workspaces,
    due: result.scale?.due ?? 0,
    seconds: round(result.seconds, 2),
    listRequests: lists,
    listsPerWorkspace: round(lists / workspaces, 3),
    otherS3Requests: sumS3(result) - lists,
    messages: result.scale?.messages ?? 0,
    sendBatches: result.scale?.sendBatches ?? 0,
    peakRssMiB: round(mib(result.peakRssBytes), 1),
  };
}

/** Runs `task` in a child against a fresh simulator (full token buckets, its own ledger). */
async function withSimulator<T>(
  atlas: ScaleAtlas & { emptyLogs?: boolean },
  run: (atlasUrl: string) => Promise<TaskResult>,
  measure: (result: TaskResult, rateLimited: number, violations: number) => T,
): Promise<T> {
  const sim = await startAtlasSimulator({
    latencyMs: atlas.latencyMs,
    rateLimit: atlas.rateLimit,
    ...(atlas.emptyLogs ? { linesPerWindow: () => 0 } : {}),
  });
  try {
    const result = await run(sim.baseUrl);
    let rateLimited = 0;
    for (const r of sim.requests) if (r.endpoint === "download" && r.status === 429) rateLimited++;
    return measure(result, rateLimited, sim.rateLimitViolations());
  } finally {
    await sim.close();
  }
}

/** Runs the plan: planner twice, a drain per worker count, the backfill. */
export async function measureScale(
  plan: ScalePlan,
  s3: S3Host,
  progress: (line: string) => void,
): Promise<ScaleResult> {
  const workspaces = plan.projects * plan.perProject;
  const base = (atlasUrl: string, prefix: string) => ({
    endpoints: { atlasUrl, s3Endpoint: s3.endpoint, bucket: s3.bucket },
    projects: plan.projects,
    perProject: plan.perProject,
    prefix,
    ...HOURLY,
    nowMs: NOW_MS,
  });
  const planner: PlannerRun[] = [];
  const drains: DrainRun[] = [];
  const runs = [
    ...plan.workers.map((workers) => ({ workers, layout: "together" as const })),
    ...plan.interleavedWorkers.map((workers) => ({ workers, layout: "interleaved" as const })),
  ];
  for (const [i, { workers, layout }] of runs.entries()) {
    const prefix = `bench/scale/hourly-${layout}-w${workers}/`;
    const planTask = (atlasUrl: string, nowMs: number): ScaleRun & { kind: "scale-plan" } => ({
      kind: "scale-plan",
      ...base(atlasUrl, prefix),
      nowMs,
      previousRunMs: nowMs - RUN_INTERVAL_MS,
      concurrency: plan.plannerConcurrency,
      lanesPerProject: 1,
      layout,
    });
    if (i === 0) {
      progress(`scale: planner, ${workspaces} workspaces, nothing archived`);
      planner.push(
        await withSimulator(
          plan,
          (url) => runChild(planTask(url, NOW_MS)),
          (r) => plannerRun("nothing archived yet", workspaces, r),
        ),
      );
    }
    progress(`scale: drain, ${workspaces} windows, ${workers} workers, projects ${layout}`);
    drains.push(
      await withSimulator(
        plan,
        (url) =>
          runChild({
            kind: "scale-drain",
            ...base(url, prefix),
            previousRunMs: NOW_MS - RUN_INTERVAL_MS,
            concurrency: workers,
            lanesPerProject: 1,
            layout,
          }),
        (r, rateLimited, retryAfterViolations) => {
          const archived = r.archived ?? 0;
          const seconds = r.seconds - (r.scale?.planSeconds ?? 0);
          const projectShares = roundSteps(r.scale?.projectShares);
          const perWindow: Record<string, number> = {};
          for (const [command, n] of Object.entries(r.scale?.s3Requests ?? {}))
            perWindow[command.replace(/Command$/, "")] = round(n / Math.max(1, archived), 3);
          return {
            workers,
            layout,
            lanesPerProject: 1,
            windows: workspaces,
            archived,
            failed: r.failed ?? 0,
            seconds: round(seconds, 2),
            windowsPerSecond: round(archived / seconds, 1),
            planSeconds: round(r.scale?.planSeconds ?? 0, 2),
            rateLimited,
            retryAfterViolations,
            s3RequestsPerWindow: perWindow,
            projectShares,
            minProjectShare: Math.min(...projectShares.map((f) => f.minOverMean)),
            maxProjectLag: Math.max(...projectShares.map((f) => f.lag)),
            peakRssMiB: round(mib(r.peakRssBytes), 1),
            cpuSeconds: round(r.cpuSeconds, 1),
            failures: r.failures ?? [],
          };
        },
      ),
    );
    if (i === 0) {
      progress(`scale: planner, ${workspaces} workspaces, nothing missing`);
      planner.push(
        await withSimulator(
          plan,
          (url) => runChild(planTask(url, NOW_MS + RUN_INTERVAL_MS)),
          (r) => plannerRun("nothing missing", workspaces, r),
        ),
      );
    }
  }

  const b = plan.backfill;
  const backfillWorkspaces = b.projects * b.perProject;
  const toMs = Date.UTC(2026, 9, 1);
  const backfillTask = (atlasUrl: string) => ({
    endpoints: { atlasUrl, s3Endpoint: s3.endpoint, bucket: s3.bucket },
    projects: b.projects,
    perProject: b.perProject,
    prefix: "bench/scale/backfill/",
    ...HOURLY,
    nowMs: toMs + 24 * HOUR_MS,
    range: { fromMs: toMs - b.days * 24 * HOUR_MS, toMs },
    lanesPerProject: 1,
    layout: "together" as const,
  });
  const atlas = { ...plan, emptyLogs: true };
  progress(`scale: backfill planner, ${backfillWorkspaces} workspaces × ${b.days} days`);
  const backfillPlanner = await withSimulator(
    atlas,
    (url) => runChild({ kind: "scale-plan", ...backfillTask(url), concurrency: plan.plannerConcurrency }),
    (r) => r,
  );
  progress(`scale: backfill, ${backfillWorkspaces} workspaces × ${b.days} days, ${b.workers} workers`);
  const backfill = await withSimulator(
    atlas,
    (url) => runChild({ kind: "scale-drain", ...backfillTask(url), concurrency: b.workers }),
    (r, rateLimited, retryAfterViolations): BackfillRun => {
      const windows = backfillWorkspaces * b.days * 24;
      const seconds = r.seconds - (r.scale?.planSeconds ?? 0);
      const windowsPerSecond = (r.archived ?? 0) / seconds;
      const target = b.extrapolateTo.workspaces * b.extrapolateTo.days * 24;
      const workspaceShares = roundSteps(r.scale?.workspaceShares);
      return {
        workspaces: backfillWorkspaces,
        days: b.days,
        workers: b.workers,
        windows,
        archived: r.archived ?? 0,
        failed: r.failed ?? 0,
        seconds: round(seconds, 2),
        windowsPerSecond: round(windowsPerSecond, 1),
        rateLimited,
        retryAfterViolations,
        workspaceShares,
        minWorkspaceShare: Math.min(...workspaceShares.map((f) => f.minOverMean)),
        plannerSeconds: round(backfillPlanner.seconds, 2),
        plannerMessages: backfillPlanner.scale?.messages ?? 0,
        plannerPeakRssMiB: round(mib(backfillPlanner.peakRssBytes), 1),
        peakRssMiB: round(mib(r.peakRssBytes), 1),
        failures: r.failures ?? [],
        extrapolation: {
          ...b.extrapolateTo,
          windows: target,
          hours: round(target / windowsPerSecond / 3600, 1),
          messages: target,
          sendBatches: Math.ceil(target / 10),
        },
      };
    },
  );
  const y = plan.yearPlanner;
  const yearWorkspaces = y.projects * y.perProject;
  progress(`scale: planner alone, ${yearWorkspaces} workspaces × ${y.days} days, nothing archived`);
  const yearPlanner = await withSimulator(
    plan,
    (url) =>
      runChild({
        kind: "scale-plan",
        ...backfillTask(url),
        projects: y.projects,
        perProject: y.perProject,
        prefix: "bench/scale/year/",
        range: { fromMs: toMs - y.days * 24 * HOUR_MS, toMs },
        concurrency: plan.plannerConcurrency,
        lanesPerProject: 2,
      }),
    (r): YearPlannerRun => ({
      ...plannerRun(`${y.days}-day backfill`, yearWorkspaces, r),
      days: y.days,
      slices: r.scale?.slices ?? 0,
    }),
  );
  return { plan, planner, yearPlanner, drains, backfill };
}
