import { generateKeyPairSync, sign } from "node:crypto";
import { gzipSync } from "node:zlib";
import { DeleteObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type ArchiverConfig,
  archiveKey,
  digestKey,
  receiptKey,
  type Workspace,
} from "../../../lambda/config";
import {
  type Digest,
  type DigestSigner,
  SIGNATURE_METADATA,
  sha256Hex,
  verifyDigestSignature,
} from "../../../lambda/digest/format";
import { buildReceipt, serializeReceipt } from "../../../lambda/digest/receipt";
import {
  type SealEvent,
  type SealRequest,
  sealDates,
  sealDigests,
  windowsOfDay,
} from "../../../lambda/digest/seal";
import { formatWindow, type TimeWindow } from "../../../lambda/windows";
import { PROD, testConfig } from "../../support/archive-fixture";
import { type S3TestServer, startS3Server } from "../../support/s3-server";

const PREFIX = "atlas/stream-audit/";
/** Four windows a day: small days, every rule the same as hourly ones. */
const WINDOW = { minutes: 360, lagMinutes: 15, lookbackHours: 48 };
const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const PUBLIC_PEM = publicKey.export({ format: "pem", type: "spki" }).toString();
const SIGNER: DigestSigner = {
  keyId: "arn:aws:kms:us-east-1:111122223333:key/local",
  sign: async (message) => sign("sha256", message, { key: privateKey, dsaEncoding: "der" }),
};

let server: S3TestServer;
let s3: S3Client;
let config: ArchiverConfig;
beforeEach(async () => {
  server = await startS3Server();
  s3 = server.client({ maxAttempts: 1 });
  config = testConfig("https://cloud.mongodb.com", { workspaces: [PROD], window: WINDOW });
});
afterEach(async () => {
  await server?.close();
});

/** Stores a window's log as the archiver would (`lines` 0: the empty gzip), with its receipt unless told not to. */
async function archive(window: TimeWindow, lines: number, receipt = true): Promise<void> {
  const key = archiveKey(PREFIX, PROD, window);
  const body = gzipSync(Buffer.from("{}\n".repeat(lines)));
  await server.putObject(key, body);
  if (!receipt) return;
  const r = buildReceipt({
    key,
    window,
    digest: { bytes: body.length, sha256: sha256Hex(body), crc32: 0, lines },
    archivedAtMs: window.endMs + 20 * 60_000,
    runId: "seed",
  });
  await server.putObject(receiptKey(PREFIX, PROD, window), serializeReceipt(r));
}

async function archiveDay(date: string, lines = [2, 0, 5, 1]): Promise<void> {
  for (const [i, w] of windowsOfDay(date, WINDOW.minutes).entries()) await archive(w, lines[i] ?? 1);
}

async function seal(nowMs: number, dates = sealDates(config.window, nowMs)): Promise<SealEvent[]> {
  const events: SealEvent[] = [];
  const request: SealRequest = {
    config,
    bucket: server.bucket,
    s3,
    signer: SIGNER,
    nowMs,
    dates,
    onEvent: (e) => events.push(e),
  };
  await sealDigests(request);
  return events;
}

async function digestOf(
  ws: Workspace,
  date: string,
): Promise<{ bytes: Buffer; digest: Digest; signature: string }> {
  const stored = await server.getObject(digestKey(PREFIX, ws, date));
  return {
    bytes: stored.body,
    digest: JSON.parse(stored.body.toString()) as Digest,
    signature: stored.metadata[SIGNATURE_METADATA] as string,
  };
}

const sealed = (events: SealEvent[]) =>
  events.flatMap((e) => (e.type === "sealed" ? [[e.date, e.sequence, e.previous] as const] : []));

describe("sealing a workspace's days", () => {
  it("seals a complete day once, each window's state right, chained to the previous day and verifiable offline", async () => {
    await archiveDay("2026-11-25");
    const [w0, w1, w2, w3] = windowsOfDay("2026-11-26", WINDOW.minutes) as TimeWindow[];
    await archive(w0 as TimeWindow, 3);
    await archive(w1 as TimeWindow, 0);
    await archive(w2 as TimeWindow, 4, false); // stored, its receipt never written
    await archive(w3 as TimeWindow, 1);
    const now = Date.parse("2026-11-27T00:20:00Z");
    server.clearOperations();
    const events = await seal(now);
    expect(sealed(events)).toEqual([
      ["2026-11-25", 1, null],
      ["2026-11-26", 2, digestKey(PREFIX, PROD, "2026-11-25")],
    ]);
    // The day before the lookback's has no object and no digest before it: no chain to start there.
    expect(events.find((e) => e.type === "skipped")).toMatchObject({ date: "2026-11-24" });

    const first = await digestOf(PROD, "2026-11-25");
    const second = await digestOf(PROD, "2026-11-26");
    expect(second.digest).toMatchObject({
      v: 1,
      workspace: { groupId: PROD.groupId, tenantName: PROD.tenantName },
      date: "2026-11-26",
      sequence: 2,
      windowMinutes: 360,
      signing: { keyId: SIGNER.keyId, algorithm: "ECDSA_SHA_256" },
      previous: {
        key: digestKey(PREFIX, PROD, "2026-11-25"),
        sha256: sha256Hex(first.bytes),
        signature: first.signature,
      },
    });
    expect(second.digest.windows.map((w) => [w.window, w.state])).toEqual([
      [formatWindow(w0 as TimeWindow), "archived"],
      [formatWindow(w1 as TimeWindow), "empty"],
      [formatWindow(w2 as TimeWindow), "unreceipted"],
      [formatWindow(w3 as TimeWindow), "archived"],
    ]);
    const log = await server.getObject(archiveKey(PREFIX, PROD, w0 as TimeWindow));
    expect(second.digest.windows[0]).toMatchObject({
      bytes: log.contentLength,
      sha256: sha256Hex(log.body),
      lines: 3,
    });
    expect(second.digest.windows[2]?.reason).toMatch(/without a receipt/);
    for (const d of [first, second]) {
      expect(verifyDigestSignature(d.bytes, Buffer.from(d.signature, "base64"), PUBLIC_PEM)).toBe(true);
    }
    expect(first.digest.previous).toBeNull();
    const stored = await server.getObject(digestKey(PREFIX, PROD, "2026-11-26"));
    expect(stored.contentType).toBe("application/json");
    expect(stored.checksum).toBeDefined();
    // Per day: a HEAD, a LIST of its receipts, a GET of each, the PUT; for the pass, one LIST of the
    // archive and, as no digest was known before its first day, one of the workspace's digests.
    const count = (op: string) => server.operations.filter((o) => o.op === op).length;
    expect([count("HeadObject"), count("ListObjectsV2"), count("GetObject"), count("PutObject")]).toEqual([
      3, 4, 7, 2,
    ]);

    // A second sealer: both days sealed already, nothing written.
    server.clearOperations();
    const again = await seal(now);
    expect(sealed(again)).toEqual([]);
    expect(again.filter((e) => e.type === "already-sealed")).toHaveLength(2);
    expect(server.operationsOf("PutObject")).toEqual([]);
    // One that missed the first's digest (its HEAD answered 404): its write gets 412 and changes nothing.
    server.inject({
      op: "HeadObject",
      status: 404,
      code: "NotFound",
      keyPrefix: digestKey(PREFIX, PROD, "2026-11-26"),
      times: 1,
    });
    const raced = await seal(now);
    expect(sealed(raced)).toEqual([]);
    expect(server.operationsOf("PutObject").map((o) => o.status)).toEqual([412]);
    expect((await digestOf(PROD, "2026-11-26")).bytes.equals(second.bytes)).toBe(true);
  });

  it("waits for an incomplete day inside the lookback, blocking the later days, and seals it with its missing window once it left", async () => {
    await archiveDay("2026-11-25");
    const day = windowsOfDay("2026-11-26", WINDOW.minutes);
    for (const [i, w] of day.entries()) if (i !== 1) await archive(w, 2);
    await archiveDay("2026-11-27");
    const first = await seal(Date.parse("2026-11-28T00:20:00Z"));
    expect(sealed(first)).toEqual([["2026-11-25", 1, null]]);
    expect(first.find((e) => e.type === "waiting")).toMatchObject({
      date: "2026-11-26",
      reason: expect.stringContaining("1 of its 4 windows are not archived yet"),
    });
    expect(first.some((e) => "date" in e && e.date === "2026-11-27" && e.type !== "waiting")).toBe(false);

    // Its last window (18:00) left the 48-hour lookback: sealed with the window that never came.
    const later = await seal(Date.parse("2026-11-28T20:00:00Z"));
    expect(sealed(later)).toEqual([
      ["2026-11-26", 2, digestKey(PREFIX, PROD, "2026-11-25")],
      ["2026-11-27", 3, digestKey(PREFIX, PROD, "2026-11-26")],
    ]);
    const { digest } = await digestOf(PROD, "2026-11-26");
    expect(digest.windows.map((w) => w.state)).toEqual(["archived", "missing", "archived", "archived"]);
    expect(digest.windows[1]?.reason).toMatch(/not archived before the day left the lookback/);
  });

  it("links past a deleted digest to the latest earlier one, and never seals a day older than a digest", async () => {
    await archiveDay("2026-11-24");
    await archiveDay("2026-11-25");
    await archiveDay("2026-11-26");
    expect(sealed(await seal(Date.parse("2026-11-26T12:00:00Z"), ["2026-11-24", "2026-11-25"]))).toHaveLength(
      2,
    );
    await s3.send(
      new DeleteObjectCommand({ Bucket: server.bucket, Key: digestKey(PREFIX, PROD, "2026-11-25") }),
    );
    const events = await seal(Date.parse("2026-11-28T12:00:00Z"), ["2026-11-26"]);
    expect(sealed(events)).toEqual([["2026-11-26", 2, digestKey(PREFIX, PROD, "2026-11-24")]]);
    const { digest } = await digestOf(PROD, "2026-11-26");
    const previous = await digestOf(PROD, "2026-11-24");
    expect(digest.previous).toEqual({
      key: digestKey(PREFIX, PROD, "2026-11-24"),
      sha256: sha256Hex(previous.bytes),
      signature: previous.signature,
    });
    // The deleted day again (a range sealed late): a later digest exists, so it would fork the chain.
    const late = await seal(Date.parse("2026-11-28T12:00:00Z"), ["2026-11-25"]);
    expect(late).toEqual([
      expect.objectContaining({
        type: "skipped",
        date: "2026-11-25",
        reason: expect.stringContaining("2026-11-26"),
      }),
    ]);
  });

  it("will not chain to a 9 MiB object at the previous day's key: reads no further than a digest can be", async () => {
    await archiveDay("2026-11-24");
    await archiveDay("2026-11-25");
    await server.putObject(digestKey(PREFIX, PROD, "2026-11-24"), Buffer.alloc(9 * 1024 * 1024, 0x20), {
      signature: "c2ln",
    });
    const events = await seal(Date.parse("2026-11-26T12:00:00Z"), ["2026-11-25"]);
    expect(sealed(events)).toEqual([]);
    expect(events).toEqual([
      expect.objectContaining({
        type: "failed",
        code: "DIGEST_CHAIN_BROKEN",
        message: expect.stringContaining("is larger than 8388608 bytes"),
      }),
    ]);
  });

  it("stops a workspace's days at a failure, naming the key, and seals them on the next pass", async () => {
    await archiveDay("2026-11-25");
    await archiveDay("2026-11-26");
    server.inject({ op: "PutObject", status: 500, code: "InternalError", times: 10 });
    const failed = await seal(Date.parse("2026-11-27T00:20:00Z"), ["2026-11-25", "2026-11-26"]);
    expect(failed.filter((e) => e.type === "failed")).toEqual([
      expect.objectContaining({
        date: "2026-11-25",
        code: "S3_REQUEST_FAILED",
        key: digestKey(PREFIX, PROD, "2026-11-25"),
      }),
    ]);
    expect(sealed(failed)).toEqual([]);
    server.clearFaults();
    expect(sealed(await seal(Date.parse("2026-11-27T00:20:00Z"), ["2026-11-25", "2026-11-26"]))).toHaveLength(
      2,
    );
  });
});
