/**
 * Reading one archived object: its head (metadata and S3's checksum) and its bytes, with S3's
 * failures mapped to the archiver's errors.
 */
import type { Readable } from "node:stream";
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  type S3Client,
} from "@aws-sdk/client-s3";
import { measureCrc32 } from "./checksum";
import { type StorageWhere, storageError } from "./errors";

/** One object of the archive bucket, and what errors about it name. */
export interface ObjectTarget extends StorageWhere {
  readonly key: string;
  readonly signal?: AbortSignal;
}

/**
 * HeadObject with checksum mode on, so S3 reports the object's full-object CRC32.
 *
 * @param operation names the request in errors, e.g. `HeadObject (verification)`
 */
export async function headObject(
  s3: S3Client,
  target: ObjectTarget,
  operation = "HeadObject",
): Promise<HeadObjectCommandOutput> {
  try {
    return await s3.send(
      new HeadObjectCommand({ Bucket: target.bucket, Key: target.key, ChecksumMode: "ENABLED" }),
      { abortSignal: target.signal },
    );
  } catch (err) {
    throw storageError(err, operation, target);
  }
}

/** HeadObject with checksum mode on, or undefined when there is no object at the key (404). */
export async function headObjectIfAny(
  s3: S3Client,
  target: ObjectTarget,
  operation = "HeadObject",
): Promise<HeadObjectCommandOutput | undefined> {
  try {
    return await s3.send(
      new HeadObjectCommand({ Bucket: target.bucket, Key: target.key, ChecksumMode: "ENABLED" }),
      { abortSignal: target.signal },
    );
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404) return undefined;
    throw storageError(err, operation, target);
  }
}

/**
 * GetObject; with `checksum`, the SDK checks the bytes against the full-object checksum S3
 * stored while the body streams (a mismatch fails the body with `isChecksumMismatch`).
 */
export async function getObject(
  s3: S3Client,
  target: ObjectTarget,
  options: { readonly checksum: boolean; readonly operation?: string },
): Promise<GetObjectCommandOutput> {
  try {
    return await s3.send(
      new GetObjectCommand({
        Bucket: target.bucket,
        Key: target.key,
        ...(options.checksum ? { ChecksumMode: "ENABLED" as const } : {}),
      }),
      { abortSignal: target.signal },
    );
  } catch (err) {
    throw storageError(err, options.operation ?? "GetObject", target);
  }
}

/**
 * The bytes and user metadata of a small object (a receipt, a digest), read whole but never past
 * `maxBytes`: an object that says it is larger, or turns out larger while it streams, is not read
 * on (`"too-large"`), so a hostile or mistaken object at such a key cannot fill the memory.
 *
 * @throws {StorageError} when the request fails (a missing object is status 404 in its context)
 */
export async function readSmallObject(
  s3: S3Client,
  target: ObjectTarget,
  maxBytes: number,
  operation: string,
): Promise<{ readonly bytes: Buffer; readonly metadata: Record<string, string> } | "too-large"> {
  const response = await getObject(s3, target, { checksum: false, operation });
  const body = response.Body as Readable;
  if ((response.ContentLength ?? 0) > maxBytes) {
    body.destroy();
    return "too-large";
  }
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of body) {
      length += (chunk as Buffer).length;
      if (length > maxBytes) {
        body.destroy();
        return "too-large";
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    throw storageError(err, operation, target);
  }
  return { bytes: Buffer.concat(chunks), metadata: response.Metadata ?? {} };
}

/** Reads the object back and measures it: its length and CRC32, streamed. */
export async function readBack(
  s3: S3Client,
  target: ObjectTarget,
): Promise<{ bytes: number; crc32: string }> {
  const operation = "GetObject (verification read-back)";
  const response = await getObject(s3, target, { checksum: false, operation });
  try {
    return await measureCrc32(response.Body as Readable);
  } catch (err) {
    throw storageError(err, operation, target);
  }
}
