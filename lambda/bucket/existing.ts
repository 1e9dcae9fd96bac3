/**
 * An object found at a window's key that this run did not write (an earlier run's, a concurrent
 * one's, or someone else's): it counts as archived only if it is that window's verified archive.
 */
import type { HeadObjectCommandOutput, S3Client } from "@aws-sdk/client-s3";
import { CRC32_METADATA, metadataMismatches, type Workspace, workspaceLabel } from "../config";
import type { TimeWindow } from "../windows";
import { isCrc32Base64, storedCrc32 } from "./checksum";
import { ArchiveObjectInvalidError } from "./errors";
import { headObject, type ObjectTarget, readBack } from "./objects";

/** The workspace and window a key belongs to. */
export interface ObjectSubject {
  readonly workspace: Workspace;
  readonly window: TimeWindow;
}

/** The verdict on an object found at a window's key (from its HeadObject). */
type ObjectVerdict =
  /** S3 keeps its full-object CRC32 and the metadata names the window: the window is archived. */
  | { readonly kind: "archived" }
  /**
   * The store keeps no checksum, but the archiver's own CRC32 is in the metadata, which names the
   * window: only reading the bytes back can tell whether they are right.
   */
  | { readonly kind: "read-back"; readonly crc32: string }
  /** Not this window's archive object (or not the archiver's): the reason. */
  | { readonly kind: "invalid"; readonly reason: string };

/**
 * Judges the object at the key of `workspace`'s `window`: it counts as archived only when it
 * carries a full-object CRC32 (S3's, or where the store keeps none the archiver's own in its
 * metadata, then to be checked against the bytes) and its metadata names that workspace and window.
 */
function judgeObject(
  head: {
    readonly Metadata?: Record<string, string> | undefined;
    readonly ChecksumCRC32?: string | undefined;
    readonly ChecksumType?: string | undefined;
  },
  workspace: Workspace,
  window: TimeWindow,
): ObjectVerdict {
  const meta = head.Metadata ?? {};
  const mismatches = metadataMismatches(meta, workspace, window);
  if (mismatches.length > 0) {
    return {
      kind: "invalid",
      reason: `its metadata does not name ${workspaceLabel(workspace)} and this window (${mismatches.join("; ")})`,
    };
  }
  if (storedCrc32(head) !== undefined) return { kind: "archived" };
  const own = meta[CRC32_METADATA];
  if (own !== undefined && isCrc32Base64(own)) return { kind: "read-back", crc32: own };
  return {
    kind: "invalid",
    reason:
      "it carries no full-object CRC32 checksum (S3 reports none, and its metadata has no crc32), which every " +
      "object the archiver writes has",
  };
}

/**
 * Checks an object another writer stored at a window's key (or that a run found there): it counts
 * as archived only if {@link judgeObject} says so (and, on a store that keeps no checksum, its
 * bytes match the CRC32 in its metadata). Throws {@link ArchiveObjectInvalidError} otherwise.
 */
export async function checkExisting(
  s3: S3Client,
  where: ObjectTarget,
  subject: ObjectSubject | undefined,
  /** Its HeadObject (checksum mode on), when the caller already has it. */
  head?: HeadObjectCommandOutput,
): Promise<void> {
  if (subject === undefined) return;
  const stored = head ?? (await headObject(s3, where, "HeadObject (existing object)"));
  const verdict = judgeObject(stored, subject.workspace, subject.window);
  let reason: string | undefined;
  if (verdict.kind === "invalid") reason = verdict.reason;
  else if (verdict.kind === "read-back") {
    const back = await readBack(s3, where);
    if (back.crc32 !== verdict.crc32) {
      reason = `its bytes (CRC32 ${back.crc32}) do not match the CRC32 ${verdict.crc32} in its metadata`;
    }
  }
  if (reason !== undefined) {
    throw new ArchiveObjectInvalidError(
      `s3://${where.bucket}/${where.key} holds an object that is not this window's verified archive: ${reason}. ` +
        "The archiver never overwrites or deletes, so the window stays unarchived until it is removed: inspect " +
        `it (aws s3api head-object --checksum-mode ENABLED --bucket ${where.bucket} --key ${where.key}), and if ` +
        "it is not the archiver's, delete it with a principal other than the function; the next run archives " +
        "the window again.",
      { key: where.key, workspace: where.workspace, window: where.window },
    );
  }
}
