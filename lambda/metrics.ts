/**
 * CloudWatch metrics of a run in embedded metric format (EMF): one JSON line that CloudWatch
 * Logs turns into metrics, with no API call and no extra permission.
 */
import type { RunSummary } from "./archive/run";
import { METRIC_DIMENSION, RUN_METRICS } from "./config";

/** Every metric of a run, by the name the stack's alarms use. */
export const METRIC_NAMES = Object.values(RUN_METRICS);

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
  const values: Record<string, number> = {
    [RUN_METRICS.windowsArchived]: totals.archived,
    [RUN_METRICS.windowsFailed]: totals.failed,
    [RUN_METRICS.windowsAlreadyPresent]: totals.alreadyPresent,
    [RUN_METRICS.windowsDeferred]: totals.deferred,
    [RUN_METRICS.bytesArchived]: totals.bytes,
    [RUN_METRICS.backlogWindows]: summary.backlog,
  };
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
    RunId: summary.runId,
    ...values,
  };
}
