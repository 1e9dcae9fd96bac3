/**
 * Whole-object requests: PutObject (atomic, conditional, checked), DeleteObject, GetObject and
 * HeadObject (with the stored checksum), and ListObjectsV2; plus the conditional, atomic write
 * through a staging key that CompleteMultipartUpload shares.
 */
import type { OutgoingHttpHeaders } from "node:http";
import { checksumHeader } from "./body";
import { ListingError, listObjectsV2 } from "./listing";
import { type Call, drain, isOk, objectPath, passthrough, relay, streamBody } from "./upstream";
import { noSuchBucket, preconditionFailed, sendError, sendProblem, sendXml } from "./xml";

/**
 * Writes `c.key` through a fresh staging key, under the key's lock: a conditional write
 * (`If-None-Match: *`, when the server honours it) on an existing key answers 412 (after `onRefused`,
 * e.g. draining the body) and writes nothing. `write` fills the staging key and returns a commit
 * step, or nothing when it refused the write; the staging files are removed unless committed.
 */
export function writeThroughStaging(
  call: Call,
  write: (staging: string) => Promise<(() => Promise<void>) | undefined>,
  onRefused: () => Promise<void> = async () => {},
): Promise<void> {
  const { ctx, c, res } = call;
  return ctx.locks.object(c.bucket, c.key, async () => {
    if (c.ifNoneMatchStar && ctx.conditionalWrites && (await ctx.layout.objectExists(c.bucket, c.key))) {
      await onRefused();
      return preconditionFailed(res);
    }
    const staging = ctx.layout.stagingKey();
    let committed = false;
    try {
      const commit = await write(staging);
      if (commit === undefined) return;
      await commit();
      committed = true;
    } finally {
      if (!committed) await ctx.layout.discard(c.bucket, staging);
    }
  });
}

/** PutObject: streamed to a staging key, checked, then renamed to its key (atomic, conditional). */
export async function putObject(call: Call, corrupt: boolean): Promise<void> {
  const { ctx, c, req, res } = call;
  if (!ctx.layout.bucketExists(c.bucket)) {
    await drain(req);
    return noSuchBucket(res, c.bucket);
  }
  await writeThroughStaging(
    call,
    async (staging) => {
      const { response, verdict } = await streamBody(call, objectPath(c.bucket, staging), corrupt);
      if (!isOk(response.status)) return void relay(res, response);
      if (!verdict.ok) return void sendError(res, verdict.status, verdict.code, verdict.message);
      return async () => {
        await ctx.layout.commit(c.bucket, staging, c.key, verdict.checksum);
        relay(res, response, checksumHeader(verdict.checksum));
      };
    },
    () => drain(req),
  );
}

/** DeleteObject: the object and its checksum go together. */
export function deleteObject(call: Call): Promise<void> {
  const { ctx, c, req, res } = call;
  return ctx.locks.object(c.bucket, c.key, async () => {
    await ctx.layout.dropChecksum(c.bucket, c.key);
    await ctx.layout.exclusive(() => passthrough(ctx, req, res));
  });
}

/** GetObject and HeadObject, streamed from s3rver, with the stored checksum in checksum mode. */
export function readObject(call: Call): Promise<void> {
  const { ctx, c, req, res } = call;
  return passthrough(ctx, req, res, async (status): Promise<OutgoingHttpHeaders> => {
    const enabled = String(req.headers["x-amz-checksum-mode"] ?? "").toUpperCase() === "ENABLED";
    if (!ctx.checksums || !enabled || status !== 200 || req.headers.range !== undefined) return {};
    const checksum = await ctx.layout.checksum(c.bucket, c.key);
    if (checksum === undefined) return {};
    return { ...checksumHeader(checksum), "x-amz-checksum-type": "FULL_OBJECT" };
  });
}

/** ListObjectsV2, from the store in S3 key order; `repeatToken` for the fault of that name. */
export async function listObjects(call: Call, repeatToken: boolean): Promise<void> {
  const { ctx, c, req, res } = call;
  await drain(req);
  if (!ctx.layout.bucketExists(c.bucket)) return noSuchBucket(res, c.bucket);
  try {
    sendXml(
      res,
      200,
      await listObjectsV2(ctx.layout, c.bucket, c.query, { checksums: ctx.checksums, repeatToken }),
    );
  } catch (error) {
    if (!(error instanceof ListingError)) throw error;
    sendProblem(res, { status: 400, code: error.code, message: error.message });
  }
}
