/**
 * CRC-32 (zlib's, as S3's `x-amz-checksum-crc32`) of a concatenation from the parts' CRCs and
 * lengths, without reading the data: how S3 derives a multipart upload's FULL_OBJECT checksum.
 * A port of zlib's `crc32_combine` (crc32.c, 1.2.12+): polynomials over GF(2) in zlib's reflected
 * bit order (bit 31 is x^0), multiplied modulo the CRC-32 polynomial.
 */

/** The CRC-32 polynomial, reflected. */
const POLY = 0xedb88320;
/** x^0 in the reflected representation. */
const ONE = 0x80000000;

/** a(x) * b(x) modulo p(x); both non-zero in every use here (x^n mod p is never 0). */
function multmodp(a: number, b: number): number {
  if (a === 0) return 0;
  let m = ONE;
  let p = 0;
  let bb = b >>> 0;
  for (;;) {
    if ((a & m) !== 0) {
      p ^= bb;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    bb = (bb & 1) === 1 ? (bb >>> 1) ^ POLY : bb >>> 1;
  }
  return p >>> 0;
}

/** x^(2^k) mod p(x) for k = 0..31; zlib indexes it with k & 31, as the sequence repeats there. */
const X2N_TABLE: readonly number[] = (() => {
  const table = [1 << 30];
  for (let k = 1; k < 32; k++) {
    const previous = table[k - 1] ?? 0;
    table.push(multmodp(previous, previous));
  }
  return table;
})();

/**
 * x^(n * 2^k) mod p(x). `n` is walked with division, not bit operators: JavaScript's bit operators
 * truncate to 32 bits, and objects (so parts' offsets) go up to 5 TB.
 */
function x2nmodp(n: number, k: number): number {
  let p = ONE;
  let rest = n;
  let power = k;
  while (rest > 0) {
    if (rest % 2 === 1) p = multmodp(X2N_TABLE[power & 31] ?? ONE, p);
    rest = Math.floor(rest / 2);
    power += 1;
  }
  return p;
}

/**
 * The CRC-32 of A followed by B, given crc32(A), crc32(B) and B's length in bytes.
 *
 * @example
 * ```ts
 * crc32Combine(crc32(a), crc32(b), b.length) === crc32(Buffer.concat([a, b]))
 * ```
 */
export function crc32Combine(crc1: number, crc2: number, length2: number): number {
  if (!Number.isSafeInteger(length2) || length2 < 0) {
    throw new RangeError(`crc32Combine needs a length that is a non-negative safe integer, got ${length2}`);
  }
  // B's length in bits: x^(8 * length2) = x^(length2 * 2^3).
  return (multmodp(x2nmodp(length2, 3), crc1 >>> 0) ^ crc2) >>> 0;
}

/** The CRC-32 of consecutive pieces from their CRCs and sizes, in order (0 for none). */
export function crc32OfPieces(pieces: Iterable<{ readonly crc32: number; readonly size: number }>): number {
  let crc = 0;
  for (const piece of pieces) crc = crc32Combine(crc, piece.crc32, piece.size);
  return crc;
}

/** A CRC-32 as S3 writes it: the 4 big-endian bytes in base64. */
export function crc32ToBase64(crc: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(crc >>> 0);
  return bytes.toString("base64");
}

/** Reads a base64 CRC-32 as S3 writes it; undefined when it is not 4 bytes of base64. */
export function crc32FromBase64(text: string): number | undefined {
  if (!/^[A-Za-z0-9+/]{6}==$/.test(text)) return undefined;
  return Buffer.from(text, "base64").readUInt32BE(0);
}
