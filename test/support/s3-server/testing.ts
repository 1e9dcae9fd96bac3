/**
 * What the S3 test server's own tests share: a server per test ({@link start}, closed after each
 * test of the file that imports this), SDK and raw-HTTP helpers, and multipart upload set-ups.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import {
  type CompletedPart,
  CompleteMultipartUploadCommand,
  type CompleteMultipartUploadCommandInput,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { afterEach } from "vitest";
import { type S3ServerOptions, type S3TestServer, startS3Server } from "./index";

/** One mebibyte. */
export const MiB = 1024 * 1024;

let server: S3TestServer | undefined;

/** Starts a server for the test (closing the one it started before); it is closed after the test. */
export async function start(options?: S3ServerOptions): Promise<{ s3: S3TestServer; client: S3Client }> {
  await server?.close();
  server = await startS3Server(options);
  return { s3: server, client: server.client() };
}
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** The error an SDK call rejects with (fails the test when it resolves). */
export async function failure(promise: Promise<unknown>): Promise<{ name: string; status?: number }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { name: string; $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode;
    return status === undefined ? { name: e.name } : { name: e.name, status };
  }
  throw new Error("expected the S3 call to fail, but it succeeded");
}

export async function readBody(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from((await got.Body?.transformToByteArray()) ?? []);
}

export function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Creates a multipart upload with one 5 MiB part and returns what CompleteMultipartUpload needs. */
export async function stagedUpload(
  client: S3Client,
  bucket: string,
  key: string,
  part = randomBytes(5 * MiB),
) {
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const { ETag } = await client.send(
    new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: part }),
  );
  return { UploadId: UploadId ?? "", parts: [{ PartNumber: 1, ETag: ETag ?? "" }], part };
}

/** Total size of the files directly in `dir` (0 when it does not exist). */
export function bytesIn(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}

/** PUTs `body` in two halves, running `between` after the first; resolves with the status. */
export function sendInHalves(url: string, body: Buffer, between: () => Promise<void>): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const req = http.request(url, { method: "PUT", headers: { "content-length": body.length } });
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    const half = Math.floor(body.length / 2);
    req.write(body.subarray(0, half));
    between()
      .then(() => req.end(body.subarray(half)))
      .catch((error: unknown) => {
        req.destroy();
        reject(error);
      });
  });
}

/** A CRC-32 as S3 writes it (base64 of the big-endian bytes), computed by zlib. */
export function crc32Base64(data: Buffer): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(crc32(data) >>> 0);
  return bytes.toString("base64");
}

/**
 * Creates a FULL_OBJECT CRC32 multipart upload and uploads `bodies` as parts 1, 2, ... with their
 * CRC32s, as the archiver does; `whole` is zlib's CRC32 of the concatenation.
 */
export async function fullObjectUpload(client: S3Client, bucket: string, key: string, bodies: Buffer[]) {
  const created = await client.send(
    new CreateMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      ChecksumAlgorithm: "CRC32",
      ChecksumType: "FULL_OBJECT",
    }),
  );
  const UploadId = created.UploadId ?? "";
  const parts: Array<{ PartNumber: number; ETag: string; ChecksumCRC32: string }> = [];
  for (const [index, Body] of bodies.entries()) {
    const PartNumber = index + 1;
    const uploaded = await crc32Part(client, bucket, key, UploadId, PartNumber, Body);
    parts.push({ PartNumber, ETag: uploaded.ETag ?? "", ChecksumCRC32: uploaded.ChecksumCRC32 ?? "" });
  }
  return { created, UploadId, parts, whole: crc32Base64(Buffer.concat(bodies)) };
}

/** A raw request to the proxy; resolves with the status, headers and body text. */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: http.OutgoingHttpHeaders; body?: Buffer | string } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: options.method ?? "PUT", headers: options.headers ?? {} },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

export async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** `data` with the lowest bit of byte `at` flipped, as the `corrupt` fault does. */
export function flipped(data: Buffer, at: number): Buffer {
  const copy = Buffer.from(data);
  copy[at] = (copy[at] ?? 0) ^ 0x01;
  return copy;
}

/** CompleteMultipartUpload of `Parts`; `extra` adds checksum and condition fields. */
export function completeUpload(
  client: S3Client,
  bucket: string,
  key: string,
  UploadId: string | undefined,
  Parts: CompletedPart[],
  extra: Partial<CompleteMultipartUploadCommandInput> = {},
) {
  return client.send(
    new CompleteMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      UploadId,
      MultipartUpload: { Parts },
      ...extra,
    }),
  );
}

/** UploadPart with the SDK computing its CRC32, as the archiver's writer sends a part. */
export function crc32Part(
  client: S3Client,
  bucket: string,
  key: string,
  UploadId: string | undefined,
  PartNumber: number,
  Body: Buffer | undefined,
) {
  return client.send(
    new UploadPartCommand({
      Bucket: bucket,
      Key: key,
      UploadId,
      PartNumber,
      Body,
      ChecksumAlgorithm: "CRC32",
    }),
  );
}
