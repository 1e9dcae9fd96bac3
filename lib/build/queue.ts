/** The queue of windows between the planner and the workers, and its dead-letter queue. */
import { Duration, Names, Validations } from "aws-cdk-lib";
import * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { ARCHIVER_DEFAULTS } from "../defaults";
import { DeploymentError } from "../errors";
import type { ResolvedArchiverSettings } from "../settings";

/** What {@link buildWindowQueue} created. */
export interface WindowQueues {
  /** The planner sends one message per missing window; the workers consume it. */
  readonly queue: sqs.Queue;
  /** Messages received `maxReceiveCount` times without being archived. */
  readonly deadLetterQueue: sqs.Queue;
}

/** Encrypted by SQS, TLS only, kept 14 days: what both queues share. */
const SECURE_FIFO = {
  fifo: true,
  encryption: sqs.QueueEncryption.SQS_MANAGED,
  enforceSSL: true,
  retentionPeriod: ARCHIVER_DEFAULTS.queueRetention,
} as const;

/**
 * The context key (`-c explicitQueueNames=true`) that gives both FIFO queues a name of their own,
 * `AtlasAuditArchiver-EFAC4688-WindowQueue.fifo` and `...-DeadLetterQueue.fifo` (unique per stack and
 * construct path, stable across deploys), instead of CloudFormation's generated one: readable in
 * the console and in `aws sqs` commands, and needed by emulators that do not generate FIFO names
 * (moto). Switching it on or off replaces both queues (their messages are lost; the planner
 * re-enqueues what is still due); with it on, a change that needs new queues fails until it is
 * switched off for that deploy.
 */
export const EXPLICIT_QUEUE_NAMES_CONTEXT = "explicitQueueNames";

/** SQS's longest queue name, `.fifo` included. */
const MAX_QUEUE_NAME = 80;

/**
 * A high-throughput FIFO queue (deduplication and throughput per message group: one group is one
 * project's lane, so SQS hands out one window of a lane at a time, in order), deduplicated by the
 * planner's `MessageDeduplicationId` (the window's key), with a FIFO dead-letter queue.
 */
export function buildWindowQueue(scope: Construct, settings: ResolvedArchiverSettings): WindowQueues {
  const named = explicitQueueNames(scope);
  const deadLetterQueue = new sqs.Queue(scope, "DeadLetterQueue", {
    ...SECURE_FIFO,
    ...(named ? { queueName: fifoName(scope, "DeadLetterQueue") } : {}),
  });
  Validations.of(deadLetterQueue).acknowledge({
    id: "AwsSolutions-SQS3",
    reason:
      "This queue is itself the dead-letter queue of the window queue: the planner re-enqueues a window still " +
      "within the lookback anyway, and a dead-letter queue of the dead-letter queue would add nothing.",
  });
  const queue = new sqs.Queue(scope, "WindowQueue", {
    ...SECURE_FIFO,
    ...(named ? { queueName: fifoName(scope, "WindowQueue") } : {}),
    contentBasedDeduplication: false,
    deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
    fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
    visibilityTimeout: Duration.seconds(
      settings.timeout.toSeconds() * ARCHIVER_DEFAULTS.visibilityTimeoutPerWorkerTimeout,
    ),
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: settings.maxReceiveCount },
  });
  return { queue, deadLetterQueue };
}

/** `-c explicitQueueNames`: true or false (a string from the command line, a boolean from cdk.json). */
function explicitQueueNames(scope: Construct): boolean {
  const value: unknown = scope.node.tryGetContext(EXPLICIT_QUEUE_NAMES_CONTEXT);
  if (value === undefined || value === false || value === "false") return false;
  if (value === true || value === "true") return true;
  throw new DeploymentError(
    "DEPLOY_CONTEXT_INVALID",
    EXPLICIT_QUEUE_NAMES_CONTEXT,
    `-c ${EXPLICIT_QUEUE_NAMES_CONTEXT}=${String(value)}: must be true or false`,
  );
}

/** `<unique name of scope>-<id>.fifo`: unique per stack and construct path, at most SQS's 80 characters. */
function fifoName(scope: Construct, id: string): string {
  const suffix = `-${id}.fifo`;
  return `${Names.uniqueResourceName(scope, { maxLength: MAX_QUEUE_NAME - suffix.length, separator: "-" })}${suffix}`;
}
