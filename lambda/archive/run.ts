/**
 * One archive run: for every configured workspace, find the due windows that have no object in
 * S3 yet, download each from Atlas and store it, oldest first, and report what happened.
 * The S3 layout is the checkpoint: there is no other state.
 */
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import type { AuditLogDownload, DownloadOptions } from "../atlas/client";
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
import { timerDelay } from "../timers";
import { dueWindows, formatInstant, formatWindow, isDue, type TimeWindow, windowsInRange } from "../windows";
import { ArchiveStorageError, INVALID_OBJECT_CODES, storageError } from "./errors";
import { listedWithFullObjectCrc32, objectMetadata } from "./object";
import { checkExisting, DEFAULT_UPLOAD_SETTINGS, storeLog, type UploadSettings } from "./store";

/** What the run needs from the Atlas client (an `AtlasClient`, or a stand-in in tests). */
export interface AtlasSource {
  download(workspace: Workspace, window: TimeWindow, options?: DownloadOptions): Promise<AuditLogDownload>;
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
  /**
   * The run's deadline (epoch ms): no new window starts at or after it, and the work in flight
   * then is aborted (its upload aborted, nothing left at its key); what is left is deferred.
   */
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
  /** Windows not done because of the deadline, the per-run cap or an Atlas pause: the next run takes them. */
  deferred: number;
  /** Why windows were deferred, when some were. */
  deferredReason?: DeferralReason;
}

/** Why windows were left for the next run. */
export type DeferralReason = "deadline" | "window cap" | "rate limit";

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
    /** Failed windows whose key holds an object that is not their verified archive. */
    readonly invalid: number;
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
      readonly reason: DeferralReason;
      /** What Atlas asked, for a rate-limit deferral. */
      readonly detail?: string;
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

/** A listed key, and whether the listing shows S3's full-object CRC32 for it. */
interface ListedKey {
  readonly key: string;
  readonly fullObjectCrc32: boolean;
}

/**
 * Every key under `prefix` (all pages). A continuation token seen before is an error: a store
 * that hands it out again would otherwise loop the run for ever.
 */
async function listKeys(
  s3: S3Client,
  bucket: string,
  prefix: string,
  signal?: AbortSignal,
): Promise<ListedKey[]> {
  const keys: ListedKey[] = [];
  const seen = new Set<string>();
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      { abortSignal: signal },
    );
    for (const o of page.Contents ?? []) {
      if (o.Key) keys.push({ key: o.Key, fullObjectCrc32: listedWithFullObjectCrc32(o) });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
    if (page.IsTruncated && !token) {
      throw new ArchiveStorageError(
        "S3_LIST_INVALID",
        `ListObjectsV2 of s3://${bucket}/${prefix} said the listing goes on but gave no continuation token; ` +
          "the S3 endpoint is not behaving like S3.",
        { key: prefix },
      );
    }
    if (token !== undefined) {
      if (seen.has(token)) {
        throw new ArchiveStorageError(
          "S3_LIST_LOOP",
          `ListObjectsV2 of s3://${bucket}/${prefix} returned a continuation token it had already returned ` +
            `(after ${seen.size + 1} pages): the listing would never end, so the workspace is not planned. ` +
            "The S3 endpoint is not behaving like S3.",
          { key: prefix },
        );
      }
      seen.add(token);
    }
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
  const { config, bucket, atlas, s3, nowMs, runId, range } = request;
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
      `The range ${formatInstant(range.fromMs)} to ${formatInstant(range.toMs)} is ` +
        (range.toMs <= range.fromMs
          ? "empty or reversed: --from must be before --to."
          : "longer than 366 days: split it."),
    );
  }
  const candidates = range
    ? windowsInRange(range.fromMs, range.toMs, config.window.minutes).filter((w) =>
        isDue(w, nowMs, config.window.lagMinutes),
      )
    : dueWindows(nowMs, config.window).filter((w) => w.startMs >= 0); // Atlas takes epoch seconds >= 0

  // The run's own signal: it aborts the work in flight (downloads, uploads, listings) at the
  // deadline, or when the caller's signal aborts, so that the run always ends in time to report.
  const stop = new AbortController();
  const stopNow = () =>
    stop.abort(
      new ArchiverError("RUN_DEADLINE", `Run ${runId} reached its deadline; what is left is deferred.`),
    );
  const outer = request.signal;
  if (outer?.aborted) stopNow();
  else outer?.addEventListener("abort", stopNow, { once: true });
  const deadlineTimer =
    request.deadlineMs === undefined
      ? undefined
      : setTimeout(stopNow, timerDelay(request.deadlineMs - clock()));
  const signal = stop.signal;
  // By the clock too: a call whose budget ends at the deadline may give up a moment before the timer fires.
  const pastDeadline = () =>
    signal.aborted || (request.deadlineMs !== undefined && clock() >= request.deadlineMs);

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

  try {
    await forEachLimited(
      config.workspaces.map((w, i) => [w, summaries[i] as WorkspaceSummary] as const),
      settings.concurrency,
      async ([workspace, summary]) => {
        const label = summary.workspace;
        const keyOf = (w: TimeWindow) => archiveKey(prefix, workspace, w);
        const fail = (err: unknown, window: TimeWindow) => {
          const failure = failureOf(err, formatWindow(window), keyOf(window));
          summary.failed.push(failure);
          emit({ type: "failed", workspace: label, ...failure });
        };
        const defer = (windows: number, reason: DeferralReason, detail?: string) => {
          summary.deferred += windows;
          summary.deferredReason ??= reason;
          emit({ type: "deferred", workspace: label, windows, reason, ...(detail ? { detail } : {}) });
        };
        if (signal.aborted) {
          defer(candidates.length, "deadline");
          return;
        }

        // 1. What exists: one listing per UTC date partition the candidates fall in.
        const existing = new Map<string, ListedKey>();
        try {
          for (const date of new Set(candidates.map((w) => utcDate(w.startMs)))) {
            for (const listed of await listKeys(
              s3,
              bucket,
              partitionPrefix(prefix, workspace, date),
              signal,
            )) {
              existing.set(listed.key, listed);
            }
          }
        } catch (err) {
          if (signal.aborted) {
            defer(candidates.length, "deadline");
            return;
          }
          const error = storageError(err, "ListObjectsV2", { bucket, workspace: label });
          for (const w of candidates) fail(error, w);
          return;
        }
        // An object the listing shows without S3's full-object CRC32 is looked at more closely:
        // the archiver's own objects always carry one.
        const missing: TimeWindow[] = [];
        let present = 0;
        for (const [index, window] of candidates.entries()) {
          const listed = existing.get(keyOf(window));
          if (listed === undefined) {
            missing.push(window);
            continue;
          }
          if (listed.fullObjectCrc32) {
            present++;
            continue;
          }
          try {
            await checkExisting(
              s3,
              { bucket, key: listed.key, workspace: label, window: formatWindow(window), signal },
              { workspace, window },
            );
            present++;
          } catch (err) {
            if (signal.aborted) {
              defer(candidates.length - index, "deadline");
              return;
            }
            fail(err, window);
          }
        }
        summary.alreadyPresent = present;
        emit({ type: "planned", workspace: label, due: candidates.length, missing: missing.length });

        // 2. Fetch and store, oldest first.
        let permanent: unknown;
        for (const [index, window] of missing.entries()) {
          const key = keyOf(window);
          const windowLabel = formatWindow(window);
          if (permanent !== undefined) {
            fail(permanent, window);
            continue;
          }
          if (pastDeadline() || budget <= 0) {
            defer(missing.length - index, pastDeadline() ? "deadline" : "window cap");
            break;
          }
          budget--;
          try {
            const log = await atlas.download(workspace, window, {
              signal,
              ...(request.deadlineMs === undefined ? {} : { deadlineMs: request.deadlineMs }),
            });
            const outcome = await storeLog({
              s3,
              bucket,
              key,
              body: log.body,
              metadata: objectMetadata({
                workspace,
                window,
                apiVersion: config.atlas.apiVersion,
                runId,
                atlasFileName: log.fileName,
              }),
              upload: settings.upload,
              subject: { workspace, window },
              signal,
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
            // Work cut short by the deadline is not a failure: nothing was stored, the next run takes it.
            if (pastDeadline()) {
              budget++;
              defer(missing.length - index, "deadline");
              break;
            }
            if (err instanceof AtlasError && err.code === "ATLAS_PAUSED") {
              defer(missing.length - index, "rate limit", err.message);
              break;
            }
            fail(err, window);
            if (isPermanentForWorkspace(err)) permanent = err;
          }
        }
      },
    );
  } finally {
    if (deadlineTimer !== undefined) clearTimeout(deadlineTimer);
    outer?.removeEventListener("abort", stopNow);
  }

  const finishedAt = clock();
  const sum = (f: (s: WorkspaceSummary) => number) => summaries.reduce((n, s) => n + f(s), 0);
  const totals = {
    due: sum((s) => s.due),
    archived: sum((s) => s.archived.length),
    alreadyPresent: sum((s) => s.alreadyPresent),
    failed: sum((s) => s.failed.length),
    deferred: sum((s) => s.deferred),
    bytes: sum((s) => s.archived.reduce((n, a) => n + a.bytes, 0)),
    invalid: sum((s) => s.failed.filter((f) => INVALID_OBJECT_CODES.has(f.code)).length),
  };
  return {
    runId,
    now: formatInstant(nowMs),
    ...(range ? { range: { from: formatInstant(range.fromMs), to: formatInstant(range.toMs) } } : {}),
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
