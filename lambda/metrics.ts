/**
 * CloudWatch metrics of a run in embedded metric format (EMF): one JSON line that CloudWatch
 * Logs turns into metrics, with no API call and no extra permission.
 *
 * Written by hand rather than with Powertools' `Metrics` or `aws-embedded-metrics`: a run emits
 * one document of a few metrics with one dimension, a pure function of its summary that tests
 * read as data; a library would add a dependency to the bundle and its cold start, and its own
 * flushing and validation, for twenty lines of JSON.
 */
import type { RunSummary } from "./archive/summary";
import { METRIC_DIMENSION, RUN_METRICS } from "./config";

/** Every metric of a run, by the name the stack's alarms use. */
const METRIC_NAMES = Object.values(RUN_METRICS);

/**
 * The EMF document for a run, with the single dimension `FunctionName`.
 *
 * @example
 * ```ts
 * process.stdout.write(`${JSON.stringify(runMetrics(summary, "AtlasAuditArchiver", fnName, Date.now()))}\n`);
 * ```
 */
export function runMetrics(
  summary: RunSummary,
  namespace: string,
  functionName: string,
  timestampMs: number,
): Record<string, unknown> {
  const { totals } = summary;
  return emf(namespace, functionName, timestampMs, summary.runId, {
    [RUN_METRICS.windowsArchived]: totals.archived,
    [RUN_METRICS.windowsFailed]: totals.failed,
    [RUN_METRICS.windowsAlreadyPresent]: totals.alreadyPresent,
    [RUN_METRICS.windowsDeferred]: totals.deferred,
    [RUN_METRICS.bytesArchived]: totals.bytes,
    [RUN_METRICS.backlogWindows]: summary.backlog,
    [RUN_METRICS.windowsInvalid]: totals.invalid,
    [RUN_METRICS.setupFailures]: 0,
    [RUN_METRICS.windowsExpired]: totals.expired,
    [RUN_METRICS.windowsDeadLettered]: 0,
    [RUN_METRICS.backfillWindowsLeft]: 0,
  });
}

/**
 * The EMF document of a run that could not start (its credentials could not be read or were
 * refused): `SetupFailures` 1 and every window metric 0, so the metrics never go silent.
 */
export function setupFailureMetrics(
  namespace: string,
  functionName: string,
  timestampMs: number,
  runId: string,
): Record<string, unknown> {
  const values = Object.fromEntries(METRIC_NAMES.map((name) => [name, 0]));
  return emf(namespace, functionName, timestampMs, runId, { ...values, [RUN_METRICS.setupFailures]: 1 });
}

/** An EMF document of `values` (metrics of `METRIC_NAMES` left out count 0), for a planner or worker invocation. */
export function invocationMetrics(
  namespace: string,
  functionName: string,
  timestampMs: number,
  runId: string,
  values: Partial<Record<(typeof RUN_METRICS)[keyof typeof RUN_METRICS], number>>,
): Record<string, unknown> {
  const zeros = Object.fromEntries(METRIC_NAMES.map((name) => [name, 0]));
  return emf(namespace, functionName, timestampMs, runId, { ...zeros, ...values });
}

function emf(
  namespace: string,
  functionName: string,
  timestampMs: number,
  runId: string,
  values: Record<string, number>,
): Record<string, unknown> {
  return {
    _aws: {
      Timestamp: timestampMs,
      CloudWatchMetrics: [
        {
          Namespace: namespace,
          Dimensions: [[METRIC_DIMENSION]],
          Metrics: METRIC_NAMES.map((Name) => ({
            Name,
            Unit: Name === RUN_METRICS.bytesArchived ? "Bytes" : "Count",
          })),
        },
      ],
    },
    [METRIC_DIMENSION]: functionName,
    RunId: runId,
    ...values,
  };
}
