import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSmallObject } from "../../../lambda/bucket/objects";
import { type S3TestServer, startS3Server } from "../../support/s3-server";

describe("readSmallObject", () => {
  let s3server: S3TestServer;
  beforeAll(async () => {
    s3server = await startS3Server();
  });
  afterAll(async () => {
    await s3server?.close();
  });
  const read = (key: string, max: number) =>
    readSmallObject(s3server.client(), { bucket: s3server.bucket, key }, max, "GetObject (test)");

  it("reads a small object whole, with its user metadata", async () => {
    await s3server.putObject("small.json", '{"a":1}\n', { signature: "c2ln" });
    expect(await read("small.json", 1024)).toEqual({
      bytes: Buffer.from('{"a":1}\n'),
      metadata: { signature: "c2ln" },
    });
  });

  it("does not read an object over the limit, whatever it holds", async () => {
    await s3server.putObject("huge.json", Buffer.alloc(3 * 1024 * 1024, 0x20));
    expect(await read("huge.json", 1024 * 1024)).toBe("too-large");
    // At the limit exactly it is read.
    await s3server.putObject("edge.json", Buffer.alloc(1024, 0x20));
    expect(await read("edge.json", 1024)).toMatchObject({ bytes: Buffer.alloc(1024, 0x20) });
  });

  it("fails naming the key, its status in the error's context, when there is no object", async () => {
    await expect(read("absent.json", 1024)).rejects.toMatchObject({
      context: { status: 404, key: "absent.json" },
      message: expect.stringContaining("GetObject (test)"),
    });
  });
});
