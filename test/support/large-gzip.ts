/**
 * Large gzip logs made on the fly, for tests and benchmarks that need hundreds of megabytes
 * without holding them in memory or on disk.
 */
import { createHash, type Hash } from "node:crypto";
import { Readable, Transform } from "node:stream";
import { crc32, createGzip } from "node:zlib";
import { crc32ToBase64 } from "./s3-server/crc32-combine";

/** A large gzip stream and, once it has been read to the end, the SHA-256 of what it produced. */
export interface LargeGzip {
  readonly stream: Readable;
  /**
   * Hex SHA-256, size and CRC32 (base64, big-endian, as S3 reports it) of the gzip bytes produced
   * so far (complete once the stream ended).
   */
  produced(): { sha256: string; bytes: number; crc32: string };
}

/**
 * About `bytes` of valid gzip: pseudo-random log lines stored with compression level 0, so the
 * gzip is as large as its content and cheap to make (about a gigabyte per second).
 */
export function largeGzip(bytes: number, seed = 1): LargeGzip {
  // One megabyte of distinct printable lines, repeated: level 0 does not compress, so repetition
  // costs nothing in size while keeping generation fast.
  let state = seed >>> 0 || 1;
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < 1024 * 1024; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const line = `{"seq":${i},"event":"audit","payload":"${(state >>> 0).toString(36).padStart(8, "0").repeat(12)}"}\n`;
    lines.push(line);
    size += line.length;
  }
  const block = Buffer.from(lines.join(""));
  let remaining = bytes;
  const source = new Readable({
    read() {
      if (remaining <= 0) {
        this.push(null);
        return;
      }
      const chunk = remaining >= block.length ? block : block.subarray(0, remaining);
      remaining -= chunk.length;
      this.push(chunk);
    },
  });
  const hash: Hash = createHash("sha256");
  let produced = 0;
  let crc = 0;
  // Measured as it is read (not with a 'data' listener, which would start the flow before the
  // consumer is attached and lose the first bytes).
  const stream = source.pipe(createGzip({ level: 0 })).pipe(
    new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        produced += chunk.length;
        crc = crc32(chunk, crc);
        callback(null, chunk);
      },
    }),
  );
  let digest: string | undefined;
  return {
    stream,
    produced: () => {
      digest ??= stream.readableEnded ? hash.copy().digest("hex") : undefined;
      return { sha256: digest ?? hash.copy().digest("hex"), bytes: produced, crc32: crc32ToBase64(crc) };
    },
  };
}
