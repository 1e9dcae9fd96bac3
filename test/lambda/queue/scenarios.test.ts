/**
 * Issue 12's scenarios, each through the queue: the planner (`planAndEnqueue`) sends a run's
 * windows to an SQS FIFO queue with a dead-letter queue; a drain of concurrent in-process workers
 * (`drainQueue`: ReceiveMessage of ten with their system attributes, `handleBatch`, then
 * DeleteMessageBatch of what did not fail, as Lambda's event source mapping does with partial
 * batch responses), each with its own Atlas and S3 clients like a worker function instance,
 * archives them into the S3 test server from the Atlas simulator (one-line logs).
 *
 * What is scaled, and why (the file may add about 40 s to the suite on a 2-core machine):
 *
 * - One window through a worker costs about 12 ms here (HEAD, Atlas GET, PUT, verifying HEAD, all
 *   served in this one process), one planned workspace about 1.5 ms (its LIST). The counts of the
 *   scenarios (2,500 and 5,000 workspaces, 2,160 windows) are kept whole for planning and
 *   enqueueing, where a per-run cap shows (`enqueued` short of `due`, workspaces or windows
 *   missing from the queue); the drains after them take a measured part of the queue: a worker
 *   handles each message alone (one window, its own key), so what holds for the part holds for
 *   every message, and the rest is checked still queued, never received, none dead-lettered.
 *   Draining all 2,500 would take about 30 s, all 5,000 a minute.
 * - The ten consecutive runs drain everything every run, so they plan RUN_FLEET workspaces, not
 *   2,500 (ten drains of 2,500 windows: about six minutes). With a 4-hour lookback each window is
 *   due in two consecutive runs: a window a drain missed is enqueued again by the next run (more
 *   than RUN_FLEET) and counted expired by the one after. The cap is the first scenario's to show.
 * - Thousands of messages go to an in-memory FIFO queue (`createMemoryFifoQueue`, checked against
 *   moto step by step in its own test): moto 5.2.1's SQS takes time in proportion to the queue's
 *   length for every message sent or received (500 messages take 13 s to send, 2,500 about five
 *   minutes). The lanes under Atlas's rate limit, where SQS's FIFO rules are the point, run
 *   against moto.
 */
import { Readable } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { Agent } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_UPLOAD_SETTINGS } from "../../../lambda/bucket/multipart";
import { type ArchiverConfig, type Workspace, workspaceLabel } from "../../../lambda/config";
import { parseMessage } from "../../../lambda/queue/message";
import { type PlannerRequest, type PlannerSummary, planAndEnqueue } from "../../../lambda/queue/planner";
import { handleBatch, type MessageOutcome, type WorkerJob } from "../../../lambda/queue/worker";
import { createS3Client } from "../../../lambda/s3-client";
import { simulatorClient, testConfig } from "../../support/archive-fixture";
import {
  type AtlasSimulator,
  EMPTY_GZIP,
  type SimulatorOptions,
  startAtlasSimulator,
} from "../../support/atlas-simulator";
import {
  createFifoQueueWithDlq,
  describeWithMoto,
  type MotoServer,
  motoSqsClient,
  startMoto,
} from "../../support/moto";
import { createMemoryFifoQueue, type DrainResult, drainQueue, queueDepth } from "../../support/queue-drain";
import { S3RVER_CREDENTIALS, type S3TestServer, startS3Server } from "../../support/s3-server";

/** The archived logs among `keys`: without the receipts written beside them (`_receipts/`). */
const logKeys = (keys: string[]) => keys.filter((k) => !/(^|\/)_receipts\//.test(k));

/** At :14 with a 3-hour lookback, one hourly window is due per workspace: 13:00 to 14:00. */
const NOW = Date.parse("2026-11-28T15:14:00Z");
const HOUR = 3_600_000;
const WINDOW = { minutes: 60, lagMinutes: 15, lookbackHours: 3 };
type WindowSettings = typeof WINDOW;
/** Messages drained after a full-size plan (see the module comment). */
const DRAINED_PART = 100;
/** Workspaces of the ten consecutive runs (see the module comment). */
const RUN_FLEET = 40;
/** The cap of the single-function design: windows downloaded per run at most. */
const OLD_CAP = 2_000;

/** `count` workspaces, `perProject` to a project, each project's together in the file. */
function fleet(count: number, perProject: number): Workspace[] {
  return Array.from({ length: count }, (_, i) => ({
    groupId: (Math.floor(i / perProject) + 1).toString(16).padStart(24, "a"),
    tenantName: `ws-${i}`,
  }));
}

/** The servers, the queue and the clients of one scenario. */
interface Scenario {
  readonly sim: AtlasSimulator;
  readonly s3server: S3TestServer;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly dlqUrl: string;
  readonly config: ArchiverConfig;
  /** Every message's outcome, over every drain. */
  readonly outcomes: MessageOutcome[];
  close(): Promise<void>;
}

const dispatcher = new Agent({ connect: { timeout: 2_000 } });
let scenario: Scenario | undefined;
afterEach(async () => {
  await scenario?.close();
  scenario = undefined;
});
afterAll(async () => {
  await dispatcher.close();
});

async function startScenario(options: {
  readonly workspaces: readonly Workspace[];
  readonly queue: { sqs: SQSClient; queueUrl: string; dlqUrl: string };
  readonly simulator?: SimulatorOptions;
  readonly window?: WindowSettings;
}): Promise<Scenario> {
  const sim = await startAtlasSimulator({ linesPerWindow: () => 1, ...options.simulator });
  const s3server = await startS3Server();
  const s3 = createS3Client({
    region: "us-east-1",
    endpoint: s3server.endpoint,
    forcePathStyle: true,
    credentials: { ...S3RVER_CREDENTIALS },
  });
  const config = testConfig(sim.baseUrl, {
    workspaces: options.workspaces,
    window: options.window ?? WINDOW,
  });
  return {
    sim,
    s3server,
    s3,
    ...options.queue,
    config,
    outcomes: [],
    close: async () => {
      s3.destroy();
      await sim.close();
      await s3server.close();
    },
  };
}

function plan(s: Scenario, request: Partial<PlannerRequest> = {}): Promise<PlannerSummary> {
  return planAndEnqueue({
    config: s.config,
    bucket: s.s3server.bucket,
    s3: s.s3,
    sqs: s.sqs,
    queueUrl: s.queueUrl,
    nowMs: NOW,
    concurrency: 16,
    lanesPerProject: 2,
    ...request,
  });
}

/** One worker function instance's job: its own Atlas client (own token, own view of Atlas's pauses), its own S3 client. */
function workerJob(s: Scenario, n: number): WorkerJob {
  return {
    config: s.config,
    bucket: s.s3server.bucket,
    atlas: simulatorClient(s.sim, dispatcher),
    s3: createS3Client({
      region: "us-east-1",
      endpoint: s.s3server.endpoint,
      forcePathStyle: true,
      credentials: { ...S3RVER_CREDENTIALS },
    }),
    runId: `worker-${n}`,
    upload: DEFAULT_UPLOAD_SETTINGS,
    sqs: s.sqs,
    queueUrl: s.queueUrl,
    concurrency: 4,
    rateLimitDelaySeconds: 30,
    maxReceiveCount: 3,
  };
}

/** Drains the scenario's queue with `workers` worker instances. */
async function drain(
  s: Scenario,
  options: { workers: number; timeoutMs: number; maxMessages?: number; batchSize?: number },
): Promise<DrainResult> {
  const jobs = Array.from({ length: options.workers }, (_, n) => workerJob(s, n));
  try {
    return await drainQueue({
      sqs: s.sqs,
      queueUrl: s.queueUrl,
      handlers: jobs.map((job) => async (records) => {
        const result = await handleBatch(records, job);
        s.outcomes.push(...result.outcomes);
        return result;
      }),
      timeoutMs: options.timeoutMs,
      ...(options.maxMessages === undefined ? {} : { maxMessages: options.maxMessages }),
      ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
    });
  } finally {
    for (const job of jobs) job.s3.destroy();
  }
}

const statuses = (outcomes: readonly MessageOutcome[]) => {
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o.status] = (counts[o.status] ?? 0) + 1;
  return counts;
};

describe("the queue at scale (issue 12)", () => {
  /**
   * One scheduled run at `count` workspaces: every due window planned and enqueued (no cap), once
   * per workspace, with one LIST per workspace; a measured part drained into the bucket.
   */
  async function scheduledRun(count: number, drained: number) {
    const workspaces = fleet(count, 5);
    const queue = createMemoryFifoQueue({ maxReceiveCount: 3, visibilityTimeoutSeconds: 60 });
    scenario = await startScenario({ workspaces, queue });
    const s = scenario;
    const summary = await plan(s, { previousRunMs: NOW - HOUR });
    expect(summary).toMatchObject({ due: count, enqueued: count, expired: 0, failed: 0, deferred: 0 });
    expect(summary.enqueued).toBeGreaterThan(OLD_CAP);
    expect(s.s3server.operationsOf("ListObjectsV2")).toHaveLength(count);
    // Every workspace's window is in the queue, once, in its project's lane.
    const queued = queue.peek().map((m) => ({ ...parseMessage(m.body, s.config), group: m.groupId }));
    expect(queued).toHaveLength(count);
    expect(new Set(queued.map((m) => m.key)).size).toBe(count);
    expect(new Set(queued.map((m) => workspaceLabel(m.workspace)))).toEqual(
      new Set(workspaces.map(workspaceLabel)),
    );
    expect(queued.every((m) => m.window.startMs === Date.parse("2026-11-28T13:00:00Z"))).toBe(true);
    expect(queued.every((m) => m.group.startsWith(`${m.workspace.groupId}#`))).toBe(true);

    const result = await drain(s, { workers: 4, maxMessages: drained, timeoutMs: 20_000 });
    expect(result).toMatchObject({ failed: 0, groupOverlap: false, maxReceiveCount: 1 });
    expect(statuses(s.outcomes)).toEqual({ archived: result.received });
    expect(result.deleted).toBeGreaterThanOrEqual(drained);
    const objects = logKeys(await s.s3server.keys());
    expect(objects).toHaveLength(result.deleted);
    const keys = new Set(queued.map((m) => m.key));
    expect(objects.filter((key) => !keys.has(key))).toEqual([]);
    // The rest wait in the queue, never received; none went to the dead-letter queue.
    expect(queue.peek().every((m) => m.receives === 0)).toBe(true);
    expect(await queueDepth(s.sqs, s.queueUrl)).toBe(count - result.deleted);
    expect(await queueDepth(s.sqs, s.dlqUrl)).toBe(0);
  }

  it("2,500 workspaces archived hourly: one run enqueues every workspace's window, one LIST each, and the drain archives what it takes", async () => {
    await scheduledRun(2_500, 2 * DRAINED_PART);
  }, 60_000);

  it("5,000 workspaces: one run enqueues every workspace's window, one LIST each, and the drain archives what it takes", async () => {
    await scheduledRun(5_000, DRAINED_PART);
  }, 60_000);

  it("ten consecutive hourly runs: every due window archived by the drain after its run, none expired, nothing left in the queue or the dead-letter queue", async () => {
    const workspaces = fleet(RUN_FLEET, 5);
    const queue = createMemoryFifoQueue({ maxReceiveCount: 3, visibilityTimeoutSeconds: 60 });
    // A 4-hour lookback at :14: two windows due per run, the older one the previous run's.
    scenario = await startScenario({ workspaces, queue, window: { ...WINDOW, lookbackHours: 4 } });
    const s = scenario;
    // From 20:14 to 05:14 the next day: the windows 17:00 to 03:00, across midnight.
    const first = Date.parse("2026-11-28T20:14:00Z");
    const seen: string[] = [];
    const expected: string[] = [];
    for (let run = 0; run < 10; run++) {
      const nowMs = first + run * HOUR;
      const lists = s.s3server.operationsOf("ListObjectsV2").length;
      const summary = await plan(s, { nowMs, previousRunMs: nowMs - HOUR });
      const listed = s.s3server.operationsOf("ListObjectsV2").length - lists;
      const before = s.outcomes.length;
      const result = await drain(s, { workers: 4, timeoutMs: 20_000 });
      const archived = s.outcomes.slice(before).filter((o) => o.status === "archived").length;
      seen.push(
        `run ${run}: due ${summary.due}, enqueued ${summary.enqueued}, expired ${summary.expired}, failed ` +
          `${summary.failed}, deferred ${summary.deferred}, LISTs ${listed}; archived ${archived}, answered ` +
          `failed ${result.failed}; left ${await queueDepth(s.sqs, s.queueUrl)}, dead-lettered ` +
          `${await queueDepth(s.sqs, s.dlqUrl)}`,
      );
      // The first run finds nothing archived; every later one, only the newly due window missing.
      const missing = run === 0 ? 2 * RUN_FLEET : RUN_FLEET;
      expected.push(
        `run ${run}: due ${2 * RUN_FLEET}, enqueued ${missing}, expired 0, failed 0, deferred 0, LISTs ` +
          `${RUN_FLEET}; archived ${missing}, answered failed 0; left 0, dead-lettered 0`,
      );
    }
    expect(seen).toEqual(expected);
    expect(logKeys(await s.s3server.keys())).toHaveLength(11 * RUN_FLEET);
    // An eleventh run: the window that left the lookback was archived, the previous one too.
    const next = await plan(s, { nowMs: first + 10 * HOUR, previousRunMs: first + 9 * HOUR });
    expect(next).toMatchObject({ due: 2 * RUN_FLEET, enqueued: RUN_FLEET, expired: 0 });
  }, 60_000);

  it("the 2,160-window backfill through the planner: the whole range enqueued at once, and drained into the bucket", async () => {
    const workspaces = ["a", "b", "c"].map((t) => ({
      groupId: "aaaaaaaaaaaaaaaaaaaaaaa1",
      tenantName: `tenant-${t}`,
    }));
    const queue = createMemoryFifoQueue({ maxReceiveCount: 3, visibilityTimeoutSeconds: 60 });
    scenario = await startScenario({ workspaces, queue });
    const s = scenario;
    const range = { fromMs: Date.parse("2026-10-01T00:00:00Z"), toMs: Date.parse("2026-10-31T00:00:00Z") };
    const summary = await plan(s, { range, lanesPerProject: 3 });
    expect(summary).toMatchObject({ due: 2_160, enqueued: 2_160, failed: 0, deferred: 0, windowsLeft: 0 });
    expect(summary.next).toBeUndefined();
    expect(summary.enqueued).toBeGreaterThan(OLD_CAP);
    // One LIST per workspace for the 30 days (its tenant's date partitions, in one listing).
    expect(s.s3server.operationsOf("ListObjectsV2")).toHaveLength(3);
    const queued = queue.peek().map((m) => parseMessage(m.body, s.config));
    expect(new Set(queued.map((m) => m.key)).size).toBe(2_160);
    // Every hour of the 30 days, for each of the three workspaces.
    const starts = (w: Workspace) =>
      queued
        .filter((m) => m.workspace.tenantName === w.tenantName)
        .map((m) => m.window.startMs)
        .sort((a, b) => a - b);
    for (const w of workspaces) {
      expect(starts(w)).toEqual(Array.from({ length: 720 }, (_, h) => range.fromMs + h * HOUR));
    }

    const result = await drain(s, { workers: 4, maxMessages: DRAINED_PART, timeoutMs: 20_000 });
    expect(result).toMatchObject({ failed: 0, groupOverlap: false, maxReceiveCount: 1 });
    expect(statuses(s.outcomes)).toEqual({ archived: result.received });
    expect(logKeys(await s.s3server.keys())).toHaveLength(result.deleted);
    expect(queue.peek().every((m) => m.receives === 0)).toBe(true);
    expect(await queueDepth(s.sqs, s.queueUrl)).toBe(2_160 - result.deleted);
    expect(await queueDepth(s.sqs, s.dlqUrl)).toBe(0);
  }, 60_000);
});

describeWithMoto(
  "the queue's lanes under Atlas's per-project rate limit, against moto's SQS (issue 12)",
  () => {
    let moto: MotoServer;
    let sqs: SQSClient;
    beforeAll(async () => {
      moto = await startMoto();
      sqs = motoSqsClient(moto);
    }, 30_000);
    afterAll(async () => {
      sqs?.destroy();
      await moto?.close();
    });

    /** At :20, two windows are due per workspace (13:00 and 14:00). */
    const AT = Date.parse("2026-11-28T15:20:00Z");
    /** How long the simulator takes to send a body, so that a download in flight is visible there. */
    const BODY_MS = 30;

    /** Plans `workspaces` at AT into a fresh moto queue and drains it; what the simulator saw. */
    async function laneRun(
      workspaces: Workspace[],
      options: {
        lanes: number;
        rateLimit?: SimulatorOptions["rateLimit"];
        workers?: number;
        batchSize?: number;
        /** Called between the plan and the drain. */
        before?: (s: Scenario) => void;
      },
    ) {
      await scenario?.close();
      await moto.reset();
      const queue = await createFifoQueueWithDlq(moto, "lanes", {
        maxReceiveCount: 3,
        visibilityTimeoutSeconds: 30,
      });
      const inFlight = new Map<string, number>();
      const maxInFlight = new Map<string, number>();
      scenario = await startScenario({
        workspaces,
        queue: { sqs, ...queue },
        simulator: {
          ...(options.rateLimit ? { rateLimit: options.rateLimit } : {}),
          // Counted at the simulator: from when it starts a 200's body until the body is sent.
          body: (req) => {
            const n = (inFlight.get(req.groupId) ?? 0) + 1;
            inFlight.set(req.groupId, n);
            maxInFlight.set(req.groupId, Math.max(n, maxInFlight.get(req.groupId) ?? 0));
            const body = new Readable({ read() {} });
            const timer = setTimeout(() => {
              body.push(EMPTY_GZIP);
              body.push(null);
            }, BODY_MS);
            body.once("close", () => {
              clearTimeout(timer);
              inFlight.set(req.groupId, (inFlight.get(req.groupId) ?? 1) - 1);
            });
            return body;
          },
        },
      });
      const s = scenario;
      const summary = await plan(s, { nowMs: AT, lanesPerProject: options.lanes });
      expect(summary).toMatchObject({ due: workspaces.length * 2, enqueued: workspaces.length * 2 });
      options.before?.(s);
      const startedAt = Date.now();
      const result = await drain(s, {
        workers: options.workers ?? 4,
        timeoutMs: 20_000,
        ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
      });
      const downloads = s.sim.requests.filter((r) => r.endpoint === "download");
      const firstArchivedMs = new Map<string, number>();
      const lastArchivedMs = new Map<string, number>();
      for (const r of downloads) {
        const g = r.groupId as string;
        if (r.status !== 200) continue;
        if (!firstArchivedMs.has(g)) firstArchivedMs.set(g, r.at - startedAt);
        lastArchivedMs.set(g, r.at - startedAt);
      }
      return {
        result,
        statuses: statuses(s.outcomes),
        objects: logKeys(await s.s3server.keys()).length,
        left: await queueDepth(sqs, queue.queueUrl),
        deadLettered: await queueDepth(sqs, queue.dlqUrl),
        maxInFlight: Object.fromEntries(maxInFlight),
        served: downloads.filter((r) => r.status === 200).length,
        limited: downloads.filter((r) => r.status === 429).length,
        violations: s.sim.rateLimitViolations(),
        /** Per project: when its first and its last served download arrived, from the drain's start. */
        firstArchivedMs: [...firstArchivedMs.values()],
        lastArchivedMs: [...lastArchivedMs.values()],
      };
    }

    const PROJECTS = 3;
    const PER_PROJECT = 5;
    const contiguous = fleet(PROJECTS * PER_PROJECT, PER_PROJECT);
    const interleaved = Array.from({ length: PER_PROJECT }, (_, i) =>
      Array.from({ length: PROJECTS }, (_, p) => contiguous[p * PER_PROJECT + i] as Workspace),
    ).flat();
    const windows = PROJECTS * PER_PROJECT * 2;

    it("contiguous projects, lanes per project 2: never more than 2 downloads of a project in flight, few 429s, as fast as interleaved, not in file order", async () => {
      // Half of a project's ten windows in a burst, then a 429 and its 1-second Retry-After, then the rest.
      const rateLimit = { capacity: 5, refillPerSecond: 5, retryAfterSeconds: 1 };
      const runs = {
        contiguous: await laneRun(contiguous, { lanes: 2, rateLimit }),
        interleaved: await laneRun(interleaved, { lanes: 2, rateLimit }),
      };
      for (const run of Object.values(runs)) {
        expect(run).toMatchObject({
          statuses: { archived: windows },
          objects: windows,
          left: 0,
          deadLettered: 0,
          served: windows,
        });
        expect(run.result).toMatchObject({ failed: 0, groupOverlap: false, maxReceiveCount: 1 });
        // Two in flight in a project at times (its two lanes), never more.
        expect(Object.keys(run.maxInFlight)).toHaveLength(PROJECTS);
        expect(Math.max(...Object.values(run.maxInFlight))).toBe(2);
        // Few 429s: each waited out (its Retry-After) in the worker, so no window failed or was delayed.
        expect(run.limited).toBeLessThanOrEqual(windows / 4);
        // Not in file order: every project has a window archived in the drain's first quarter, and
        // is still being archived in its second half.
        expect(run.firstArchivedMs).toHaveLength(PROJECTS);
        expect(Math.max(...run.firstArchivedMs)).toBeLessThan(run.result.elapsedMs / 4);
        expect(Math.min(...run.lastArchivedMs)).toBeGreaterThan(run.result.elapsedMs / 2);
      }
      // As fast either way: the rate limit paces each project alike, wherever it stands in the file.
      // Within 2× (1.68 was seen on a clean clone with two suites sharing the two cores; file order
      // is caught by the first-quarter and second-half checks above, not by this ratio).
      const ratio = runs.contiguous.result.elapsedMs / runs.interleaved.result.elapsedMs;
      expect(ratio).toBeGreaterThan(1 / 2);
      expect(ratio).toBeLessThan(2);
      // The count at the simulator sees more when the lanes allow more: four lanes, four workers.
      const unlaned = await laneRun(fleet(4, 4), { lanes: 4, workers: 4, batchSize: 1 });
      expect(Math.max(...Object.values(unlaned.maxInFlight))).toBeGreaterThan(2);
    }, 60_000);

    it("with one lane per project (the deployed default), waits out a Retry-After whichever worker holds the lane", async () => {
      // One project, two workers taking one message per batch, one 429 asking for 2 s. (With two
      // lanes on two workers, the other lane's worker knows nothing of the pause: it kept calling,
      // 5 requests while Atlas asked to wait, which is why the deployed default is one lane.)
      const run = await laneRun(fleet(6, 6), {
        lanes: 1,
        workers: 2,
        batchSize: 1,
        before: (s) =>
          s.sim.inject({
            fault: { kind: "status", status: 429, errorCode: "RATE_LIMITED_TOKEN_BUCKET", retryAfter: 2 },
            times: 1,
          }),
      });
      expect(run).toMatchObject({ statuses: { archived: 12 }, left: 0, deadLettered: 0, limited: 1 });
      expect(run.violations).toBe(0);
    }, 30_000);
  },
);
