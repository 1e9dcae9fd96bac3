import type { Duration, Stack } from "aws-cdk-lib";
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

/** Metrics that say which factory method made them (and of which function). */
const named = (metricName: string, period: Duration, statistic?: string) =>
  new cloudwatch.Metric({ namespace: "T", metricName, period, ...(statistic ? { statistic } : {}) });
const fake: Pick<ArchiverMetricFactory, keyof ArchiverMetricFactory> = {
  errors: (period) => named("Errors", period),
  invocations: (period) => named("Invocations", period),
  run: (fn, metric, statistic, period) => named(`${fn}.${metric}`, period, statistic),
  runOfBoth: (metric, period) => named(`both.${metric}`, period),
  oldestWindowAge: (period) => named("OldestWindowAge", period),
  deadLetters: (period) => named("DeadLetters", period),
  failedRuns: (period) => named("FailedRuns", period),
};
const metrics = fake as ArchiverMetricFactory;

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
      // Three hourly runs, in seconds of the oldest message's age.
      ["BacklogAlarm", 3 * 3600, C.GREATER_THAN_THRESHOLD, 1, M.NOT_BREACHING],
      ["NotRunningAlarm", 1, C.LESS_THAN_THRESHOLD, 1, M.BREACHING],
      ["FailedRunsAlarm", 1, C.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1, M.IGNORE],
      ["WindowsExpiredAlarm", 1, C.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1, M.NOT_BREACHING],
      ["DeadLettersAlarm", 1, C.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1, M.IGNORE],
      ["DigestFailuresAlarm", 1, C.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 1, M.NOT_BREACHING],
    ]);
  });

  it("watches each alarm's own metric: the planner's, the worker's, both, or a queue's", () => {
    const metricOf = Object.fromEntries(
      archiverAlarmSpecs(metrics, hourly).map((spec) => [
        spec.name,
        (spec.metric as cloudwatch.Metric).metricName,
      ]),
    );
    expect(metricOf).toEqual({
      errors: "Errors",
      windowsFailed: "both.windowsFailed",
      invalidObjects: "both.windowsInvalid",
      backlog: "OldestWindowAge",
      notRunning: "Invocations",
      failedRuns: "FailedRuns",
      windowsExpired: "planner.windowsExpired",
      deadLetters: "DeadLetters",
      digestFailures: "both.digestFailures",
    });
  });

  it("sizes the backlog threshold from the runs and the interval, at most seven days", () => {
    const backlog = (timing: AlarmTiming) =>
      archiverAlarmSpecs(metrics, timing).find((spec) => spec.name === "backlog")?.threshold;
    expect(backlog({ ...hourly, runIntervalMinutes: 5, backlogAlarmRuns: 4 })).toBe(20 * 60);
    expect(backlog({ ...hourly, runIntervalMinutes: 1440, backlogAlarmRuns: 10 })).toBe(7 * 86_400);
  });

  it("has no stopped-schedule alarm when runs are further apart than an alarm can look", () => {
    const ids = archiverAlarmSpecs(metrics, { ...hourly, runIntervalMinutes: 8 * 1440 }).map((s) => s.id);
    expect(ids).not.toContain("NotRunningAlarm");
    expect(ids).toHaveLength(8);
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
