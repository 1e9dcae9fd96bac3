/**
 * CloudWatch metrics of an invocation in embedded metric format (EMF): one JSON line that
 * CloudWatch Logs turns into metrics, with no API call and no extra permission.
 *
 * Written by hand rather than with Powertools' `Metrics` or `aws-embedded-metrics`: an invocation
 * emits one document of a few metrics with one dimension, a pure function of its counts that tests
 * read as data; a library would add a dependency to the bundle and its cold start, and its own
 * flushing and validation, for twenty lines of JSON.
 */
import { METRIC_DIMENSION, RUN_METRICS } from "./config";

/** Every metric of an invocation, by the name the stack's alarms use. */
const METRIC_NAMES = Object.values(RUN_METRICS);

/**
 * The EMF document of a planner or worker invocation, with the single dimension `FunctionName`:
 * every metric of `METRIC_NAMES`, those `values` leaves out at 0, so no metric ever goes silent.
 *
 * @example
 * ```ts
 * writeMetrics(invocationMetrics("AtlasAuditArchiver", fnName, Date.now(), requestId, { WindowsArchived: 3 }));
 * ```
 */
export function invocationMetrics(
  namespace: string,
  functionName: string,
  timestampMs: number,
  runId: string,
  values: Partial<Record<(typeof RUN_METRICS)[keyof typeof RUN_METRICS], number>>,
): Record<string, unknown> {
  const zeros = Object.fromEntries(METRIC_NAMES.map((name) => [name, 0]));
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
    ...zeros,
    ...values,
  };
}
