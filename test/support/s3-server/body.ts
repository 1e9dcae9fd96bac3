/**
 * Request bodies as S3 reads them: the payload checked against the checksums the client declared
 * while it streams through, and the `corrupt` fault's bit flip.
 */
import { createHash, type Hash } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { Transform, type TransformCallback } from "node:stream";
import { crc32 } from "node:zlib";

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
  | { readonly ok: true; readonly checksum?: StoredChecksum }
  | { readonly ok: false; readonly status: number; readonly code: string; readonly message: string };

const VERIFIABLE = ["crc32", "sha1", "sha256"] as const;

/**
 * Passes a body through unchanged while computing the checksums the request declares in its
 * headers: `x-amz-checksum-crc32|sha1|sha256` and a hex `x-amz-content-sha256`, what the SDK sends
 * with a buffered body. CRC32C and CRC64NVME are accepted without verification; `Content-MD5` is
 * not checked (the SDK no longer sends it).
 */
export class BodyMeter extends Transform {
  private crc = 0;
  private readonly wantCrc32: boolean;
  private readonly hashes = new Map<string, Hash>();

  constructor(private readonly headers: IncomingHttpHeaders) {
    super();
    const declared = new Set<string>(VERIFIABLE.filter((a) => headers[`x-amz-checksum-${a}`] !== undefined));
    if (/^[0-9a-f]{64}$/i.test(String(headers["x-amz-content-sha256"] ?? ""))) declared.add("sha256");
    this.wantCrc32 = declared.delete("crc32");
    for (const algorithm of declared) this.hashes.set(algorithm, createHash(algorithm));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.wantCrc32) this.crc = crc32(chunk, this.crc);
    for (const hash of this.hashes.values()) hash.update(chunk);
    callback(null, chunk);
  }

  /** Compares the body with what was declared; call once the body has ended. */
  verdict(): BodyVerdict {
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
      const declared = this.headers[name];
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
    return checksum === undefined ? { ok: true } : { ok: true, checksum };
  }
}

/**
 * Passes a body through with the lowest bit of the byte at `offset` flipped (xor 0x01):
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
