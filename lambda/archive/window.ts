/**
 * One window's work, the same for a run and for a queue's worker: download it from Atlas and store
 * it at its key (conditional, verified), and the failure record of an error.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { AuditLogDownload, DownloadOptions } from "../atlas/options";
import type { UploadSettings } from "../bucket/multipart";
import { storeLog } from "../bucket/store";
import { type ArchiverConfig, archiveKey, objectMetadata, type Workspace, workspaceLabel } from "../config";
import { buildReceipt, writeReceipt } from "../digest/receipt";
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
  /** The receipt's `archivedAt`. @default Date.now */
  readonly clock?: () => number;
}

/**
 * What became of a window: archived now, or found archived (by a concurrent writer). An archived
 * window whose receipt could not be written says so in `receiptFailure` (the log is archived all
 * the same; the window is sealed as `unreceipted`).
 */
export type WindowOutcome =
  | {
      readonly type: "archived";
      readonly window: ArchivedWindow;
      readonly receiptFailure?: WindowFailure;
    }
  | { readonly type: "already-present"; readonly window: { readonly window: string; readonly key: string } };

/**
 * Downloads `window` of `workspace` and stores it at its key, then writes its receipt (what was
 * measured in flight) at its receipt key. Throws the typed error of whatever failed before the
 * log was stored (nothing is then left at the key); a receipt that cannot be written is reported
 * in the outcome, not thrown (see `digest/receipt.ts`). A window found archived by another writer
 * gets no receipt from here: its bytes were not measured here (the other writer writes it).
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
  const archived = { window: windowLabel, key, bytes, lines, sha256 };
  const receipt = buildReceipt({
    key,
    window,
    digest: outcome.digest,
    versionId: outcome.versionId,
    archivedAtMs: (job.clock ?? Date.now)(),
    runId: job.runId,
  });
  try {
    await writeReceipt(
      job.s3,
      { bucket: job.bucket, prefix: config.archive.prefix, workspace, label: workspaceLabel(workspace) },
      receipt,
      window,
      signal,
    );
  } catch (err) {
    return { type: "archived", window: archived, receiptFailure: failureOf(err, windowLabel, key) };
  }
  return { type: "archived", window: archived };
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
