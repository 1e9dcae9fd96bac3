/**
 * The integrity records' format, pure: the receipt of one archived window (what was measured in
 * flight, written with the log), and the digest of one workspace's UTC day (every window of the
 * day on the schedule and its state, chained to the workspace's previous digest, signed).
 *
 * Modelled on CloudTrail's digest files: what is signed is the SHA-256 of the digest object's
 * exact bytes (a 32-byte message, which KMS's `ECDSA_SHA_256` hashes once more and signs with the
 * P-256 key, as `openssl dgst -sha256 -sign` would), and the signature travels in the object's
 * metadata (`x-amz-meta-signature`, base64 DER), like CloudTrail's data signing string. So
 * `openssl dgst -sha256 -binary digest.json > digest.sha256` then `openssl dgst -sha256 -verify
 * public.pem -signature sig.der digest.sha256` checks one with nothing but the public key. Each
 * digest carries the previous one's key, SHA-256 and signature, so deleting, replacing or
 * reordering one breaks the chain at the next.
 *
 * (The hash is signed as a RAW message, not as a KMS `DIGEST`: KMS's limit of 4,096 bytes for a
 * raw message rules out the digest itself, and moto, the tests' KMS, hashes a `DIGEST` message
 * again, so `DIGEST` would verify differently there and in AWS.)
 */
import { createHash, createPublicKey, verify as verifySignature } from "node:crypto";
import type { Workspace } from "../config";

/** The version of both formats; a reader refuses any other. */
export const DIGEST_FORMAT_VERSION = 1;

/** The user metadata key (after `x-amz-meta-`) holding a digest's signature, base64 DER. */
export const SIGNATURE_METADATA = "signature";

/**
 * The most bytes a reader takes of a digest (a day of one-minute windows, the most there can be,
 * is about 650 KB) and of a receipt (about 400 bytes): anything larger is not one of ours.
 */
export const MAX_DIGEST_BYTES = 8 * 1024 * 1024;
export const MAX_RECEIPT_BYTES = 64 * 1024;

/** The only signing algorithm: ECDSA on P-256 over SHA-256 (KMS `ECDSA_SHA_256`, key spec `ECC_NIST_P256`). */
export const SIGNING_ALGORITHM = "ECDSA_SHA_256";

/** What the writer of a window measured in flight, stored beside the log under `_receipts/`. */
export interface Receipt {
  readonly v: typeof DIGEST_FORMAT_VERSION;
  /** The log's key. */
  readonly key: string;
  /** `start/end`, ISO 8601 UTC. */
  readonly window: string;
  /** S3's version id of the log, where the bucket is versioned. */
  readonly versionId?: string;
  readonly bytes: number;
  /** Hex SHA-256 of the bytes Atlas sent, measured as they streamed into S3. */
  readonly sha256: string;
  /** Base64 CRC32 of the same bytes (S3's full-object checksum). */
  readonly crc32: string;
  /** Lines of the inflated log (0: Atlas's empty gzip, no event in the window). */
  readonly lines: number;
  /** ISO 8601 instant the log was stored. */
  readonly archivedAt: string;
  /** The run (CLI) or invocation (Lambda) that stored it. */
  readonly runId: string;
}

/** A window's state in a digest. */
export type WindowState =
  /** Its log is archived and its receipt says what Atlas sent. */
  | "archived"
  /** Archived, and Atlas's log held no event (the empty gzip): the window is proven empty. */
  | "empty"
  /** No object at its key when the day was sealed; `reason` says why. */
  | "missing"
  /** An object at its key without a receipt: its bytes were not measured in flight (the writer stopped between the log and its receipt). */
  | "unreceipted";

/** One window of a digest. */
export interface DigestWindow {
  readonly window: string;
  readonly key: string;
  readonly state: WindowState;
  readonly versionId?: string;
  readonly bytes?: number;
  readonly sha256?: string;
  readonly crc32?: string;
  readonly lines?: number;
  readonly reason?: string;
}

/** What a digest points back to: the workspace's previous digest. */
export interface DigestLink {
  readonly key: string;
  /** Hex SHA-256 of its bytes. */
  readonly sha256: string;
  /** Its signature, base64 DER. */
  readonly signature: string;
}

/** The body of a digest: exactly what is serialized, hashed and signed. */
export interface Digest {
  readonly v: typeof DIGEST_FORMAT_VERSION;
  readonly workspace: { readonly groupId: string; readonly tenantName: string; readonly spName?: string };
  /** The UTC day it seals, `YYYY-MM-DD`. */
  readonly date: string;
  /** Its place in the workspace's chain, from 1. */
  readonly sequence: number;
  /** ISO 8601 instant it was sealed. */
  readonly sealedAt: string;
  /** The window length, minutes: the schedule every window of the day is accounted against. */
  readonly windowMinutes: number;
  /** Every window of the day on the schedule, oldest first (a digest that amends the day: those it amends). */
  readonly windows: readonly DigestWindow[];
  /** The workspace's previous digest; null for the first. */
  readonly previous: DigestLink | null;
  /** The KMS key that signed it, and the algorithm. */
  readonly signing: { readonly keyId: string; readonly algorithm: typeof SIGNING_ALGORITHM };
}

/**
 * The bytes of a digest: JSON with the fields in the order of {@link Digest} (as built by this
 * module), two-space indented, with a final newline. What is signed is these bytes, whatever a
 * reader's JSON would re-serialize to.
 */
export function serializeDigest(digest: Digest): Buffer {
  return Buffer.from(`${JSON.stringify(digest, null, 2)}\n`, "utf8");
}

/** Hex SHA-256 of `bytes`. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The workspace as a digest names it. */
export function digestWorkspace(workspace: Workspace): Digest["workspace"] {
  return {
    groupId: workspace.groupId,
    tenantName: workspace.tenantName,
    ...(workspace.spName === undefined ? {} : { spName: workspace.spName }),
  };
}

/** Signs the SHA-256 of a digest's bytes: KMS in the archiver, a local key in tests. */
export interface DigestSigner {
  /** The key's ARN (or id), recorded in the digest. */
  readonly keyId: string;
  /** The DER ECDSA-SHA-256 signature of the 32-byte message `sha256` (the hash of the digest's bytes). */
  sign(sha256: Uint8Array, signal?: AbortSignal): Promise<Uint8Array>;
}

/** The message a digest's signature signs: the 32-byte SHA-256 of its bytes. */
export function signedMessage(bytes: Uint8Array): Buffer {
  return createHash("sha256").update(bytes).digest();
}

/**
 * Whether `signature` (DER) is a valid ECDSA P-256 signature of the digest `bytes` (of their
 * SHA-256, see {@link signedMessage}) under `publicKey` (PEM, or DER SubjectPublicKeyInfo as
 * KMS's GetPublicKey returns it). Offline: no AWS call.
 */
export function verifyDigestSignature(
  bytes: Uint8Array,
  signature: Uint8Array,
  publicKey: string | Uint8Array,
): boolean {
  const key =
    typeof publicKey === "string"
      ? createPublicKey(publicKey)
      : createPublicKey({ key: Buffer.from(publicKey), format: "der", type: "spki" });
  try {
    return verifySignature("sha256", signedMessage(bytes), { key, dsaEncoding: "der" }, signature);
  } catch {
    return false;
  }
}

/** A public key in PEM, from the DER SubjectPublicKeyInfo KMS's GetPublicKey returns. */
export function publicKeyPem(der: Uint8Array): string {
  return createPublicKey({ key: Buffer.from(der), format: "der", type: "spki" })
    .export({ format: "pem", type: "spki" })
    .toString();
}
