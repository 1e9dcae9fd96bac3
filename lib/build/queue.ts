/** The queue of windows between the planner and the workers, and its dead-letter queue. */
import { Duration, Validations } from "aws-cdk-lib";
import * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { ARCHIVER_DEFAULTS } from "../defaults";
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
 * A high-throughput FIFO queue (deduplication and throughput per message group: one group is one
 * project's lane, so SQS hands out one window of a lane at a time, in order), deduplicated by the
 * planner's `MessageDeduplicationId` (the window's key), with a FIFO dead-letter queue.
 */
export function buildWindowQueue(scope: Construct, settings: ResolvedArchiverSettings): WindowQueues {
  const deadLetterQueue = new sqs.Queue(scope, "DeadLetterQueue", SECURE_FIFO);
  Validations.of(deadLetterQueue).acknowledge({
    id: "AwsSolutions-SQS3",
    reason:
      "This queue is itself the dead-letter queue of the window queue: the planner re-enqueues a window still " +
      "within the lookback anyway, and a dead-letter queue of the dead-letter queue would add nothing.",
  });
  const queue = new sqs.Queue(scope, "WindowQueue", {
    ...SECURE_FIFO,
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
