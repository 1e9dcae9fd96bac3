/**
 * Sealing: one signed digest per workspace and UTC day, chained to the workspace's previous one,
 * written with a conditional write (a second sealer gets 412 and changes nothing).
 *
 * A day D of a workspace is sealable at `now` when its last window is due (end + lag <= now) and
 * either every window of D on the schedule has an object at its key, or D's last window has left
 * the lookback (no run will archive the rest: they are sealed as missing). Days are sealed in
 * date order per workspace: the first day that is not sealable stops that workspace's sealing,
 * and the later days wait for it, so a workspace's chain always goes forward in date order.
 *
 * Sealing D reads its receipts (one LIST of the date's receipt folder, one GET per receipt) and
 * the archive listing of the days considered (one LIST per workspace and pass), links the previous
 * digest (D−1's, read with one GET; when D−1 has none, the latest earlier one, found by a LIST of
 * the workspace's digests, so a deleted digest shows as a break in the chain rather than a silent
 * new start), signs the SHA-256 of the digest's bytes (one KMS Sign) and writes it (one PUT).
 * A day with no object and no earlier digest (a workspace not archived yet) starts no chain.
 *
 * What is not sealed now (a failure, the deadline) is sealed by the next pass over the same days.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { partitionDates } from "../archive/plan";
import { existingObjects, listPages } from "../bucket/list";
import { headObjectIfAny, readSmallObject } from "../bucket/objects";
import {
  type ArchiverConfig,
  archiveKey,
  digestKey,
  digestsPrefix,
  parseDigestKey,
  receiptKey,
  type Workspace,
  workspaceLabel,
} from "../config";
import { ArchiverError } from "../errors";
import { forEachLimited } from "../pool";
import {
  dueWindows,
  formatInstant,
  formatWindow,
  isDue,
  type TimeWindow,
  type WindowSettings,
  windowsInRange,
} from "../windows";
import {
  DIGEST_FORMAT_VERSION,
  type Digest,
  type DigestLink,
  type DigestSigner,
  type DigestWindow,
  digestWorkspace,
  MAX_DIGEST_BYTES,
  SIGNATURE_METADATA,
  SIGNING_ALGORITHM,
  serializeDigest,
  sha256Hex,
  signedMessage,
  type WindowState,
} from "./format";
import { putIfAbsent, type ReceiptRead, readReceipts } from "./receipt";

const DAY_MS = 86_400_000;
/** Workspaces sealed at once. */
const DEFAULT_CONCURRENCY = 8;

/**
 * The previous digest of a day cannot be chained to (kind `permanent`: it stays so until an
 * operator acts): it is unreadable, not a digest, or has no signature.
 */
export class DigestChainError extends ArchiverError<{ readonly key: string; readonly workspace?: string }> {
  constructor(
    message: string,
    options: { readonly key: string; readonly workspace?: string; readonly cause?: unknown },
  ) {
    super("DIGEST_CHAIN_BROKEN", message, { ...options, kind: "permanent" });
  }
}

/** What a sealing pass works with. */
export interface SealRequest {
  readonly config: ArchiverConfig;
  readonly bucket: string;
  readonly s3: S3Client;
  readonly signer: DigestSigner;
  /** Which days are complete, due and inside the lookback is computed from it. */
  readonly nowMs: number;
  /** The UTC days to consider (`YYYY-MM-DD`, any order): see {@link sealDates}. */
  readonly dates: readonly string[];
  /** Workspaces sealed at once. @default 8 */
  readonly concurrency?: number;
  /** No day starts being sealed at or after this (what is left is `deferred`: the next pass seals it). */
  readonly deadlineMs?: number;
  /** `sealedAt`, and the deadline. @default Date.now */
  readonly clock?: () => number;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: SealEvent) => void;
}

/** The counts of a digest's window states. */
export type StateCounts = Readonly<Record<WindowState, number>>;

/** What became of a workspace's day. */
export type SealEvent =
  | {
      readonly type: "sealed";
      readonly workspace: string;
      readonly date: string;
      readonly key: string;
      readonly sequence: number;
      /** The previous digest's key, or null for the workspace's first. */
      readonly previous: string | null;
      readonly windows: StateCounts;
    }
  | {
      /** A digest was there already: sealed by an earlier pass, or by a concurrent sealer (412). */
      readonly type: "already-sealed";
      readonly workspace: string;
      readonly date: string;
      readonly key: string;
    }
  | {
      /** Not sealable yet: this day and the workspace's later ones wait for a later pass. */
      readonly type: "waiting";
      readonly workspace: string;
      readonly date: string;
      readonly reason: string;
    }
  | {
      /** Never sealed by this archiver: no object and no earlier digest, or a later day's digest exists already. */
      readonly type: "skipped";
      readonly workspace: string;
      readonly date: string;
      readonly reason: string;
    }
  | {
      readonly type: "failed";
      readonly workspace: string;
      readonly date: string;
      readonly key: string;
      readonly code: string;
      readonly message: string;
    }
  | {
      /** Days not considered before the deadline. */
      readonly type: "deferred";
      readonly workspace: string;
      readonly days: number;
    };

/** What a pass did, over all workspaces. */
export interface SealSummary {
  readonly sealed: number;
  readonly alreadySealed: number;
  readonly waiting: number;
  readonly skipped: number;
  readonly failed: number;
  readonly deferred: number;
}

/**
 * The days a pass considers: those of the windows a scheduled run plans (the lookback's, and
 * those that left it since the previous run) and the day before them, or every day a range
 * overlaps.
 */
export function sealDates(
  settings: WindowSettings,
  nowMs: number,
  options: {
    readonly range?: { readonly fromMs: number; readonly toMs: number };
    readonly previousRunMs?: number;
  } = {},
): string[] {
  const { range, previousRunMs } = options;
  if (range) return partitionDates(windowsInRange(range.fromMs, range.toMs, settings.minutes)).sort();
  const earliestStartMs = nowMs - settings.lookbackHours * 3_600_000;
  const expiring =
    previousRunMs === undefined
      ? []
      : dueWindows(previousRunMs, settings).filter((w) => w.startMs < earliestStartMs);
  const dates = partitionDates(
    [...expiring, ...dueWindows(nowMs, settings)].filter((w) => w.startMs >= 0),
  ).sort();
  // And the day before: a day whose sealing failed at the one run its last window left the
  // lookback is tried again for another day (one HEAD per workspace and run, 200 once sealed).
  const first = dates[0];
  return first === undefined || first <= "1970-01-01" ? dates : [dayBefore(first), ...dates];
}

/** The windows of a UTC day on the schedule, oldest first. */
export function windowsOfDay(date: string, minutes: number): TimeWindow[] {
  const startMs = Date.parse(`${date}T00:00:00Z`);
  return windowsInRange(startMs, startMs + DAY_MS, minutes);
}

/** The UTC day before `date`. */
function dayBefore(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) - DAY_MS).toISOString().slice(0, 10);
}

/**
 * Seals every sealable day of `dates` that has no digest yet, for every workspace of the
 * configuration, in date order per workspace. Never throws for a day's failure: it is an event
 * (and stops that workspace's later days until the next pass).
 */
export async function sealDigests(request: SealRequest): Promise<SealSummary> {
  const counts = { sealed: 0, alreadySealed: 0, waiting: 0, skipped: 0, failed: 0, deferred: 0 };
  const emit = (event: SealEvent) => {
    if (event.type === "sealed") counts.sealed++;
    else if (event.type === "already-sealed") counts.alreadySealed++;
    else if (event.type === "waiting") counts.waiting++;
    else if (event.type === "skipped") counts.skipped++;
    else if (event.type === "failed") counts.failed++;
    else counts.deferred += event.days;
    request.onEvent?.(event);
  };
  const dates = [...new Set(request.dates)].sort();
  await forEachLimited(request.config.workspaces, request.concurrency ?? DEFAULT_CONCURRENCY, (workspace) =>
    sealWorkspace(request, workspace, dates, emit),
  );
  return counts;
}

/** What the next digest takes from a previous one. */
interface Loaded {
  readonly link: DigestLink;
  readonly sequence: number;
}

/** The latest digest of a workspace at or before the day being sealed, as far as this pass knows it. */
interface Known {
  readonly date: string;
  readonly key: string;
  /** Known once read or written by this pass. */
  readonly loaded?: Loaded;
}

async function sealWorkspace(
  request: SealRequest,
  workspace: Workspace,
  dates: readonly string[],
  emit: (event: SealEvent) => void,
): Promise<void> {
  const { config, bucket, s3, nowMs, signal } = request;
  const clock = request.clock ?? Date.now;
  const prefix = config.archive.prefix;
  const label = workspaceLabel(workspace);
  const { minutes, lagMinutes, lookbackHours } = config.window;
  const earliestStartMs = nowMs - lookbackHours * 3_600_000;
  const where = { bucket, workspace: label, ...(signal ? { signal } : {}) };
  let known: Known | undefined;
  let existing: Map<string, unknown> | undefined;
  let listedDigests: string[] | undefined;

  /** Every day the workspace has a digest for, from one listing of its digests (once per pass). */
  const digestDates = async (): Promise<string[]> => {
    if (listedDigests) return listedDigests;
    const found: string[] = [];
    for await (const page of listPages(
      s3,
      { bucket, prefix: digestsPrefix(prefix, workspace), workspace: label },
      signal,
    )) {
      for (const o of page.contents) {
        const date = parseDigestKey(prefix, workspace, o.key);
        if (date !== undefined) found.push(date);
      }
    }
    listedDigests = found.sort();
    return listedDigests;
  };

  /** The digest at `key`: its link and sequence, or undefined when there is none. */
  const readDigest = async (key: string): Promise<Loaded | undefined> => {
    let read: Awaited<ReturnType<typeof readSmallObject>>;
    try {
      read = await readSmallObject(s3, { ...where, key }, MAX_DIGEST_BYTES, "GetObject (previous digest)");
    } catch (err) {
      if ((err as { context?: { status?: number } }).context?.status === 404) return undefined;
      throw err;
    }
    const bytes = read === "too-large" ? Buffer.alloc(0) : read.bytes;
    const signature = read === "too-large" ? undefined : read.metadata[SIGNATURE_METADATA];
    let sequence: unknown;
    try {
      sequence = (JSON.parse(bytes.toString("utf8")) as { sequence?: unknown }).sequence;
    } catch {
      sequence = undefined;
    }
    const problem =
      read === "too-large"
        ? `is larger than ${MAX_DIGEST_BYTES} bytes, so not a digest`
        : !signature
          ? `has no x-amz-meta-${SIGNATURE_METADATA}`
          : typeof sequence !== "number" || !Number.isSafeInteger(sequence) || sequence < 1
            ? "is not a digest (no sequence number)"
            : undefined;
    if (problem !== undefined) {
      throw new DigestChainError(
        `The digest s3://${bucket}/${key}, the one the next day links to, ${problem}: no later day of ${label} ` +
          "is sealed until it is resolved. Check it with atlas-audit-archiver verify; restore its previous version, " +
          "or remove it (the next day then links to the latest intact digest before it, and verify reports the gap).",
        { key, workspace: label },
      );
    }
    return {
      link: { key, sha256: sha256Hex(bytes), signature: signature as string },
      sequence: sequence as number,
    };
  };

  /** The previous digest of `date`, or null when the workspace has none before it. */
  const previousOf = async (date: string): Promise<Loaded | null> => {
    const before = dayBefore(date);
    if (known?.date === before && known.loaded) return known.loaded;
    let earlier: string | undefined;
    if (listedDigests) earlier = listedDigests.filter((d) => d < date).at(-1);
    else {
      // The usual case, the day before sealed: one GET. Else the latest earlier one, from a listing.
      const direct = await readDigest(digestKey(prefix, workspace, before));
      if (direct) return direct;
      earlier = (await digestDates()).filter((d) => d < date).at(-1);
    }
    if (earlier === undefined) return null;
    if (known?.date === earlier && known.loaded) return known.loaded;
    const found = await readDigest(digestKey(prefix, workspace, earlier));
    if (!found) {
      throw new DigestChainError(
        `The digest of ${earlier} of ${label} was listed but is gone; sealing ${date} is tried again next run.`,
        { key: digestKey(prefix, workspace, earlier), workspace: label },
      );
    }
    return found;
  };

  for (const [i, date] of dates.entries()) {
    if (signal?.aborted || (request.deadlineMs !== undefined && clock() >= request.deadlineMs)) {
      emit({ type: "deferred", workspace: label, days: dates.length - i });
      return;
    }
    const key = digestKey(prefix, workspace, date);
    try {
      const windows = windowsOfDay(date, minutes);
      const last = windows.at(-1) as TimeWindow;
      if (!isDue(last, nowMs, lagMinutes)) {
        emit({
          type: "waiting",
          workspace: label,
          date,
          reason: `its last window ${formatWindow(last)} is not due yet`,
        });
        return;
      }
      if (await headObjectIfAny(s3, { ...where, key }, "HeadObject (digest)")) {
        known = { date, key };
        emit({ type: "already-sealed", workspace: label, date, key });
        continue;
      }
      existing ??= await existingObjects(
        s3,
        { bucket, prefix },
        { ...workspace, label },
        dates.slice(i),
        signal,
      );
      const keys = windows.map((w) => archiveKey(prefix, workspace, w));
      const absent = keys.filter((k) => !existing?.has(k)).length;
      const left = last.startMs < earliestStartMs;
      if (absent > 0 && !left) {
        emit({
          type: "waiting",
          workspace: label,
          date,
          reason:
            `${absent} of its ${windows.length} windows are not archived yet; it is sealed once they are, or once ` +
            `its last window leaves the lookback (${lookbackHours} h)`,
        });
        return;
      }
      if (known === undefined) {
        // The first day of the pass to seal, with no digest known before it: a day older than a
        // digest already written (a range sealed late) would fork the chain, so it is not sealed.
        const later = (await digestDates()).find((d) => d > date);
        if (later !== undefined) {
          emit({
            type: "skipped",
            workspace: label,
            date,
            reason: `the digest of a later day (${later}) exists already: days are sealed in date order, so this one stays unsealed`,
          });
          continue;
        }
      }
      const previous = await previousOf(date);
      if (absent === windows.length && previous === null) {
        emit({
          type: "skipped",
          workspace: label,
          date,
          reason:
            "no window of the day is archived and the workspace has no earlier digest: no chain to start",
        });
        continue;
      }
      const receipts = await readReceipts(s3, { bucket, prefix, workspace, label }, date, windows, signal);
      const digestWindows = windows.map((w, n) =>
        digestWindow(
          w,
          keys[n] as string,
          existing?.has(keys[n] as string) === true,
          receipts.get(receiptKey(prefix, workspace, w)),
          lookbackHours,
        ),
      );
      const sequence = previous === null ? 1 : previous.sequence + 1;
      const digest: Digest = {
        v: DIGEST_FORMAT_VERSION,
        workspace: digestWorkspace(workspace),
        date,
        sequence,
        sealedAt: formatInstant(clock()),
        windowMinutes: minutes,
        windows: digestWindows,
        previous: previous === null ? null : previous.link,
        signing: { keyId: request.signer.keyId, algorithm: SIGNING_ALGORITHM },
      };
      const bytes = serializeDigest(digest);
      const signature = Buffer.from(await request.signer.sign(signedMessage(bytes), signal)).toString(
        "base64",
      );
      const written = await putIfAbsent(s3, { ...where, key }, bytes, {
        operation: "PutObject (digest)",
        metadata: { [SIGNATURE_METADATA]: signature },
        ...(signal ? { signal } : {}),
      });
      if (!written) {
        known = { date, key };
        emit({ type: "already-sealed", workspace: label, date, key });
        continue;
      }
      known = { date, key, loaded: { link: { key, sha256: sha256Hex(bytes), signature }, sequence } };
      listedDigests?.push(date);
      emit({
        type: "sealed",
        workspace: label,
        date,
        key,
        sequence,
        previous: previous === null ? null : previous.link.key,
        windows: stateCounts(digestWindows),
      });
    } catch (err) {
      emit({
        type: "failed",
        workspace: label,
        date,
        key,
        code: err instanceof ArchiverError ? err.code : "UNEXPECTED",
        message: err instanceof Error ? err.message : String(err),
      });
      return;
    }
  }
}

/** One window of a digest, from what the listing and the receipts show. */
function digestWindow(
  window: TimeWindow,
  key: string,
  hasObject: boolean,
  receipt: ReceiptRead | undefined,
  lookbackHours: number,
): DigestWindow {
  const label = formatWindow(window);
  if (receipt?.ok && hasObject) {
    const r = receipt.receipt;
    return {
      window: label,
      key,
      state: r.lines > 0 ? "archived" : "empty",
      ...(r.versionId ? { versionId: r.versionId } : {}),
      bytes: r.bytes,
      sha256: r.sha256,
      crc32: r.crc32,
      lines: r.lines,
    };
  }
  if (hasObject) {
    return {
      window: label,
      key,
      state: "unreceipted",
      reason: receipt
        ? `an object is at its key, but ${receipt.ok ? "" : receipt.reason}: its bytes cannot be vouched for`
        : "an object is at its key without a receipt: its bytes were not recorded in flight (the writer stopped, " +
          "or could not write the receipt, after storing the log)",
    };
  }
  return {
    window: label,
    key,
    state: "missing",
    reason: receipt?.ok
      ? `no object at its key, though its receipt says it was archived at ${receipt.receipt.archivedAt}: removed after it was archived`
      : `not archived before the day left the lookback (${lookbackHours} h)`,
  };
}

function stateCounts(windows: readonly DigestWindow[]): StateCounts {
  const counts = { archived: 0, empty: 0, missing: 0, unreceipted: 0 };
  for (const w of windows) counts[w.state]++;
  return counts;
}
