/**
 * The S3 test server: ListObjectsV2: pages in S3 key order, common prefixes, missing buckets,
 * listed checksums, the repeat-token fault.
 */
import { randomBytes } from "node:crypto";
import { ListObjectsV2Command, type ListObjectsV2CommandOutput, PutObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { REPEATED_CONTINUATION_TOKEN } from "./index";
import { completeUpload, crc32Base64, failure, fullObjectUpload, MiB, rawRequest, start } from "./testing";

describe("startS3Server: ListObjectsV2", () => {
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
    await completeUpload(client, s3.bucket, "c-multipart", UploadId, parts, {
      ChecksumCRC32: whole,
      ChecksumType: "FULL_OBJECT",
    });
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
