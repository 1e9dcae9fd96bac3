/**
 * `cat`: the decompressed log lines of one workspace over a range, in window order, streamed
 * object by object to a destination (stdout in the CLI).
 */

import { type Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import type { S3Client } from "@aws-sdk/client-s3";
import { storageError } from "../bucket/errors";
import { getObject } from "../bucket/objects";
import { workspaceLabel } from "../config";
import { InputError } from "../errors";
import type { TimeRange } from "../range";
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

/** The objects of one workspace variant, chosen as documented on {@link CatRequest.spName}. */
function choose(objects: readonly ArchivedObject[], request: CatRequest): ArchivedObject[] {
  if (request.spName !== undefined) return objects.filter((o) => o.workspace.spName === request.spName);
  const whole = objects.filter((o) => o.workspace.spName === undefined);
  if (whole.length > 0) return whole;
  const names = [...new Set(objects.map((o) => o.workspace.spName))];
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
 * Prints the decompressed lines of every window overlapping the range, oldest window first, each
 * window's lines as stored. Objects are streamed one after another: memory stays bounded whatever
 * their size. When the destination closes early (a closed pipe), the download in flight is
 * abandoned and the result says `closed`.
 *
 * @throws {InputError} `READER_USAGE` (field `sp`) when several stream processors have logs and none was chosen
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
