/**
 * The metrics the alarms watch, apart from the alarms (as cdk-monitoring-constructs keeps metric
 * factories apart from alarm wiring): the functions' own, the run metrics they emit, the queues'.
 */
import type { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { METRIC_DIMENSION, RUN_METRICS } from "../../lambda/config";

/** Which run metric: a key of `RUN_METRICS` (the names the handlers emit). */
export type RunMetric = keyof typeof RUN_METRICS;

/** Which of the archiver's functions. */
export type ArchiverFunctionName = "planner" | "worker";

/** What the metrics are of. */
export interface MetricSources {
  readonly planner: lambda.IFunction;
  readonly worker: lambda.IFunction;
  /** The window queue. */
  readonly queue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  readonly failedRunsQueue: sqs.IQueue;
  /** CloudWatch namespace of the run metrics. */
  readonly namespace: string;
}

/** Makes the archiver's metrics, each over a period with a statistic. */
export class ArchiverMetricFactory {
  constructor(private readonly sources: MetricSources) {}

  /** Errors of both functions (an invocation that threw or timed out), summed. */
  errors(period: Duration): cloudwatch.IMetric {
    const { planner, worker } = this.sources;
    return sumOfBoth("Errors of the planner and the worker", period, {
      planner: planner.metricErrors({ period, statistic: cloudwatch.Stats.SUM }),
      worker: worker.metricErrors({ period, statistic: cloudwatch.Stats.SUM }),
    });
  }

  /** Invocations of the planner (the schedule's target), summed. */
  invocations(period: Duration): cloudwatch.IMetric {
    return this.sources.planner.metricInvocations({ period, statistic: cloudwatch.Stats.SUM });
  }

  /** A run metric that `fn` emits (its name is the `METRIC_DIMENSION`). */
  run(fn: ArchiverFunctionName, metric: RunMetric, statistic: string, period: Duration): cloudwatch.IMetric {
    return new cloudwatch.Metric({
      namespace: this.sources.namespace,
      metricName: RUN_METRICS[metric],
      dimensionsMap: { [METRIC_DIMENSION]: this.sources[fn].functionName },
      statistic,
      period,
    });
  }

  /** A run metric summed over both functions. */
  runOfBoth(metric: RunMetric, period: Duration): cloudwatch.IMetric {
    return sumOfBoth(`${RUN_METRICS[metric]} of the planner and the worker`, period, {
      planner: this.run("planner", metric, cloudwatch.Stats.SUM, period),
      worker: this.run("worker", metric, cloudwatch.Stats.SUM, period),
    });
  }

  /** The age of the window queue's oldest message, at most (seconds). */
  oldestWindowAge(period: Duration): cloudwatch.IMetric {
    return this.sources.queue.metricApproximateAgeOfOldestMessage({
      period,
      statistic: cloudwatch.Stats.MAXIMUM,
    });
  }

  /** Messages waiting in the dead-letter queue, at most. */
  deadLetters(period: Duration): cloudwatch.IMetric {
    return this.sources.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      period,
      statistic: cloudwatch.Stats.MAXIMUM,
    });
  }

  /** Records waiting in the failed-runs queue, at most. */
  failedRuns(period: Duration): cloudwatch.IMetric {
    return this.sources.failedRunsQueue.metricApproximateNumberOfMessagesVisible({
      period,
      statistic: cloudwatch.Stats.MAXIMUM,
    });
  }
}

/**
 * The sum of the planner's and the worker's metric. A function with no data point in a period
 * (e.g. no worker invocation) counts 0 there, so that the other's value is not lost with it.
 */
function sumOfBoth(
  label: string,
  period: Duration,
  metrics: { readonly planner: cloudwatch.IMetric; readonly worker: cloudwatch.IMetric },
): cloudwatch.IMetric {
  return new cloudwatch.MathExpression({
    expression: "FILL(planner, 0) + FILL(worker, 0)",
    usingMetrics: { ...metrics },
    label,
    period,
  });
}
