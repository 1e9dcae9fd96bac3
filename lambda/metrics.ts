/**
 * CloudWatch metrics of a run in embedded metric format (EMF): one JSON line that CloudWatch
 * Logs turns into metrics, with no API call and no extra permission.
 */
import type { RunSummary } from "./archive/run";

/** The metric names the stack's alarms use: a contract with `lib/`. */
export const METRIC_NAMES = [
  "WindowsArchived",
  "WindowsFailed",
  "WindowsAlreadyPresent",
  "WindowsDeferred",
  "BytesArchived",
  "BacklogWindows",
] as const;

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
  const values: Record<(typeof METRIC_NAMES)[number], number> = {
    WindowsArchived: totals.archived,
    WindowsFailed: totals.failed,
    WindowsAlreadyPresent: totals.alreadyPresent,
    WindowsDeferred: totals.deferred,
    BytesArchived: totals.bytes,
    BacklogWindows: summary.backlog,
  };
  return {
    _aws: {
      Timestamp: timestampMs,
      CloudWatchMetrics: [
        {
          Namespace: namespace,
          Dimensions: [["FunctionName"]],
          Metrics: METRIC_NAMES.map((Name) => ({ Name, Unit: Name === "BytesArchived" ? "Bytes" : "Count" })),
        },
      ],
    },
    FunctionName: functionName,
    RunId: summary.runId,
    ...values,
  };
}
