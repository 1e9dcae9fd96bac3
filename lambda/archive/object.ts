/**
 * The archive object contract: the user metadata every archived object carries, and the test of
 * whether an object found at a window's key is that window's archive (written and verified by
 * the archiver) or something else that must not be counted as archived.
 */
import { type Workspace, workspaceLabel } from "../config";
import { formatInstant, type TimeWindow } from "../windows";

/** Metadata key of the CRC32 (base64) the archiver measured, on objects stored with one request. */
export const CRC32_METADATA = "crc32";

/** What the object's metadata says about the window it holds, known before the download. */
export interface ObjectMetadataInput {
  readonly workspace: Workspace;
  readonly window: TimeWindow;
  readonly apiVersion: string;
  readonly runId: string;
  /** The file name from Atlas's `Content-Disposition`, if any. */
  readonly atlasFileName?: string | undefined;
}

/** The user metadata of an archived object (README: "The S3 layout"). */
export function objectMetadata(input: ObjectMetadataInput): Record<string, string> {
  const { workspace, window, atlasFileName } = input;
  return {
    "window-start": formatInstant(window.startMs),
    "window-end": formatInstant(window.endMs),
    "group-id": workspace.groupId,
    "tenant-name": workspace.tenantName,
    ...(workspace.spName === undefined ? {} : { "sp-name": workspace.spName }),
    "atlas-api-version": input.apiVersion,
    "run-id": input.runId,
    // Only printable ASCII may travel in an S3 metadata header.
    ...(atlasFileName && /^[\x20-\x7e]{1,512}$/.test(atlasFileName)
      ? { "atlas-file-name": atlasFileName }
      : {}),
  };
}

/** Differences between an object's metadata and the workspace and window its key names. */
export function metadataMismatches(
  meta: Readonly<Record<string, string>>,
  workspace: Workspace,
  window: TimeWindow,
): string[] {
  const expected: Record<string, string | undefined> = {
    "window-start": formatInstant(window.startMs),
    "window-end": formatInstant(window.endMs),
    "group-id": workspace.groupId,
    "tenant-name": workspace.tenantName,
    "sp-name": workspace.spName,
  };
  const out: string[] = [];
  for (const [name, want] of Object.entries(expected)) {
    const got = meta[name];
    if (got !== want) {
      out.push(
        `${name} is ${got === undefined ? "missing" : JSON.stringify(got.slice(0, 100))}, the key says ${want ?? "none"}`,
      );
    }
  }
  return out;
}

/**
 * The object's full-object CRC32 as S3 reports it (HeadObject or GetObject with checksum mode on),
 * or undefined when it has none (a composite multipart checksum does not count).
 */
export function storedCrc32(output: {
  readonly ChecksumCRC32?: string | undefined;
  readonly ChecksumType?: string | undefined;
}): string | undefined {
  return output.ChecksumType === "FULL_OBJECT" ? output.ChecksumCRC32 : undefined;
}

/** Whether a listing entry shows S3's full-object CRC32: the archiver's own objects always do. */
export function listedWithFullObjectCrc32(entry: {
  readonly ChecksumAlgorithm?: readonly string[] | undefined;
  readonly ChecksumType?: string | undefined;
}): boolean {
  return entry.ChecksumType === "FULL_OBJECT" && (entry.ChecksumAlgorithm ?? []).includes("CRC32");
}

/** The verdict on an object found at a window's key (from its HeadObject). */
export type ObjectVerdict =
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
export function judgeObject(
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
  if (own !== undefined && /^[A-Za-z0-9+/]{6}==$/.test(own)) return { kind: "read-back", crc32: own };
  return {
    kind: "invalid",
    reason:
      "it carries no full-object CRC32 checksum (S3 reports none, and its metadata has no crc32), which every " +
      "object the archiver writes has",
  };
}
