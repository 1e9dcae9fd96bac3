/**
 * One window's work, the same for a run and for a queue's worker: download it from Atlas and store
 * it at its key (conditional, verified), and the failure record of an error.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { AuditLogDownload, DownloadOptions } from "../atlas/options";
import type { UploadSettings } from "../bucket/multipart";
import { storeLog } from "../bucket/store";
import { type ArchiverConfig, archiveKey, objectMetadata, type Workspace, workspaceLabel } from "../config";
import { ArchiverError } from "../errors";
import { formatWindow, type TimeWindow } from "../windows";
import type { ArchivedWindow, WindowFailure } from "./summary";

/** What the run needs from the Atlas client (an `AtlasClient`, or a stand-in in tests). */
export interface AtlasSource {
  /** Its body fails with typed errors naming the window (see `AtlasClient.download`). */
  download(workspace: Workspace, window: TimeWindow, options?: DownloadOptions): Promise<AuditLogDownload>;
  /** When Atlas allows calls for the project again, if it asked to wait (see `AtlasClient.resumeAt`). */
  resumeAt?(groupId: string): number | undefined;
}

/** What archiving one window needs. */
export interface WindowJob {
  readonly config: ArchiverConfig;
  readonly bucket: string;
  readonly atlas: AtlasSource;
  readonly s3: S3Client;
  /** Named in the object's metadata. */
  readonly runId: string;
  readonly upload: UploadSettings;
  /** Aborts the download and the upload in flight. */
  readonly signal?: AbortSignal;
  /** No Atlas attempt or wait may end after this. */
  readonly deadlineMs?: number;
}

/** What became of a window: archived now, or found archived (by a concurrent writer). */
export type WindowOutcome =
  | { readonly type: "archived"; readonly window: ArchivedWindow }
  | { readonly type: "already-present"; readonly window: { readonly window: string; readonly key: string } };

/**
 * Downloads `window` of `workspace` and stores it at its key. Throws the typed error of whatever
 * failed (nothing is then left at the key).
 */
export async function archiveWindow(
  job: WindowJob,
  workspace: Workspace,
  window: TimeWindow,
): Promise<WindowOutcome> {
  const { config, signal } = job;
  const key = archiveKey(config.archive.prefix, workspace, window);
  const windowLabel = formatWindow(window);
  const log = await job.atlas.download(workspace, window, {
    ...(signal ? { signal } : {}),
    ...(job.deadlineMs === undefined ? {} : { deadlineMs: job.deadlineMs }),
  });
  const outcome = await storeLog({
    s3: job.s3,
    bucket: job.bucket,
    key,
    body: log.body,
    metadata: objectMetadata({
      workspace,
      window,
      apiVersion: config.atlas.apiVersion,
      runId: job.runId,
      atlasFileName: log.fileName,
    }),
    upload: job.upload,
    subject: { workspace, window },
    ...(signal ? { signal } : {}),
    workspace: workspaceLabel(workspace),
    window: windowLabel,
  });
  if (outcome.status === "already-present")
    return { type: "already-present", window: { window: windowLabel, key } };
  const { bytes, lines, sha256 } = outcome.digest;
  return { type: "archived", window: { window: windowLabel, key, bytes, lines, sha256 } };
}

/** The failure record of `err` for a window: its code and message, and Atlas's or S3's status. */
export function failureOf(err: unknown, window: string, key: string): WindowFailure {
  if (err instanceof ArchiverError) {
    const context = err.context as { readonly status?: number; readonly atlasErrorCode?: string };
    return {
      window,
      key,
      code: err.code,
      message: err.message,
      status: context.status,
      atlasErrorCode: context.atlasErrorCode,
    };
  }
  return { window, key, code: "UNEXPECTED", message: err instanceof Error ? err.message : String(err) };
}
