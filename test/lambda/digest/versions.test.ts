import { generateKeyPairSync, sign } from "node:crypto";
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketVersioningCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Agent } from "undici";
import { afterAll, beforeAll, expect, it } from "vitest";
import { archiveRun } from "../../../lambda/archive/run";
import { archiveKey, digestKey, receiptKey } from "../../../lambda/config";
import type { Digest, DigestSigner, Receipt } from "../../../lambda/digest/format";
import { sealDigests, windowsOfDay } from "../../../lambda/digest/seal";
import { PROD, simulatorClient, testConfig } from "../../support/archive-fixture";
import { type AtlasSimulator, startAtlasSimulator } from "../../support/atlas-simulator";
import { largeGzip } from "../../support/large-gzip";
import { describeWithMoto, type MotoServer, startMoto } from "../../support/moto";

const PREFIX = "atlas/stream-audit/";
const MB = 1024 * 1024;
const BUCKET = "versioned-archive";
/** Four windows a day, and a day long over, so the day seals at once. */
const WINDOW = { minutes: 360, lagMinutes: 15, lookbackHours: 48 };
const DATE = "2026-11-26";
const NOW = Date.parse("2026-11-28T01:00:00Z");
const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const SIGNER: DigestSigner = {
  keyId: "arn:aws:kms:us-east-1:111122223333:key/local",
  sign: async (message) => sign("sha256", message, { key: privateKey, dsaEncoding: "der" }),
};

async function readText(s3: S3Client, key: string): Promise<string> {
  const { Body } = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return (await Body?.transformToString()) ?? "";
}

describeWithMoto("S3 version ids in a versioned bucket (moto)", () => {
  let moto: MotoServer;
  let sim: AtlasSimulator;
  let s3: S3Client;
  let dispatcher: Agent;
  beforeAll(async () => {
    [moto, sim] = await Promise.all([startMoto(), startAtlasSimulator()]);
    s3 = new S3Client({
      endpoint: moto.endpoint,
      region: moto.region,
      credentials: moto.credentials,
      forcePathStyle: true,
    });
    dispatcher = new Agent({ connect: { timeout: 2_000 } });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: BUCKET, VersioningConfiguration: { Status: "Enabled" } }),
    );
  });
  afterAll(async () => {
    s3?.destroy();
    await dispatcher?.close();
    await Promise.all([sim?.close(), moto?.close()]);
  });

  it("are measured at the write, kept in each receipt, and sealed into the day's digest", async () => {
    const config = testConfig(sim.baseUrl, { workspaces: [PROD], window: WINDOW });
    const windows = windowsOfDay(DATE, WINDOW.minutes);
    const summary = await archiveRun({
      config,
      bucket: BUCKET,
      atlas: simulatorClient(sim, dispatcher),
      s3,
      nowMs: NOW,
      range: { fromMs: windows[0]?.startMs ?? 0, toMs: windows.at(-1)?.endMs ?? 0 },
      runId: "versions",
    });
    expect(summary.totals.archived).toBe(windows.length);

    const versions: string[] = [];
    for (const window of windows) {
      const head = await s3.send(
        new HeadObjectCommand({ Bucket: BUCKET, Key: archiveKey(PREFIX, PROD, window) }),
      );
      expect(head.VersionId).toMatch(/\S/);
      expect(head.VersionId).not.toBe("null");
      versions.push(head.VersionId as string);
      const receipt = JSON.parse(await readText(s3, receiptKey(PREFIX, PROD, window))) as Receipt;
      expect(receipt.versionId).toBe(head.VersionId);
    }

    await sealDigests({ config, bucket: BUCKET, s3, signer: SIGNER, nowMs: NOW, dates: [DATE] });
    const digest = JSON.parse(await readText(s3, digestKey(PREFIX, PROD, DATE))) as Digest;
    expect(digest.windows.map((w) => w.versionId)).toEqual(versions);
  });

  it("of a log stored in parts are read back after the Complete and kept in its receipt", async () => {
    // A log above the part size takes the multipart path, whose Complete answers no version id
    // the code relies on: the version comes from the HeadObject that verifies the stored CRC32.
    const big = await startAtlasSimulator({ body: () => largeGzip(6 * MB, 11).stream });
    try {
      const workspace = { groupId: PROD.groupId, tenantName: "busy" };
      const config = testConfig(big.baseUrl, { workspaces: [workspace], window: WINDOW });
      const [window] = windowsOfDay(DATE, WINDOW.minutes);
      if (window === undefined) throw new Error("no window");
      const summary = await archiveRun({
        config,
        bucket: BUCKET,
        atlas: simulatorClient(big, dispatcher),
        s3,
        nowMs: NOW,
        range: { fromMs: window.startMs, toMs: window.endMs },
        runId: "versions-multipart",
        settings: { upload: { partSizeBytes: 5 * MB, queueSize: 2 } },
      });
      expect(summary.totals.archived).toBe(1);
      const key = archiveKey(PREFIX, workspace, window);
      const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      // Two parts: S3 names a multipart object's ETag with its part count.
      expect(head.ETag).toMatch(/-2"$/);
      expect(head.VersionId).toMatch(/\S/);
      expect(head.VersionId).not.toBe("null");
      const receipt = JSON.parse(await readText(s3, receiptKey(PREFIX, workspace, window))) as Receipt;
      expect(receipt.versionId).toBe(head.VersionId);
    } finally {
      await big.close();
    }
  });
});
