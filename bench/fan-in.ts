/**
 * Many workspaces: `archiveRun` over N workspaces × 24 hourly windows of small logs, at several
 * concurrencies, against a simulator that adds latency and rate-limits per project with 429 and
 * `Retry-After`.
 */
import { startAtlasSimulator } from "../test/support/atlas-simulator";
import type { S3Host } from "./servers";
import { runChild } from "./servers";
import { round } from "./stats";
import { benchGroupId } from "./tasks";

/** The shape of a fan-in measurement. */
export interface FanInPlan {
  readonly workspaces: number;
  /** Projects the workspaces are spread over (the rate limit's scope). */
  readonly groups: number;
  readonly windowsPerWorkspace: number;
  readonly concurrencies: readonly number[];
  /** Workspaces measured at concurrency 1 (fewer, to keep the run short; windows/s is per window). */
  readonly workspacesAtConcurrency1: number;
  readonly latencyMs: number;
  readonly rateLimit: {
    readonly capacity: number;
    readonly refillPerSecond: number;
    readonly retryAfterSeconds: number;
  };
}

/** One concurrency's run. */
export interface FanInRun {
  readonly concurrency: number;
  readonly workspaces: number;
  readonly windows: number;
  readonly seconds: number;
  readonly windowsPerSecond: number;
  readonly archived: number;
  readonly failed: number;
  /** Download attempts the simulator answered 429. */
  readonly rateLimited: number;
  /** Requests that arrived while a `Retry-After` for their project was pending (must be 0). */
  readonly retryAfterViolations: number;
  readonly failures: readonly string[];
}

/** What {@link measureFanIn} reports. */
export interface FanInResult {
  readonly plan: FanInPlan;
  readonly runs: readonly FanInRun[];
  /** windows/s at the highest concurrency over windows/s at concurrency 1. */
  readonly speedup: number;
}

/** Runs the plan's concurrencies, each in a fresh process with its own simulator and S3 prefix. */
export async function measureFanIn(plan: FanInPlan, s3: S3Host): Promise<FanInResult> {
  const day = Date.UTC(2026, 10, 1);
  const range = { startMs: day, endMs: day + plan.windowsPerWorkspace * 3_600_000 };
  const runs: FanInRun[] = [];
  for (const concurrency of plan.concurrencies) {
    const count =
      concurrency === 1 ? Math.min(plan.workspacesAtConcurrency1, plan.workspaces) : plan.workspaces;
    const workspaces = Array.from({ length: count }, (_, i) => ({
      groupId: benchGroupId(i % plan.groups),
      tenantName: `workspace-${i}`,
    }));
    // A fresh simulator per run: its token buckets start full and its request log is this run's.
    const sim = await startAtlasSimulator({ latencyMs: plan.latencyMs, rateLimit: plan.rateLimit });
    try {
      const result = await runChild({
        kind: "fan-in",
        endpoints: { atlasUrl: sim.baseUrl, s3Endpoint: s3.endpoint, bucket: s3.bucket },
        workspaces,
        range,
        concurrency,
        prefix: `bench/fan-in/c${concurrency}/`,
      });
      const windows = count * plan.windowsPerWorkspace;
      runs.push({
        concurrency,
        workspaces: count,
        windows,
        seconds: round(result.seconds, 2),
        windowsPerSecond: round(windows / result.seconds, 1),
        archived: result.archived ?? 0,
        failed: result.failed ?? 0,
        rateLimited: sim.requests.filter((r) => r.endpoint === "download" && r.status === 429).length,
        retryAfterViolations: sim.rateLimitViolations(),
        failures: result.failures ?? [],
      });
    } finally {
      await sim.close();
    }
  }
  const first = runs.find((r) => r.concurrency === 1);
  const last = runs.at(-1);
  return {
    plan,
    runs,
    speedup: first && last ? round(last.windowsPerSecond / first.windowsPerSecond, 2) : Number.NaN,
  };
}
