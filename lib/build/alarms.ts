/**
 * The alarms as data: one {@link AlarmSpec} per alarm (metric, threshold, comparison, periods,
 * missing-data treatment, description), and one factory that turns a spec into an alarm that
 * notifies the topic on ALARM and back to OK.
 */
import { Annotations, Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as cloudwatchActions from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as sns from "aws-cdk-lib/aws-sns";
import type { Construct } from "constructs";
import { backlogWindowMinutes, failureWindowMinutes, notRunningWindowMinutes } from "../schedule";
import type { ArchiverMetricFactory } from "./metrics";

/** The alarms there always are, in the order of the construct's `alarms` (and the AlarmNames output). */
const ALWAYS = [
  "errors",
  "windowsFailed",
  "invalidObjects",
  "backlog",
  "failedRuns",
  "windowsExpired",
] as const;

/** The archiver's alarms, by the name of the construct's field (`errors` is `errorsAlarm`). */
export type ArchiverAlarmName = (typeof ALWAYS)[number] | "notRunning";

/** One alarm, as data. */
export interface AlarmSpec {
  readonly name: ArchiverAlarmName;
  /** The construct ID, e.g. `ErrorsAlarm`. */
  readonly id: string;
  readonly metric: cloudwatch.IMetric;
  readonly threshold: number;
  readonly comparison: cloudwatch.ComparisonOperator;
  /** Evaluation periods. */
  readonly periods: number;
  readonly missingData: cloudwatch.TreatMissingData;
  /** What it means and what to do, shown in the notification. */
  readonly description: string;
}

/** The alarms {@link buildAlarms} created, by name, and all of them. */
export type ArchiverAlarms = Readonly<Record<(typeof ALWAYS)[number], cloudwatch.Alarm>> & {
  /** Absent when runs are too far apart for a CloudWatch alarm. */
  readonly notRunning?: cloudwatch.Alarm;
  /** Every alarm: those always there, then `notRunning` when there is one (the others keep their places). */
  readonly all: readonly cloudwatch.Alarm[];
};

/** What the alarm windows are sized from. */
export interface AlarmTiming {
  /** The longest time between two runs, in minutes. */
  readonly runIntervalMinutes: number;
  /** Whether that interval is a guess (a cron schedule that could not be worked out). */
  readonly intervalGuessed: boolean;
  /** The backlog alarm fires when every run over this many intervals left due windows behind. */
  readonly backlogAlarmRuns: number;
  /** The schedule expression, for the warning about a guessed interval. */
  readonly schedule: string;
}

/** Fires on the first occurrence in one period; no data (no run, nothing to report) is fine. */
const ON_ANY = {
  threshold: 1,
  comparison: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
  periods: 1,
  missingData: cloudwatch.TreatMissingData.NOT_BREACHING,
} as const;

/**
 * The specs of the archiver's alarms, in the order they are created; the stopped-schedule alarm is
 * left out when runs are too far apart for a CloudWatch alarm.
 */
export function archiverAlarmSpecs(metrics: ArchiverMetricFactory, timing: AlarmTiming): AlarmSpec[] {
  const interval = timing.runIntervalMinutes;
  const failureWindow = Duration.minutes(failureWindowMinutes(interval));
  const runs = timing.backlogAlarmRuns;
  const silence = notRunningWindowMinutes(interval);
  const specs: (AlarmSpec | undefined)[] = [
    {
      name: "errors",
      id: "ErrorsAlarm",
      ...ON_ANY,
      metric: metrics.errors(failureWindow),
      description:
        "A run of the Atlas audit archiver failed (it threw, e.g. because windows failed or the secret is " +
        "unusable). The function's JSON logs hold the run summary; the next run retries missing windows.",
    },
    {
      name: "windowsFailed",
      id: "WindowsFailedAlarm",
      ...ON_ANY,
      metric: metrics.run("windowsFailed", cloudwatch.Stats.SUM, failureWindow),
      description:
        "At least one audit-log window failed to archive (Atlas or S3 error). Later runs retry it while it is " +
        "within window.lookbackHours; see the failed events in the function's logs.",
    },
    {
      name: "invalidObjects",
      id: "InvalidObjectsAlarm",
      ...ON_ANY,
      metric: metrics.run("windowsInvalid", cloudwatch.Stats.SUM, failureWindow),
      description:
        "An object at a window's archive key is not a verified archive object (no full-object CRC32 checksum, " +
        "or metadata naming another window). The archiver may not delete it, so the window fails on every run " +
        "until it is resolved: inspect the object with aws s3api head-object --checksum-mode ENABLED; if it is " +
        "not the archiver's, delete it with a principal other than the function (which has no delete " +
        "permission), and the next run archives the window again.",
    },
    {
      name: "backlog",
      id: "BacklogAlarm",
      // Minimum over the window > 0: no run in it caught up completely.
      ...ON_ANY,
      threshold: 0,
      comparison: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      metric: metrics.run(
        "backlogWindows",
        cloudwatch.Stats.MINIMUM,
        Duration.minutes(backlogWindowMinutes(interval, runs)),
      ),
      description:
        `Every run for ${runs} run intervals ended with due windows not yet archived: the archiver is ` +
        "not keeping up (runs hit their deadline, or windows keep failing). Windows older than " +
        "window.lookbackHours are no longer fetched: raise memory or timeout, or shorten the schedule.",
    },
    silence === undefined
      ? undefined
      : {
          name: "notRunning",
          id: "NotRunningAlarm",
          // No invocation at all is what this alarm is for: missing data breaches.
          ...ON_ANY,
          comparison: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
          missingData: cloudwatch.TreatMissingData.BREACHING,
          metric: metrics.invocations(Duration.minutes(silence)),
          description:
            `The Atlas audit archiver was not invoked for ${silence} minutes although it should run every ` +
            `${interval}: the schedule rule is disabled or deleted, or invocations are throttled. Right after ` +
            "the first deploy this alarm stays in ALARM until the first scheduled run.",
        },
    {
      name: "failedRuns",
      id: "FailedRunsAlarm",
      ...ON_ANY,
      // SQS stops reporting for an idle queue: keep the last state rather than calling it OK.
      missingData: cloudwatch.TreatMissingData.IGNORE,
      metric: metrics.failedRuns(Duration.minutes(5)),
      description:
        "A failed run was recorded in the failed-runs queue (function error, event dropped after waiting for " +
        "the single concurrency slot, or undeliverable schedule event). Read it with aws sqs receive-message, " +
        "then delete or purge the messages to clear this alarm.",
    },
    {
      name: "windowsExpired",
      id: "WindowsExpiredAlarm",
      ...ON_ANY,
      metric: metrics.run("windowsExpired", cloudwatch.Stats.SUM, failureWindow),
      description:
        "At least one audit-log window left window.lookbackHours without being archived: no scheduled run " +
        "asks for it again, and Atlas keeps its logs only for a while. The function's logs name each one " +
        '(event "expired"); archive them with atlas-audit-archiver run --from … --to … or a backfill event, ' +
        "then fix what kept them from being archived (the failed events, the backlog alarm).",
    },
  ];
  return specs.filter((spec) => spec !== undefined);
}

/** The alarm of `spec`, notifying `topic` when it goes to ALARM and when it is back to OK. */
export function alarmFromSpec(scope: Construct, spec: AlarmSpec, topic: sns.ITopic): cloudwatch.Alarm {
  const alarm = new cloudwatch.Alarm(scope, spec.id, {
    alarmDescription: spec.description,
    metric: spec.metric,
    threshold: spec.threshold,
    comparisonOperator: spec.comparison,
    evaluationPeriods: spec.periods,
    treatMissingData: spec.missingData,
  });
  const action = new cloudwatchActions.SnsAction(topic);
  alarm.addAlarmAction(action);
  alarm.addOkAction(action);
  return alarm;
}

/**
 * The archiver's alarms by name, each notifying `topic`, with a synth warning when the run interval
 * is a guess or too long for the stopped-schedule alarm.
 */
export function buildAlarms(
  scope: Construct,
  metrics: ArchiverMetricFactory,
  timing: AlarmTiming,
  topic: sns.ITopic,
): ArchiverAlarms {
  const interval = timing.runIntervalMinutes;
  if (timing.intervalGuessed) {
    Annotations.of(scope).addWarningV2(
      "atlas-audit-archiver:runInterval",
      `The schedule ${timing.schedule} does not run every day at fixed times, so the time between ` +
        `runs is taken as ${interval} minutes for the alarms; set the runIntervalMinutes prop to the longest ` +
        "gap between two runs.",
    );
  }
  if (notRunningWindowMinutes(interval) === undefined) {
    Annotations.of(scope).addWarningV2(
      "atlas-audit-archiver:notRunningAlarm",
      `Runs are ${interval} minutes apart, too far for a CloudWatch alarm (at most 7 days): no alarm watches ` +
        "for a stopped schedule.",
    );
  }
  const built = new Map(
    archiverAlarmSpecs(metrics, timing).map((spec) => [spec.name, alarmFromSpec(scope, spec, topic)]),
  );
  const required = (name: ArchiverAlarmName): cloudwatch.Alarm => {
    const alarm = built.get(name);
    if (!alarm) throw new Error(`archiverAlarmSpecs has no ${name} alarm`);
    return alarm;
  };
  const always = Object.fromEntries(ALWAYS.map((name) => [name, required(name)])) as Record<
    (typeof ALWAYS)[number],
    cloudwatch.Alarm
  >;
  const notRunning = built.get("notRunning");
  const all = [...ALWAYS.map((name) => always[name]), ...(notRunning ? [notRunning] : [])];
  return { ...always, ...(notRunning ? { notRunning } : {}), all };
}
