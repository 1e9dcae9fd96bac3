import { createHash, randomBytes } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { crc32, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { GzipInvalidError } from "../../../lambda/archive/errors";
import { GzipInspector } from "../../../lambda/archive/inspect";

const ATLAS_EMPTY = Buffer.from("H4sIAAAAAAAA/wEAAP//AAAAAAAAAAA=", "base64");

/** Streams `data` in small chunks through an inspector and returns what came out. */
async function inspect(data: Buffer, chunk = 7) {
  const inspector = new GzipInspector();
  const out: Buffer[] = [];
  const chunks = function* () {
    for (let i = 0; i < data.length; i += chunk) yield data.subarray(i, i + chunk);
  };
  await pipeline(
    Readable.from(chunks()),
    inspector,
    new Writable({
      write(c, _e, cb) {
        out.push(c);
        cb();
      },
    }),
  );
  return { output: Buffer.concat(out), digest: inspector.digest() };
}

describe("GzipInspector", () => {
  it("passes the bytes through unchanged and measures them", async () => {
    const text = "line one\nline two\nline three\n";
    const gz = gzipSync(text);
    const { output, digest } = await inspect(gz);
    expect(output.equals(gz)).toBe(true);
    expect(digest).toEqual({
      bytes: gz.length,
      sha256: createHash("sha256").update(gz).digest("hex"),
      crc32: crc32(gz),
      uncompressedBytes: Buffer.byteLength(text),
      lines: 3,
    });
  });

  it("accepts Atlas's 23-byte empty gzip as an empty log", async () => {
    const { digest } = await inspect(ATLAS_EMPTY);
    expect(digest.bytes).toBe(23);
    expect(digest.uncompressedBytes).toBe(0);
    expect(digest.lines).toBe(0);
  });

  it("accepts several gzip members and counts a final line without a newline", async () => {
    const gz = Buffer.concat([gzipSync("a\nb\n"), gzipSync("c")]);
    const { digest } = await inspect(gz, 5);
    expect(digest.lines).toBe(3);
    expect(digest.uncompressedBytes).toBe(5);
  });

  it.each([
    ["truncated before the trailer", (gz: Buffer) => gz.subarray(0, gz.length - 4)],
    ["cut in the middle", (gz: Buffer) => gz.subarray(0, Math.floor(gz.length / 2))],
    ["with a wrong CRC", (gz: Buffer) => Buffer.concat([gz.subarray(0, gz.length - 8), Buffer.alloc(8)])],
    ["followed by garbage", (gz: Buffer) => Buffer.concat([gz, Buffer.from("<html>")])],
    ["not gzip at all", () => Buffer.from("<html><body>Service Unavailable</body></html>")],
    ["empty", () => Buffer.alloc(0)],
  ])("rejects a log %s", async (_name, damage) => {
    const gz = gzipSync(randomBytes(50_000).toString("base64"));
    const err = await inspect(damage(gz), 1024).catch((e) => e);
    expect(err).toBeInstanceOf(GzipInvalidError);
    expect(err.code).toBe("ARCHIVE_GZIP_INVALID");
    expect(err.message).toContain("not valid gzip");
  });

  it("fails as soon as the data is corrupt, even while the download stalls", async () => {
    const gz = gzipSync(randomBytes(3_000_000).toString("hex"));
    const corrupt = Buffer.from(gz.subarray(0, 50_000));
    // The first deflate block header (after the 10-byte gzip header) with the reserved block type
    // 11: inflate can tell at once, without waiting for the CRC at the end.
    corrupt[10] = 0b111;
    // A download that delivers its first (corrupt) bytes and then goes silent without ending.
    let delivered = false;
    const source = new Readable({
      read() {
        if (!delivered) this.push(corrupt);
        delivered = true;
      },
    });
    const started = Date.now();
    const err = await pipeline(
      source,
      new GzipInspector(),
      new Writable({
        write(_c, _e, cb) {
          cb();
        },
      }),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(GzipInvalidError);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
