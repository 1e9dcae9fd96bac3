import type { Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as sns from "aws-cdk-lib/aws-sns";
import { afterAll, describe, expect, it } from "vitest";
import {
  type AlarmSpec,
  type AlarmTiming,
  alarmFromSpec,
  archiverAlarmSpecs,
} from "../../../lib/build/alarms";
import type { ArchiverMetricFactory } from "../../../lib/build/metrics";
import { TestApps } from "../support";

const apps = new TestApps();
afterAll(() => apps.cleanup());

/** Metrics that say which factory method made them. */
const metrics = {
  errors: (period) => new cloudwatch.Metric({ namespace: "T", metricName: "Errors", period }),
  invocations: (period) => new cloudwatch.Metric({ namespace: "T", metricName: "Invocations", period }),
  run: (metric, statistic, period) =>
    new cloudwatch.Metric({ namespace: "T", metricName: metric, statistic, period }),
  failedRuns: (period) => new cloudwatch.Metric({ namespace: "T", metricName: "FailedRuns", period }),
} as Pick<ArchiverMetricFactory, "errors" | "invocations" | "run" | "failedRuns"> as ArchiverMetricFactory;

const hourly: AlarmTiming = {
  runIntervalMinutes: 60,
  intervalGuessed: false,
  backlogAlarmRuns: 3,
  schedule: "rate(1 hour)",
};

const shape = (spec: AlarmSpec) => [spec.id, spec.threshold, spec.comparison, spec.periods, spec.missingData];

describe("archiverAlarmSpecs", () => {
  it("describes every alarm as data: threshold, comparison, periods and missing data", () => {
    const C = cloudwatch.ComparisonOperator;
    const M = cloudwatch.TreatMissingData;
    expect(archiverAlarmSpecs(metrics, hourly).map(shape)).toEqual([
      ["ErrorsAlarm", 1, C.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1, M.NOT_BREACHING],
      ["WindowsFailedAlarm", 1, C.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1, M.NOT_BREACHING],
      ["InvalidObjectsAlarm", 1, C.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1, M.NOT_BREACHING],
      ["BacklogAlarm", 0, C.GREATER_THAN_THRESHOLD, 1, M.NOT_BREACHING],
      ["NotRunningAlarm", 1, C.LESS_THAN_THRESHOLD, 1, M.BREACHING],
      ["FailedRunsAlarm", 1, C.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1, M.IGNORE],
      ["WindowsExpiredAlarm", 1, C.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1, M.NOT_BREACHING],
    ]);
  });

  it("has no stopped-schedule alarm when runs are further apart than an alarm can look", () => {
    const ids = archiverAlarmSpecs(metrics, { ...hourly, runIntervalMinutes: 8 * 1440 }).map((s) => s.id);
    expect(ids).not.toContain("NotRunningAlarm");
    expect(ids).toHaveLength(6);
  });
});

describe("alarmFromSpec", () => {
  it("makes the alarm of a spec, notifying the topic on ALARM and back to OK", () => {
    const stack: Stack = apps.stack();
    const topic = new sns.Topic(stack, "Topic");
    const [spec] = archiverAlarmSpecs(metrics, hourly);
    if (!spec) throw new Error("no spec");
    alarmFromSpec(stack, spec, topic);
    const topicRef = { Ref: stack.getLogicalId(topic.node.defaultChild as sns.CfnTopic) };
    Template.fromStack(stack).hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "Errors",
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      EvaluationPeriods: 1,
      TreatMissingData: "notBreaching",
      AlarmDescription: spec.description,
      AlarmActions: [topicRef],
      OKActions: [topicRef],
    });
  });
});
