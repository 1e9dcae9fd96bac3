/**
 * `cat`: the decompressed log lines of one workspace over a range, in window order, streamed
 * object by object to a destination (stdout in the CLI).
 */

import { type Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import type { S3Client } from "@aws-sdk/client-s3";
import { storageError } from "../bucket/errors";
import { listPages } from "../bucket/list";
import { getObject } from "../bucket/objects";
import { workspaceLabel } from "../config";
import { InputError } from "../errors";
import type { TimeRange } from "../range";
import { didYouMean } from "../suggest";
import { READER_ROLE, ReaderError } from "./errors";
import { type ArchivedObject, type ArchiveLocation, listArchive } from "./listing";

/** What {@link catLogs} prints. */
export interface CatRequest {
  readonly s3: S3Client;
  readonly location: ArchiveLocation;
  readonly groupId: string;
  readonly tenantName: string;
  /**
   * The stream processor whose log to print. Absent: the whole workspace's log when there is one in
   * the range, else the single processor's log; several processors and no whole log is an error.
   */
  readonly spName?: string;
  readonly range: TimeRange;
  readonly out: Writable;
  readonly signal?: AbortSignal;
}

/** What {@link catLogs} did. */
export interface CatResult {
  /** Objects printed completely. */
  readonly objects: number;
  /** Decompressed bytes written. */
  readonly bytes: number;
  /** True when the destination closed early (e.g. `| head`): not an error. */
  readonly closed: boolean;
}

/** The stream processors' names among `objects`, sorted (the whole-workspace log has none). */
function processorNames(objects: readonly ArchivedObject[]): string[] {
  return [
    ...new Set(objects.flatMap((o) => (o.workspace.spName === undefined ? [] : [o.workspace.spName]))),
  ].sort();
}

/** The objects of one workspace variant, chosen as documented on {@link CatRequest.spName}. */
function choose(objects: readonly ArchivedObject[], request: CatRequest): ArchivedObject[] {
  const names = processorNames(objects);
  const { spName } = request;
  if (spName !== undefined) {
    const chosen = objects.filter((o) => o.workspace.spName === spName);
    if (chosen.length > 0 || objects.length === 0) return chosen;
    // The tenant has logs in the range, none of this processor: a typo, most likely.
    const whole = objects.some((o) => o.workspace.spName === undefined);
    throw new InputError("READER_USAGE", { field: "sp", value: spName }, (n) => {
      const has = [
        ...(whole ? [`the whole-workspace log (leave ${n("sp")} out)`] : []),
        ...(names.length > 0 ? [`the logs of ${names.join(", ")}`] : []),
      ];
      return (
        `Tenant ${request.tenantName} has no log of stream processor ${JSON.stringify(spName)} in this range; ` +
        `it has ${has.join(" and ")}.${didYouMean(spName, names, (name) => `${n("sp")} ${name}`)}`
      );
    });
  }
  const whole = objects.filter((o) => o.workspace.spName === undefined);
  if (whole.length > 0) return whole;
  if (names.length > 1) {
    throw new InputError(
      "READER_USAGE",
      { field: "sp" },
      (n) =>
        `Tenant ${request.tenantName} has the logs of several stream processors in this range (${names.join(", ")}) ` +
        `and no whole-workspace log: pick one with ${n("sp")} NAME.`,
    );
  }
  return objects.slice();
}

/**
 * When nothing of the tenant is in the range: whether the group has that tenant at all (one
 * delimited listing of the group). A tenant the group does not have is refused with the tenants
 * it has, so a typo is not taken for an empty range.
 *
 * @throws {InputError} `READER_USAGE` (field `tenant`, or `group` when the group has nothing archived)
 */
async function checkTenant(request: CatRequest): Promise<void> {
  const { location, groupId, tenantName } = request;
  const groupPrefix = `${location.prefix}group=${groupId}/`;
  const tenants: string[] = [];
  const pages = listPages(
    request.s3,
    { bucket: location.bucket, prefix: groupPrefix, delimiter: "/", role: READER_ROLE },
    request.signal,
  );
  for await (const page of pages) {
    for (const p of page.prefixes) {
      const name = /^tenant=([^/]+)\/$/.exec(p.slice(groupPrefix.length))?.[1];
      if (name !== undefined) tenants.push(name);
    }
  }
  if (tenants.includes(tenantName)) return;
  const where = `s3://${location.bucket}/${groupPrefix}`;
  if (tenants.length === 0) {
    throw new InputError(
      "READER_USAGE",
      { field: "group", value: groupId },
      (n) =>
        `Nothing is archived for group ${groupId} (${where}): check ${n("group")} and the bucket and prefix.`,
    );
  }
  throw new InputError(
    "READER_USAGE",
    { field: "tenant", value: tenantName },
    (n) =>
      `Group ${groupId} has no archived tenant ${JSON.stringify(tenantName)}; it has ${tenants.join(", ")}.` +
      didYouMean(tenantName, tenants, (name) => `${n("tenant")} ${name}`),
  );
}

/**
 * Prints the decompressed lines of every window overlapping the range, oldest window first, each
 * window's lines as stored. Objects are streamed one after another: memory stays bounded whatever
 * their size. When the destination closes early (a closed pipe), the download in flight is
 * abandoned and the result says `closed`.
 *
 * @throws {InputError} `READER_USAGE` (field `sp`) when several stream processors have logs and none
 *   was chosen, or the one chosen has none in the range while others do; (field `tenant`) when
 *   the group has no such tenant, naming those it has; (field `group`) when it has none
 * @throws {ReaderError} `READER_GZIP_INVALID` naming the object that does not decompress, or an S3 read error
 * @example
 * ```ts
 * await catLogs({ s3, location, groupId, tenantName: "prod-workspace", range, out: process.stdout });
 * ```
 */
export async function catLogs(request: CatRequest): Promise<CatResult> {
  const { s3, location, out } = request;
  const { objects } = await listArchive(
    s3,
    location,
    { groupId: request.groupId, tenantName: request.tenantName, range: request.range },
    request.signal,
  );
  if (objects.length === 0) await checkTenant(request);
  const chosen = choose(objects, request).sort((a, b) => a.window.startMs - b.window.startMs);
  let printed = 0;
  let bytes = 0;
  // The destination's own error (EPIPE when the reader of a pipe exits) is recorded here rather
  // than left unhandled; the copy below then stops.
  let outError: Error | undefined;
  const onOutError = (err: Error) => {
    outError ??= err;
  };
  out.on("error", onOutError);
  const closed = () => outError !== undefined || out.destroyed || out.writableEnded;
  try {
    for (const object of chosen) {
      if (closed()) return { objects: printed, bytes, closed: true };
      const target = {
        bucket: location.bucket,
        key: object.key,
        role: READER_ROLE,
        signal: request.signal,
      };
      const body = (await getObject(s3, target, { checksum: false })).Body as Readable;
      // One small writable per object forwards to the shared destination and waits for its 'drain',
      // so a slow reader slows the download (bounded memory) and no listener accumulates on `out`.
      const forward = new Writable({
        highWaterMark: 64 * 1024,
        write(chunk: Buffer, _encoding, callback) {
          if (closed()) {
            callback(new ClosedDestination());
            return;
          }
          bytes += chunk.length;
          if (out.write(chunk)) {
            callback();
            return;
          }
          const done = () => {
            out.off("drain", done).off("close", done).off("error", done);
            callback(closed() ? new ClosedDestination() : null);
          };
          out.on("drain", done).on("close", done).on("error", done);
        },
      });
      try {
        // On any failure pipeline() destroys the S3 body too, which closes its connection.
        await pipeline(body, createGunzip(), forward);
      } catch (err) {
        if (err instanceof ClosedDestination || closed()) return { objects: printed, bytes, closed: true };
        if ((err as { code?: string }).code?.startsWith("Z_")) {
          throw new ReaderError(
            "READER_GZIP_INVALID",
            `s3://${location.bucket}/${object.key} (${workspaceLabel(object.workspace)}) does not decompress: ` +
              `${(err as Error).message}. Run \`atlas-audit-archiver verify\` to list every damaged object.`,
            { key: object.key, cause: err },
          );
        }
        throw storageError(err, "GetObject", target);
      }
      printed++;
    }
    return { objects: printed, bytes, closed: closed() };
  } finally {
    out.off("error", onOutError);
  }
}

/** The destination went away: ends the copy of the current object. */
class ClosedDestination extends Error {
  constructor() {
    super("the destination was closed");
  }
}
