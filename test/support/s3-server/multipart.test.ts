/**
 * The S3 test server: Multipart uploads: open uploads and aborts, S3's part checks, FULL_OBJECT
 * CRC32 uploads, and crc32Combine.
 */
import { randomBytes, randomInt } from "node:crypto";
import { crc32 } from "node:zlib";
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { crc32Combine } from "./crc32-combine";
import {
  completeUpload,
  crc32Base64,
  crc32Part,
  failure,
  fullObjectUpload,
  MiB,
  stagedUpload,
  start,
} from "./testing";

describe("startS3Server: multipart uploads", () => {
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
      completeUpload(client, s3.bucket, "m", UploadId, Parts);
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
    const completed = await completeUpload(client, s3.bucket, "logs/full.gz", UploadId, parts, {
      ChecksumCRC32: whole,
      ChecksumType: "FULL_OBJECT",
      IfNoneMatch: "*",
    });
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
      completeUpload(client, s3.bucket, "k", UploadId, parts, {
        ChecksumCRC32,
        ChecksumType: "FULL_OBJECT",
        IfNoneMatch: "*",
      });
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
    const completed = await completeUpload(client, s3.bucket, "k", UploadId, parts, {
      ChecksumCRC32: whole,
      ChecksumType: "FULL_OBJECT",
    });
    expect(completed.ChecksumCRC32).toBe(crc32Base64(original));
    expect((await s3.getObject("k")).body.equals(original)).toBe(true);
  });

  it("rejects a completion whose part CRC32, part numbering or checksum type contradicts the upload", async () => {
    const { s3, client } = await start();
    const bodies = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(10)];
    const { UploadId, parts, whole } = await fullObjectUpload(client, s3.bucket, "k", bodies);
    const [first, second, third] = parts as [(typeof parts)[0], (typeof parts)[0], (typeof parts)[0]];
    const complete = (Parts: typeof parts, ChecksumType: "FULL_OBJECT" | "COMPOSITE" = "FULL_OBJECT") =>
      completeUpload(client, s3.bucket, "k", UploadId, Parts, { ChecksumCRC32: whole, ChecksumType });
    const swapped = { ...second, ChecksumCRC32: first.ChecksumCRC32 };
    expect(await failure(complete([first, swapped, third]))).toEqual({ name: "InvalidPart", status: 400 });
    expect(await failure(complete([first, third]))).toEqual({ name: "InvalidPartOrder", status: 400 });
    expect(await failure(complete(parts, "COMPOSITE"))).toEqual({
      name: "InvalidRequest",
      status: 400,
    });
    expect(await s3.keys()).toEqual([]);
    // Part checksums are optional in the Complete request of a FULL_OBJECT upload.
    const withoutCrcs = parts.map(({ PartNumber, ETag }) => ({ PartNumber, ETag, ChecksumCRC32: undefined }));
    const completed = await completeUpload(client, s3.bucket, "k", UploadId, withoutCrcs);
    expect(completed.ChecksumCRC32).toBe(whole);
  });

  it("answers 412 to a conditional FULL_OBJECT completion on an existing key and changes nothing", async () => {
    const { s3, client } = await start();
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "final", Body: "already here" }));
    const bodies = [randomBytes(5 * MiB), randomBytes(10)];
    const { UploadId, parts, whole } = await fullObjectUpload(client, s3.bucket, "final", bodies);
    const complete = completeUpload(client, s3.bucket, "final", UploadId, parts, {
      ChecksumCRC32: whole,
      ChecksumType: "FULL_OBJECT",
      IfNoneMatch: "*",
    });
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
    const { ETag, ChecksumCRC32 } = await crc32Part(client, s3.bucket, "k", UploadId, 1, body);
    const completed = await completeUpload(client, s3.bucket, "k", UploadId, [
      { PartNumber: 1, ETag, ChecksumCRC32 },
    ]);
    expect(completed.Key).toBe("k");
    expect((await s3.getObject("k")).body.equals(body)).toBe(true);
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
