/**
 * The S3 test server: PutObject, GetObject and HeadObject through the SDK and raw HTTP, streaming,
 * CopyObject refused, close().
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { Readable } from "node:stream";
import {
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { describe, expect, it } from "vitest";
import { startS3Server } from "./index";
import {
  bytesIn,
  completeUpload,
  crc32Base64,
  failure,
  MiB,
  readBody,
  sendInHalves,
  sha256,
  start,
  until,
} from "./testing";

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
    await completeUpload(client, s3.bucket, "parted", UploadId, [{ PartNumber: 1, ETag }]);
    expect((await s3.getObject("parted")).body.equals(body)).toBe(true);
  });
});

describe("startS3Server: CopyObject", () => {
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
