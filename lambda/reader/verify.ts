/**
 * `verify`: re-reads archived objects and checks that each is intact (complete gzip, every CRC),
 * matches the full-object CRC32 S3 stored with it, and that its metadata names the window and
 * workspace of its key; and, where digests seal the days (issue 13), proves the archive against
 * them: every digest's signature and its link to the one before, every sealed object's size and
 * SHA-256, no sealed object deleted, no object added that no digest lists, no window of the
 * schedule left unaccounted for, and which days no digest seals.
 */

import { type Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { GetObjectCommandOutput, S3Client } from "@aws-sdk/client-s3";
import { GzipInspector, type LogDigest } from "../archive/inspect";
import { crc32Base64, storedCrc32 } from "../bucket/checksum";
import { isChecksumMismatch, storageError } from "../bucket/errors";
import { getObject } from "../bucket/objects";
import {
  archiveKey,
  DIGESTS_FOLDER,
  digestKey,
  digestsPrefix,
  metadataMismatches,
  utcDate,
  type Workspace,
  workspaceLabel,
} from "../config";
import type { DigestWindow, WindowState } from "../digest/format";
import { ruleFor } from "../errors";
import { forEachLimited } from "../pool";
import { overlaps, type TimeRange } from "../range";
import { formatInstant, formatWindow, type TimeWindow, windowsInRange } from "../windows";
import {
  checkChain,
  type ListedDigest,
  listDigests,
  type Problem,
  type ReadDigest,
  readDigest,
  type SignatureStatus,
  type SignatureVerifier,
} from "./digests";
import { READER_ROLE } from "./errors";
import { type ArchivedObject, type ArchiveLocation, listArchive } from "./listing";

export type { Problem, SignatureStatus, SignatureVerifier } from "./digests";

/**
 * One problem found: the key it concerns, a stable code and the reason.
 *
 * Object codes: `KEY_UNPARSABLE`, `GZIP_INVALID`, `SIZE_MISMATCH`, `CHECKSUM_MISMATCH`,
 * `CHECKSUM_MISSING`, `METADATA_MISMATCH`, `READ_FAILED`; against the digests: `SHA256_MISMATCH`
 * (overwritten), `OBJECT_DELETED`, `OBJECT_UNEXPECTED` (sealed missing, there now),
 * `OBJECT_UNLISTED` (added to a sealed day), `UNPROVEN` (sealed unreceipted),
 * `WINDOW_UNACCOUNTED`, `UNSEALED`; digests: `DIGEST_KEY_UNPARSABLE`, `DIGEST_INVALID`,
 * `DIGEST_MISPLACED`, `SIGNATURE_MISSING`, `SIGNATURE_INVALID`, `SIGNATURE_KEY_MISMATCH`,
 * `SIGNATURE_UNCHECKED`, `CHAIN_BROKEN`.
 */
export type BadObject = Problem;

/** What became of one window. */
export type WindowResult =
  /** Sealed, and its object (or its absence, for `missing`) is what the digest says. */
  | "verified"
  /** A problem was found (see the report's `bad`). */
  | "failed"
  /** Sealed `unreceipted`: its object is intact but its bytes were never measured in flight. */
  | "unproven"
  /** On a sealed day's schedule, but its digest does not list it. */
  | "unaccounted"
  /** Not sealed: its object is intact (gzip, CRC32, metadata), which proves nothing against tampering. */
  | "intact"
  /** Not sealed, and no object. */
  | "absent";

/** One window of a day in the report. */
export interface WindowReport {
  /** `start/end`, ISO 8601 UTC. */
  readonly window: string;
  readonly key: string;
  /** Its state in the day's digest; null when no digest lists it. */
  readonly state: WindowState | null;
  readonly result: WindowResult;
  /** Size of the object read, when there is one. */
  readonly bytes?: number;
  /** The codes of its problems. */
  readonly problems: string[];
}

/** How a day stands. */
export type DayStatus =
  /** A digest seals it (whether that digest verifies is in `digest`). */
  | "sealed"
  /** No digest, and none is due yet: its last window is not due, or one of its windows has no object and the day is still inside the lookback (the sealer waits for it). */
  | "pending"
  /** No digest, though one was due (or the archive has none at all). */
  | "unsealed";

/** One UTC day of one workspace. */
export interface DayReport {
  readonly date: string;
  readonly status: DayStatus;
  readonly digest: {
    readonly key: string;
    readonly sequence: number | null;
    readonly sha256: string;
    readonly signature: SignatureStatus;
    /** The codes of the digest's own problems (signature, place, chain). */
    readonly problems: string[];
  } | null;
  readonly windows: WindowReport[];
}

/** One workspace's days. */
export interface WorkspaceReport {
  readonly workspace: Workspace;
  /** `groupId/tenantName[/spName]`. */
  readonly label: string;
  /** `intact`: every digest read links to the one before; `broken`; `none`: no digest read. */
  readonly chain: "intact" | "broken" | "none";
  readonly days: DayReport[];
}

/** The result of {@link verifyArchive}. */
export interface VerifyReport {
  readonly bucket: string;
  readonly prefix: string;
  /** The range checked, ISO 8601 UTC (`to` excluded); null: the whole archive up to now. */
  readonly from: string | null;
  readonly to: string | null;
  /** How signatures were checked: `public-key` (offline), `kms`, or `none`. */
  readonly signatures: "public-key" | "kms" | "none";
  /** Whether the digests were held to: a key was given or a digest was found, so an unsealed day is a problem. */
  readonly sealed: boolean;
  /** Objects read and checked. */
  readonly checked: number;
  readonly bytes: number;
  /** Digests read and checked. */
  readonly digests: number;
  /** Days (over every workspace) by status. */
  readonly days: { readonly sealed: number; readonly pending: number; readonly unsealed: number };
  /** Every problem, in key order. */
  readonly bad: BadObject[];
  readonly workspaces: WorkspaceReport[];
  readonly ok: boolean;
}

/** What {@link verifyArchive} checks. */
export interface VerifyRequest {
  readonly s3: S3Client;
  readonly location: ArchiveLocation;
  /** Only this group; absent = the whole archive. */
  readonly groupId?: string;
  /** Only windows overlapping this range; absent = all. */
  readonly range?: TimeRange;
  /** Objects read at the same time (default 4). */
  readonly concurrency?: number;
  /** Checks the digests' signatures; absent: they are not checked (`SIGNATURE_UNCHECKED` when there are digests). */
  readonly signatures?: SignatureVerifier;
  /** The schedule of days no digest seals (default 60-minute windows, 15 minutes of lag, 72 hours of lookback). */
  readonly window?: Schedule;
  /** Workspaces verified even when they have no object (the parameter file's). */
  readonly workspaces?: readonly Workspace[];
  /** Now, for which days are still pending (default `Date.now()`). */
  readonly nowMs?: number;
  /** After each object. */
  readonly onObject?: (done: number, total: number, bad: BadObject | undefined) => void;
  readonly signal?: AbortSignal;
}

const DAY_MS = 86_400_000;

/** The window settings `verify` reads: the schedule of unsealed days, and when a day's digest is due. */
export interface Schedule {
  readonly minutes: number;
  readonly lagMinutes: number;
  readonly lookbackHours: number;
}

function checksumReason(stored: string | undefined, computed: unknown): string {
  const detail = computed instanceof Error ? computed.message : `computed ${String(computed)}`;
  return `the bytes read do not match the CRC32 S3 stored with the object (${stored ?? "?"}; ${detail})`;
}

/** What one object's read found: its problem, if any, and what was measured when it was read whole. */
interface ObjectCheck {
  readonly problem?: Problem;
  readonly measured?: LogDigest;
}

/** Reads one object through the gzip inspector and compares it with its checksum and metadata. */
async function checkObject(request: VerifyRequest, object: ArchivedObject): Promise<ObjectCheck> {
  const { s3, location } = request;
  const bad = (problem: string, reason: string): Problem => ({ key: object.key, problem, reason });
  const target = {
    bucket: location.bucket,
    key: object.key,
    role: READER_ROLE,
    signal: request.signal,
  };
  let response: GetObjectCommandOutput;
  try {
    response = await getObject(s3, target, { checksum: true });
  } catch (err) {
    // A missing bucket or denied access stops the whole verification; any other failure is this object's.
    if (ruleFor(err).exitStatus === 2) throw err;
    return { problem: bad("READ_FAILED", (err as Error).message) };
  }
  const stored = storedCrc32(response);
  const inspector = new GzipInspector();
  const discard = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  try {
    await pipeline(response.Body as Readable, inspector, discard);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "ARCHIVE_GZIP_INVALID") {
      const cause = (err as Error).cause;
      const detail = cause instanceof Error ? cause.message : (err as Error).message;
      return { problem: bad("GZIP_INVALID", `not a complete, valid gzip stream (${detail})`) };
    }
    // The SDK checks the stored checksum itself while the body streams.
    if (isChecksumMismatch(err)) return { problem: bad("CHECKSUM_MISMATCH", checksumReason(stored, err)) };
    return { problem: bad("READ_FAILED", storageError(err, "GetObject", target).message) };
  }
  const measured = inspector.digest();
  if (response.ContentLength !== undefined && response.ContentLength !== measured.bytes) {
    return {
      measured,
      problem: bad("SIZE_MISMATCH", `${measured.bytes} bytes read, but S3 reports ${response.ContentLength}`),
    };
  }
  if (stored === undefined) {
    return {
      measured,
      problem: bad(
        "CHECKSUM_MISSING",
        "S3 reports no full-object CRC32 checksum for it; the archiver stores one with every object, so " +
          "something else wrote it",
      ),
    };
  }
  const computed = crc32Base64(measured.crc32);
  if (stored !== computed)
    return { measured, problem: bad("CHECKSUM_MISMATCH", checksumReason(stored, computed)) };
  const mismatches = metadataMismatches(response.Metadata ?? {}, object.workspace, object.window);
  if (mismatches.length > 0) return { measured, problem: bad("METADATA_MISMATCH", mismatches.join("; ")) };
  return { measured };
}

/** The bytes an object has against what its digest sealed, or the problem. */
function compareSealed(key: string, sealed: DigestWindow, measured: LogDigest): Problem | undefined {
  if (sealed.sha256 !== undefined && measured.sha256 === sealed.sha256 && measured.bytes === sealed.bytes) {
    return undefined;
  }
  return {
    key,
    problem: "SHA256_MISMATCH",
    reason:
      `its bytes are not those the digest sealed: ${measured.bytes} bytes with SHA-256 ${measured.sha256}, ` +
      `sealed ${sealed.bytes ?? "?"} bytes with SHA-256 ${sealed.sha256 ?? "none"}: it was overwritten`,
  };
}

/** `YYYY-MM-DD` → its first instant. */
function dayStart(date: string): number {
  return Date.parse(`${date}T00:00:00Z`);
}

/** The UTC dates from `first` to `last`, both included. */
function datesBetween(first: string, last: string): string[] {
  const out: string[] = [];
  for (let t = dayStart(first); t <= dayStart(last); t += DAY_MS) out.push(utcDate(t));
  return out;
}

function parseWindow(value: string): TimeWindow | undefined {
  const [start = "", end = ""] = value.split("/");
  const startMs = Date.parse(start);
  const endMs = Date.parse(end);
  return Number.isNaN(startMs) || Number.isNaN(endMs) || endMs <= startMs ? undefined : { startMs, endMs };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One workspace's part of the verification, before its objects are read. */
interface WorkspacePlan {
  readonly workspace: Workspace;
  readonly label: string;
  readonly objects: ArchivedObject[];
  readonly listed: ListedDigest[];
  digests: ReadDigest[];
}

/**
 * Re-reads every archived object of the selection (streaming, `concurrency` at a time) and reports
 * every problem: keys that do not parse, objects that are not complete valid gzip, whose bytes do
 * not match the full-object CRC32 S3 stored with them (or that have none), or whose metadata names
 * another window or workspace than the key; and, against each workspace's digests over the range,
 * everything listed in {@link BadObject}.
 *
 * Which days are verified, per workspace: from its first day with an object or a digest to its
 * last (and at least to today), within the range. A day without a digest is `pending` while its
 * last window is inside the lookback (the sealer may still be waiting for it), else `unsealed`:
 * a problem when the verification holds to digests (a key was given, or a digest was found).
 *
 * @throws {ReaderError} when the bucket is missing or access is denied
 * @example
 * ```ts
 * const report = await verifyArchive({ s3, location, groupId, signatures: publicKeyVerifier(pem) });
 * for (const b of report.bad) console.error(`${b.key}: ${b.reason}`);
 * ```
 */
export async function verifyArchive(request: VerifyRequest): Promise<VerifyReport> {
  const { location, range, s3 } = request;
  const nowMs = request.nowMs ?? Date.now();
  const schedule = request.window ?? { minutes: 60, lagMinutes: 15, lookbackHours: 72 };
  const concurrency = request.concurrency ?? 4;
  const listing = await listArchive(s3, location, { groupId: request.groupId, range }, request.signal);
  const digestListing = await listDigests(s3, location, request.groupId, request.signal);
  const bad: Problem[] = [
    ...listing.unparsed.map((u) => ({ key: u.key, problem: "KEY_UNPARSABLE", reason: `key ${u.reason}` })),
    ...digestListing.unparsed,
  ];
  const firstDate = range && utcDate(range.fromMs);
  const lastDate = range && utcDate(range.toMs - 1);
  const inRange = (date: string) =>
    (firstDate === undefined || date >= firstDate) && (lastDate === undefined || date <= lastDate);

  // The workspaces: those with objects, with digests, and the configured ones.
  const plans = new Map<string, WorkspacePlan>();
  const planOf = (workspace: Workspace): WorkspacePlan => {
    const label = workspaceLabel(workspace);
    let plan = plans.get(label);
    if (!plan) {
      plan = { workspace, label, objects: [], listed: [], digests: [] };
      plans.set(label, plan);
    }
    return plan;
  };
  for (const w of request.workspaces ?? []) {
    if (request.groupId === undefined || w.groupId === request.groupId) planOf(w);
  }
  for (const o of listing.objects) planOf(o.workspace).objects.push(o);
  for (const d of digestListing.digests) if (inRange(d.date)) planOf(d.workspace).listed.push(d);

  // Every digest, read and checked alone, then each workspace's chain.
  const all = [...plans.values()].flatMap((p) => p.listed.map((d) => ({ plan: p, listed: d })));
  const read = new Map<string, ReadDigest>();
  await forEachLimited(all, concurrency, async ({ plan, listed }) => {
    const got = await readDigest(
      s3,
      location,
      plan.workspace,
      listed.key,
      request.signatures,
      request.signal,
    );
    if (got) read.set(listed.key, got);
  });
  for (const plan of plans.values()) {
    plan.digests = plan.listed
      .map((d) => read.get(d.key))
      .filter((d): d is ReadDigest => d !== undefined)
      .sort((a, b) => compare(a.key, b.key));
    await checkChain(plan.digests, async (key) => {
      const known = read.get(key);
      if (known) return known;
      const owner = [...plans.values()].find((p) =>
        key.startsWith(digestsPrefix(location.prefix, p.workspace)),
      );
      return owner && (await readDigest(s3, location, owner.workspace, key, undefined, request.signal));
    });
  }
  const digestCount = read.size;
  const sealedMode = request.signatures !== undefined || digestCount > 0;
  if (digestCount > 0 && request.signatures === undefined) {
    bad.push({
      key: `${location.prefix}${DIGESTS_FOLDER}`,
      problem: "SIGNATURE_UNCHECKED",
      reason:
        `${digestCount} digest(s) found, but no public key or KMS key was given: their signatures were not ` +
        "checked, so nothing is proven",
    });
  }

  // What each sealed key should be, from the digests.
  const sealedWindows = new Map<string, DigestWindow>();
  for (const plan of plans.values()) {
    for (const d of plan.digests) for (const w of d.digest?.windows ?? []) sealedWindows.set(w.key, w);
  }

  // Every object, streamed.
  const checks = new Map<string, ObjectCheck>();
  const objects = listing.objects;
  let done = 0;
  let bytes = 0;
  await forEachLimited(objects, concurrency, async (object) => {
    const check = await checkObject(request, object);
    checks.set(object.key, check);
    bytes += object.size;
    request.onObject?.(++done, objects.length, check.problem);
  });

  const workspaces: WorkspaceReport[] = [];
  const dayCounts = { sealed: 0, pending: 0, unsealed: 0 };
  const today = utcDate(nowMs);
  for (const plan of [...plans.values()].sort((a, b) => compare(a.label, b.label))) {
    const { workspace, label } = plan;
    const objectsByDate = new Map<string, ArchivedObject[]>();
    for (const o of plan.objects) {
      const date = utcDate(o.window.startMs);
      objectsByDate.set(date, [...(objectsByDate.get(date) ?? []), o]);
    }
    const digestByDate = new Map(plan.digests.map((d) => [d.date, d]));
    const seen = [...objectsByDate.keys(), ...digestByDate.keys()].sort();
    const days: DayReport[] = [];
    const first = seen[0];
    if (first !== undefined) {
      const lastSeen = seen[seen.length - 1] as string;
      const upTo = lastDate === undefined || lastDate > today ? today : lastDate;
      const last = [upTo, lastSeen].sort()[1] as string;
      const lastSealed = plan.digests[plan.digests.length - 1]?.date ?? "";
      for (const date of datesBetween(first, last)) {
        days.push(
          verifyDay({
            prefix: location.prefix,
            workspace,
            date,
            range,
            digest: digestByDate.get(date),
            objects: objectsByDate.get(date) ?? [],
            checks,
            sealedWindows,
            schedule,
            nowMs,
            sealedMode,
            laterSealed: lastSealed > date,
            bad,
          }),
        );
      }
    }
    for (const d of plan.digests) bad.push(...d.problems);
    for (const day of days) dayCounts[day.status]++;
    const chainBroken = plan.digests.some((d) => d.problems.some((p) => p.problem === "CHAIN_BROKEN"));
    workspaces.push({
      workspace,
      label,
      chain: plan.digests.length === 0 ? "none" : chainBroken ? "broken" : "intact",
      days,
    });
  }
  // An object's own problem is reported once, whether or not a day reported it.
  const reported = new Set(bad.map((b) => `${b.key}\n${b.problem}`));
  for (const [key, check] of checks) {
    if (check.problem && !reported.has(`${key}\n${check.problem.problem}`)) bad.push(check.problem);
  }
  bad.sort((a, b) => compare(a.key, b.key) || compare(a.problem, b.problem));
  return {
    bucket: location.bucket,
    prefix: location.prefix,
    from: range ? formatInstant(range.fromMs) : null,
    to: range ? formatInstant(range.toMs) : null,
    signatures: request.signatures?.method ?? "none",
    sealed: sealedMode,
    checked: objects.length,
    bytes,
    digests: digestCount,
    days: dayCounts,
    bad,
    workspaces,
    ok: bad.length === 0,
  };
}

/** What {@link verifyDay} needs. */
interface DayInput {
  readonly prefix: string;
  readonly workspace: Workspace;
  readonly date: string;
  readonly range: TimeRange | undefined;
  readonly digest: ReadDigest | undefined;
  readonly objects: readonly ArchivedObject[];
  readonly checks: ReadonlyMap<string, ObjectCheck>;
  readonly sealedWindows: ReadonlyMap<string, DigestWindow>;
  readonly schedule: Schedule;
  readonly nowMs: number;
  readonly sealedMode: boolean;
  /** Whether a later day of the workspace is sealed (days are sealed in date order, so this one should be). */
  readonly laterSealed: boolean;
  /** Where its problems go. */
  readonly bad: Problem[];
}

/** One day of one workspace: its windows against its digest, or as unsealed. */
function verifyDay(input: DayInput): DayReport {
  const { prefix, workspace, date, range, digest, checks, bad } = input;
  const startMs = dayStart(date);
  const inRange = (w: TimeWindow) => range === undefined || overlaps(w, range);
  const objects = new Map(input.objects.map((o) => [o.key, o]));
  const windows: WindowReport[] = [];
  const add = (w: Omit<WindowReport, "problems">, problems: Problem[]) => {
    bad.push(...problems);
    windows.push({ ...w, problems: problems.map((p) => p.problem) });
  };
  const objectProblems = (key: string): Problem[] => {
    const p = checks.get(key)?.problem;
    return p ? [p] : [];
  };
  // A digest at another day's key (moved, swapped) seals nothing here: the day is checked as unsealed.
  const body = digest?.problems.some((p) => p.problem === "DIGEST_MISPLACED") ? undefined : digest?.digest;

  if (digest && body) {
    const listed = new Set<string>();
    for (const sealed of body.windows) {
      const window = parseWindow(sealed.window);
      if (window && !inRange(window)) continue;
      listed.add(sealed.key);
      const problems: Problem[] = [];
      if (!window || archiveKey(prefix, workspace, window) !== sealed.key) {
        problems.push({
          key: digest.key,
          problem: "DIGEST_INVALID",
          reason: `its window ${sealed.window} is listed at ${sealed.key}, which is not that window's key`,
        });
      }
      const object = objects.get(sealed.key);
      const check = checks.get(sealed.key);
      let result: WindowResult = "verified";
      if (sealed.state === "archived" || sealed.state === "empty") {
        if (!object) {
          problems.push({
            key: sealed.key,
            problem: "OBJECT_DELETED",
            reason: `the digest ${digest.key} seals it as ${sealed.state}, but there is no object at its key: it was deleted`,
          });
        } else {
          problems.push(...objectProblems(sealed.key));
          const mismatch = check?.measured && compareSealed(sealed.key, sealed, check.measured);
          if (mismatch) problems.push(mismatch);
        }
      } else if (sealed.state === "missing") {
        if (object) {
          problems.push(...objectProblems(sealed.key), {
            key: sealed.key,
            problem: "OBJECT_UNEXPECTED",
            reason: `the digest ${digest.key} seals it as missing (${sealed.reason ?? "no reason given"}), but an object is there now: it was added after the day was sealed`,
          });
        }
      } else {
        result = object ? "unproven" : "failed";
        problems.push(...objectProblems(sealed.key));
        problems.push(
          object
            ? {
                key: sealed.key,
                problem: "UNPROVEN",
                reason: `the digest ${digest.key} seals it unreceipted: its bytes were never measured in flight, so nothing proves they are Atlas's`,
              }
            : {
                key: sealed.key,
                problem: "OBJECT_DELETED",
                reason: `the digest ${digest.key} seals it as unreceipted (an object was there), but there is no object at its key: it was deleted`,
              },
        );
      }
      if (problems.some((p) => p.problem !== "UNPROVEN")) result = "failed";
      add(
        {
          window: sealed.window,
          key: sealed.key,
          state: sealed.state,
          result,
          ...(object ? { bytes: object.size } : {}),
        },
        problems,
      );
    }
    // The schedule's windows the digest does not list, and the objects it does not list.
    const lengthOk =
      Number.isInteger(body.windowMinutes) && body.windowMinutes > 0 && 1440 % body.windowMinutes === 0;
    const scheduled = lengthOk
      ? windowsInRange(startMs, startMs + DAY_MS, body.windowMinutes).filter(inRange)
      : [];
    for (const w of scheduled) {
      const key = archiveKey(prefix, workspace, w);
      if (listed.has(key)) continue;
      listed.add(key);
      const object = objects.get(key);
      add(
        {
          window: formatWindow(w),
          key,
          state: null,
          result: "unaccounted",
          ...(object ? { bytes: object.size } : {}),
        },
        [
          ...(object ? objectProblems(key) : []),
          {
            key,
            problem: object ? "OBJECT_UNLISTED" : "WINDOW_UNACCOUNTED",
            reason: object
              ? `no digest lists it, though ${digest.key} seals its day: it was added after the day was sealed`
              : `a window of the schedule (${body.windowMinutes} min) that the digest ${digest.key} does not account for`,
          },
        ],
      );
    }
    for (const object of objects.values()) {
      if (listed.has(object.key)) continue;
      add(
        {
          window: formatWindow(object.window),
          key: object.key,
          state: null,
          result: "failed",
          bytes: object.size,
        },
        [
          ...objectProblems(object.key),
          {
            key: object.key,
            problem: "OBJECT_UNLISTED",
            reason: `no digest lists it, though ${digest.key} seals its day: it was added after the day was sealed`,
          },
        ],
      );
    }
    windows.sort((a, b) => compare(a.window, b.window));
    return {
      date,
      status: "sealed",
      digest: {
        key: digest.key,
        sequence: body.sequence,
        sha256: digest.sha256,
        signature: digest.signatureStatus,
        problems: digest.problems.map((p) => p.problem),
      },
      windows,
    };
  }

  // No digest (or one that does not parse, or another day's): today's checks, and the day is pending or unsealed.
  const scheduled = windowsInRange(startMs, startMs + DAY_MS, input.schedule.minutes).filter(inRange);
  const keys = new Set<string>();
  for (const w of scheduled) {
    const key = archiveKey(prefix, workspace, w);
    keys.add(key);
    const object = objects.get(key);
    const problems = object ? objectProblems(key) : [];
    add(
      {
        window: formatWindow(w),
        key,
        state: null,
        result: object ? (problems.length > 0 ? "failed" : "intact") : "absent",
        ...(object ? { bytes: object.size } : {}),
      },
      problems,
    );
  }
  for (const object of objects.values()) {
    if (keys.has(object.key)) continue;
    const problems = objectProblems(object.key);
    add(
      {
        window: formatWindow(object.window),
        key: object.key,
        state: null,
        result: problems.length > 0 ? "failed" : "intact",
        bytes: object.size,
      },
      problems,
    );
  }
  windows.sort((a, b) => compare(a.window, b.window));
  // The sealer seals a day once its last window is due and every window has an object, or once the
  // day has left the lookback; and in date order, so a day before a sealed one is never pending.
  const endMs = startMs + DAY_MS;
  const { lagMinutes, lookbackHours } = input.schedule;
  const incomplete = windows.some((w) => w.result === "absent");
  const pending =
    !input.laterSealed &&
    (endMs + lagMinutes * 60_000 > input.nowMs ||
      (incomplete && endMs + lookbackHours * 3_600_000 > input.nowMs));
  const status: DayStatus = pending ? "pending" : "unsealed";
  if (status === "unsealed" && input.sealedMode && !digest) {
    bad.push({
      key: digestKey(prefix, workspace, date),
      problem: "UNSEALED",
      reason:
        `no digest seals ${workspaceLabel(workspace)} on ${date} (its ${windows.length} window(s) are unproven)` +
        ": it was never sealed, or its digest was deleted",
    });
  }
  return {
    date,
    status,
    digest: digest
      ? {
          key: digest.key,
          sequence: digest.digest?.sequence ?? null,
          sha256: digest.sha256,
          signature: digest.signatureStatus,
          problems: digest.problems.map((p) => p.problem),
        }
      : null,
    windows,
  };
}
