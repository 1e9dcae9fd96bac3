/**
 * One archive run: for every configured workspace, find the due windows that have no object in
 * S3 yet, download each from Atlas and store it, oldest first, and report what happened.
 * The S3 layout is the checkpoint: there is no other state.
 */
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import type { AuditLogDownload } from "../atlas/client";
import { AtlasError } from "../atlas/errors";
import {
  type ArchiverConfig,
  archiveKey,
  partitionPrefix,
  utcDate,
  type Workspace,
  workspaceLabel,
} from "../config";
import { ArchiverError } from "../errors";
import { dueWindows, formatWindow, isDue, type TimeWindow, windowsInRange } from "../windows";
import { storageError } from "./errors";
import { DEFAULT_UPLOAD_SETTINGS, storeLog, type UploadSettings } from "./store";

/** What the run needs from the Atlas client (an `AtlasClient`, or a stand-in in tests). */
export interface AtlasSource {
  download(workspace: Workspace, window: TimeWindow, signal?: AbortSignal): Promise<AuditLogDownload>;
  /** Maps an error raised while reading a download's body to a typed error naming the window. */
  bodyError(err: unknown, workspace: Workspace, window: TimeWindow): Error;
}

/** Tunables of a run. */
export interface RunSettings {
  /** Most windows downloaded in one run, over all workspaces; the rest wait for the next run. */
  readonly maxWindows: number;
  /** Workspaces processed at the same time (each one's windows go one after another, oldest first). */
  readonly concurrency: number;
  readonly upload: UploadSettings;
}

/**
 * Run defaults, resolved here only: at most 2,000 windows per run (a day of hourly windows for 80
 * workspaces), 4 workspaces at a time, and the upload defaults of {@link DEFAULT_UPLOAD_SETTINGS}.
 */
export const DEFAULT_RUN_SETTINGS: RunSettings = {
  maxWindows: 2_000,
  concurrency: 4,
  upload: DEFAULT_UPLOAD_SETTINGS,
};

/** The longest historical range one run accepts. */
const MAX_RANGE_MS = 366 * 24 * 3_600_000;

/** A request to archive. */
export interface ArchiveRunRequest {
  readonly config: ArchiverConfig;
  /** The bucket to write to (the parameter file's, or an override). */
  readonly bucket: string;
  readonly atlas: AtlasSource;
  readonly s3: S3Client;
  /** The run's notion of "now": which windows are due is computed from it. */
  readonly nowMs: number;
  /** Identifies the run in object metadata and logs. */
  readonly runId: string;
  /** Archive the due windows overlapping `[fromMs, toMs)` instead of the lookback. */
  readonly range?: { readonly fromMs: number; readonly toMs: number };
  /** No new window starts at or after this epoch time; what is left is deferred to the next run. */
  readonly deadlineMs?: number;
  /** Read for the deadline. @default Date.now */
  readonly clock?: () => number;
  readonly settings?: Partial<Omit<RunSettings, "upload">> & { readonly upload?: Partial<UploadSettings> };
  /** Progress, as it happens. */
  readonly onEvent?: (event: RunEvent) => void;
  readonly signal?: AbortSignal;
}

/** A window that could not be archived, and why. */
export interface WindowFailure {
  readonly window: string;
  readonly key: string;
  readonly code: string;
  readonly message: string;
  readonly status?: number;
  readonly atlasErrorCode?: string;
}

/** A window archived by this run. */
export interface ArchivedWindow {
  readonly window: string;
  readonly key: string;
  readonly bytes: number;
  readonly lines: number;
  /** Hex SHA-256 of the stored object, measured in flight: a record kept apart from the bucket. */
  readonly sha256: string;
}

/** What a run did for one workspace. */
export interface WorkspaceSummary {
  readonly workspace: string;
  readonly groupId: string;
  readonly tenantName: string;
  readonly spName?: string;
  /** Due windows considered (inside the lookback, or the requested range). */
  readonly due: number;
  readonly archived: ArchivedWindow[];
  /** Windows whose object already existed (before the run, or written by a concurrent run). */
  alreadyPresent: number;
  readonly failed: WindowFailure[];
  /** Windows not started because of the deadline or the per-run cap: the next run takes them. */
  deferred: number;
}

/** The outcome of a run, for people (CLI), logs and metrics. */
export interface RunSummary {
  readonly runId: string;
  readonly now: string;
  readonly range?: { readonly from: string; readonly to: string };
  readonly bucket: string;
  readonly prefix: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly workspaces: WorkspaceSummary[];
  readonly totals: {
    readonly due: number;
    readonly archived: number;
    readonly alreadyPresent: number;
    readonly failed: number;
    readonly deferred: number;
    readonly bytes: number;
  };
  /** Due windows still missing at the end of the run (failed + deferred). */
  readonly backlog: number;
  /** True when no window failed (deferred windows are not failures). */
  readonly ok: boolean;
}

/** Progress events, in the order they happen per workspace. */
export type RunEvent =
  | { readonly type: "planned"; readonly workspace: string; readonly due: number; readonly missing: number }
  | ({ readonly type: "archived"; readonly workspace: string } & ArchivedWindow)
  | {
      readonly type: "already-present";
      readonly workspace: string;
      readonly window: string;
      readonly key: string;
    }
  | ({ readonly type: "failed"; readonly workspace: string } & WindowFailure)
  | {
      readonly type: "deferred";
      readonly workspace: string;
      readonly windows: number;
      readonly reason: "deadline" | "window cap";
    };

/** Runs `task` over `items` with at most `limit` in flight. */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

/** Every key under `prefix` (all pages). */
async function listKeys(
  s3: S3Client,
  bucket: string,
  prefix: string,
  signal?: AbortSignal,
): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      { abortSignal: signal },
    );
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/** Errors after which asking Atlas again for the same workspace in this run is pointless. */
function isPermanentForWorkspace(err: unknown): boolean {
  return (
    err instanceof AtlasError &&
    [
      "ATLAS_UNAUTHORIZED",
      "ATLAS_FORBIDDEN",
      "ATLAS_NOT_FOUND",
      "ATLAS_BAD_REQUEST",
      "ATLAS_CREDENTIALS_INVALID",
    ].includes(err.code)
  );
}

function failureOf(err: unknown, window: string, key: string): WindowFailure {
  if (err instanceof ArchiverError) {
    return {
      window,
      key,
      code: err.code,
      message: err.message,
      status: err.context.status,
      atlasErrorCode: err.context.atlasErrorCode,
    };
  }
  return { window, key, code: "UNEXPECTED", message: err instanceof Error ? err.message : String(err) };
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * Archives every due window that is missing from S3, for every workspace of the configuration.
 * Never throws for a window or workspace failure: those are in the summary (check `ok`).
 *
 * @example
 * ```ts
 * const summary = await archiveRun({ config, bucket, atlas, s3, nowMs: Date.now(), runId });
 * if (!summary.ok) process.exitCode = 1;
 * ```
 */
export async function archiveRun(request: ArchiveRunRequest): Promise<RunSummary> {
  const { config, bucket, atlas, s3, nowMs, runId, range, signal } = request;
  const settings: RunSettings = {
    ...DEFAULT_RUN_SETTINGS,
    ...request.settings,
    upload: { ...DEFAULT_RUN_SETTINGS.upload, ...request.settings?.upload },
  };
  const clock = request.clock ?? Date.now;
  const emit = request.onEvent ?? (() => {});
  const prefix = config.archive.prefix;
  const startedAt = clock();

  if (range && (range.toMs <= range.fromMs || range.toMs - range.fromMs > MAX_RANGE_MS)) {
    throw new ArchiverError(
      "RUN_RANGE_INVALID",
      `The range ${isoSeconds(range.fromMs)} to ${isoSeconds(range.toMs)} is ` +
        (range.toMs <= range.fromMs
          ? "empty or reversed: --from must be before --to."
          : "longer than 366 days: split it."),
    );
  }
  const candidates = range
    ? windowsInRange(range.fromMs, range.toMs, config.window.minutes).filter((w) =>
        isDue(w, nowMs, config.window.lagMinutes),
      )
    : dueWindows(nowMs, config.window);

  let budget = settings.maxWindows;
  const summaries: WorkspaceSummary[] = config.workspaces.map((w) => ({
    workspace: workspaceLabel(w),
    groupId: w.groupId,
    tenantName: w.tenantName,
    ...(w.spName === undefined ? {} : { spName: w.spName }),
    due: candidates.length,
    archived: [],
    alreadyPresent: 0,
    failed: [],
    deferred: 0,
  }));

  await forEachLimited(
    config.workspaces.map((w, i) => [w, summaries[i] as WorkspaceSummary] as const),
    settings.concurrency,
    async ([workspace, summary]) => {
      const label = summary.workspace;
      const keyOf = (w: TimeWindow) => archiveKey(prefix, workspace, w);

      // 1. What exists: one listing per UTC date partition the candidates fall in.
      const existing = new Set<string>();
      try {
        for (const date of new Set(candidates.map((w) => utcDate(w.startMs)))) {
          for (const key of await listKeys(s3, bucket, partitionPrefix(prefix, workspace, date), signal)) {
            existing.add(key);
          }
        }
      } catch (err) {
        const error = storageError(err, "ListObjectsV2", { bucket, workspace: label });
        for (const w of candidates) {
          const failure = failureOf(error, formatWindow(w), keyOf(w));
          summary.failed.push(failure);
          emit({ type: "failed", workspace: label, ...failure });
        }
        return;
      }
      const missing = candidates.filter((w) => !existing.has(keyOf(w)));
      summary.alreadyPresent = candidates.length - missing.length;
      emit({ type: "planned", workspace: label, due: candidates.length, missing: missing.length });

      // 2. Fetch and store, oldest first.
      let permanent: unknown;
      for (const [index, window] of missing.entries()) {
        const key = keyOf(window);
        const windowLabel = formatWindow(window);
        if (permanent !== undefined) {
          const failure = failureOf(permanent, windowLabel, key);
          summary.failed.push(failure);
          emit({ type: "failed", workspace: label, ...failure });
          continue;
        }
        const overDeadline = request.deadlineMs !== undefined && clock() >= request.deadlineMs;
        if (overDeadline || budget <= 0 || signal?.aborted) {
          summary.deferred = missing.length - index;
          emit({
            type: "deferred",
            workspace: label,
            windows: summary.deferred,
            reason: overDeadline || signal?.aborted ? "deadline" : "window cap",
          });
          break;
        }
        budget--;
        try {
          const log = await atlas.download(workspace, window, signal);
          const outcome = await storeLog({
            s3,
            bucket,
            key,
            body: log.body,
            metadata: objectMetadata(config, workspace, window, runId, log.fileName),
            upload: settings.upload,
            workspace: label,
            window: windowLabel,
          }).catch((err: unknown) => {
            throw atlas.bodyError(err, workspace, window);
          });
          if (outcome.status === "already-present") {
            summary.alreadyPresent++;
            emit({ type: "already-present", workspace: label, window: windowLabel, key });
          } else {
            const archived = {
              window: windowLabel,
              key,
              bytes: outcome.digest.bytes,
              lines: outcome.digest.lines,
              sha256: outcome.digest.sha256,
            };
            summary.archived.push(archived);
            emit({ type: "archived", workspace: label, ...archived });
          }
        } catch (err) {
          const failure = failureOf(err, windowLabel, key);
          summary.failed.push(failure);
          emit({ type: "failed", workspace: label, ...failure });
          if (isPermanentForWorkspace(err)) permanent = err;
        }
      }
    },
  );

  const finishedAt = clock();
  const sum = (f: (s: WorkspaceSummary) => number) => summaries.reduce((n, s) => n + f(s), 0);
  const totals = {
    due: sum((s) => s.due),
    archived: sum((s) => s.archived.length),
    alreadyPresent: sum((s) => s.alreadyPresent),
    failed: sum((s) => s.failed.length),
    deferred: sum((s) => s.deferred),
    bytes: sum((s) => s.archived.reduce((n, a) => n + a.bytes, 0)),
  };
  return {
    runId,
    now: isoSeconds(nowMs),
    ...(range ? { range: { from: isoSeconds(range.fromMs), to: isoSeconds(range.toMs) } } : {}),
    bucket,
    prefix,
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(finishedAt).toISOString(),
    durationMs: finishedAt - startedAt,
    workspaces: summaries,
    totals,
    backlog: totals.failed + totals.deferred,
    ok: totals.failed === 0,
  };
}

/** The user metadata of an archived object: what is known before its download. */
function objectMetadata(
  config: ArchiverConfig,
  workspace: Workspace,
  window: TimeWindow,
  runId: string,
  atlasFileName: string | undefined,
): Record<string, string> {
  return {
    "window-start": isoSeconds(window.startMs),
    "window-end": isoSeconds(window.endMs),
    "group-id": workspace.groupId,
    "tenant-name": workspace.tenantName,
    ...(workspace.spName === undefined ? {} : { "sp-name": workspace.spName }),
    "atlas-api-version": config.atlas.apiVersion,
    "run-id": runId,
    // Only printable ASCII may travel in an S3 metadata header.
    ...(atlasFileName && /^[\x20-\x7e]+$/.test(atlasFileName) ? { "atlas-file-name": atlasFileName } : {}),
  };
}
