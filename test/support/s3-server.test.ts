import { createHash, randomBytes, randomInt } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { Readable } from "node:stream";
import { crc32 } from "node:zlib";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { afterEach, describe, expect, it } from "vitest";
import {
  REPEATED_CONTINUATION_TOKEN,
  type S3ServerOptions,
  type S3TestServer,
  startS3Server,
} from "./s3-server";
import { crc32Combine } from "./s3-server/crc32-combine";

const MiB = 1024 * 1024;

let server: S3TestServer | undefined;
async function start(options?: S3ServerOptions): Promise<{ s3: S3TestServer; client: S3Client }> {
  server = await startS3Server(options);
  return { s3: server, client: server.client() };
}
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** The error an SDK call rejects with (fails the test when it resolves). */
async function failure(promise: Promise<unknown>): Promise<{ name: string; status?: number }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { name: string; $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode;
    return status === undefined ? { name: e.name } : { name: e.name, status };
  }
  throw new Error("expected the S3 call to fail, but it succeeded");
}

async function readBody(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from((await got.Body?.transformToByteArray()) ?? []);
}

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Creates a multipart upload with one 5 MiB part and returns what CompleteMultipartUpload needs. */
async function stagedUpload(client: S3Client, bucket: string, key: string, part = randomBytes(5 * MiB)) {
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const { ETag } = await client.send(
    new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: part }),
  );
  return { UploadId: UploadId ?? "", parts: [{ PartNumber: 1, ETag: ETag ?? "" }], part };
}

/** Total size of the files directly in `dir` (0 when it does not exist). */
function bytesIn(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}

/** PUTs `body` in two halves, running `between` after the first; resolves with the status. */
function sendInHalves(url: string, body: Buffer, between: () => Promise<void>): Promise<number> {
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
function crc32Base64(data: Buffer): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(crc32(data) >>> 0);
  return bytes.toString("base64");
}

/**
 * Creates a FULL_OBJECT CRC32 multipart upload and uploads `bodies` as parts 1, 2, ... with their
 * CRC32s, as the archiver does; `whole` is zlib's CRC32 of the concatenation.
 */
async function fullObjectUpload(client: S3Client, bucket: string, key: string, bodies: Buffer[]) {
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
    const uploaded = await client.send(
      new UploadPartCommand({
        Bucket: bucket,
        Key: key,
        UploadId,
        PartNumber,
        Body,
        ChecksumAlgorithm: "CRC32",
      }),
    );
    parts.push({ PartNumber, ETag: uploaded.ETag ?? "", ChecksumCRC32: uploaded.ChecksumCRC32 ?? "" });
  }
  return { created, UploadId, parts, whole: crc32Base64(Buffer.concat(bodies)) };
}

/** A raw request to the proxy; resolves with the status, headers and body text. */
function rawRequest(
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

async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("startS3Server: objects through the SDK", () => {
  it("round-trips a PutObject byte for byte with its metadata and content type", async () => {
    const { s3, client } = await start();
    const body = randomBytes(MiB + 17);
    await client.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: "logs/2024/01/02/a b+c:d.gz",
        Body: body,
        ContentType: "application/gzip",
        Metadata: { sha256: sha256(body), window: "2024-01-02T00:00:00Z" },
      }),
    );
    const got = await client.send(
      new GetObjectCommand({ Bucket: s3.bucket, Key: "logs/2024/01/02/a b+c:d.gz" }),
    );
    expect(Buffer.from((await got.Body?.transformToByteArray()) ?? []).equals(body)).toBe(true);
    expect(got.Metadata).toEqual({ sha256: sha256(body), window: "2024-01-02T00:00:00Z" });
    expect(got.ContentType).toBe("application/gzip");
    const stored = await s3.getObject("logs/2024/01/02/a b+c:d.gz");
    expect(stored.contentLength).toBe(body.length);
    expect(stored.metadata.sha256).toBe(sha256(body));
    expect(await s3.keys()).toEqual(["logs/2024/01/02/a b+c:d.gz"]);
  });

  it("accepts any SigV4 credentials, as the CLI's environment gives them", async () => {
    const { s3 } = await start();
    const client = s3.client({ credentials: { accessKeyId: "AKIAEXAMPLE", secretAccessKey: "anything" } });
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "k", Body: "v" }));
    expect((await readBody(client, s3.bucket, "k")).toString()).toBe("v");
  });

  it("refuses a streamed (aws-chunked) PutObject with 501 NotImplemented and stores nothing", async () => {
    const { s3 } = await start();
    const client = s3.client({ maxAttempts: 1 });
    const body = randomBytes(300_000);
    const put = client.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: "streamed",
        Body: Readable.from([body.subarray(0, 100_000), body.subarray(100_000)]),
        ContentLength: body.length,
      }),
    );
    expect(await failure(put)).toEqual({ name: "NotImplemented", status: 501 });
    expect(await s3.keys()).toEqual([]);
  });

  it("reports a buffered PutObject's CRC32, the SDK's default checksum, on HEAD in checksum mode", async () => {
    const { s3, client } = await start();
    const body = randomBytes(300_000);
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "k", Body: body }));
    const head = await client.send(
      new HeadObjectCommand({ Bucket: s3.bucket, Key: "k", ChecksumMode: "ENABLED" }),
    );
    expect([head.ContentLength, head.ChecksumCRC32, head.ChecksumType]).toEqual([
      body.length,
      crc32Base64(body),
      "FULL_OBJECT",
    ]);
  });

  it("rejects a body whose declared CRC32 does not match with BadDigest and stores nothing", async () => {
    const { s3 } = await start();
    const response = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        `${s3.endpoint}/${s3.bucket}/corrupt`,
        { method: "PUT", headers: { "x-amz-checksum-crc32": "AAAAAA==", "content-length": 5 } },
        (res) => {
          let text = "";
          res.on("data", (chunk) => {
            text += chunk;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on("error", reject);
      req.end("hello");
    });
    expect(response.status).toBe(400);
    expect(response.body).toContain("<Code>BadDigest</Code>");
    expect(await s3.keys()).toEqual([]);
  });

  it("round-trips a 50 MB lib-storage multipart Upload, streaming it through the proxy", async () => {
    const { s3, client } = await start();
    const size = 50 * MiB;
    const sent = createHash("sha256");
    let produced = 0;
    const source = new Readable({
      read() {
        if (produced >= size) return this.push(null);
        const chunk = randomBytes(Math.min(MiB, size - produced));
        produced += chunk.length;
        sent.update(chunk);
        this.push(chunk);
      },
    });
    await new Upload({
      client,
      params: { Bucket: s3.bucket, Key: "big/log.gz", Body: source },
      partSize: 5 * MiB,
      queueSize: 2,
    }).done();
    const got = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "big/log.gz" }));
    const received = createHash("sha256");
    let length = 0;
    for await (const chunk of got.Body as AsyncIterable<Buffer>) {
      received.update(chunk);
      length += chunk.length;
    }
    expect(length).toBe(size);
    expect(received.digest("hex")).toBe(sent.digest("hex"));
    expect(s3.operationsOf("UploadPart").map((o) => o.status)).toEqual(Array(10).fill(200));
    expect(s3.operationsOf("CompleteMultipartUpload").map((o) => o.status)).toEqual([200]);
    expect(s3.openMultipartUploads()).toEqual([]);
  });

  it("keeps memory flat while a 100 MB PutObject streams through", async () => {
    const { s3 } = await start();
    const block = randomBytes(MiB);
    const put = (key: string, blocks: number) =>
      new Promise<number>((resolve, reject) => {
        const req = http.request(`${s3.endpoint}/${s3.bucket}/${key}`, {
          method: "PUT",
          headers: { "content-length": blocks * MiB },
        });
        req.on("response", (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        });
        req.on("error", reject);
        let written = 0;
        const write = () => {
          while (written < blocks) {
            written += 1;
            if (!req.write(block)) return void req.once("drain", write);
          }
          req.end();
        };
        write();
      });
    expect(await put("warm-up", 8)).toBe(200);
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    try {
      expect(await put("large", 100)).toBe(200);
    } finally {
      clearInterval(sampler);
    }
    expect(peak - before).toBeLessThan(50 * MiB);
    const md5 = createHash("md5");
    for (let i = 0; i < 100; i++) md5.update(block);
    const head = await s3.client().send(new HeadObjectCommand({ Bucket: s3.bucket, Key: "large" }));
    expect(head.ContentLength).toBe(100 * MiB);
    expect(head.ETag).toBe(`"${md5.digest("hex")}"`);
  });

  it("forwards a PutObject body to the store while it is still arriving, and shows the key only once complete", async () => {
    const { s3 } = await start();
    const body = randomBytes(16 * MiB);
    const status = await sendInHalves(`${s3.endpoint}/${s3.bucket}/slow`, body, async () => {
      await until(
        () => bytesIn(join(s3.directory, s3.bucket, "._S3rver_inflight")) >= 4 * MiB,
        "half the body on disk",
      );
      expect(await s3.keys()).toEqual([]);
    });
    expect(status).toBe(200);
    expect((await s3.getObject("slow")).body.equals(body)).toBe(true);
  });

  it("forwards an UploadPart body to the store while it is still arriving", async () => {
    const { s3, client } = await start();
    const { UploadId } = await client.send(
      new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: "parted" }),
    );
    const body = randomBytes(16 * MiB);
    const uploadDir = join(s3.directory, s3.bucket, "._S3rver_uploads", UploadId ?? "");
    const url = `${s3.endpoint}/${s3.bucket}/parted?partNumber=1&uploadId=${UploadId}`;
    const status = await sendInHalves(url, body, () =>
      until(() => bytesIn(uploadDir) >= 4 * MiB, "half the part on disk"),
    );
    expect(status).toBe(200);
    const { ETag } = { ETag: `"${createHash("md5").update(body).digest("hex")}"` };
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: s3.bucket,
        Key: "parted",
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] },
      }),
    );
    expect((await s3.getObject("parted")).body.equals(body)).toBe(true);
  });
});

describe("startS3Server: conditional writes (If-None-Match: *)", () => {
  it("answers 412 PreconditionFailed to a PutObject on an existing key and leaves the object alone", async () => {
    const { s3, client } = await start();
    const put = (body: string) =>
      client.send(
        new PutObjectCommand({ Bucket: s3.bucket, Key: "k", Body: Buffer.from(body), IfNoneMatch: "*" }),
      );
    await put("first");
    expect(await failure(put("second"))).toEqual({ name: "PreconditionFailed", status: 412 });
    expect((await s3.getObject("k")).body.toString()).toBe("first");
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "unconditional", Body: "x" }));
    expect(s3.operationsOf("PutObject").map((o) => [o.status, o.ifNoneMatch])).toEqual([
      [200, "*"],
      [412, "*"],
      [200, undefined],
    ]);
  });

  it("lets exactly one of two concurrent conditional PutObjects to one key win", async () => {
    const { s3, client } = await start();
    const put = (body: Buffer) =>
      client
        .send(new PutObjectCommand({ Bucket: s3.bucket, Key: "race", Body: body, IfNoneMatch: "*" }))
        .then(() => "stored")
        .catch((e: Error) => e.name);
    const bodies = [randomBytes(3 * MiB), randomBytes(3 * MiB)];
    const outcomes = await Promise.all(bodies.map(put));
    expect([...outcomes].sort()).toEqual(["PreconditionFailed", "stored"]);
    const winner = bodies[outcomes.indexOf("stored")] ?? Buffer.alloc(0);
    expect((await s3.getObject("race")).body.equals(winner)).toBe(true);
  });

  it("answers 412 to a CompleteMultipartUpload on an existing key and keeps the upload open", async () => {
    const { s3, client } = await start();
    await s3.putObject("final", "already here");
    const { UploadId, parts } = await stagedUpload(client, s3.bucket, "final");
    const complete = client.send(
      new CompleteMultipartUploadCommand({
        Bucket: s3.bucket,
        Key: "final",
        UploadId,
        MultipartUpload: { Parts: parts },
        IfNoneMatch: "*",
      }),
    );
    expect(await failure(complete)).toEqual({ name: "PreconditionFailed", status: 412 });
    expect((await s3.getObject("final")).body.toString()).toBe("already here");
    expect(s3.openMultipartUploads()).toEqual([{ bucket: s3.bucket, key: "final", uploadId: UploadId }]);
  });

  it("completes a conditional multipart upload when the key does not exist", async () => {
    const { s3, client } = await start();
    const { UploadId, parts, part } = await stagedUpload(client, s3.bucket, "fresh");
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: s3.bucket,
        Key: "fresh",
        UploadId,
        MultipartUpload: { Parts: parts },
        IfNoneMatch: "*",
      }),
    );
    expect((await s3.getObject("fresh")).body.equals(part)).toBe(true);
    expect(s3.openMultipartUploads()).toEqual([]);
  });

  it("overwrites with every write when conditional writes are off", async () => {
    const { s3, client } = await start({ conditionalWrites: false });
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "k", Body: "one", IfNoneMatch: "*" }));
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "k", Body: "two", IfNoneMatch: "*" }));
    expect((await s3.getObject("k")).body.toString()).toBe("two");
    const { UploadId, parts, part } = await stagedUpload(client, s3.bucket, "k");
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: s3.bucket,
        Key: "k",
        UploadId,
        MultipartUpload: { Parts: parts },
        IfNoneMatch: "*",
      }),
    );
    expect((await s3.getObject("k")).body.equals(part)).toBe(true);
  });
});

describe("startS3Server: copies, listings and multipart uploads", () => {
  it("refuses CopyObject with 501 NotImplemented, logged as CopyObject, copying nothing", async () => {
    const { s3 } = await start();
    const client = s3.client({ maxAttempts: 1 });
    await s3.putObject("src", "x");
    const copy = client.send(
      new CopyObjectCommand({
        Bucket: s3.bucket,
        Key: "dst",
        CopySource: `${s3.bucket}/src`,
        IfNoneMatch: "*",
      }),
    );
    expect(await failure(copy)).toEqual({ name: "NotImplemented", status: 501 });
    expect(s3.operationsOf("CopyObject").map((o) => [o.key, o.status])).toEqual([["dst", 501]]);
    expect(await s3.keys()).toEqual(["src"]);
  });

  it("pages ListObjectsV2 through 2,500 keys in key order with continuation tokens", async () => {
    const { s3, client } = await start();
    const keys = Array.from({ length: 2500 }, (_, i) => `p/${String(i).padStart(4, "0")}.gz`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((key) => s3.putObject(key, key)));
    }
    await s3.putObject("other/x", "not listed");
    const pages: ListObjectsV2CommandOutput[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "p/", ContinuationToken: token }),
      );
      pages.push(page);
      token = page.NextContinuationToken;
    } while (token !== undefined);
    expect(pages.map((p) => [p.KeyCount, p.IsTruncated])).toEqual([
      [1000, true],
      [1000, true],
      [500, false],
    ]);
    expect(pages.flatMap((p) => p.Contents?.map((o) => o.Key) ?? [])).toEqual(keys);
    expect(pages[0]?.Contents?.[0]?.Size).toBe(keys[0]?.length);
  });

  it("lists in S3's byte order with small pages and common prefixes, where s3rver's directory walk would not", async () => {
    const { s3, client } = await start();
    const keys = ["a/b", "a-c", "a/a/x", "a0", "a/c", "b"];
    for (const key of keys) await s3.putObject(key, "x");
    const listed: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: s3.bucket, MaxKeys: 2, ContinuationToken: token }),
      );
      listed.push(...(page.Contents ?? []).map((o) => o.Key ?? ""));
      token = page.NextContinuationToken;
    } while (token !== undefined);
    expect(listed).toEqual([...keys].sort());
    const first = await client.send(
      new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "a", Delimiter: "/", MaxKeys: 2 }),
    );
    expect(first.Contents?.map((o) => o.Key)).toEqual(["a-c"]);
    expect(first.CommonPrefixes?.map((p) => p.Prefix)).toEqual(["a/"]);
    const second = await client.send(
      new ListObjectsV2Command({
        Bucket: s3.bucket,
        Prefix: "a",
        Delimiter: "/",
        MaxKeys: 2,
        ContinuationToken: first.NextContinuationToken,
      }),
    );
    expect(second.Contents?.map((o) => o.Key)).toEqual(["a0"]);
    expect(second.IsTruncated).toBe(false);
  });

  it("answers NoSuchBucket for a listing or a write to a bucket other than the one it made", async () => {
    const { s3, client } = await start({ bucket: "first-bucket" });
    const missing = { name: "NoSuchBucket", status: 404 };
    expect(await failure(client.send(new ListObjectsV2Command({ Bucket: "missing-bucket" })))).toEqual(
      missing,
    );
    const put = client.send(new PutObjectCommand({ Bucket: "missing-bucket", Key: "k", Body: "v" }));
    expect(await failure(put)).toEqual(missing);
    await client.send(new PutObjectCommand({ Bucket: "first-bucket", Key: "k", Body: "v" }));
    expect(await s3.keys()).toEqual(["k"]);
  });

  it("tracks open uploads and closes them with AbortMultipartUpload", async () => {
    const { s3, client } = await start();
    const { UploadId } = await stagedUpload(client, s3.bucket, "staging/a");
    expect(s3.openMultipartUploads()).toEqual([{ bucket: s3.bucket, key: "staging/a", uploadId: UploadId }]);
    await client.send(new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: "staging/a", UploadId }));
    expect(s3.openMultipartUploads()).toEqual([]);
    expect(
      await failure(
        client.send(new AbortMultipartUploadCommand({ Bucket: s3.bucket, Key: "staging/a", UploadId })),
      ),
    ).toEqual({ name: "NoSuchUpload", status: 404 });
    expect(s3.operationsOf("AbortMultipartUpload").map((o) => o.status)).toEqual([204, 404]);
    expect(await s3.keys()).toEqual([]);
  });

  it("rejects a completion with a too-small middle part or a wrong ETag, as S3 does", async () => {
    const { s3, client } = await start();
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: "m" }));
    const part = async (n: number, body: Buffer) =>
      (
        await client.send(
          new UploadPartCommand({ Bucket: s3.bucket, Key: "m", UploadId, PartNumber: n, Body: body }),
        )
      ).ETag ?? "";
    const small = await part(1, Buffer.from("tiny"));
    const last = await part(2, Buffer.from("last"));
    const complete = (Parts: Array<{ PartNumber: number; ETag: string }>) =>
      client.send(
        new CompleteMultipartUploadCommand({
          Bucket: s3.bucket,
          Key: "m",
          UploadId,
          MultipartUpload: { Parts },
        }),
      );
    expect(
      await failure(
        complete([
          { PartNumber: 1, ETag: small },
          { PartNumber: 2, ETag: last },
        ]),
      ),
    ).toEqual({ name: "EntityTooSmall", status: 400 });
    expect(await failure(complete([{ PartNumber: 2, ETag: '"0123"' }]))).toEqual({
      name: "InvalidPart",
      status: 400,
    });
    await complete([{ PartNumber: 2, ETag: last }]);
    expect((await s3.getObject("m")).body.toString()).toBe("last");
  });
});

describe("startS3Server: injected faults", () => {
  it("fails the next attempts with the injected status, then lets the SDK's retry through", async () => {
    const { s3 } = await start();
    const client = s3.client({ maxAttempts: 3 });
    s3.inject({ op: "PutObject", times: 2 });
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "k", Body: "v" }));
    expect(s3.operationsOf("PutObject").map((o) => [o.status, o.fault])).toEqual([
      [500, "status"],
      [500, "status"],
      [200, undefined],
    ]);
    expect((await s3.getObject("k")).body.toString()).toBe("v");
  });

  it("fails an operation for good when every attempt is faulted, with the default InternalError", async () => {
    const { s3 } = await start();
    const client = s3.client({ maxAttempts: 2 });
    s3.inject({ op: "PutObject", times: 2 });
    await s3.putObject("src", "x");
    expect(
      await failure(client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "dst", Body: "y" }))),
    ).toEqual({ name: "InternalError", status: 500 });
    expect(s3.operationsOf("PutObject").map((o) => o.status)).toEqual([500, 500]);
    expect(await s3.keys()).toEqual(["src"]);
  });

  it("answers with the injected S3 error code", async () => {
    const { s3 } = await start();
    const client = s3.client({ maxAttempts: 1 });
    s3.inject({ op: "ListObjectsV2", status: 503, code: "SlowDown" });
    expect(await failure(client.send(new ListObjectsV2Command({ Bucket: s3.bucket })))).toEqual({
      name: "SlowDown",
      status: 503,
    });
  });

  it("matches faults by key prefix and consumes them first in, first out", async () => {
    const { s3 } = await start();
    const client = s3.client({ maxAttempts: 1 });
    s3.inject({ op: "HeadObject", keyPrefix: "b/", status: 403 }, { op: "HeadObject", status: 404 });
    await s3.putObject("a/1", "x");
    await s3.putObject("b/1", "x");
    expect(await failure(client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: "a/1" })))).toEqual({
      name: "NotFound",
      status: 404,
    });
    expect(
      (await failure(client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: "b/1" })))).status,
    ).toBe(403);
    await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: "b/1" }));
  });

  it("delays a stalled request, and drops it unhandled when the client gives up first", async () => {
    const { s3, client } = await start();
    s3.inject({ op: "GetObject", kind: "stall", ms: 300 });
    await s3.putObject("k", "v");
    expect((await readBody(client, s3.bucket, "k")).toString()).toBe("v");
    expect(s3.operationsOf("GetObject")[0]?.durationMs).toBeGreaterThanOrEqual(290);

    const impatient = s3.client({
      maxAttempts: 1,
      requestHandler: { requestTimeout: 100, throwOnRequestTimeout: true },
    });
    s3.inject({ op: "PutObject", kind: "stall", ms: 1000 });
    expect(
      (await failure(impatient.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "late", Body: "v" }))))
        .name,
    ).toBe("TimeoutError");
    await until(() => s3.operationsOf("PutObject").length === 1, "the stalled PutObject to be logged");
    expect(s3.operationsOf("PutObject").map((o) => [o.status, o.fault])).toEqual([[0, "stall"]]);
    expect(await s3.keys()).toEqual(["k"]);
  });
});

describe("startS3Server: close", () => {
  it("stops both servers and removes the storage directory", async () => {
    const s3 = await startS3Server();
    await s3.putObject("k", "v");
    expect(existsSync(s3.directory)).toBe(true);
    await s3.close();
    expect(existsSync(s3.directory)).toBe(false);
    const refused = await new Promise<string>((resolve) => {
      http
        .get(`${s3.endpoint}/`, () => resolve("answered"))
        .on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? ""));
    });
    expect(refused).toBe("ECONNREFUSED");
    await s3.close();
  });
});

describe("crc32Combine", () => {
  it("equals zlib's CRC-32 of the concatenation, for empty, tiny and random sizes", async () => {
    const sizes = [0, 1, 3, 4, 1000, ...Array.from({ length: 12 }, () => randomInt(0, 300_000))];
    for (const sizeA of sizes) {
      const a = randomBytes(sizeA);
      const sizeB = sizes[randomInt(0, sizes.length)] ?? 0;
      const b = randomBytes(sizeB);
      expect(crc32Combine(crc32(a), crc32(b), b.length), `sizes ${sizeA} + ${sizeB}`).toBe(
        crc32(Buffer.concat([a, b])) >>> 0,
      );
    }
  });

  it("matches zlib for a zero-filled second piece of more than 2^32 bytes, fed to zlib in chunks", async () => {
    const prefix = randomBytes(1000);
    const length = 2 ** 32 + 12_345;
    const zeros = Buffer.alloc(16 * MiB);
    let ofZeros = 0;
    let ofWhole = crc32(prefix);
    for (let done = 0; done < length; done += zeros.length) {
      const chunk = zeros.subarray(0, Math.min(zeros.length, length - done));
      ofZeros = crc32(chunk, ofZeros);
      ofWhole = crc32(chunk, ofWhole);
    }
    expect(crc32Combine(crc32(prefix), ofZeros, length)).toBe(ofWhole >>> 0);
  }, 60_000);

  it("composes lengths across 2^31, 2^32 and beyond as one length (no 32-bit truncation)", async () => {
    const lengths = [2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 5 * 2 ** 40, 2 ** 52 + 3];
    for (const lengthB of lengths) {
      for (const lengthC of [0, 1, 2 ** 31, 2 ** 32 + 7]) {
        const [a, b, c] = [randomInt(2 ** 32), randomInt(2 ** 32), randomInt(2 ** 32)];
        expect(crc32Combine(crc32Combine(a, b, lengthB), c, lengthC), `${lengthB} + ${lengthC}`).toBe(
          crc32Combine(a, crc32Combine(b, c, lengthC), lengthB + lengthC),
        );
      }
    }
    expect(() => crc32Combine(0, 0, -1)).toThrow(RangeError);
    expect(() => crc32Combine(0, 0, 2 ** 53)).toThrow(RangeError);
  });
});

describe("startS3Server: FULL_OBJECT CRC32 multipart uploads", () => {
  it("completes a conditional FULL_OBJECT upload and reports the whole object's CRC32 on Complete, HEAD and GET", async () => {
    const { s3, client } = await start();
    const bodies = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(1234)];
    const { created, UploadId, parts, whole } = await fullObjectUpload(
      client,
      s3.bucket,
      "logs/full.gz",
      bodies,
    );
    expect([created.ChecksumAlgorithm, created.ChecksumType]).toEqual(["CRC32", "FULL_OBJECT"]);
    expect(parts.map((p) => p.ChecksumCRC32)).toEqual(bodies.map(crc32Base64));
    const completed = await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: s3.bucket,
        Key: "logs/full.gz",
        UploadId,
        MultipartUpload: { Parts: parts },
        ChecksumCRC32: whole,
        ChecksumType: "FULL_OBJECT",
        IfNoneMatch: "*",
      }),
    );
    expect([completed.ChecksumCRC32, completed.ChecksumType]).toEqual([whole, "FULL_OBJECT"]);
    const head = await client.send(
      new HeadObjectCommand({ Bucket: s3.bucket, Key: "logs/full.gz", ChecksumMode: "ENABLED" }),
    );
    expect([head.ChecksumCRC32, head.ChecksumType, head.ContentLength]).toEqual([
      whole,
      "FULL_OBJECT",
      15 * MiB + 1234,
    ]);
    // The SDK validates the body against the reported CRC32 while reading it.
    const got = await client.send(
      new GetObjectCommand({ Bucket: s3.bucket, Key: "logs/full.gz", ChecksumMode: "ENABLED" }),
    );
    const body = Buffer.from((await got.Body?.transformToByteArray()) ?? []);
    expect([got.ChecksumCRC32, got.ChecksumType]).toEqual([whole, "FULL_OBJECT"]);
    expect(body.equals(Buffer.concat(bodies))).toBe(true);
    expect(s3.openMultipartUploads()).toEqual([]);
  });

  it("answers BadDigest to a wrong whole-object CRC32, commits nothing and keeps the upload open", async () => {
    const { s3, client } = await start();
    const bodies = [randomBytes(5 * MiB), randomBytes(100)];
    const { UploadId, parts, whole } = await fullObjectUpload(client, s3.bucket, "k", bodies);
    const complete = (ChecksumCRC32: string) =>
      client.send(
        new CompleteMultipartUploadCommand({
          Bucket: s3.bucket,
          Key: "k",
          UploadId,
          MultipartUpload: { Parts: parts },
          ChecksumCRC32,
          ChecksumType: "FULL_OBJECT",
          IfNoneMatch: "*",
        }),
      );
    const wrong = crc32Base64(Buffer.concat([...bodies, Buffer.from("x")]));
    expect(await failure(complete(wrong))).toEqual({ name: "BadDigest", status: 400 });
    expect(await s3.keys()).toEqual([]);
    expect(s3.openMultipartUploads()).toEqual([{ bucket: s3.bucket, key: "k", uploadId: UploadId }]);
    await complete(whole);
    expect((await s3.getObject("k")).body.equals(Buffer.concat(bodies))).toBe(true);
  });

  it("refuses a part without a CRC32, or with another algorithm's checksum, keeping the part it would replace", async () => {
    const { s3, client } = await start();
    const original = randomBytes(1000);
    const { UploadId, parts, whole } = await fullObjectUpload(client, s3.bucket, "k", [original]);
    const bare = s3.client({ requestChecksumCalculation: "WHEN_REQUIRED" });
    const replace = (c: S3Client, algorithm?: "SHA256") =>
      c.send(
        new UploadPartCommand({
          Bucket: s3.bucket,
          Key: "k",
          UploadId,
          PartNumber: 1,
          Body: randomBytes(1000),
          ...(algorithm === undefined ? {} : { ChecksumAlgorithm: algorithm }),
        }),
      );
    expect(await failure(replace(bare))).toEqual({ name: "InvalidRequest", status: 400 });
    expect(await failure(replace(client, "SHA256"))).toEqual({ name: "InvalidRequest", status: 400 });
    expect(s3.operationsOf("UploadPart").map((o) => o.status)).toEqual([200, 400, 400]);
    const completed = await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: s3.bucket,
        Key: "k",
        UploadId,
        MultipartUpload: { Parts: parts },
        ChecksumCRC32: whole,
        ChecksumType: "FULL_OBJECT",
      }),
    );
    expect(completed.ChecksumCRC32).toBe(crc32Base64(original));
    expect((await s3.getObject("k")).body.equals(original)).toBe(true);
  });

  it("rejects a completion whose part CRC32, part numbering or checksum type contradicts the upload", async () => {
    const { s3, client } = await start();
    const bodies = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(10)];
    const { UploadId, parts, whole } = await fullObjectUpload(client, s3.bucket, "k", bodies);
    const [first, second, third] = parts as [(typeof parts)[0], (typeof parts)[0], (typeof parts)[0]];
    const complete = (Parts: typeof parts, ChecksumType: "FULL_OBJECT" | "COMPOSITE" = "FULL_OBJECT") =>
      client.send(
        new CompleteMultipartUploadCommand({
          Bucket: s3.bucket,
          Key: "k",
          UploadId,
          MultipartUpload: { Parts },
          ChecksumCRC32: whole,
          ChecksumType,
        }),
      );
    const swapped = { ...second, ChecksumCRC32: first.ChecksumCRC32 };
    expect(await failure(complete([first, swapped, third]))).toEqual({ name: "InvalidPart", status: 400 });
    expect(await failure(complete([first, third]))).toEqual({ name: "InvalidPartOrder", status: 400 });
    expect(await failure(complete(parts, "COMPOSITE"))).toEqual({ name: "InvalidRequest", status: 400 });
    expect(await s3.keys()).toEqual([]);
    // Part checksums are optional in the Complete request of a FULL_OBJECT upload.
    const withoutCrcs = parts.map(({ PartNumber, ETag }) => ({ PartNumber, ETag, ChecksumCRC32: undefined }));
    const completed = await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: s3.bucket,
        Key: "k",
        UploadId,
        MultipartUpload: { Parts: withoutCrcs },
      }),
    );
    expect(completed.ChecksumCRC32).toBe(whole);
  });

  it("answers 412 to a conditional FULL_OBJECT completion on an existing key and changes nothing", async () => {
    const { s3, client } = await start();
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "final", Body: "already here" }));
    const bodies = [randomBytes(5 * MiB), randomBytes(10)];
    const { UploadId, parts, whole } = await fullObjectUpload(client, s3.bucket, "final", bodies);
    const complete = client.send(
      new CompleteMultipartUploadCommand({
        Bucket: s3.bucket,
        Key: "final",
        UploadId,
        MultipartUpload: { Parts: parts },
        ChecksumCRC32: whole,
        ChecksumType: "FULL_OBJECT",
        IfNoneMatch: "*",
      }),
    );
    expect(await failure(complete)).toEqual({ name: "PreconditionFailed", status: 412 });
    expect((await s3.getObject("final")).body.toString()).toBe("already here");
    const head = await client.send(
      new HeadObjectCommand({ Bucket: s3.bucket, Key: "final", ChecksumMode: "ENABLED" }),
    );
    expect(head.ChecksumCRC32).toBe(crc32Base64(Buffer.from("already here")));
    expect(s3.openMultipartUploads()).toEqual([{ bucket: s3.bucket, key: "final", uploadId: UploadId }]);
  });

  it("answers 501 NotImplemented to FULL_OBJECT with any algorithm but CRC32, opening no upload", async () => {
    const { s3, client } = await start();
    const create = (ChecksumAlgorithm: "SHA256" | "CRC32C") =>
      client.send(
        new CreateMultipartUploadCommand({
          Bucket: s3.bucket,
          Key: "k",
          ChecksumAlgorithm,
          ChecksumType: "FULL_OBJECT",
        }),
      );
    expect(await failure(create("CRC32C"))).toEqual({ name: "NotImplemented", status: 501 });
    expect(await failure(create("SHA256"))).toEqual({ name: "NotImplemented", status: 501 });
    expect(s3.openMultipartUploads()).toEqual([]);
  });

  it("keeps a COMPOSITE upload with part CRC32s working as before", async () => {
    const { s3, client } = await start();
    const { UploadId } = await client.send(
      new CreateMultipartUploadCommand({
        Bucket: s3.bucket,
        Key: "k",
        ChecksumAlgorithm: "CRC32",
        ChecksumType: "COMPOSITE",
      }),
    );
    const body = randomBytes(1000);
    const { ETag, ChecksumCRC32 } = await client.send(
      new UploadPartCommand({
        Bucket: s3.bucket,
        Key: "k",
        UploadId,
        PartNumber: 1,
        Body: body,
        ChecksumAlgorithm: "CRC32",
      }),
    );
    const completed = await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: s3.bucket,
        Key: "k",
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag, ChecksumCRC32 }] },
      }),
    );
    expect(completed.Key).toBe("k");
    expect((await s3.getObject("k")).body.equals(body)).toBe(true);
  });
});

describe("startS3Server: checksums off (an S3-compatible store that ignores them)", () => {
  it("stores a PutObject whose CRC32 header and Content-MD5 are wrong, and reports no checksum anywhere", async () => {
    const { s3, client } = await start({ checksums: false });
    const put = await rawRequest(`${s3.endpoint}/${s3.bucket}/wrong`, {
      headers: {
        "x-amz-checksum-crc32": "AAAAAA==",
        "content-md5": createHash("md5").update("other").digest("base64"),
        "x-amz-content-sha256": sha256(Buffer.from("other")),
        "content-length": 5,
      },
      body: "hello",
    });
    expect(put.status).toBe(200);
    expect(put.headers["x-amz-checksum-crc32"]).toBeUndefined();
    expect((await s3.getObject("wrong")).body.toString()).toBe("hello");
    expect((await s3.getObject("wrong")).checksum).toBeUndefined();
    const head = await client.send(
      new HeadObjectCommand({ Bucket: s3.bucket, Key: "wrong", ChecksumMode: "ENABLED" }),
    );
    expect([head.ChecksumCRC32, head.ChecksumType]).toEqual([undefined, undefined]);
    const got = await rawRequest(`${s3.endpoint}/${s3.bucket}/wrong`, {
      method: "GET",
      headers: { "x-amz-checksum-mode": "ENABLED" },
    });
    expect(got.body).toBe("hello");
    expect(Object.keys(got.headers).filter((h) => h.startsWith("x-amz-checksum"))).toEqual([]);
  });

  it("round-trips the SDK's default-checksum PutObject without storing or echoing its CRC32", async () => {
    const { s3, client } = await start({ checksums: false });
    const body = randomBytes(300_000);
    const put = await client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: "streamed", Body: body, ChecksumAlgorithm: "CRC32" }),
    );
    expect(put.ChecksumCRC32).toBeUndefined();
    expect((await s3.getObject("streamed")).body.equals(body)).toBe(true);
    const got = await client.send(
      new GetObjectCommand({ Bucket: s3.bucket, Key: "streamed", ChecksumMode: "ENABLED" }),
    );
    expect(Buffer.from((await got.Body?.transformToByteArray()) ?? []).equals(body)).toBe(true);
    expect([got.ChecksumCRC32, got.ChecksumType]).toEqual([undefined, undefined]);
    const listed = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
    expect(listed.Contents?.map((o) => [o.Key, o.ChecksumAlgorithm, o.ChecksumType])).toEqual([
      ["streamed", undefined, undefined],
    ]);
  });

  it("takes a FULL_OBJECT CRC32 multipart upload without echoing its settings, part CRC32s or checking the whole CRC32", async () => {
    const { s3, client } = await start({ checksums: false });
    const created = await client.send(
      new CreateMultipartUploadCommand({
        Bucket: s3.bucket,
        Key: "k",
        ChecksumAlgorithm: "CRC32",
        ChecksumType: "FULL_OBJECT",
      }),
    );
    expect([created.ChecksumAlgorithm, created.ChecksumType]).toEqual([undefined, undefined]);
    const UploadId = created.UploadId ?? "";
    const bodies = [randomBytes(5 * MiB), randomBytes(1000)];
    const bare = s3.client({ requestChecksumCalculation: "WHEN_REQUIRED" });
    const first = await bare.send(
      new UploadPartCommand({ Bucket: s3.bucket, Key: "k", UploadId, PartNumber: 1, Body: bodies[0] }),
    );
    const second = await client.send(
      new UploadPartCommand({
        Bucket: s3.bucket,
        Key: "k",
        UploadId,
        PartNumber: 2,
        Body: bodies[1],
        ChecksumAlgorithm: "CRC32",
      }),
    );
    expect([first.ChecksumCRC32, second.ChecksumCRC32]).toEqual([undefined, undefined]);
    const completed = await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: s3.bucket,
        Key: "k",
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: first.ETag ?? "" },
            { PartNumber: 2, ETag: second.ETag ?? "" },
          ],
        },
        ChecksumCRC32: "AAAAAA==",
        ChecksumType: "FULL_OBJECT",
      }),
    );
    expect([completed.ChecksumCRC32, completed.ChecksumType]).toEqual([undefined, undefined]);
    expect((await s3.getObject("k")).body.equals(Buffer.concat(bodies))).toBe(true);
    const head = await client.send(
      new HeadObjectCommand({ Bucket: s3.bucket, Key: "k", ChecksumMode: "ENABLED" }),
    );
    expect([head.ChecksumCRC32, head.ChecksumType]).toEqual([undefined, undefined]);
    // Settings S3 refuses are not even looked at.
    const sha = await client.send(
      new CreateMultipartUploadCommand({
        Bucket: s3.bucket,
        Key: "sha",
        ChecksumAlgorithm: "SHA256",
        ChecksumType: "FULL_OBJECT",
      }),
    );
    expect(sha.UploadId).toBeDefined();
  });

  it("refuses a checksums option that is not a boolean", async () => {
    await expect(startS3Server({ checksums: "no" as never })).rejects.toThrow(/checksums/);
  });
});

/** `data` with the lowest bit of byte `at` flipped, as the `corrupt` fault does. */
function flipped(data: Buffer, at: number): Buffer {
  const copy = Buffer.from(data);
  copy[at] = (copy[at] ?? 0) ^ 0x01;
  return copy;
}

describe("startS3Server: corrupt fault", () => {
  it("refuses a PutObject whose CRC32 no longer matches its corrupted data with BadDigest, storing nothing", async () => {
    const { s3 } = await start();
    const client = s3.client({ maxAttempts: 1 });
    s3.inject({ op: "PutObject", kind: "corrupt" });
    const body = randomBytes(1000);
    const put = client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: "k", Body: body, ChecksumCRC32: crc32Base64(body) }),
    );
    // Over http the SDK also signs a buffered body's SHA-256, which is checked first.
    expect(await failure(put)).toEqual({ name: "XAmzContentSHA256Mismatch", status: 400 });
    expect(await s3.keys()).toEqual([]);
    expect(s3.operationsOf("PutObject").map((o) => [o.status, o.fault])).toEqual([[400, "corrupt"]]);
    s3.inject({ op: "PutObject", kind: "corrupt" });
    const raw = await rawRequest(`${s3.endpoint}/${s3.bucket}/k`, {
      headers: { "x-amz-checksum-crc32": crc32Base64(body), "content-length": body.length },
      body,
    });
    expect([raw.status, /<Code>BadDigest<\/Code>/.test(raw.body)]).toEqual([400, true]);
    expect(await s3.keys()).toEqual([]);
    await client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: "k", Body: body, ChecksumCRC32: crc32Base64(body) }),
    );
    expect((await s3.getObject("k")).body.equals(body)).toBe(true);
  });

  it("stores the corrupted bytes (the middle one flipped) and answers 200 when the store ignores checksums", async () => {
    const { s3 } = await start({ checksums: false });
    const client = s3.client({ maxAttempts: 1 });
    s3.inject({ op: "PutObject", kind: "corrupt" });
    const body = randomBytes(1001);
    await client.send(
      new PutObjectCommand({
        Bucket: s3.bucket,
        Key: "middle",
        Body: body,
        ChecksumCRC32: crc32Base64(body),
      }),
    );
    expect((await s3.getObject("middle")).body.equals(flipped(body, 500))).toBe(true);
    expect(s3.operationsOf("PutObject").map((o) => [o.status, o.fault])).toEqual([[200, "corrupt"]]);
  });

  it("stores a corrupted PutObject that declares no checksum, even with checksums on", async () => {
    const { s3 } = await start();
    s3.inject({ op: "PutObject", kind: "corrupt" });
    const put = await rawRequest(`${s3.endpoint}/${s3.bucket}/bare`, {
      headers: { "content-length": 5 },
      body: "hello",
    });
    expect(put.status).toBe(200);
    expect((await s3.getObject("bare")).body.toString()).toBe("hemlo");
  });

  it("refuses a corrupted part of a FULL_OBJECT CRC32 upload and keeps no part; stores it with checksums off", async () => {
    const { s3 } = await start();
    const client = s3.client({ maxAttempts: 1 });
    const body = randomBytes(2000);
    const { UploadId } = await fullObjectUpload(client, s3.bucket, "k", []);
    s3.inject({ op: "UploadPart", kind: "corrupt" });
    const part = () =>
      client.send(
        new UploadPartCommand({
          Bucket: s3.bucket,
          Key: "k",
          UploadId,
          PartNumber: 1,
          Body: body,
          ChecksumAlgorithm: "CRC32",
        }),
      );
    expect(await failure(part())).toEqual({ name: "XAmzContentSHA256Mismatch", status: 400 });
    expect(existsSync(join(s3.directory, s3.bucket, "._S3rver_uploads", UploadId, "1"))).toBe(false);
    const { ETag, ChecksumCRC32 } = await part();
    expect(ChecksumCRC32).toBe(crc32Base64(body));
    expect(ETag).toBe(`"${createHash("md5").update(body).digest("hex")}"`);
    await server?.close();

    const off = await start({ checksums: false });
    const created = await off.client.send(
      new CreateMultipartUploadCommand({ Bucket: off.s3.bucket, Key: "k" }),
    );
    off.s3.inject({ op: "UploadPart", kind: "corrupt" });
    const uploaded = await off.client.send(
      new UploadPartCommand({
        Bucket: off.s3.bucket,
        Key: "k",
        UploadId: created.UploadId,
        PartNumber: 1,
        Body: body,
        ChecksumAlgorithm: "CRC32",
      }),
    );
    await off.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: off.s3.bucket,
        Key: "k",
        UploadId: created.UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: uploaded.ETag ?? "" }] },
      }),
    );
    expect((await off.s3.getObject("k")).body.equals(flipped(body, 1000))).toBe(true);
  });

  it("applies only to PutObject and UploadPart: refused for other operations, skipped by them under op '*'", async () => {
    const { s3, client } = await start({ checksums: false });
    expect(() => s3.inject({ op: "GetObject", kind: "corrupt" })).toThrow(/PutObject and UploadPart/);
    expect(() => s3.inject({ op: "PutObject", kind: "explode" as never })).toThrow(/kind/);
    s3.inject({ op: "*", kind: "corrupt" });
    await s3.putObject("k", "v");
    expect((await readBody(client, s3.bucket, "k")).toString()).toBe("v");
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "k", Body: "abc" }));
    expect((await s3.getObject("k")).body.toString()).toBe("acc");
    expect(s3.operations.map((o) => [o.op, o.fault])).toEqual([
      ["GetObject", undefined],
      ["PutObject", "corrupt"],
    ]);
  });
});

describe("startS3Server: repeat-token fault", () => {
  it("answers ListObjectsV2 with the request's own continuation token, for `times` requests", async () => {
    const { s3 } = await start();
    const client = s3.client({ maxAttempts: 1 });
    for (const key of ["a", "b", "c"]) await s3.putObject(key, "x");
    const list = (ContinuationToken?: string) =>
      client.send(new ListObjectsV2Command({ Bucket: s3.bucket, MaxKeys: 2, ContinuationToken }));
    const real = (await list()).NextContinuationToken;
    expect(real).toBeDefined();
    s3.inject({ op: "ListObjectsV2", kind: "repeat-token", times: 3 });

    const again = await list(real);
    expect([again.IsTruncated, again.NextContinuationToken, again.ContinuationToken]).toEqual([
      true,
      real,
      real,
    ]);
    expect(again.Contents?.map((o) => o.Key)).toEqual(["c"]);

    const first = await list();
    expect([first.IsTruncated, first.NextContinuationToken]).toEqual([true, REPEATED_CONTINUATION_TOKEN]);
    expect(first.Contents?.map((o) => o.Key)).toEqual(["a", "b"]);
    const looped = await list(REPEATED_CONTINUATION_TOKEN);
    expect([looped.IsTruncated, looped.NextContinuationToken]).toEqual([true, REPEATED_CONTINUATION_TOKEN]);
    expect(looped.Contents?.map((o) => o.Key)).toEqual(["a", "b"]);
    expect(s3.operationsOf("ListObjectsV2").map((o) => o.fault)).toEqual([
      undefined,
      "repeat-token",
      "repeat-token",
      "repeat-token",
    ]);

    // Used up: the fixed token lists from the start, and paging then ends normally.
    const after = await list(REPEATED_CONTINUATION_TOKEN);
    expect(after.Contents?.map((o) => o.Key)).toEqual(["a", "b"]);
    expect(after.NextContinuationToken).toBe(real);
    const last = await list(after.NextContinuationToken);
    expect([last.IsTruncated, last.NextContinuationToken]).toEqual([false, undefined]);
  });

  it("keeps a client that follows NextContinuationToken paging for as long as the fault lasts", async () => {
    const { s3, client } = await start();
    await s3.putObject("only", "x");
    s3.inject({ op: "ListObjectsV2", kind: "repeat-token", times: 25 });
    let pages = 0;
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: s3.bucket, ContinuationToken: token }),
      );
      token = page.NextContinuationToken;
      pages += 1;
    } while (token !== undefined && pages < 100);
    expect(pages).toBe(26);
    expect(() => s3.inject({ op: "PutObject", kind: "repeat-token" })).toThrow(/ListObjectsV2/);
  });
});

describe("startS3Server: checksums in listings", () => {
  it("lists a stored CRC32 as ChecksumAlgorithm [CRC32] and ChecksumType FULL_OBJECT, and none for seeded objects", async () => {
    const { s3, client } = await start();
    const body = randomBytes(100);
    await client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: "a-put", Body: body, ChecksumCRC32: crc32Base64(body) }),
    );
    await s3.putObject("b-seeded", "no checksum");
    const bodies = [randomBytes(5 * MiB), randomBytes(10)];
    const { UploadId, parts, whole } = await fullObjectUpload(client, s3.bucket, "c-multipart", bodies);
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: s3.bucket,
        Key: "c-multipart",
        UploadId,
        MultipartUpload: { Parts: parts },
        ChecksumCRC32: whole,
        ChecksumType: "FULL_OBJECT",
      }),
    );
    const listed = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
    expect(listed.Contents?.map((o) => [o.Key, o.ChecksumAlgorithm, o.ChecksumType])).toEqual([
      ["a-put", ["CRC32"], "FULL_OBJECT"],
      ["b-seeded", undefined, undefined],
      ["c-multipart", ["CRC32"], "FULL_OBJECT"],
    ]);
    expect(listed.Contents?.[0]?.Size).toBe(100);
  });

  it("puts the checksum elements between ETag and Size, as S3 does", async () => {
    const { s3, client } = await start();
    await client.send(
      new PutObjectCommand({ Bucket: s3.bucket, Key: "k", Body: "v", ChecksumAlgorithm: "CRC32" }),
    );
    const xml = await rawRequest(`${s3.endpoint}/${s3.bucket}?list-type=2`, { method: "GET" });
    expect(xml.body).toMatch(
      /<Contents><Key>k<\/Key><LastModified>[^<]+<\/LastModified><ETag>[^<]+<\/ETag><ChecksumAlgorithm>CRC32<\/ChecksumAlgorithm><ChecksumType>FULL_OBJECT<\/ChecksumType><Size>1<\/Size><StorageClass>STANDARD<\/StorageClass><\/Contents>/,
    );
  });
});

describe("startS3Server: faults the archiver's hardening meets", () => {
  it("answers a CompleteMultipartUpload 409 ConditionalRequestConflict after draining its body, storing nothing and keeping the upload open", async () => {
    const { s3, client } = await start();
    const { UploadId, parts, part } = await stagedUpload(client, s3.bucket, "k");
    s3.inject({ op: "CompleteMultipartUpload", status: 409, code: "ConditionalRequestConflict" });
    const xml = Buffer.from(
      `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${parts[0]?.ETag}</ETag></Part></CompleteMultipartUpload>`,
    );
    let answered = false;
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(`${s3.endpoint}/${s3.bucket}/k?uploadId=${encodeURIComponent(UploadId)}`, {
        method: "POST",
        headers: { "content-length": xml.length },
      });
      req.on("response", (res) => {
        answered = true;
        let text = "";
        res.on("data", (chunk) => {
          text += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on("error", reject);
      req.write(xml.subarray(0, 20));
      setTimeout(() => {
        // Not answered before the whole body arrived: the fault drains it first.
        expect(answered).toBe(false);
        req.end(xml.subarray(20));
      }, 50);
    });
    const conflict = await response;
    expect(conflict.status).toBe(409);
    expect(conflict.body).toContain("<Code>ConditionalRequestConflict</Code>");
    expect(await s3.keys()).toEqual([]);
    expect(s3.openMultipartUploads()).toEqual([{ bucket: s3.bucket, key: "k", uploadId: UploadId }]);
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: s3.bucket,
        Key: "k",
        UploadId,
        MultipartUpload: { Parts: parts },
        IfNoneMatch: "*",
      }),
    );
    expect((await s3.getObject("k")).body.equals(part)).toBe(true);
    expect(s3.operationsOf("CompleteMultipartUpload").map((o) => [o.status, o.fault])).toEqual([
      [409, "status"],
      [200, undefined],
    ]);
  });

  it("fails an SDK CompleteMultipartUpload with the 409 it does not retry, and the next attempt completes", async () => {
    const { s3, client } = await start();
    const { UploadId, parts } = await stagedUpload(client, s3.bucket, "k");
    s3.inject({ op: "CompleteMultipartUpload", status: 409, code: "ConditionalRequestConflict" });
    const complete = () =>
      client.send(
        new CompleteMultipartUploadCommand({
          Bucket: s3.bucket,
          Key: "k",
          UploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    expect(await failure(complete())).toEqual({ name: "ConditionalRequestConflict", status: 409 });
    expect(s3.openMultipartUploads()).toHaveLength(1);
    await complete();
    expect(await s3.keys()).toEqual(["k"]);
  });

  it("answers a PutObject 409 ConditionalRequestConflict after draining its body, storing nothing; the next attempt stores", async () => {
    const { s3, client } = await start();
    s3.inject({ op: "PutObject", status: 409, code: "ConditionalRequestConflict" });
    const body = randomBytes(MiB);
    const conflict = await sendInHalves(`${s3.endpoint}/${s3.bucket}/raw`, body, async () => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      // Not answered before the whole body arrived: the fault drains it first.
      expect(s3.operationsOf("PutObject")).toEqual([]);
    });
    expect(conflict).toBe(409);
    s3.inject({ op: "PutObject", status: 409, code: "ConditionalRequestConflict" });
    const put = () =>
      client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "k", Body: body, IfNoneMatch: "*" }));
    expect(await failure(put())).toEqual({ name: "ConditionalRequestConflict", status: 409 });
    expect(await s3.keys()).toEqual([]);
    await put(); // on the same keep-alive connection, which the drained body left clean
    expect((await s3.getObject("k")).body.equals(body)).toBe(true);
    expect(s3.operationsOf("PutObject").map((o) => [o.key, o.status, o.fault])).toEqual([
      ["raw", 409, "status"],
      ["k", 409, "status"],
      ["k", 200, undefined],
    ]);
  });

  it("ends an hour-long ListObjectsV2 stall cleanly when the client aborts, leaving no timer behind", async () => {
    const { s3, client } = await start();
    await s3.putObject("a", "x");
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    s3.inject({ op: "ListObjectsV2", kind: "stall", ms: 3_600_000 });
    const abort = new AbortController();
    const listing = client.send(new ListObjectsV2Command({ Bucket: s3.bucket }), {
      abortSignal: abort.signal,
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    abort.abort();
    expect((await failure(listing)).name).toBe("AbortError");
    await until(() => s3.operationsOf("ListObjectsV2").length === 1, "the stalled listing to be logged");
    expect(s3.operationsOf("ListObjectsV2").map((o) => [o.status, o.fault])).toEqual([[0, "stall"]]);
    expect(timers()).toBeLessThanOrEqual(before);
    const next = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
    expect(next.Contents?.map((o) => o.Key)).toEqual(["a"]);
    const t0 = performance.now();
    await s3.close();
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it("ends an hour-long PutObject stall cleanly when the client aborts, leaving no timer behind", async () => {
    const { s3 } = await start();
    const client = s3.client({ maxAttempts: 1 });
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const before = timers();
    s3.inject({ op: "PutObject", kind: "stall", ms: 3_600_000 });
    const abort = new AbortController();
    const put = client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "late", Body: "v" }), {
      abortSignal: abort.signal,
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    abort.abort();
    expect((await failure(put)).name).toBe("AbortError");
    await until(() => s3.operationsOf("PutObject").length === 1, "the stalled PutObject to be logged");
    expect(s3.operationsOf("PutObject").map((o) => [o.status, o.fault])).toEqual([[0, "stall"]]);
    expect(timers()).toBeLessThanOrEqual(before);
    expect(await s3.keys()).toEqual([]);
    const t0 = performance.now();
    await s3.close();
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it("does not wait for a stalled request on close(), even one stalled beyond Node's timer limit", async () => {
    const { s3 } = await start();
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    try {
      s3.inject(
        { op: "PutObject", kind: "stall", ms: 3_000_000_000 },
        { op: "PutObject", kind: "stall", ms: Infinity },
      );
      const puts = [1, 2].map((n) =>
        rawRequest(`${s3.endpoint}/${s3.bucket}/k${n}`, { headers: { "content-length": 1 }, body: "v" }).then(
          () => "answered",
          () => "failed",
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      const t0 = performance.now();
      await s3.close();
      expect(performance.now() - t0).toBeLessThan(1000);
      expect(await Promise.all(puts)).toEqual(["failed", "failed"]);
      expect(warnings.map((w) => w.name)).not.toContain("TimeoutOverflowWarning");
      expect(() => s3.inject({ op: "PutObject", kind: "stall", ms: -1 })).toThrow(/ms/);
    } finally {
      process.off("warning", onWarning);
    }
  });
});
