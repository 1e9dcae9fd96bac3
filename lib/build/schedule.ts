/** When the planner runs, and where a run that failed is recorded. */
import { Duration, Validations } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { ARCHIVER_DEFAULTS } from "../defaults";

/** The encrypted, TLS-only queue of failed runs: planner errors, dropped and undeliverable events. */
export function buildFailedRunsQueue(scope: Construct): sqs.Queue {
  const queue = new sqs.Queue(scope, "FailedRuns", {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: ARCHIVER_DEFAULTS.failedRunsRetention,
  });
  Validations.of(queue).acknowledge({
    id: "AwsSolutions-SQS3",
    reason:
      "This queue is itself the dead-letter destination of the planner's failed async invocations and of " +
      "undeliverable schedule events; a dead-letter queue of the dead-letter queue would add nothing.",
  });
  return queue;
}

/** The EventBridge rule that runs the planner `fn` on `schedule`, sending undeliverable events to `failedRuns`. */
export function buildSchedule(
  scope: Construct,
  schedule: string,
  fn: lambda.IFunction,
  failedRuns: sqs.IQueue,
): events.Rule {
  return new events.Rule(scope, "Schedule", {
    description: `Runs the Atlas audit archiver: ${schedule}`,
    schedule: events.Schedule.expression(schedule),
    targets: [
      new targets.LambdaFunction(fn, {
        // Delivery retries only hand the event to Lambda's queue again; they never overlap plans.
        retryAttempts: 2,
        maxEventAge: Duration.hours(1),
        deadLetterQueue: failedRuns,
      }),
    ],
  });
}
