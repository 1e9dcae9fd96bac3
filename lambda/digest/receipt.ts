/**
 * Receipts: what the writer of a window measured in flight (bytes, SHA-256, CRC32, lines), written
 * right after its log is stored and verified, at `receiptKey` beside the archive, with a
 * conditional write. The sealer reads them back into the day's digest. A receipt lives in the
 * bucket, so it survives the worker that wrote it, and needs no state store: many workers write
 * theirs at once without coordination, one object per window.
 *
 * A receipt that cannot be written does not fail its window: the log is archived and verified,
 * and failing the window would only have the queue retry a download whose object is already
 * there (its retry ends at the HEAD and writes nothing either). The failure is logged and counted
 * (`DigestFailures`); the window is `unreceipted` in its day's digest, which says so.
 */

import { crc32 } from "node:zlib";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { crc32Base64 } from "../bucket/checksum";
import { isPreconditionFailed, storageError } from "../bucket/errors";
import { listPages } from "../bucket/list";
import { withConflictRetries } from "../bucket/multipart";
import { readSmallObject } from "../bucket/objects";
import { archiveKey, receiptKey, receiptsPrefix, type Workspace } from "../config";
import { ArchiverError } from "../errors";
import { forEachLimited } from "../pool";
import { formatInstant, formatWindow, type TimeWindow } from "../windows";
import { DIGEST_FORMAT_VERSION, MAX_RECEIPT_BYTES, type Receipt } from "./format";

/** The content type of receipts and digests. */
export const JSON_CONTENT_TYPE = "application/json";

/** Receipts read at once while a day is sealed. */
const READERS = 8;

/** A receipt could not be written or read (transient: the next run, or the next sealing, tries again). */
export class ReceiptError extends ArchiverError<{
  readonly key: string;
  readonly workspace?: string;
  readonly window?: string;
}> {
  constructor(
    message: string,
    options: {
      readonly key: string;
      readonly workspace?: string;
      readonly window?: string;
      readonly cause?: unknown;
    },
  ) {
    super("DIGEST_RECEIPT_FAILED", message, { ...options, kind: "transient" });
  }
}

/** What a receipt records, as the writer knows it after a verified store. */
export interface ReceiptInput {
  /** The log's key. */
  readonly key: string;
  readonly window: TimeWindow;
  /** What the inspector measured in flight (`LogDigest` of `archive/inspect.ts`). */
  readonly digest: {
    readonly bytes: number;
    readonly sha256: string;
    readonly crc32: number;
    readonly lines: number;
  };
  readonly versionId?: string | undefined;
  readonly archivedAtMs: number;
  readonly runId: string;
}

/** Where a workspace's receipts are, and how errors name the workspace. */
export interface ReceiptPlace {
  readonly bucket: string;
  readonly prefix: string;
  readonly workspace: Workspace;
  readonly label?: string;
}

/** The receipt of a stored log. */
export function buildReceipt(input: ReceiptInput): Receipt {
  return {
    v: DIGEST_FORMAT_VERSION,
    key: input.key,
    window: formatWindow(input.window),
    ...(input.versionId ? { versionId: input.versionId } : {}),
    bytes: input.digest.bytes,
    sha256: input.digest.sha256,
    crc32: crc32Base64(input.digest.crc32),
    lines: input.digest.lines,
    archivedAt: formatInstant(input.archivedAtMs),
    runId: input.runId,
  };
}

/** The bytes of a receipt: JSON, with a final newline. */
export function serializeReceipt(receipt: Receipt): Buffer {
  return Buffer.from(`${JSON.stringify(receipt)}\n`, "utf8");
}

/**
 * Writes `bytes` at `key` only if nothing is there (`If-None-Match: *`, a 409 tried again), with
 * their CRC32 as S3's checksum. Returns false when an object was there already (412).
 */
export async function putIfAbsent(
  s3: S3Client,
  target: {
    readonly bucket: string;
    readonly key: string;
    readonly workspace?: string;
    readonly window?: string;
  },
  bytes: Buffer,
  options: {
    readonly metadata?: Record<string, string>;
    readonly signal?: AbortSignal;
    readonly operation: string;
  },
): Promise<boolean> {
  try {
    await withConflictRetries(
      () =>
        s3.send(
          new PutObjectCommand({
            Bucket: target.bucket,
            Key: target.key,
            Body: bytes,
            ContentLength: bytes.length,
            ContentType: JSON_CONTENT_TYPE,
            ChecksumCRC32: crc32Base64(crc32(bytes)),
            IfNoneMatch: "*",
            ...(options.metadata ? { Metadata: options.metadata } : {}),
          }),
          { abortSignal: options.signal },
        ),
      options.signal,
    );
    return true;
  } catch (err) {
    if (isPreconditionFailed(err)) return false;
    throw storageError(err, options.operation, target);
  }
}

/**
 * Writes the receipt of a window at its receipt key, unless one is there already (a concurrent
 * writer of the same window: fine).
 *
 * @returns `written`, or `present` when a receipt was there already
 * @throws {ReceiptError} naming the key, when S3 refuses or fails the write
 */
export async function writeReceipt(
  s3: S3Client,
  where: ReceiptPlace,
  receipt: Receipt,
  window: TimeWindow,
  signal?: AbortSignal,
): Promise<"written" | "present"> {
  const key = receiptKey(where.prefix, where.workspace, window);
  const target = {
    bucket: where.bucket,
    key,
    window: receipt.window,
    ...(where.label ? { workspace: where.label } : {}),
  };
  try {
    const written = await putIfAbsent(s3, target, serializeReceipt(receipt), {
      operation: "PutObject (receipt)",
      ...(signal ? { signal } : {}),
    });
    return written ? "written" : "present";
  } catch (err) {
    throw new ReceiptError(
      `The receipt s3://${where.bucket}/${key} of ${receipt.key} could not be written ` +
        `(${err instanceof Error ? err.message : String(err)}). The log is archived and verified; its window ` +
        "is sealed as unreceipted (its bytes were not recorded in flight) unless the receipt is written before its day is sealed.",
      { ...target, cause: err },
    );
  }
}

/** Why a stored receipt cannot be used, or the receipt. */
export type ReceiptRead =
  | { readonly ok: true; readonly receipt: Receipt }
  | { readonly ok: false; readonly reason: string };

/** Parses a receipt's bytes, checking that it is the receipt of `key` and `window`. */
export function parseReceipt(text: string, key: string, window: string): ReceiptRead {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: "its receipt is not JSON" };
  }
  const r = value as Partial<Record<keyof Receipt, unknown>> | null;
  if (!r || typeof r !== "object") return { ok: false, reason: "its receipt is not a JSON object" };
  if (r.v !== DIGEST_FORMAT_VERSION) return { ok: false, reason: `its receipt has version ${String(r.v)}` };
  if (r.key !== key) return { ok: false, reason: "its receipt names another key" };
  if (r.window !== window) return { ok: false, reason: "its receipt names another window" };
  const wellFormed =
    typeof r.bytes === "number" &&
    Number.isSafeInteger(r.bytes) &&
    r.bytes >= 0 &&
    typeof r.sha256 === "string" &&
    /^[0-9a-f]{64}$/.test(r.sha256) &&
    typeof r.crc32 === "string" &&
    typeof r.lines === "number" &&
    Number.isSafeInteger(r.lines) &&
    r.lines >= 0 &&
    typeof r.archivedAt === "string" &&
    typeof r.runId === "string" &&
    (r.versionId === undefined || typeof r.versionId === "string");
  if (!wellFormed) return { ok: false, reason: "its receipt lacks a field or has one of the wrong type" };
  return { ok: true, receipt: r as Receipt };
}

/**
 * The receipts of `windows` (one workspace's, of one UTC date): one listing of the date's receipt
 * folder (shared with the tenant's other stream processors: only the windows' own receipt keys are
 * read), then a GET of each, {@link READERS} at a time. By receipt key.
 *
 * @throws {StorageError} when the listing or a read fails
 */
export async function readReceipts(
  s3: S3Client,
  where: ReceiptPlace,
  date: string,
  windows: readonly TimeWindow[],
  signal?: AbortSignal,
): Promise<Map<string, ReceiptRead>> {
  const wanted = new Map(windows.map((w) => [receiptKey(where.prefix, where.workspace, w), w] as const));
  const found: string[] = [];
  const folder = receiptsPrefix(where.prefix, where.workspace, date);
  for await (const page of listPages(
    s3,
    { bucket: where.bucket, prefix: folder, ...(where.label ? { workspace: where.label } : {}) },
    signal,
  )) {
    for (const o of page.contents) if (wanted.has(o.key)) found.push(o.key);
  }
  const out = new Map<string, ReceiptRead>();
  await forEachLimited(found, READERS, async (key) => {
    const target = {
      bucket: where.bucket,
      key,
      ...(where.label ? { workspace: where.label } : {}),
      ...(signal ? { signal } : {}),
    };
    const read = await readSmallObject(s3, target, MAX_RECEIPT_BYTES, "GetObject (receipt)");
    const window = wanted.get(key) as TimeWindow;
    out.set(
      key,
      read === "too-large"
        ? { ok: false, reason: `its receipt is larger than ${MAX_RECEIPT_BYTES} bytes` }
        : parseReceipt(
            read.bytes.toString("utf8"),
            archiveKey(where.prefix, where.workspace, window),
            formatWindow(window),
          ),
    );
  });
  return out;
}
