/**
 * Request bodies as S3 reads them: `aws-chunked` framing removed, and the payload checked against the
 * checksums the client declared (headers or trailers) while it streams through.
 */
import { createHash, type Hash } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { Transform, type TransformCallback } from "node:stream";
import { crc32 } from "node:zlib";

/** Longest chunk-size or trailer line accepted. */
const MAX_LINE = 8192;

/**
 * Decodes `Content-Encoding: aws-chunked` (the SDK's framing for streamed bodies with a trailing
 * checksum, signed or unsigned): `<hex size>[;ext]\r\n<data>\r\n ... 0[;ext]\r\n<trailers>\r\n`.
 * The trailers (e.g. `x-amz-checksum-crc32`) are in {@link trailers} once the stream ends.
 */
export class AwsChunkedDecoder extends Transform {
  /** Trailer fields by lower-case name. */
  readonly trailers: Record<string, string> = {};
  private state: "size" | "data" | "data-end" | "trailer" | "done" = "size";
  private line = "";
  private remaining = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      let i = 0;
      while (i < chunk.length) {
        if (this.state === "data") {
          const n = Math.min(this.remaining, chunk.length - i);
          this.push(chunk.subarray(i, i + n));
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = "data-end";
        } else if (this.state === "data-end") {
          const n = Math.min(2 - this.line.length, chunk.length - i);
          this.line += chunk.toString("latin1", i, i + n);
          i += n;
          if (this.line.length === 2) {
            if (this.line !== "\r\n") throw new Error("aws-chunked data is not followed by CRLF");
            this.line = "";
            this.state = "size";
          }
        } else if (this.state === "done") {
          if (chunk.subarray(i).toString("latin1").trim() !== "") {
            throw new Error("aws-chunked body has bytes after its final chunk");
          }
          i = chunk.length;
        } else {
          const newline = chunk.indexOf(0x0a, i);
          const end = newline === -1 ? chunk.length : newline + 1;
          this.line += chunk.toString("latin1", i, end);
          i = end;
          if (this.line.length > MAX_LINE) throw new Error("aws-chunked line too long");
          if (newline !== -1) this.endLine();
        }
      }
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    callback(this.state === "done" ? null : new Error(`aws-chunked body ended early (in ${this.state})`));
  }

  private endLine(): void {
    const line = this.line;
    this.line = "";
    if (!line.endsWith("\r\n")) throw new Error("aws-chunked line does not end with CRLF");
    const text = line.slice(0, -2);
    if (this.state === "size") {
      const hex = (text.split(";")[0] ?? "").trim();
      if (!/^[0-9a-fA-F]{1,16}$/.test(hex)) throw new Error(`aws-chunked size line is invalid: ${text}`);
      const size = Number.parseInt(hex, 16);
      if (size === 0) {
        this.state = "trailer";
      } else {
        this.remaining = size;
        this.state = "data";
      }
    } else if (text === "") {
      this.state = "done";
    } else {
      const colon = text.indexOf(":");
      if (colon <= 0) throw new Error(`aws-chunked trailer is invalid: ${text}`);
      this.trailers[text.slice(0, colon).trim().toLowerCase()] = text.slice(colon + 1).trim();
    }
  }
}

/** A checksum S3 stores with an object and reports with `x-amz-checksum-mode: ENABLED`. */
export interface StoredChecksum {
  /** Header suffix: `crc32`, `sha1` or `sha256`. */
  readonly algorithm: "crc32" | "sha1" | "sha256";
  /** Base64, as in `x-amz-checksum-<algorithm>`. */
  readonly value: string;
}

/** The response header that reports a stored checksum (none for none). */
export function checksumHeader(checksum: StoredChecksum | undefined): Record<string, string> {
  return checksum === undefined ? {} : { [`x-amz-checksum-${checksum.algorithm}`]: checksum.value };
}

/** What a body check found. */
export type BodyVerdict =
  | { readonly ok: true; readonly bytes: number; readonly checksum?: StoredChecksum }
  | { readonly ok: false; readonly status: number; readonly code: string; readonly message: string };

const VERIFIABLE = ["crc32", "sha1", "sha256"] as const;

/**
 * Passes a (decoded) body through unchanged while counting it and computing the checksums the
 * request declares: `x-amz-checksum-crc32|sha1|sha256` (as a header or, via `x-amz-trailer`, a
 * trailer) and a hex `x-amz-content-sha256`, what the SDK sends. CRC32C and CRC64NVME are accepted
 * without verification; `Content-MD5` is not checked (the SDK no longer sends it).
 */
export class BodyMeter extends Transform {
  private bytes = 0;
  private crc = 0;
  private readonly wantCrc32: boolean;
  private readonly hashes = new Map<string, Hash>();

  constructor(private readonly headers: IncomingHttpHeaders) {
    super();
    const declared = new Set<string>();
    const trailer = String(headers["x-amz-trailer"] ?? "").toLowerCase();
    for (const algorithm of VERIFIABLE) {
      if (headers[`x-amz-checksum-${algorithm}`] !== undefined || trailer === `x-amz-checksum-${algorithm}`) {
        declared.add(algorithm);
      }
    }
    if (/^[0-9a-f]{64}$/i.test(String(headers["x-amz-content-sha256"] ?? ""))) declared.add("sha256");
    this.wantCrc32 = declared.delete("crc32");
    for (const algorithm of declared) this.hashes.set(algorithm, createHash(algorithm));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.wantCrc32) this.crc = crc32(chunk, this.crc);
    for (const hash of this.hashes.values()) hash.update(chunk);
    callback(null, chunk);
  }

  /** Compares the body with what was declared; call once the body has ended. */
  verdict(trailers: Readonly<Record<string, string>> = {}, decodedLength?: number): BodyVerdict {
    if (decodedLength !== undefined && decodedLength !== this.bytes) {
      return {
        ok: false,
        status: 400,
        code: "IncompleteBody",
        message: `You did not provide the number of bytes specified by x-amz-decoded-content-length (${decodedLength}); got ${this.bytes}`,
      };
    }
    const digests: Record<string, Buffer> = {};
    if (this.wantCrc32) {
      const buf = Buffer.alloc(4);
      buf.writeUInt32BE(this.crc >>> 0);
      digests.crc32 = buf;
    }
    for (const [algorithm, hash] of this.hashes) digests[algorithm] = hash.digest();

    const contentSha = String(this.headers["x-amz-content-sha256"] ?? "");
    if (/^[0-9a-f]{64}$/i.test(contentSha) && digests.sha256?.toString("hex") !== contentSha.toLowerCase()) {
      return {
        ok: false,
        status: 400,
        code: "XAmzContentSHA256Mismatch",
        message: "The provided 'x-amz-content-sha256' header does not match what was computed.",
      };
    }
    let checksum: StoredChecksum | undefined;
    for (const algorithm of VERIFIABLE) {
      const name = `x-amz-checksum-${algorithm}`;
      const declared = this.headers[name] ?? trailers[name];
      if (typeof declared !== "string") continue;
      const actual = digests[algorithm]?.toString("base64");
      if (actual !== declared) {
        return {
          ok: false,
          status: 400,
          code: "BadDigest",
          message: `The ${algorithm.toUpperCase()} you specified did not match the calculated checksum.`,
        };
      }
      checksum ??= { algorithm, value: declared };
    }
    return checksum === undefined
      ? { ok: true, bytes: this.bytes }
      : { ok: true, bytes: this.bytes, checksum };
  }
}

/**
 * Passes a (decoded) body through with the lowest bit of the byte at `offset` flipped (xor 0x01):
 * the `corrupt` fault. An offset at or past the end of the body changes nothing.
 */
export class BitFlipper extends Transform {
  private seen = 0;

  constructor(private readonly offset: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const at = this.offset - this.seen;
    this.seen += chunk.length;
    if (at < 0 || at >= chunk.length) {
      callback(null, chunk);
      return;
    }
    const copy = Buffer.from(chunk);
    copy[at] = (copy[at] ?? 0) ^ 0x01;
    callback(null, copy);
  }
}
