/**
 * `verify` against signed, chained digests: an untouched sealed archive verifies clean, and each
 * tampering is detected and named. Each test writes its own archive under its own prefix into
 * one S3 test server, signed by a local P-256 key.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { archiveKey, digestKey, type Workspace } from "../../../lambda/config";
import { type Digest, verifyDigestSignature } from "../../../lambda/digest/format";
import { type SignatureVerifier, type VerifyReport, verifyArchive } from "../../../lambda/reader/verify";
import { type TimeWindow, windowsInRange } from "../../../lambda/windows";
import { BILLING, PROD } from "../../support/archive-fixture";
import {
  copyObject,
  deleteObject,
  type LocalKey,
  localKey,
  logBytes,
  putDigest,
  putLog,
  type SealedArchive,
  swapObjects,
  writeSealedArchive,
} from "../../support/digest-fixture";
import { type S3TestServer, startS3Server } from "../../support/s3-server";

const DAYS = ["2026-11-20", "2026-11-21", "2026-11-22"];
const MINUTES = 360;
const RANGE = { fromMs: Date.parse("2026-11-20T00:00:00Z"), toMs: Date.parse("2026-11-23T00:00:00Z") };
/** Well after the last day left the 72-hour lookback. */
const NOW = Date.parse("2026-11-27T00:00:00Z");
const WINDOW = { minutes: MINUTES, lagMinutes: 15, lookbackHours: 72 };

let s3server: S3TestServer;
let s3: S3Client;
let key: LocalKey;
let verifier: SignatureVerifier;
let n = 0;

beforeAll(async () => {
  s3server = await startS3Server();
  s3 = s3server.client();
  key = localKey();
  verifier = {
    method: "public-key",
    verify: async (bytes, signature) => verifyDigestSignature(bytes, signature, key.publicKeyPem),
  };
});
afterAll(async () => {
  await s3server?.close();
});

/** The windows of a day. */
function windowsOf(date: string): TimeWindow[] {
  const start = Date.parse(`${date}T00:00:00Z`);
  return windowsInRange(start, start + 86_400_000, MINUTES);
}

/** A fresh sealed archive under its own prefix: window 1 of each workspace empty, window 6 missing. */
async function sealed(options: { unsealedDays?: string[]; unreceipted?: boolean } = {}): Promise<{
  prefix: string;
  archive: SealedArchive;
  verify: (overrides?: Partial<Parameters<typeof verifyArchive>[0]>) => Promise<VerifyReport>;
}> {
  const prefix = `t${++n}/`;
  const archive = await writeSealedArchive({
    s3server,
    prefix,
    workspaces: [PROD, BILLING],
    days: DAYS,
    windowMinutes: MINUTES,
    signer: key.signer,
    state: (_w, _window, i) =>
      i === 1 ? "empty" : i === 6 ? "missing" : options.unreceipted && i === 9 ? "unreceipted" : "archived",
    ...(options.unsealedDays ? { unsealedDays: options.unsealedDays } : {}),
  });
  return {
    prefix,
    archive,
    verify: (overrides = {}) =>
      verifyArchive({
        s3,
        location: { bucket: s3server.bucket, prefix },
        range: RANGE,
        signatures: verifier,
        window: WINDOW,
        nowMs: NOW,
        ...overrides,
      }),
  };
}

const problems = (report: VerifyReport) => report.bad.map((b) => [b.problem, b.key]);
const prodKey = (prefix: string, date: string, i: number) =>
  archiveKey(prefix, PROD, windowsOf(date)[i] as TimeWindow);

describe("verify with digests", () => {
  it("verifies an untouched sealed archive clean: every day sealed, every window verified", async () => {
    const { verify } = await sealed();
    const report = await verify();
    expect(report.bad).toEqual([]);
    expect(report).toMatchObject({
      ok: true,
      sealed: true,
      signatures: "public-key",
      checked: 22,
      digests: 6,
      days: { sealed: 6, pending: 0, unsealed: 0 },
    });
    expect(report.workspaces.map((w) => [w.label, w.chain, w.days.length])).toEqual([
      [`${BILLING.groupId}/billing/payments`, "intact", 3],
      [`${PROD.groupId}/prod-workspace`, "intact", 3],
    ]);
    const day = report.workspaces[1]?.days[0];
    expect(day).toMatchObject({
      date: "2026-11-20",
      status: "sealed",
      digest: { sequence: 1, signature: "valid" },
    });
    expect(day?.windows.map((w) => [w.state, w.result])).toEqual([
      ["archived", "verified"],
      ["empty", "verified"],
      ["archived", "verified"],
      ["archived", "verified"],
    ]);
    expect(report.workspaces[1]?.days[1]?.windows[2]).toMatchObject({ state: "missing", result: "verified" });
  });

  it("names an object overwritten with other valid gzip, its original metadata and a correct CRC32", async () => {
    const { prefix, verify } = await sealed();
    const target = prodKey(prefix, "2026-11-21", 1);
    const window = windowsOf("2026-11-21")[1] as TimeWindow;
    await putLog(s3server, target, PROD, window, logBytes(PROD, window, 3, "forged"));
    const report = await verify();
    expect(problems(report)).toEqual([["SHA256_MISMATCH", target]]);
    expect(report.bad[0]?.reason).toContain("it was overwritten");
    const day = report.workspaces[1]?.days[1];
    expect(day?.windows[1]).toMatchObject({ result: "failed", problems: ["SHA256_MISMATCH"] });
  });

  it("names an object deleted", async () => {
    const { prefix, verify } = await sealed();
    const target = prodKey(prefix, "2026-11-22", 3);
    await deleteObject(s3server, target);
    expect(problems(await verify())).toEqual([["OBJECT_DELETED", target]]);
  });

  it("names an object added that no digest lists, and one where the digest sealed a missing window", async () => {
    const { prefix, verify } = await sealed();
    // A window of another length, inside a sealed day.
    const odd = { startMs: Date.parse("2026-11-20T01:00:00Z"), endMs: Date.parse("2026-11-20T02:00:00Z") };
    const added = archiveKey(prefix, PROD, odd);
    await putLog(s3server, added, PROD, odd, logBytes(PROD, odd, 2));
    // Window 6 of PROD (the 21st's third) was sealed missing.
    const missing = windowsOf("2026-11-21")[2] as TimeWindow;
    const late = archiveKey(prefix, PROD, missing);
    await putLog(s3server, late, PROD, missing, logBytes(PROD, missing, 2));
    expect(problems(await verify()).sort()).toEqual(
      [
        ["OBJECT_UNLISTED", added],
        ["OBJECT_UNEXPECTED", late],
      ].sort(),
    );
  });

  it("names a digest deleted: the day is unsealed and the chain breaks at the next", async () => {
    const { prefix, verify } = await sealed();
    const deleted = digestKey(prefix, PROD, "2026-11-21");
    await deleteObject(s3server, deleted);
    const report = await verify();
    expect(problems(report)).toEqual([
      ["UNSEALED", deleted],
      ["CHAIN_BROKEN", digestKey(prefix, PROD, "2026-11-22")],
    ]);
    expect(report.bad[1]?.reason).toContain("that digest was deleted");
    expect(report.workspaces[1]?.chain).toBe("broken");
    expect(report.workspaces[1]?.days[1]).toMatchObject({ status: "unsealed", digest: null });
  });

  it("names the first digest deleted, when the range starts after it, and the last one", async () => {
    const { prefix, verify } = await sealed();
    await deleteObject(s3server, digestKey(prefix, PROD, "2026-11-20"));
    await deleteObject(s3server, digestKey(prefix, PROD, "2026-11-22"));
    const range = { fromMs: Date.parse("2026-11-21T00:00:00Z"), toMs: RANGE.toMs };
    expect(problems(await verify({ range }))).toEqual([
      ["CHAIN_BROKEN", digestKey(prefix, PROD, "2026-11-21")],
      ["UNSEALED", digestKey(prefix, PROD, "2026-11-22")],
    ]);
  });

  it("names a digest replaced by one signed with another key", async () => {
    const { prefix, archive, verify } = await sealed();
    const replaced = digestKey(prefix, PROD, "2026-11-21");
    const original = archive.digests.get(replaced)?.digest as Digest;
    const other = localKey();
    await putDigest(s3server, replaced, { ...original, sealedAt: "2026-11-22T01:00:00Z" }, other.signer);
    const report = await verify();
    expect(problems(report)).toEqual([
      ["SIGNATURE_INVALID", replaced],
      ["CHAIN_BROKEN", digestKey(prefix, PROD, "2026-11-22")],
    ]);
    expect(report.workspaces[1]?.days[1]?.digest).toMatchObject({
      signature: "invalid",
      problems: ["SIGNATURE_INVALID"],
    });
  });

  it("names a digest whose window list was edited: its signature fails, the window is unaccounted", async () => {
    const { prefix, archive, verify } = await sealed();
    const edited = digestKey(prefix, PROD, "2026-11-20");
    const written = archive.digests.get(edited);
    const body = written?.digest as Digest;
    // Drop its last window (and the object with it) as someone hiding a window would.
    const dropped = body.windows[3]?.key as string;
    const { serializeDigest } = await import("../../../lambda/digest/format");
    await s3server.putObject(edited, serializeDigest({ ...body, windows: body.windows.slice(0, 3) }), {
      signature: written?.signature as string,
    });
    await deleteObject(s3server, dropped);
    expect(problems(await verify())).toEqual([
      ["SIGNATURE_INVALID", edited],
      ["CHAIN_BROKEN", digestKey(prefix, PROD, "2026-11-21")],
      ["WINDOW_UNACCOUNTED", dropped],
    ]);
  });

  it("names two digests swapped", async () => {
    const { prefix, verify } = await sealed();
    const [a, b] = [digestKey(prefix, PROD, "2026-11-20"), digestKey(prefix, PROD, "2026-11-21")];
    await swapObjects(s3server, a, b);
    const found = problems(await verify());
    expect(found).toEqual(
      expect.arrayContaining([
        ["DIGEST_MISPLACED", a],
        ["DIGEST_MISPLACED", b],
        ["CHAIN_BROKEN", b],
      ]),
    );
    expect(found.every(([, k]) => k === a || k === b || k === digestKey(prefix, PROD, "2026-11-22"))).toBe(
      true,
    );
  });

  it("names a digest copied over another day's key", async () => {
    const { prefix, verify } = await sealed();
    const [a, b] = [digestKey(prefix, PROD, "2026-11-21"), digestKey(prefix, PROD, "2026-11-22")];
    await copyObject(s3server, a, b);
    expect(problems(await verify())).toEqual(
      expect.arrayContaining([
        ["DIGEST_MISPLACED", b],
        ["CHAIN_BROKEN", b],
      ]),
    );
  });

  it("names a digest without its signature, and a key under the digests folder that is no digest's", async () => {
    const { prefix, archive, verify } = await sealed();
    const target = digestKey(prefix, BILLING, "2026-11-20");
    await s3server.putObject(target, archive.digests.get(target)?.bytes as Buffer, {});
    const stray = `${prefix}_digests/group=${PROD.groupId}/tenant=prod-workspace/workspace=prod-workspace/notes.txt`;
    await s3server.putObject(stray, "hello");
    expect(problems(await verify())).toEqual([
      ["SIGNATURE_MISSING", target],
      // The next digest sealed the signature that is gone.
      ["CHAIN_BROKEN", digestKey(prefix, BILLING, "2026-11-21")],
      ["DIGEST_KEY_UNPARSABLE", stray],
    ]);
  });

  it("reads no further than a digest can be: a 9 MiB object at a digest key is named, not buffered", async () => {
    const { prefix, verify } = await sealed();
    const target = digestKey(prefix, PROD, "2026-11-21");
    await s3server.putObject(target, Buffer.alloc(9 * 1024 * 1024, 0x20), { signature: "c2ln" });
    const report = await verify();
    expect(problems(report)).toEqual(
      expect.arrayContaining([
        ["DIGEST_INVALID", target],
        ["CHAIN_BROKEN", digestKey(prefix, PROD, "2026-11-22")],
      ]),
    );
    expect(report.bad.find((b) => b.key === target)?.reason).toContain("larger than 8388608 bytes");
  });

  it("reports a sealed unreceipted window as unproven", async () => {
    const { prefix, verify } = await sealed({ unreceipted: true });
    const report = await verify();
    const target = prodKey(prefix, "2026-11-22", 1);
    const billing = archiveKey(prefix, BILLING, windowsOf("2026-11-22")[1] as TimeWindow);
    expect(problems(report)).toEqual([
      ["UNPROVEN", billing],
      ["UNPROVEN", target],
    ]);
    expect(report.workspaces[1]?.days[2]?.windows[1]).toMatchObject({
      state: "unreceipted",
      result: "unproven",
    });
  });

  it("without a key, checks everything but the signatures and says so", async () => {
    const { prefix, verify } = await sealed();
    const report = await verify({ signatures: undefined });
    expect(problems(report)).toEqual([["SIGNATURE_UNCHECKED", `${prefix}_digests/`]]);
    expect(report.workspaces[0]?.days[0]?.digest?.signature).toBe("unchecked");
  });

  it("reports the days after the last digest: unsealed once due, pending while the sealer may wait", async () => {
    const { prefix, verify } = await sealed({ unsealedDays: ["2026-11-23", "2026-11-24"] });
    const range = { fromMs: RANGE.fromMs, toMs: Date.parse("2026-11-25T00:00:00Z") };
    // On the 25th at 01:00 the 24th (missing window 6 of its workspace? no: complete) is due.
    const now = Date.parse("2026-11-25T01:00:00Z");
    const report = await verify({ range, nowMs: now });
    const prod = report.workspaces[1];
    expect(prod?.days.map((d) => [d.date, d.status])).toEqual([
      ["2026-11-20", "sealed"],
      ["2026-11-21", "sealed"],
      ["2026-11-22", "sealed"],
      ["2026-11-23", "unsealed"],
      ["2026-11-24", "unsealed"],
    ]);
    expect(problems(report)).toContainEqual(["UNSEALED", digestKey(prefix, PROD, "2026-11-23")]);
    // Before the 24th's last window is due, it is pending.
    const early = await verify({ range, nowMs: Date.parse("2026-11-25T00:10:00Z") });
    expect(early.workspaces[1]?.days[4]?.status).toBe("pending");
    expect(problems(early)).not.toContainEqual(["UNSEALED", digestKey(prefix, PROD, "2026-11-24")]);
  });
});

describe("verify on an archive from before digests", () => {
  async function unsealed(): Promise<string> {
    const prefix = `legacy${++n}/`;
    for (const workspace of [PROD] as Workspace[]) {
      for (const window of windowsOf("2026-11-20")) {
        await putLog(
          s3server,
          archiveKey(prefix, workspace, window),
          workspace,
          window,
          logBytes(workspace, window, 2),
        );
      }
    }
    return prefix;
  }

  it("checks as before, passes, and says which days are unsealed", async () => {
    const prefix = await unsealed();
    const report = await verifyArchive({
      s3,
      location: { bucket: s3server.bucket, prefix },
      window: WINDOW,
      nowMs: NOW,
    });
    expect(report).toMatchObject({ ok: true, sealed: false, signatures: "none", checked: 4, digests: 0 });
    expect(report.workspaces[0]?.days[0]).toMatchObject({
      date: "2026-11-20",
      status: "unsealed",
      digest: null,
    });
    expect(report.workspaces[0]?.days[0]?.windows.map((w) => w.result)).toEqual([
      "intact",
      "intact",
      "intact",
      "intact",
    ]);
    // Up to today: the days after the last object too, pending while inside the lookback.
    expect(report.days).toEqual({ sealed: 0, unsealed: 4, pending: 4 });
  });

  it("fails with a key given: every unsealed day is a problem", async () => {
    const prefix = await unsealed();
    const report = await verifyArchive({
      s3,
      location: { bucket: s3server.bucket, prefix },
      range: { fromMs: RANGE.fromMs, toMs: Date.parse("2026-11-21T00:00:00Z") },
      signatures: verifier,
      window: WINDOW,
      nowMs: NOW,
    });
    expect(problems(report)).toEqual([["UNSEALED", digestKey(prefix, PROD, "2026-11-20")]]);
  });
});
