/**
 * The S3 test server: Conditional writes (`If-None-Match: *`): PutObject and
 * CompleteMultipartUpload, races, and a store without them.
 */
import { randomBytes } from "node:crypto";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { completeUpload, failure, MiB, stagedUpload, start } from "./testing";

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
    const complete = completeUpload(client, s3.bucket, "final", UploadId, parts, { IfNoneMatch: "*" });
    expect(await failure(complete)).toEqual({ name: "PreconditionFailed", status: 412 });
    expect((await s3.getObject("final")).body.toString()).toBe("already here");
    expect(s3.openMultipartUploads()).toEqual([{ bucket: s3.bucket, key: "final", uploadId: UploadId }]);
  });

  it("completes a conditional multipart upload when the key does not exist", async () => {
    const { s3, client } = await start();
    const { UploadId, parts, part } = await stagedUpload(client, s3.bucket, "fresh");
    await completeUpload(client, s3.bucket, "fresh", UploadId, parts, { IfNoneMatch: "*" });
    expect((await s3.getObject("fresh")).body.equals(part)).toBe(true);
    expect(s3.openMultipartUploads()).toEqual([]);
  });

  it("overwrites with every write when conditional writes are off", async () => {
    const { s3, client } = await start({ conditionalWrites: false });
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "k", Body: "one", IfNoneMatch: "*" }));
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "k", Body: "two", IfNoneMatch: "*" }));
    expect((await s3.getObject("k")).body.toString()).toBe("two");
    const { UploadId, parts, part } = await stagedUpload(client, s3.bucket, "k");
    await completeUpload(client, s3.bucket, "k", UploadId, parts, { IfNoneMatch: "*" });
    expect((await s3.getObject("k")).body.equals(part)).toBe(true);
  });
});
