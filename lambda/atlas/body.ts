/**
 * The body of Atlas's 200 answer: what its headers say (gzip media type, file name, length), a
 * look at its first bytes without consuming them, and errors that name the window.
 */
import type { Readable } from "node:stream";

/** Transfer codings that only frame the body; any other (gzip, deflate, ...) would change its bytes. */
export const FRAMING_CODINGS = new Set(["chunked", "identity"]);

/** The gzip media types Atlas has served the log as. */
export function isGzipType(contentType: string, apiVersion: string): boolean {
  const type = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  return type === "application/gzip" || type === `application/vnd.atlas.${apiVersion}+gzip`;
}

/** The `filename` of a Content-Disposition header (quoted or token form). */
export function contentDispositionFileName(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const match = value?.match(/filename\*?=(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i);
  if (!match) return undefined;
  return match[1] !== undefined ? match[1].replace(/\\(.)/g, "$1") : match[2];
}

/**
 * Makes `body` emit `typed(err)` instead of the raw error it fails with (a reset socket, undici's
 * idle timeout), so whoever reads it (the gzip check, the upload) sees an error that names the
 * workspace and window. Shaped as a `_destroy` hook, not a PassThrough: every way a stream fails
 * goes through `destroy(err)`, whose callback's error is the one emitted, and the body keeps its
 * own backpressure with no extra hop per chunk.
 */
export function typeErrors(body: Readable, typed: (err: Error) => Error): void {
  const destroy = body._destroy.bind(body);
  body._destroy = (err, callback) =>
    destroy(err, (error?: Error | null) => callback(error ? typed(error) : error));
}

export function headerNumber(value: string | string[] | undefined): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || !/^\d+$/.test(raw.trim())) return undefined;
  return Number(raw);
}

/**
 * Reads until at least `count` bytes arrived (or the stream ended), puts them back, and returns
 * them. The body stays a plain paused stream, so the caller still pipes it with backpressure.
 */
export async function peek(body: Readable, count: number): Promise<Buffer> {
  const seen: Buffer[] = [];
  let size = 0;
  while (size < count) {
    const chunk = body.read() as Buffer | null;
    if (chunk !== null) {
      seen.push(chunk);
      size += chunk.length;
      continue;
    }
    if (body.readableEnded) break;
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        body.off("readable", done).off("end", done).off("error", fail);
        resolve();
      };
      const fail = (err: Error) => {
        body.off("readable", done).off("end", done);
        reject(err);
      };
      body.once("readable", done).once("end", done).once("error", fail);
    });
  }
  const head = Buffer.concat(seen);
  if (head.length > 0) body.unshift(head);
  return head;
}

/** A header's (first) value as text. */
export function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
