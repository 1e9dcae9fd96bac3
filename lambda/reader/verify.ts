/**
 * `verify`: re-reads archived objects and checks that each is intact (complete gzip, every CRC),
 * matches the full-object CRC32 S3 stored with it, and that its metadata names the window and
 * workspace of its key.
 */

import { type Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { GetObjectCommandOutput, S3Client } from "@aws-sdk/client-s3";
import { GzipInspector } from "../archive/inspect";
import { crc32Base64, storedCrc32 } from "../bucket/checksum";
import { isChecksumMismatch, storageError } from "../bucket/errors";
import { getObject } from "../bucket/objects";
import { metadataMismatches } from "../config";
import { ruleFor } from "../errors";
import { forEachLimited } from "../pool";
import type { TimeRange } from "../range";
import { READER_ROLE } from "./errors";
import { type ArchivedObject, type ArchiveLocation, listArchive } from "./listing";

/** One object that failed verification. */
export interface BadObject {
  readonly key: string;
  /** `KEY_UNPARSABLE`, `GZIP_INVALID`, `SIZE_MISMATCH`, `CHECKSUM_MISMATCH`, `CHECKSUM_MISSING`, `METADATA_MISMATCH` or `READ_FAILED`. */
  readonly problem: string;
  readonly reason: string;
}

/** The result of {@link verifyArchive}. */
export interface VerifyReport {
  readonly bucket: string;
  readonly prefix: string;
  /** Objects read and checked. */
  readonly checked: number;
  readonly bytes: number;
  /** Every bad object, in key order. */
  readonly bad: BadObject[];
  readonly ok: boolean;
}

/** What {@link verifyArchive} checks. */
export interface VerifyRequest {
  readonly s3: S3Client;
  readonly location: ArchiveLocation;
  /** Only this group; absent = the whole archive. */
  readonly groupId?: string;
  /** Only windows overlapping this range; absent = all. */
  readonly range?: TimeRange;
  /** Objects read at the same time (default 4). */
  readonly concurrency?: number;
  /** After each object. */
  readonly onObject?: (done: number, total: number, bad: BadObject | undefined) => void;
  readonly signal?: AbortSignal;
}

function checksumReason(stored: string | undefined, computed: unknown): string {
  const detail = computed instanceof Error ? computed.message : `computed ${String(computed)}`;
  return `the bytes read do not match the CRC32 S3 stored with the object (${stored ?? "?"}; ${detail})`;
}

/** Reads one object through the gzip inspector and compares it with its checksum and metadata. */
async function checkObject(request: VerifyRequest, object: ArchivedObject): Promise<BadObject | undefined> {
  const { s3, location } = request;
  const bad = (problem: string, reason: string): BadObject => ({ key: object.key, problem, reason });
  const target = {
    bucket: location.bucket,
    key: object.key,
    role: READER_ROLE,
    signal: request.signal,
  };
  let response: GetObjectCommandOutput;
  try {
    response = await getObject(s3, target, { checksum: true });
  } catch (err) {
    // A missing bucket or denied access stops the whole verification; any other failure is this object's.
    if (ruleFor(err).exitStatus === 2) throw err;
    return bad("READ_FAILED", (err as Error).message);
  }
  const stored = storedCrc32(response);
  const inspector = new GzipInspector();
  const discard = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  try {
    await pipeline(response.Body as Readable, inspector, discard);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "ARCHIVE_GZIP_INVALID") {
      const cause = (err as Error).cause;
      const detail = cause instanceof Error ? cause.message : (err as Error).message;
      return bad("GZIP_INVALID", `not a complete, valid gzip stream (${detail})`);
    }
    // The SDK checks the stored checksum itself while the body streams.
    if (isChecksumMismatch(err)) return bad("CHECKSUM_MISMATCH", checksumReason(stored, err));
    return bad("READ_FAILED", storageError(err, "GetObject", target).message);
  }
  const digest = inspector.digest();
  if (response.ContentLength !== undefined && response.ContentLength !== digest.bytes) {
    return bad("SIZE_MISMATCH", `${digest.bytes} bytes read, but S3 reports ${response.ContentLength}`);
  }
  if (stored === undefined) {
    return bad(
      "CHECKSUM_MISSING",
      "S3 reports no full-object CRC32 checksum for it; the archiver stores one with every object, so " +
        "something else wrote it",
    );
  }
  const computed = crc32Base64(digest.crc32);
  if (stored !== computed) {
    return bad("CHECKSUM_MISMATCH", checksumReason(stored, computed));
  }
  const mismatches = metadataMismatches(response.Metadata ?? {}, object.workspace, object.window);
  if (mismatches.length > 0) return bad("METADATA_MISMATCH", mismatches.join("; "));
  return undefined;
}

/**
 * Re-reads every archived object of the selection (streaming, `concurrency` at a time) and reports
 * every bad one: keys that do not parse, objects that are not complete valid gzip, whose bytes do
 * not match the full-object CRC32 S3 stored with them (or that have none), or whose metadata names
 * another window or workspace than the key.
 *
 * @throws {ReaderError} when the bucket is missing or access is denied
 * @example
 * ```ts
 * const report = await verifyArchive({ s3, location, groupId });
 * for (const b of report.bad) console.error(`${b.key}: ${b.reason}`);
 * ```
 */
export async function verifyArchive(request: VerifyRequest): Promise<VerifyReport> {
  const { location } = request;
  const listing = await listArchive(
    request.s3,
    location,
    { groupId: request.groupId, range: request.range },
    request.signal,
  );
  const bad: BadObject[] = listing.unparsed.map((u) => ({
    key: u.key,
    problem: "KEY_UNPARSABLE",
    reason: `key ${u.reason}`,
  }));
  const objects = listing.objects;
  let done = 0;
  let bytes = 0;
  await forEachLimited(objects, request.concurrency ?? 4, async (object) => {
    const problem = await checkObject(request, object);
    if (problem) bad.push(problem);
    bytes += object.size;
    request.onObject?.(++done, objects.length, problem);
  });
  bad.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return {
    bucket: location.bucket,
    prefix: location.prefix,
    checked: objects.length,
    bytes,
    bad,
    ok: bad.length === 0,
  };
}
