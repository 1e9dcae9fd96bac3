/** The clients and configuration the benchmark's child tasks build: S3 (with timings), Atlas, the parameter file. */
import { S3Client } from "@aws-sdk/client-s3";
import type { RunSummary } from "../lambda/archive/run";
import { type AtlasClient, createAtlasClient, createAtlasDispatcher } from "../lambda/atlas";
import { parseConfig, type Workspace } from "../lambda/config";
import { DEFAULT_SERVICE_ACCOUNT } from "../test/support/atlas-simulator/defaults";
import { S3RVER_CREDENTIALS } from "../test/support/s3-server/owner";
import type { Endpoints, ScaleRun } from "./tasks";

/** Seconds spent in each S3 command (summed over concurrent calls), and when the last one ended. */
export class S3Timings {
  readonly sums: Record<string, number> = {};
  readonly lastEnd: Record<string, number> = {};

  constructor(private readonly origin: number) {}

  record(command: string, started: number, ended: number): void {
    this.sums[command] = (this.sums[command] ?? 0) + (ended - started) / 1000;
    this.lastEnd[command] = (ended - this.origin) / 1000;
  }
}

export function s3Client(endpoints: Endpoints, timings?: S3Timings): S3Client {
  const client = new S3Client({
    region: "us-east-1",
    endpoint: endpoints.s3Endpoint,
    forcePathStyle: true,
    credentials: { ...S3RVER_CREDENTIALS },
  });
  if (timings) {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const started = performance.now();
        try {
          return await next(args);
        } finally {
          timings.record(context.commandName ?? "unknown", started, performance.now());
        }
      },
      { step: "initialize", name: "benchTiming" },
    );
  }
  return client;
}

export function atlasClient(endpoints: Endpoints): AtlasClient {
  return createAtlasClient({
    baseUrl: endpoints.atlasUrl,
    apiVersion: "2023-02-01",
    dispatcher: createAtlasDispatcher(),
    credentials: { kind: "service-account", ...DEFAULT_SERVICE_ACCOUNT },
  });
}

export function benchConfig(
  endpoints: Endpoints,
  prefix: string,
  workspaces: readonly Workspace[],
  timing: Pick<ScaleRun, "window" | "schedule"> = {
    window: { minutes: 60, lagMinutes: 15, lookbackHours: 72 },
    schedule: "rate(1 hour)",
  },
) {
  return parseConfig(
    JSON.stringify({
      atlas: { baseUrl: endpoints.atlasUrl },
      archive: { bucket: endpoints.bucket, prefix },
      window: timing.window,
      schedule: timing.schedule,
      workspaces,
    }),
    "bench config",
  );
}

/** Every failed window of a run, one line each. */
export function failuresOf(summary: RunSummary): string[] {
  return summary.workspaces.flatMap((w) =>
    w.failed.map((f) => `${w.workspace} ${f.window}: ${f.code} ${f.message}`),
  );
}

/** What a child task reports of a run: its time, bytes and windows, and its first failures. */
export function runResult(summary: RunSummary, seconds: number) {
  return {
    seconds,
    bytes: summary.totals.bytes,
    archived: summary.totals.archived,
    failed: summary.totals.failed,
    failures: failuresOf(summary).slice(0, 5),
  };
}
