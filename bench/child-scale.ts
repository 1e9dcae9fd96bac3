/** The scale scenario's child tasks (issue 12): the planner with a counting SQS stand-in, and the drains. */
import type { S3Client } from "@aws-sdk/client-s3";
import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { archiveRun } from "../lambda/archive/run";
import { planAndEnqueue } from "../lambda/queue/planner";
import { atlasClient, benchConfig, runResult, s3Client } from "./child-clients";
import { type ScaleMeasures, type ScaleRun, type ShareStep, scaleWorkspaces } from "./tasks";

/** Counts the requests an S3 client sends, by command (every attempt). */
function countRequests(client: S3Client): Record<string, number> {
  const counts: Record<string, number> = {};
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = context.commandName ?? "unknown";
      counts[name] = (counts[name] ?? 0) + 1;
      return next(args);
    },
    // After retries are decided: each attempt is one request S3 bills.
    { step: "finalizeRequest", name: "benchRequestCount", priority: "low" },
  );
  return counts;
}

/**
 * A stand-in SQS client for the planner: it accepts SendMessageBatch and counts it (the queue's
 * semantics are tested against moto, not here).
 */
function countingSqs(): { client: SQSClient; batches: number; messages: number } {
  const counter = {
    batches: 0,
    messages: 0,
    client: undefined as unknown as SQSClient,
  };
  counter.client = {
    send: async (command: unknown) => {
      if (!(command instanceof SendMessageBatchCommand))
        throw new Error(`The bench's SQS stand-in accepts SendMessageBatch only, not ${String(command)}`);
      counter.batches++;
      counter.messages += command.input.Entries?.length ?? 0;
      return { Failed: [], Successful: [] };
    },
  } as unknown as SQSClient;
  return counter;
}

/**
 * Shares of a drain: at each tenth of `total` windows archived, the fewest archived for one key (a
 * project, or a workspace) over the mean (counts only, whatever the size of the run).
 */
class Shares {
  private readonly counts = new Map<string, number>();
  private archived = 0;
  private nextStep = 1;
  readonly steps: ShareStep[] = [];

  constructor(
    keys: Iterable<string>,
    private readonly total: number,
    private readonly elapsed: () => number,
  ) {
    for (const k of keys) this.counts.set(k, 0);
  }

  /** One window of `key` archived. */
  add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.archived++;
    while (this.nextStep <= 10 && this.archived >= Math.ceil((this.total * this.nextStep) / 10)) {
      let min = Number.POSITIVE_INFINITY;
      for (const n of this.counts.values()) min = Math.min(min, n);
      const mean = this.archived / this.counts.size;
      this.steps.push({
        at: this.nextStep / 10,
        seconds: this.elapsed(),
        minOverMean: min / mean,
        lag: mean - min,
      });
      this.nextStep++;
    }
  }
}

export async function runScale(task: ScaleRun & { kind: "scale-plan" | "scale-drain" }) {
  const origin = performance.now();
  const elapsed = () => (performance.now() - origin) / 1000;
  const workspaces = scaleWorkspaces(task.projects, task.perProject, task.layout);
  const config = benchConfig(task.endpoints, task.prefix, workspaces, task);
  const s3 = s3Client(task.endpoints);
  const s3Requests = countRequests(s3);
  const timing = {
    nowMs: task.nowMs,
    ...(task.previousRunMs === undefined ? {} : { previousRunMs: task.previousRunMs }),
    ...(task.range === undefined ? {} : { range: task.range }),
  };
  if (task.kind === "scale-plan") {
    const sqs = countingSqs();
    const summary = await planAndEnqueue({
      config,
      bucket: task.endpoints.bucket,
      s3,
      sqs: sqs.client,
      queueUrl: "https://sqs.us-east-1.amazonaws.com/000000000000/bench.fifo",
      ...timing,
      concurrency: task.concurrency,
      lanesPerProject: task.lanesPerProject,
    });
    const scale: ScaleMeasures = {
      s3Requests,
      sendBatches: sqs.batches,
      messages: sqs.messages,
      due: summary.due,
      slices: summary.slices,
    };
    if (summary.failed > 0 || sqs.messages !== summary.enqueued)
      throw new Error(
        `The planner failed ${summary.failed} window(s), sent ${sqs.messages} of ${summary.enqueued}`,
      );
    return { seconds: elapsed(), bytes: 0, archived: summary.enqueued, failed: summary.failed, scale };
  }
  // The drain: how many windows are due is known before the run (nothing is archived yet).
  let planned = 0;
  let total = 0;
  let planSeconds = 0;
  let shares: { projects: Shares; workspaces: Shares } | undefined;
  const summary = await archiveRun({
    config,
    bucket: task.endpoints.bucket,
    atlas: atlasClient(task.endpoints),
    s3,
    ...timing,
    runId: `bench-scale-c${task.concurrency}`,
    settings: {
      concurrency: task.concurrency,
      lanesPerProject: task.lanesPerProject,
      maxWindows: Number.POSITIVE_INFINITY,
    },
    onEvent: (event) => {
      if (event.type === "planned") {
        total += event.missing;
        if (++planned === workspaces.length) {
          planSeconds = elapsed();
          const sinceDrain = () => elapsed() - planSeconds;
          shares = {
            projects: new Shares(
              workspaces.map((w) => w.groupId),
              total,
              sinceDrain,
            ),
            workspaces: new Shares(
              workspaces.map((w) => `${w.groupId}/${w.tenantName}`),
              total,
              sinceDrain,
            ),
          };
        }
      } else if (event.type === "archived" || event.type === "already-present") {
        shares?.projects.add(event.workspace.slice(0, event.workspace.indexOf("/")));
        shares?.workspaces.add(event.workspace);
      }
    },
  });
  const scale: ScaleMeasures = {
    s3Requests,
    planSeconds,
    projectShares: shares?.projects.steps ?? [],
    workspaceShares: shares?.workspaces.steps ?? [],
  };
  return { ...runResult(summary, elapsed()), scale };
}
