/**
 * The metrics the alarms watch, apart from the alarms (as cdk-monitoring-constructs keeps metric
 * factories apart from alarm wiring): the function's own, the run metrics it emits, the queue's.
 */
import type { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { METRIC_DIMENSION, RUN_METRICS } from "../../lambda/config";

/** Which run metric: a key of `RUN_METRICS` (the names the handler emits). */
export type RunMetric = keyof typeof RUN_METRICS;

/** Makes the archiver's metrics, each over a period with a statistic. */
export class ArchiverMetricFactory {
  constructor(
    private readonly fn: lambda.IFunction,
    private readonly failedRunsQueue: sqs.IQueue,
    /** CloudWatch namespace of the run metrics. */
    private readonly namespace: string,
  ) {}

  /** Function errors (a run that threw), summed. */
  errors(period: Duration): cloudwatch.IMetric {
    return this.fn.metricErrors({ period, statistic: cloudwatch.Stats.SUM });
  }

  /** Invocations of the function, summed. */
  invocations(period: Duration): cloudwatch.IMetric {
    return this.fn.metricInvocations({ period, statistic: cloudwatch.Stats.SUM });
  }

  /** A run metric the handler emits, for this function (its `METRIC_DIMENSION`). */
  run(metric: RunMetric, statistic: string, period: Duration): cloudwatch.IMetric {
    return new cloudwatch.Metric({
      namespace: this.namespace,
      metricName: RUN_METRICS[metric],
      dimensionsMap: { [METRIC_DIMENSION]: this.fn.functionName },
      statistic,
      period,
    });
  }

  /** Records waiting in the failed-runs queue, at most. */
  failedRuns(period: Duration): cloudwatch.IMetric {
    return this.failedRunsQueue.metricApproximateNumberOfMessagesVisible({
      period,
      statistic: cloudwatch.Stats.MAXIMUM,
    });
  }
}
