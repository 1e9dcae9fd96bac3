/**
 * The S3 test server: Injected faults: statuses, key prefixes, stalls, corrupt bodies, and the
 * faults the archiver's hardening meets.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import {
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import type { S3TestServer } from "./index";
import {
  completeUpload,
  crc32Base64,
  crc32Part,
  failure,
  flipped,
  fullObjectUpload,
  MiB,
  rawRequest,
  readBody,
  sendInHalves,
  stagedUpload,
  start,
  until,
} from "./testing";

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
    const part = () => crc32Part(client, s3.bucket, "k", UploadId, 1, body);
    expect(await failure(part())).toEqual({ name: "XAmzContentSHA256Mismatch", status: 400 });
    expect(existsSync(join(s3.directory, s3.bucket, "._S3rver_uploads", UploadId, "1"))).toBe(false);
    const { ETag, ChecksumCRC32 } = await part();
    expect(ChecksumCRC32).toBe(crc32Base64(body));
    expect(ETag).toBe(`"${createHash("md5").update(body).digest("hex")}"`);

    const off = await start({ checksums: false });
    const created = await off.client.send(
      new CreateMultipartUploadCommand({ Bucket: off.s3.bucket, Key: "k" }),
    );
    off.s3.inject({ op: "UploadPart", kind: "corrupt" });
    const uploaded = await crc32Part(off.client, off.s3.bucket, "k", created.UploadId, 1, body);
    await completeUpload(off.client, off.s3.bucket, "k", created.UploadId, [
      { PartNumber: 1, ETag: uploaded.ETag ?? "" },
    ]);
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
    await completeUpload(client, s3.bucket, "k", UploadId, parts, { IfNoneMatch: "*" });
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
    const complete = () => completeUpload(client, s3.bucket, "k", UploadId, parts);
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

  it.each([
    [
      "ListObjectsV2",
      (s3: S3TestServer, client: S3Client, abortSignal: AbortSignal) =>
        client.send(new ListObjectsV2Command({ Bucket: s3.bucket }), { abortSignal }),
    ],
    [
      "PutObject",
      (s3: S3TestServer, client: S3Client, abortSignal: AbortSignal) =>
        client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "late", Body: "v" }), { abortSignal }),
    ],
  ] as const)(
    "ends an hour-long %s stall cleanly when the client aborts, leaving no timer behind",
    async (op, send) => {
      const { s3 } = await start();
      await s3.putObject("a", "x");
      const client = s3.client({ maxAttempts: 1 });
      const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
      const before = timers();
      s3.inject({ op, kind: "stall", ms: 3_600_000 });
      const abort = new AbortController();
      const request = send(s3, client, abort.signal);
      await new Promise((resolve) => setTimeout(resolve, 50));
      abort.abort();
      expect((await failure(request)).name).toBe("AbortError");
      await until(() => s3.operationsOf(op).length === 1, `the stalled ${op} to be logged`);
      expect(s3.operationsOf(op).map((o) => [o.status, o.fault])).toEqual([[0, "stall"]]);
      expect(timers()).toBeLessThanOrEqual(before);
      // The server still answers, and the stalled request left nothing behind.
      const next = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
      expect(next.Contents?.map((o) => o.Key)).toEqual(["a"]);
      const t0 = performance.now();
      await s3.close();
      expect(performance.now() - t0).toBeLessThan(1000);
    },
  );

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
