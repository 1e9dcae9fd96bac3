/**
 * A pass-through that proves, while the bytes flow to S3, that they are one complete and valid
 * gzip stream, and measures them: byte count, SHA-256, CRC32, and the decompressed size and
 * line count.
 */
import { createHash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { crc32, createGunzip, type ZlibOptions } from "node:zlib";
import { GzipInvalidError } from "./errors";

/**
 * Buffer size on both sides of the inspector and of its inflater. With Node's 16 KiB default,
 * every 64 KiB socket read overflows the buffer, so the download is paused and resumed chunk by
 * chunk and TCP's window updates throttle it: measured here, 20 MB took 1.2 to 2 s through a
 * gunzip at 16 KiB and 0.26 s at 1 MiB. One MiB per stream keeps memory bounded all the same.
 */
const BUFFER_BYTES = 1024 * 1024;

/**
 * The inflater's output chunk: audit logs inflate about ten to one, and each output chunk is a
 * round trip to zlib's thread and a callback. Measured on audit-like JSON lines: 64 KiB chunks
 * cost 11.4 CPU-s per GB of gzip to inflate, 256 KiB 7.7 s, 1 MiB 8.3 s.
 *
 * zlib streams take the stream options too, though Node's typings only list zlib's own.
 */
const INFLATER_OPTIONS: ZlibOptions = Object.assign(
  { chunkSize: 256 * 1024 },
  { highWaterMark: BUFFER_BYTES },
);

/** What the inspector measured, once the stream has ended. */
export interface LogDigest {
  /** Bytes of gzip, as received and stored. */
  readonly bytes: number;
  /** Hex SHA-256 of the gzip bytes. */
  readonly sha256: string;
  /** CRC32 of the gzip bytes (what S3's default checksum covers). */
  readonly crc32: number;
  /** Bytes after decompression. */
  readonly uncompressedBytes: number;
  /** Newline-terminated lines after decompression (a final line without `\n` counts too). */
  readonly lines: number;
}

/**
 * Passes gzip bytes through unchanged while inflating a copy to check the framing and every
 * member's CRC32 and length. It fails the stream (so the upload is aborted) as soon as the data
 * is corrupt, and at the end when the gzip is truncated.
 *
 * @example
 * ```ts
 * const inspector = new GzipInspector();
 * await pipeline(download.body, inspector, destination);
 * inspector.digest(); // { bytes, sha256, crc32, uncompressedBytes, lines }
 * ```
 */
export class GzipInspector extends Transform {
  private readonly hash = createHash("sha256");
  private readonly gunzip = createGunzip(INFLATER_OPTIONS);
  private crc = 0;
  private bytes = 0;
  private inflatedBytes = 0;
  private newlines = 0;
  private lastByte = 0x0a;
  private inflateError: Error | undefined;
  private result: LogDigest | undefined;

  constructor() {
    super({ highWaterMark: BUFFER_BYTES });
    // The inflated copy is only counted and dropped: a 'data' listener keeps it flowing, so the
    // inflater's output never backs up.
    this.gunzip.on("data", (chunk: Buffer) => {
      this.inflatedBytes += chunk.length;
      let at = chunk.indexOf(0x0a);
      while (at !== -1) {
        this.newlines++;
        at = chunk.indexOf(0x0a, at + 1);
      }
      this.lastByte = chunk[chunk.length - 1] ?? this.lastByte;
    });
    // Fail at once, not at the next chunk: the download may be slow or stalled.
    this.gunzip.on("error", (err) => {
      this.inflateError ??= err;
      this.destroy(this.invalid(err));
    });
  }

  /** The measurements; only available after the stream ended successfully. */
  digest(): LogDigest {
    if (!this.result) throw new Error("GzipInspector.digest() called before the stream ended");
    return this.result;
  }

  private invalid(err: Error): GzipInvalidError {
    return new GzipInvalidError(
      `The audit log is not valid gzip after ${this.bytes} bytes (${err.message}): it was truncated or corrupted ` +
        "on the way, so it is not archived. The next run downloads the window again.",
      { cause: err },
    );
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.inflateError) {
      callback(this.invalid(this.inflateError));
      return;
    }
    this.hash.update(chunk);
    this.crc = crc32(chunk, this.crc);
    this.bytes += chunk.length;
    this.push(chunk);
    // Backpressure: hand the next chunk over only once the inflater accepted this one, so a slow
    // inflater slows the download instead of queueing the whole log in memory. An inflate error
    // while waiting must also release the wait.
    if (this.gunzip.write(chunk)) {
      callback();
      return;
    }
    const release = () => {
      this.gunzip.off("drain", release).off("error", release);
      callback(this.inflateError ? this.invalid(this.inflateError) : undefined);
    };
    this.gunzip.once("drain", release).once("error", release);
  }

  override _flush(callback: TransformCallback): void {
    const done = () => {
      this.gunzip.off("end", done).off("error", done);
      if (this.inflateError) {
        callback(this.invalid(this.inflateError));
        return;
      }
      this.result = {
        bytes: this.bytes,
        sha256: this.hash.digest("hex"),
        crc32: this.crc,
        uncompressedBytes: this.inflatedBytes,
        lines: this.newlines + (this.inflatedBytes > 0 && this.lastByte !== 0x0a ? 1 : 0),
      };
      callback();
    };
    if (this.inflateError) {
      done();
      return;
    }
    this.gunzip.once("end", done).once("error", done);
    this.gunzip.end();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.gunzip.destroy();
    callback(err);
  }
}
