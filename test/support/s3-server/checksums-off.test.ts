/**
 * The S3 test server: `checksums: false`: an S3-compatible store that verifies, stores and reports
 * no checksum.
 */
import { createHash, randomBytes } from "node:crypto";
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { startS3Server } from "./index";
import { crc32Part, MiB, rawRequest, sha256, start } from "./testing";

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
    const second = await crc32Part(client, s3.bucket, "k", UploadId, 2, bodies[1]);
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
