/**
 * Reading a workspace's digests for `verify`: listing them, reading each (its exact bytes and the
 * signature in its metadata), parsing and checking its signature, its place and its link to the
 * digest before it. Pure checks on what was read; the object checks are `verify.ts`'s.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { listPages } from "../bucket/list";
import { readSmallObject } from "../bucket/objects";
import { DIGESTS_FOLDER, parseDigestKey, type Workspace, workspaceLabel } from "../config";
import {
  DIGEST_FORMAT_VERSION,
  type Digest,
  MAX_DIGEST_BYTES,
  SIGNATURE_METADATA,
  SIGNING_ALGORITHM,
  sha256Hex,
} from "../digest/format";
import { ruleFor } from "../errors";
import { READER_ROLE } from "./errors";

/** Checks a digest's signature: offline with a public key, or through KMS. */
export interface SignatureVerifier {
  /** How: `public-key` (offline) or `kms`. */
  readonly method: "public-key" | "kms";
  /** The KMS key the digests must name in `signing.keyId` (KMS only). */
  readonly keyId?: string;
  /** Whether `signature` (DER) signs the digest `bytes` (their SHA-256). */
  verify(bytes: Buffer, signature: Buffer): Promise<boolean>;
}

/** A problem found while verifying: the key it concerns, a stable code and why. */
export interface Problem {
  readonly key: string;
  readonly problem: string;
  readonly reason: string;
}

/** A digest key found under the digests folder, by workspace. */
export interface ListedDigest {
  readonly key: string;
  readonly workspace: Workspace;
  readonly date: string;
}

/** The digests folder's keys under `{prefix}_digests/[group=G/]`, and those that are no digest key. */
export async function listDigests(
  s3: S3Client,
  location: { readonly bucket: string; readonly prefix: string },
  groupId: string | undefined,
  signal?: AbortSignal,
): Promise<{ digests: ListedDigest[]; unparsed: Problem[] }> {
  const folder = `${location.prefix}${DIGESTS_FOLDER}${groupId === undefined ? "" : `group=${groupId}/`}`;
  const digests: ListedDigest[] = [];
  const unparsed: Problem[] = [];
  const shape = /^group=([^/]+)\/tenant=([^/]+)\/workspace=([^/]+)\/[^/]+$/;
  const request = { bucket: location.bucket, prefix: folder, role: READER_ROLE };
  for await (const page of listPages(s3, request, signal)) {
    for (const { key } of page.contents) {
      const m = shape.exec(key.slice(`${location.prefix}${DIGESTS_FOLDER}`.length));
      const [, groupIdOf = "", tenantName = "", stem = ""] = m ?? [];
      let workspace: Workspace | undefined;
      if (m && stem === tenantName) workspace = { groupId: groupIdOf, tenantName };
      else if (m && stem.startsWith(`${tenantName}_`) && stem.length > tenantName.length + 1) {
        workspace = { groupId: groupIdOf, tenantName, spName: stem.slice(tenantName.length + 1) };
      }
      const date = workspace && parseDigestKey(location.prefix, workspace, key);
      if (!workspace || date === undefined) {
        unparsed.push({
          key,
          problem: "DIGEST_KEY_UNPARSABLE",
          reason:
            "a key under the digests folder that is no digest's " +
            "(group=<groupId>/tenant=<tenantName>/workspace=<stem>/<YYYY-MM-DD>_digest.json)",
        });
      } else {
        digests.push({ key, workspace, date });
      }
    }
  }
  return { digests, unparsed };
}

/** A digest as read: its bytes, its signature and what they say. */
export interface ReadDigest {
  readonly key: string;
  /** The day its key names. */
  readonly date: string;
  readonly bytes: Buffer;
  readonly sha256: string;
  /** Base64 DER, from the object's metadata; undefined when it has none. */
  readonly signature: string | undefined;
  /** The parsed body; undefined when it is not a digest of this format. */
  readonly digest: Digest | undefined;
  /** `valid`, `invalid`, `missing` (no signature metadata) or `unchecked` (no key given). */
  signatureStatus: SignatureStatus;
  /** Problems of this digest itself (parse, signature, place, chain). */
  readonly problems: Problem[];
}

/** What became of a digest's signature. */
export type SignatureStatus = "valid" | "invalid" | "missing" | "unchecked";

/** The body if it has the digest's shape, else why not. */
function parseDigest(bytes: Buffer): Digest | string {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    return `its bytes are not JSON (${(err as Error).message})`;
  }
  const d = value as Partial<Digest> | null;
  if (typeof d !== "object" || d === null) return "its body is not a JSON object";
  if (d.v !== DIGEST_FORMAT_VERSION)
    return `its format version is ${JSON.stringify(d.v)}, not ${DIGEST_FORMAT_VERSION}`;
  if (
    typeof d.workspace?.groupId !== "string" ||
    typeof d.workspace.tenantName !== "string" ||
    typeof d.date !== "string" ||
    typeof d.sequence !== "number" ||
    typeof d.windowMinutes !== "number" ||
    !Array.isArray(d.windows) ||
    d.previous === undefined ||
    typeof d.signing?.keyId !== "string"
  ) {
    return "its body lacks a field of the digest format (workspace, date, sequence, windowMinutes, windows, previous, signing)";
  }
  return d as Digest;
}

/**
 * Reads one digest (GET: its bytes are small) and checks what it says alone: its format, that it
 * names the workspace and day of its key, its signing key and its signature.
 *
 * @returns undefined when there is no object at `key`
 */
export async function readDigest(
  s3: S3Client,
  location: { readonly bucket: string; readonly prefix: string },
  workspace: Workspace,
  key: string,
  verifier: SignatureVerifier | undefined,
  signal?: AbortSignal,
): Promise<ReadDigest | undefined> {
  const target = { bucket: location.bucket, key, role: READER_ROLE, signal };
  let bytes: Buffer;
  let signature: string | undefined;
  let tooLarge = false;
  try {
    const read = await readSmallObject(s3, target, MAX_DIGEST_BYTES, "GetObject (digest)");
    // Larger than any digest can be: read no further.
    tooLarge = read === "too-large";
    bytes = read === "too-large" ? Buffer.alloc(0) : read.bytes;
    signature = read === "too-large" ? undefined : read.metadata[SIGNATURE_METADATA];
  } catch (err) {
    if ((err as { context?: { status?: number } }).context?.status === 404) return undefined;
    // A missing bucket or denied access stops the whole verification.
    if (ruleFor(err).exitStatus === 2) throw err;
    return {
      key,
      date: parseDigestKey(location.prefix, workspace, key) ?? "",
      bytes: Buffer.alloc(0),
      sha256: "",
      signature: undefined,
      digest: undefined,
      signatureStatus: "unchecked",
      problems: [{ key, problem: "READ_FAILED", reason: (err as Error).message }],
    };
  }
  const date = parseDigestKey(location.prefix, workspace, key) ?? "";
  const problems: Problem[] = [];
  const parsed = tooLarge
    ? `it is larger than ${MAX_DIGEST_BYTES} bytes, more than any digest`
    : parseDigest(bytes);
  const digest = typeof parsed === "string" ? undefined : parsed;
  if (typeof parsed === "string") problems.push({ key, problem: "DIGEST_INVALID", reason: parsed });
  if (digest) {
    const named = {
      groupId: digest.workspace.groupId,
      tenantName: digest.workspace.tenantName,
      ...(digest.workspace.spName === undefined ? {} : { spName: digest.workspace.spName }),
    };
    if (workspaceLabel(named) !== workspaceLabel(workspace) || digest.date !== date) {
      problems.push({
        key,
        problem: "DIGEST_MISPLACED",
        reason:
          `it seals ${workspaceLabel(named)} on ${digest.date}, but its key is that of ` +
          `${workspaceLabel(workspace)} on ${date}: a digest was moved or swapped`,
      });
    }
    if (digest.signing.algorithm !== SIGNING_ALGORITHM) {
      problems.push({
        key,
        problem: "DIGEST_INVALID",
        reason: `its signing algorithm is ${JSON.stringify(digest.signing.algorithm)}, not ${SIGNING_ALGORITHM}`,
      });
    }
    if (verifier?.keyId !== undefined && !sameKey(digest.signing.keyId, verifier.keyId)) {
      problems.push({
        key,
        problem: "SIGNATURE_KEY_MISMATCH",
        reason: `it names the signing key ${digest.signing.keyId}, not ${verifier.keyId}`,
      });
    }
  }
  let signatureStatus: SignatureStatus = "unchecked";
  if (signature === undefined || signature === "") {
    signatureStatus = "missing";
    problems.push({
      key,
      problem: "SIGNATURE_MISSING",
      reason: `the object has no ${SIGNATURE_METADATA} metadata (x-amz-meta-${SIGNATURE_METADATA}): it is not signed`,
    });
  } else if (verifier) {
    const valid = await verifier.verify(bytes, Buffer.from(signature, "base64"));
    signatureStatus = valid ? "valid" : "invalid";
    if (!valid) {
      problems.push({
        key,
        problem: "SIGNATURE_INVALID",
        reason:
          verifier.method === "kms"
            ? `KMS says its signature is not one of its bytes by ${verifier.keyId ?? "the key"}: it was edited or signed by another key`
            : "its signature does not verify with the public key: it was edited or signed by another key",
      });
    }
  }
  return { key, date, bytes, sha256: sha256Hex(bytes), signature, digest, signatureStatus, problems };
}

/** Whether two KMS key names are the same key: equal, or one's `key/<id>` the other's id. */
function sameKey(a: string, b: string): boolean {
  if (a === b) return true;
  const id = (k: string) => /(?:^|:key\/)([0-9a-fA-F-]{36}|mrk-[0-9a-f]{32})$/.exec(k)?.[1];
  const ia = id(a);
  return ia !== undefined && ia === id(b) && (!a.includes(":") || !b.includes(":"));
}

/**
 * Checks the chain of one workspace's digests, in date order: each one's `previous` must be the
 * key, SHA-256 and signature of the one before, and its sequence that one's plus 1. The first
 * digest read links to a digest before the range (read with `readPrevious`), or is the chain's
 * first: sequence 1, previous null. Problems are added to the digest at the break.
 */
export async function checkChain(
  digests: readonly ReadDigest[],
  readPrevious: (key: string) => Promise<ReadDigest | undefined>,
): Promise<void> {
  let before: ReadDigest | undefined;
  for (const current of digests) {
    const d = current.digest;
    if (!d) {
      before = current;
      continue;
    }
    const broken = (reason: string) =>
      current.problems.push({ key: current.key, problem: "CHAIN_BROKEN", reason });
    if (before === undefined) {
      if (d.previous === null) {
        if (d.sequence !== 1) broken(`it has no previous digest but its sequence is ${d.sequence}, not 1`);
      } else {
        const linked = await readPrevious(d.previous.key);
        if (!linked) {
          broken(`its previous digest ${d.previous.key} does not exist: a digest was deleted`);
        } else {
          compareLink(current, linked, broken);
        }
      }
    } else {
      const expectedKey = before.key;
      if (d.previous === null) {
        broken(`it says it is the chain's first, but ${before.key} comes before it`);
      } else if (d.previous.key !== expectedKey) {
        broken(
          `its previous digest is ${d.previous.key}, but the digest before it is ${expectedKey}` +
            (d.previous.key > expectedKey && d.previous.key < current.key
              ? ": that digest was deleted"
              : ": the digests were reordered"),
        );
      } else {
        compareLink(current, before, broken);
      }
    }
    before = current;
  }
}

function compareLink(current: ReadDigest, before: ReadDigest, broken: (reason: string) => void): void {
  const link = current.digest?.previous;
  if (!link) return;
  if (link.sha256 !== before.sha256) {
    broken(
      `its previous digest ${before.key} has SHA-256 ${before.sha256}, not ${link.sha256} as sealed: ` +
        "that digest was replaced or edited",
    );
  } else if (link.signature !== before.signature) {
    broken(`the signature of its previous digest ${before.key} is not the one it sealed: it was replaced`);
  }
  const seq = before.digest?.sequence;
  if (seq !== undefined && current.digest && current.digest.sequence !== seq + 1) {
    broken(`its sequence is ${current.digest.sequence}, but the previous digest's is ${seq}`);
  }
}
