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
  "deadLetters",
  "digestFailures",
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
  /** The backlog alarm fires when a window waited in the queue longer than this many intervals. */
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
        "An invocation of the Atlas audit archiver's planner or worker failed (it threw or timed out, e.g. " +
        "because the queue or the bucket could not be reached). Their JSON logs hold the summaries; the next " +
        "run plans the missing windows again, and a worker's messages come back to the queue.",
    },
    {
      name: "windowsFailed",
      id: "WindowsFailedAlarm",
      ...ON_ANY,
      metric: metrics.runOfBoth("windowsFailed", failureWindow),
      description:
        "At least one audit-log window failed: a worker could not archive it (Atlas or S3 error; its message " +
        "comes back), or the planner could not list its workspace. Later runs retry it while it is within " +
        'window.lookbackHours; see the failed events ("window failed", "failed") in the functions\' logs.',
    },
    {
      name: "invalidObjects",
      id: "InvalidObjectsAlarm",
      ...ON_ANY,
      // Both: the planner meets such an object when it checks the keys it lists (and then does not
      // enqueue the window), the worker when its check before the download or its write finds one.
      metric: metrics.runOfBoth("windowsInvalid", failureWindow),
      description:
        "An object at a window's archive key is not a verified archive object (no full-object CRC32 checksum, " +
        "or metadata naming another window). The archiver may not delete it, so the window fails on every run " +
        "until it is resolved: inspect the object with aws s3api head-object --checksum-mode ENABLED; if it is " +
        "not the archiver's, delete it with a principal other than the functions (which have no delete " +
        "permission), and the next run archives the window again.",
    },
    {
      name: "backlog",
      id: "BacklogAlarm",
      // The oldest window waited longer than `runs` run intervals.
      ...ON_ANY,
      threshold: backlogWindowMinutes(interval, runs) * 60,
      comparison: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      metric: metrics.oldestWindowAge(Duration.minutes(5)),
      description:
        `A window waited in the queue for more than ${runs} run intervals: the workers are not keeping up ` +
        "(Atlas keeps asking to wait, windows keep failing, or too few workers). Windows older than " +
        "window.lookbackHours are no longer planned: raise workerConcurrency or lanesPerProject, memory or " +
        "timeout. A backfill legitimately holds old messages until it is drained: then this alarm returns to " +
        "OK by itself.",
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
            `The Atlas audit archiver's planner was not invoked for ${silence} minutes although it should run ` +
            `every ${interval}: the schedule rule is disabled or deleted, or invocations are throttled. Right ` +
            "after the first deploy this alarm stays in ALARM until the first scheduled run.",
        },
    {
      name: "failedRuns",
      id: "FailedRunsAlarm",
      ...ON_ANY,
      // SQS stops reporting for an idle queue: keep the last state rather than calling it OK.
      missingData: cloudwatch.TreatMissingData.IGNORE,
      metric: metrics.failedRuns(Duration.minutes(5)),
      description:
        "A failed planner run was recorded in the failed-runs queue (an invocation that failed after its " +
        "retries, an event dropped after waiting for the single concurrency slot, or an undeliverable schedule " +
        "event). Read it with aws sqs receive-message, then delete or purge the messages to clear this alarm.",
    },
    {
      name: "windowsExpired",
      id: "WindowsExpiredAlarm",
      ...ON_ANY,
      metric: metrics.run("planner", "windowsExpired", cloudwatch.Stats.SUM, failureWindow),
      description:
        "At least one audit-log window left window.lookbackHours without being archived: no scheduled run " +
        "asks for it again, and Atlas keeps its logs only for a while. The planner's logs name each one " +
        '(event "expired"); archive them with atlas-audit-archiver run --from … --to … or a backfill event to ' +
        "the planner, then fix what kept them from being archived (the failed windows, the backlog alarm).",
    },
    {
      name: "deadLetters",
      id: "DeadLettersAlarm",
      ...ON_ANY,
      // Nobody polls the dead-letter queue, so SQS stops reporting it: keep the last state.
      missingData: cloudwatch.TreatMissingData.IGNORE,
      metric: metrics.deadLetters(Duration.minutes(5)),
      description:
        "A window message reached the dead-letter queue: the workers failed it maxReceiveCount times. Read the " +
        'worker\'s "window failed" log lines (with receiveCount) for the cause and fix it; then redrive the ' +
        "messages with aws sqs start-message-move-task --source-arn <dead-letter queue ARN>, or delete them. " +
        "The planner re-enqueues any window still within window.lookbackHours anyway.",
    },
    {
      name: "digestFailures",
      id: "DigestFailuresAlarm",
      ...ON_ANY,
      metric: metrics.runOfBoth("digestFailures", failureWindow),
      description:
        "The archive's integrity records are falling behind: the planner could not seal a day's digest (KMS or " +
        "S3 refused, a broken chain, or DIGEST_KEY_ARN not set), or a worker could not write a window's receipt " +
        '(the window stays archived, but unreceipted). Read the "digest" and "receipt" error lines in the ' +
        "functions' logs; the planner tries an unsealed day again on its next runs. Check the archive with " +
        "atlas-audit-archiver verify --public-key.",
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
