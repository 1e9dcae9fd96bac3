/**
 * A sealed archive for `verify`'s tests, written straight into the S3 test server: each window's
 * log (small gzip, the archiver's metadata, S3's full-object CRC32), its receipt, and one signed
 * digest per workspace and UTC day in the format of `lambda/digest/format.ts`, chained in date
 * order, signed by a local P-256 key (or any {@link DigestSigner}, e.g. KMS on moto). Plus the
 * tampering the tests play: overwrite, delete, add, swap.
 */
import { generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { crc32, gzipSync } from "node:zlib";
import { DeleteObjectCommand } from "@aws-sdk/client-s3";
import { crc32Base64 } from "../../lambda/bucket/checksum";
import { archiveKey, digestKey, objectMetadata, receiptKey, type Workspace } from "../../lambda/config";
import {
  type Digest,
  type DigestLink,
  type DigestSigner,
  type DigestWindow,
  digestWorkspace,
  type Receipt,
  SIGNATURE_METADATA,
  serializeDigest,
  sha256Hex,
  signedMessage,
  type WindowState,
} from "../../lambda/digest/format";
import { formatInstant, formatWindow, type TimeWindow, windowsInRange } from "../../lambda/windows";
import type { S3TestServer } from "./s3-server";

/** A signer on a local P-256 key, and its public key in PEM. */
export interface LocalKey {
  readonly signer: DigestSigner;
  readonly publicKeyPem: string;
  readonly privateKey: KeyObject;
}

/** A fresh local P-256 key that signs as KMS's `ECDSA_SHA_256` does (DER, over the 32-byte message). */
export function localKey(
  keyId = "arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555",
): LocalKey {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return {
    privateKey,
    publicKeyPem: publicKey.export({ format: "pem", type: "spki" }).toString(),
    signer: {
      keyId,
      sign: async (message) => sign("sha256", message, { key: privateKey, dsaEncoding: "der" }),
    },
  };
}

/** The gzip bytes of a window's log: a few JSON lines naming it (`lines` 0: Atlas's empty gzip). */
export function logBytes(workspace: Workspace, window: TimeWindow, lines: number, salt = ""): Buffer {
  const text = Array.from(
    { length: lines },
    (_, i) =>
      `${JSON.stringify({ t: formatInstant(window.startMs + i * 1000), tenant: workspace.tenantName, i, salt })}\n`,
  ).join("");
  return gzipSync(Buffer.from(text));
}

/** Stores an object as the archiver does: its metadata and S3's full-object CRC32 of its bytes. */
export async function putLog(
  s3server: S3TestServer,
  key: string,
  workspace: Workspace,
  window: TimeWindow,
  body: Buffer,
): Promise<void> {
  await s3server.putObject(
    key,
    body,
    objectMetadata({ workspace, window, apiVersion: "2025-03-12", runId: "fixture" }),
    undefined,
    { algorithm: "crc32", value: crc32Base64(crc32(body)) },
  );
}

/** What {@link writeSealedArchive} writes. */
export interface SealedArchiveOptions {
  readonly s3server: S3TestServer;
  readonly prefix: string;
  readonly workspaces: readonly Workspace[];
  /** The UTC days to archive and seal, in date order. */
  readonly days: readonly string[];
  readonly windowMinutes: number;
  readonly signer: DigestSigner;
  /** Each window's state (default: `archived`, with 3 lines). */
  readonly state?: (workspace: Workspace, window: TimeWindow, index: number) => WindowState;
  /** Days archived but not sealed, after the sealed ones (their objects only). */
  readonly unsealedDays?: readonly string[];
}

/** One digest as written. */
export interface WrittenDigest {
  readonly key: string;
  readonly digest: Digest;
  readonly bytes: Buffer;
  /** Base64 DER. */
  readonly signature: string;
}

/** What was written: the digests of each workspace (by label-free index), and every log's key. */
export interface SealedArchive {
  readonly digests: Map<string, WrittenDigest>;
  readonly logs: string[];
}

/** Signs `digest` and writes it at its key with the signature in its metadata. */
export async function putDigest(
  s3server: S3TestServer,
  key: string,
  digest: Digest,
  signer: DigestSigner,
): Promise<WrittenDigest> {
  const bytes = serializeDigest(digest);
  const signature = Buffer.from(await signer.sign(signedMessage(bytes))).toString("base64");
  await s3server.putObject(key, bytes, { [SIGNATURE_METADATA]: signature });
  return { key, digest, bytes, signature };
}

/**
 * Writes the logs, receipts and chained, signed digests of `days` for every workspace (and the
 * logs of `unsealedDays`, without digests).
 */
export async function writeSealedArchive(options: SealedArchiveOptions): Promise<SealedArchive> {
  const { s3server, prefix, windowMinutes, signer } = options;
  const digests = new Map<string, WrittenDigest>();
  const logs: string[] = [];
  const dayWindows = (date: string) => {
    const startMs = Date.parse(`${date}T00:00:00Z`);
    return windowsInRange(startMs, startMs + 86_400_000, windowMinutes);
  };
  for (const workspace of options.workspaces) {
    let previous: DigestLink | null = null;
    let sequence = 0;
    let index = 0;
    for (const date of [...options.days, ...(options.unsealedDays ?? [])]) {
      const sealing = options.days.includes(date);
      const windows: DigestWindow[] = [];
      for (const window of dayWindows(date)) {
        const state = options.state?.(workspace, window, index++) ?? "archived";
        const key = archiveKey(prefix, workspace, window);
        const base = { window: formatWindow(window), key };
        if (state === "missing") {
          windows.push({
            ...base,
            state,
            reason: "Atlas answered 500 until the day left the lookback (72 h)",
          });
          continue;
        }
        const lines = state === "empty" ? 0 : 3;
        const body = logBytes(workspace, window, lines);
        await putLog(s3server, key, workspace, window, body);
        logs.push(key);
        const measured = {
          bytes: body.length,
          sha256: sha256Hex(body),
          crc32: crc32Base64(crc32(body)),
          lines,
        };
        if (state === "unreceipted") {
          windows.push({ ...base, state, reason: "the writer stopped between the log and its receipt" });
          continue;
        }
        const receipt: Receipt = {
          v: 1,
          key,
          window: base.window,
          ...measured,
          archivedAt: formatInstant(window.endMs + 20 * 60_000),
          runId: "fixture",
        };
        await s3server.putObject(receiptKey(prefix, workspace, window), JSON.stringify(receipt));
        windows.push({ ...base, state, ...measured });
      }
      if (!sealing) continue;
      const digest: Digest = {
        v: 1,
        workspace: digestWorkspace(workspace),
        date,
        sequence: ++sequence,
        sealedAt: formatInstant(Date.parse(`${date}T00:00:00Z`) + 86_400_000 + 20 * 60_000),
        windowMinutes,
        windows,
        previous,
        signing: { keyId: signer.keyId, algorithm: "ECDSA_SHA_256" },
      };
      const key = digestKey(prefix, workspace, date);
      const written = await putDigest(s3server, key, digest, signer);
      digests.set(key, written);
      previous = { key, sha256: sha256Hex(written.bytes), signature: written.signature };
    }
  }
  return { digests, logs };
}

/** Deletes an object through the S3 API. */
export async function deleteObject(s3server: S3TestServer, key: string): Promise<void> {
  await s3server.client().send(new DeleteObjectCommand({ Bucket: s3server.bucket, Key: key }));
}

/** Copies an object (bytes, metadata, checksum) to another key. */
export async function copyObject(s3server: S3TestServer, from: string, to: string): Promise<void> {
  const o = await s3server.getObject(from);
  await s3server.putObject(to, o.body, o.metadata, undefined, o.checksum);
}

/** Swaps two objects (bytes, metadata, checksum). */
export async function swapObjects(s3server: S3TestServer, a: string, b: string): Promise<void> {
  const oa = await s3server.getObject(a);
  const ob = await s3server.getObject(b);
  await s3server.putObject(a, ob.body, ob.metadata, undefined, ob.checksum);
  await s3server.putObject(b, oa.body, oa.metadata, undefined, oa.checksum);
}
