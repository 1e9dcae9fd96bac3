/**
 * A ready-to-run archive setup for tests: the Atlas simulator, a loopback S3 server, a client
 * for each, and a configuration pointing at both.
 */

import { crc32, createGunzip } from "node:zlib";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { Agent } from "undici";
import { type ArchiveRunRequest, archiveRun, type RunSummary } from "../../lambda/archive/run";
import {
  type AtlasCredentials,
  type CreateAtlasClientOptions,
  createAtlasClient,
  TokenCache,
} from "../../lambda/atlas";
import { type ArchiverConfig, parseConfig, type Workspace } from "../../lambda/config";
import { type ArchiveS3ClientOptions, createS3Client } from "../../lambda/s3-client";
import { type TimeWindow, toEpochSeconds } from "../../lambda/windows";
import {
  type AtlasSimulator,
  DEFAULT_SERVICE_ACCOUNT,
  expectedLines,
  type SimulatorOptions,
  startAtlasSimulator,
} from "./atlas-simulator";
import { S3RVER_CREDENTIALS, type S3ServerOptions, type S3TestServer, startS3Server } from "./s3-server";
import { crc32ToBase64 } from "./s3-server/crc32-combine";

export const GROUP = "32b6e34b3d91647abb20e7b8";
export const OTHER_GROUP = "5f1e2d3c4b5a69788796a5b4";
/** The two workspaces of {@link testConfig}: a whole workspace, and one stream processor of another. */
export const PROD: Workspace = { groupId: GROUP, tenantName: "prod-workspace" };
export const BILLING: Workspace = { groupId: GROUP, tenantName: "billing", spName: "payments" };

/** The configuration a test archives with (the simulator's URL filled in). */
export function testConfig(baseUrl: string, overrides: Record<string, unknown> = {}): ArchiverConfig {
  return parseConfig(
    JSON.stringify({
      atlas: { baseUrl },
      archive: { prefix: "atlas/stream-audit/" },
      window: { minutes: 60, lagMinutes: 15, lookbackHours: 6 },
      schedule: "rate(1 hour)",
      workspaces: [
        { groupId: GROUP, tenantName: "prod-workspace" },
        { groupId: GROUP, tenantName: "billing", spName: "payments" },
      ],
      ...overrides,
    }),
    "test config",
  );
}

export interface ArchiveFixture {
  readonly sim: AtlasSimulator;
  readonly s3server: S3TestServer;
  readonly dispatcher: Agent;
  /** Runs the archive against both servers; `overrides` replace request fields. */
  run(config: ArchiverConfig, nowMs: number, overrides?: Partial<ArchiveRunRequest>): Promise<RunSummary>;
  /** The checksum S3 keeps with `key` (`HeadObject` with checksum mode on). */
  storedChecksum(key: string): Promise<{ crc32?: string; type?: string }>;
  close(): Promise<void>;
}

/** Options of {@link startArchiveFixture}. */
export interface ArchiveFixtureOptions {
  readonly simulator?: SimulatorOptions;
  readonly conditionalWrites?: boolean;
  /** More options of the S3 test server (e.g. a store that keeps no checksums). */
  readonly s3server?: S3ServerOptions;
  readonly credentials?: AtlasCredentials;
  /** Options of the archive's S3 client, built as the handler and the CLI build it (`createS3Client`). */
  readonly s3?: ArchiveS3ClientOptions;
  /** Options of the Atlas client (timeouts, retry policy). */
  readonly atlas?: Partial<CreateAtlasClientOptions>;
}

export async function startArchiveFixture(options: ArchiveFixtureOptions = {}): Promise<ArchiveFixture> {
  const sim = await startAtlasSimulator(options.simulator);
  const s3server = await startS3Server({
    conditionalWrites: options.conditionalWrites ?? true,
    ...options.s3server,
  });
  const dispatcher = new Agent({ connect: { timeout: 2_000 } });
  const s3 = createS3Client({
    region: "us-east-1",
    endpoint: s3server.endpoint,
    forcePathStyle: true,
    credentials: { ...S3RVER_CREDENTIALS },
    ...options.s3,
  });
  const tokenCache = new TokenCache();
  let runs = 0;
  return {
    sim,
    s3server,
    dispatcher,
    run: (config, nowMs, overrides = {}) =>
      archiveRun({
        config,
        bucket: s3server.bucket,
        atlas: simulatorClient(sim, dispatcher, {
          ...(options.credentials ? { credentials: options.credentials } : {}),
          tokenCache,
          ...options.atlas,
        }),
        s3,
        nowMs,
        runId: `test-run-${++runs}`,
        ...overrides,
      }),
    storedChecksum: async (key) => {
      const head = await s3.send(
        new HeadObjectCommand({ Bucket: s3server.bucket, Key: key, ChecksumMode: "ENABLED" }),
      );
      return { crc32: head.ChecksumCRC32, type: head.ChecksumType };
    },
    close: async () => {
      s3.destroy();
      await dispatcher.close();
      await sim.close();
      await s3server.close();
    },
  };
}

/**
 * An Atlas client for the simulator, as the tests use it: the default service account, short
 * retry delays; `options` over those.
 */
export function simulatorClient(
  sim: AtlasSimulator,
  dispatcher: Agent,
  options: Partial<CreateAtlasClientOptions> = {},
): ReturnType<typeof createAtlasClient> {
  return createAtlasClient({
    baseUrl: sim.baseUrl,
    apiVersion: "2023-02-01",
    dispatcher,
    credentials: { kind: "service-account", ...DEFAULT_SERVICE_ACCOUNT },
    tokenCache: new TokenCache(),
    retry: { baseDelayMs: 5, maxDelayMs: 20 },
    ...options,
  });
}

/** The text Atlas (the simulator) has for a window, as the decompressed object should read. */
export function expectedText(workspace: Workspace, window: TimeWindow): string {
  const lines = expectedLines({ ...workspace, ...toEpochSeconds(window) });
  return lines.length ? `${lines.join("\n")}\n` : "";
}

/** Base64 of the big-endian CRC32 of `data`, as S3 reports a full-object CRC32 checksum. */
export function crc32Base64Of(data: Buffer): string {
  return crc32ToBase64(crc32(data));
}

/** Decompresses a gzip buffer (every member). */
export async function gunzip(data: Buffer): Promise<string> {
  const gz = createGunzip();
  const out: Buffer[] = [];
  gz.on("data", (c: Buffer) => out.push(c));
  await new Promise<void>((resolve, reject) => {
    gz.on("end", resolve).on("error", reject);
    gz.end(data);
  });
  return Buffer.concat(out).toString("utf8");
}
