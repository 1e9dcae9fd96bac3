/**
 * A real loopback S3 for tests, the demo and the bench: s3rver 3.7.1 (objects on disk in a temp
 * directory) behind a streaming node:http proxy that adds what s3rver lacks and the archiver needs:
 *
 * - conditional writes: PutObject and CompleteMultipartUpload with `If-None-Match: *` answer 412
 *   `PreconditionFailed` when the key exists, checked and written atomically per key; objects
 *   appear under their key only once complete (s3rver writes in place);
 * - request bodies streamed through and checked: `x-amz-checksum-crc32|sha1|sha256` and a hex
 *   `x-amz-content-sha256` verified (400 BadDigest / XAmzContentSHA256Mismatch), and a PutObject's
 *   checksum reported on GET/HEAD with `ChecksumMode: "ENABLED"` and in listings;
 * - FULL_OBJECT CRC32 multipart uploads as the archiver's writer sends them: every part must carry
 *   its CRC32, CompleteMultipartUpload checks the parts (InvalidPart, InvalidPartOrder,
 *   EntityTooSmall) and combines their CRCs into the object's CRC32 as S3 does (a differing
 *   `x-amz-checksum-crc32` answers BadDigest and leaves the upload open); other algorithms with
 *   FULL_OBJECT answer 501; COMPOSITE or no type (lib-storage's `Upload`) get no object checksum;
 * - ListObjectsV2 in S3 key order with working continuation tokens, and AbortMultipartUpload;
 * - `checksums: false` plays an S3-compatible store that ignores checksums entirely (nothing
 *   verified, stored, echoed or reported);
 * - an operation log and per-attempt faults (see {@link S3Fault}): error statuses, stalls of any
 *   length (`close()` ends them), `corrupt` (a bit of a PutObject's or UploadPart's data flipped
 *   before any check) and `repeat-token` (a ListObjectsV2 that keeps the client paging).
 * Not played, as nothing the archiver sends needs them (large logs go straight to their key, every
 * body is a Buffer): CopyObject and aws-chunked (streamed) bodies answer 501 NotImplemented, and
 * ListMultipartUploads goes to s3rver, which lacks it.
 *
 * Why not moto behind a thin fault-injecting proxy (weighed for issue 11; moto 5.2.1, this machine):
 * - moto stores a PutObject whose `x-amz-checksum-crc32` is wrong (200) and completes a FULL_OBJECT
 *   upload with a wrong whole CRC32 (200); the corrupt-fault tests (store-verify) need the 400.
 * - four concurrent conditional CompleteMultipartUploads on one key all got 200 from moto (one 200,
 *   three 412 here): `If-None-Match: *`, the archiver's one writer per key, fails under a race.
 * - moto's listing gives `ChecksumAlgorithm` but no `ChecksumType`, so the planner would HEAD and
 *   GET every object it lists (so the tests that a second run costs only its listings would fail).
 * - start-up: 1.0-1.7 s until moto_server answers, against 1-3 ms (33 ms the first time) for
 *   startS3Server, with about 150 servers started per full run (one per test); a 1 MiB PutObject
 *   takes 10.5 ms (median) on moto and 12-14 ms here, so nothing is gained per request.
 * The proxy would keep body checks, part CRCs, key locks, listing patches and faults (most of this
 * code) while adding a Python process to every suite, the demo and the bench: kept, trimmed.
 *
 * @example
 * ```ts
 * const s3 = await startS3Server();
 * try {
 *   s3.inject({ op: "PutObject", status: 503, times: 1 });
 *   await s3.client().send(new PutObjectCommand({ Bucket: s3.bucket, Key: "a", Body: "x" }));
 *   expect(s3.operations.map((o) => o.status)).toEqual([503, 200]);
 * } finally {
 *   await s3.close();
 * }
 * ```
 */

import { accessSync, constants, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import S3rver from "s3rver";
import type { StoredChecksum } from "./body";
import type { S3OperationName } from "./classify";
import { FaultQueue, type S3Fault } from "./faults";
import { KeyLocks } from "./locks";
import { S3RVER_CREDENTIALS } from "./owner";
import { createHandler, type S3Operation } from "./proxy";
import { StoreLayout } from "./store";

export type { S3OperationName } from "./classify";
export { REPEATED_CONTINUATION_TOKEN, type S3Fault, type S3FaultKind } from "./faults";
export { S3RVER_CREDENTIALS } from "./owner";
export type { S3Operation } from "./proxy";

/** Options of {@link startS3Server}. */
export interface S3ServerOptions {
  /** The bucket created at start (default `archive-test`). */
  readonly bucket?: string;
  /** Honour `If-None-Match: *` (default true); false plays a store without conditional writes. */
  readonly conditionalWrites?: boolean;
  /**
   * Verify, store and report checksums as S3 does (default true); false plays an S3-compatible
   * store that ignores them entirely (see the module comment).
   */
  readonly checksums?: boolean;
}

/** An object as stored, read without going through the proxy (not logged, never faulted). */
export interface StoredObject {
  readonly body: Buffer;
  /** User metadata (`x-amz-meta-*`) without the prefix. */
  readonly metadata: Record<string, string>;
  readonly contentType?: string;
  readonly contentLength: number;
  /** The checksum stored with it (reported with checksum mode on), if any. */
  readonly checksum?: StoredChecksum;
}

/** A running loopback S3; see {@link startS3Server}. */
export interface S3TestServer {
  /** The proxy, e.g. `http://127.0.0.1:PORT`: point S3 clients here (path-style). */
  readonly endpoint: string;
  /** The bucket created at start. */
  readonly bucket: string;
  /** s3rver's storage directory (removed by {@link close}). */
  readonly directory: string;
  /**
   * An S3 client for the proxy: region us-east-1, path-style, dummy credentials (the proxy accepts
   * any SigV4 credentials), SDK defaults otherwise (checksums included); `overrides` win (e.g.
   * `maxAttempts`). Destroyed by {@link close}.
   */
  client(overrides?: Partial<S3ClientConfig>): S3Client;
  /** Queues faults; each matching request consumes one use of the first fault it matches. */
  inject(...faults: S3Fault[]): void;
  clearFaults(): void;
  /** Every request the proxy answered, in the order the responses ended. */
  readonly operations: S3Operation[];
  /** {@link operations} of one kind. */
  operationsOf(op: S3OperationName): S3Operation[];
  clearOperations(): void;
  /** Multipart uploads created and neither completed nor aborted, in every bucket. */
  openMultipartUploads(): Array<{ bucket: string; key: string; uploadId: string }>;
  /** Every key in the bucket (default: {@link bucket}) starting with `prefix`, in S3 order. */
  keys(prefix?: string, bucket?: string): Promise<string[]>;
  /** Reads an object directly from s3rver; rejects when it does not exist. */
  getObject(key: string, bucket?: string): Promise<StoredObject>;
  /**
   * Writes an object straight into s3rver's store (not logged, never faulted): to seed or corrupt
   * it. It has no stored checksum unless `checksum` is given, which is kept as is, whatever the
   * bytes (to play an object damaged after it was stored).
   */
  putObject(
    key: string,
    body: Buffer | string,
    metadata?: Record<string, string>,
    bucket?: string,
    checksum?: StoredChecksum,
  ): Promise<void>;
  /** Stops both servers, destroys the clients made by {@link client}, removes {@link directory}. */
  close(): Promise<void>;
}

/**
 * Starts s3rver (temp directory, 127.0.0.1, port 0, silent) and the proxy in front of it.
 *
 * @example
 * ```ts
 * const s3 = await startS3Server({ conditionalWrites: false, checksums: false });
 * ```
 */
export async function startS3Server(options: S3ServerOptions = {}): Promise<S3TestServer> {
  for (const name of ["conditionalWrites", "checksums"] as const) {
    const value = options[name];
    if (value !== undefined && typeof value !== "boolean") {
      throw new TypeError(`S3ServerOptions.${name} must be a boolean, got ${JSON.stringify(value)}`);
    }
  }
  const bucket = options.bucket ?? "archive-test";
  const directory = await mkdtemp(join(defaultParent(), "s3-test-server-"));
  const s3rver = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    vhostBuckets: false,
    configureBuckets: [{ name: bucket }],
  });
  let upstreamPort: number;
  try {
    upstreamPort = (await s3rver.run()).port;
  } catch (error) {
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  // The proxy's keep-alive connections must not be closed by s3rver just as a request reuses them.
  if (s3rver.httpServer) s3rver.httpServer.keepAliveTimeout = 10 * 60_000;
  const agent = new http.Agent({ keepAlive: true });
  const layout = new StoreLayout(s3rver.store);
  const locks = new KeyLocks();
  const faults = new FaultQueue();
  const operations: S3Operation[] = [];
  const proxy = http.createServer(
    createHandler({
      layout,
      upstream: { host: "127.0.0.1", port: upstreamPort, agent },
      faults,
      operations,
      locks,
      conditionalWrites: options.conditionalWrites ?? true,
      checksums: options.checksums ?? true,
    }),
  );
  // Longer than the SDK's idle sockets live, so a reused connection is never closed under a request.
  proxy.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    proxy.once("error", reject);
    proxy.listen(0, "127.0.0.1", resolve);
  });
  const endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const clients: S3Client[] = [];
  let closed = false;

  /** A request straight to s3rver. */
  const direct = (
    method: string,
    name: string,
    key: string,
    headers: http.OutgoingHttpHeaders,
  ): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const path = `/${encodeURIComponent(name)}/${key.split("/").map(encodeURIComponent).join("/")}`;
      const req = http.request(
        { host: "127.0.0.1", port: upstreamPort, agent, method, path, headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.once("error", reject);
          res.once("end", () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          );
        },
      );
      req.once("error", reject);
      req.end();
    });

  return {
    endpoint,
    bucket,
    directory,
    operations,
    client(overrides = {}) {
      const client = new S3Client({
        region: "us-east-1",
        endpoint,
        forcePathStyle: true,
        credentials: { ...S3RVER_CREDENTIALS },
        ...overrides,
      });
      clients.push(client);
      return client;
    },
    inject(...added) {
      faults.add(added);
    },
    clearFaults: () => faults.clear(),
    operationsOf: (op) => operations.filter((o) => o.op === op),
    clearOperations() {
      operations.length = 0;
    },
    openMultipartUploads: () => layout.uploads(),
    keys: async (prefix = "", name = bucket) => layout.keys(name, prefix),
    async getObject(key, name = bucket) {
      const res = await direct("GET", name, key, {});
      if (res.status !== 200) {
        throw new Error(
          `s3://${name}/${key} could not be read from the test server: HTTP ${res.status} ${res.body.toString()}`,
        );
      }
      const metadata: Record<string, string> = {};
      for (const [header, value] of Object.entries(res.headers)) {
        if (header.startsWith("x-amz-meta-") && typeof value === "string") metadata[header.slice(11)] = value;
      }
      const contentType = res.headers["content-type"];
      const checksum = await layout.checksum(name, key);
      return {
        body: res.body,
        metadata,
        ...(contentType === undefined ? {} : { contentType }),
        contentLength: res.body.length,
        ...(checksum === undefined ? {} : { checksum }),
      };
    },
    async putObject(key, body, metadata = {}, name = bucket, checksum = undefined) {
      if (!layout.bucketExists(name))
        throw new Error(`The test server has no bucket ${name} to write ${key} to`);
      const headers: Record<string, string> = { "content-type": "binary/octet-stream" };
      for (const [field, value] of Object.entries(metadata))
        headers[`x-amz-meta-${field.toLowerCase()}`] = value;
      const content = typeof body === "string" ? Buffer.from(body) : body;
      await locks.object(name, key, async () => {
        await layout.dropChecksum(name, key);
        await layout.exclusive(() =>
          s3rver.store.putObject({ bucket: name, key, content, metadata: headers }),
        );
        if (checksum !== undefined) await layout.setChecksum(name, key, checksum);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const client of clients) client.destroy();
      await new Promise<void>((resolve) => {
        proxy.close(() => resolve());
        proxy.closeAllConnections();
      });
      agent.destroy();
      s3rver.httpServer?.closeAllConnections();
      await s3rver.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/**
 * Where the storage directory goes: `/dev/shm` when it is a writable directory (file creation there
 * is several times faster than on this machine's disk), else the OS temp directory.
 */
function defaultParent(): string {
  try {
    accessSync("/dev/shm", constants.W_OK);
    if (statSync("/dev/shm").isDirectory()) return "/dev/shm";
  } catch {
    // no tmpfs: use the disk
  }
  return tmpdir();
}
