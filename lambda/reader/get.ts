/**
 * `get`: downloads archived objects to a local directory, preserving the key layout, resumably.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { crc32 } from "node:zlib";
import type { GetObjectCommandOutput, S3Client } from "@aws-sdk/client-s3";
import { crc32Base64, measureCrc32, storedCrc32 } from "../bucket/checksum";
import { isChecksumMismatch } from "../bucket/errors";
import { getObject, headObject } from "../bucket/objects";
import { READER_ROLE, ReaderError } from "./errors";
import type { ArchivedObject, ArchiveLocation } from "./listing";

/** Progress of a download, after each chunk and each file. */
export interface GetProgress {
  readonly files: number;
  readonly totalFiles: number;
  /** Bytes done, skipped files included. */
  readonly bytes: number;
  readonly totalBytes: number;
}

/** What {@link getObjects} does. */
export interface GetRequest {
  readonly s3: S3Client;
  readonly location: ArchiveLocation;
  /** The objects to fetch (from `listArchive`). */
  readonly objects: readonly ArchivedObject[];
  /** Local root: an object lands at `outDir/<key without the archive prefix>`. */
  readonly outDir: string;
  readonly onProgress?: (progress: GetProgress) => void;
  readonly signal?: AbortSignal;
}

/** What {@link getObjects} did. */
export interface GetReport {
  /** Local paths written by this call. */
  readonly downloaded: string[];
  /** Local paths already present with the same size and CRC32 as the object. */
  readonly skipped: string[];
  /** Objects that could not be fetched or did not match their checksum (nothing left at their path). */
  readonly failed: Array<{ readonly key: string; readonly reason: string }>;
  /** Bytes downloaded by this call. */
  readonly bytes: number;
  readonly ok: boolean;
}

/**
 * Where `key` is stored under `outDir`: the key without the archive prefix, so `outDir` looks like
 * the archive's root (`group=…/tenant=…/date=…/file`).
 */
export function localPath(outDir: string, prefix: string, key: string): string {
  return join(outDir, ...key.slice(prefix.length).split("/"));
}

async function fileCrc32(path: string): Promise<string> {
  return (await measureCrc32(createReadStream(path))).crc32;
}

/** Whether `path` already holds the object: same size, and same CRC32 as S3 stored with it. */
async function alreadyPresent(request: GetRequest, object: ArchivedObject, path: string): Promise<boolean> {
  const local = await stat(path).catch(() => undefined);
  if (!local?.isFile() || local.size !== object.size) return false;
  const head = await headObject(request.s3, {
    bucket: request.location.bucket,
    key: object.key,
    role: READER_ROLE,
    signal: request.signal,
  });
  const expected = storedCrc32(head);
  // Without a stored checksum the local copy cannot be trusted: fetch it again.
  return expected !== undefined && (await fileCrc32(path)) === expected;
}

/** The system's reason for `err`: `ENOTDIR: not a directory, mkdir '/x/y'`. */
function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Creates the directory `path` and its missing parents, one level at a time. (Node's
 * `mkdir(path, { recursive: true })` never returns for some paths, e.g. under /proc, where a
 * directory cannot be created although its parent exists.)
 *
 * @throws the system error of the first directory that cannot be created; EEXIST when `path` or a
 *   parent exists and is not a directory
 */
async function makeDirectory(path: string): Promise<void> {
  const missing: string[] = [];
  for (let current = resolve(path); ; ) {
    try {
      await mkdir(current);
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST") {
        if ((await stat(current)).isDirectory()) break;
        throw Object.assign(new Error(`EEXIST: it exists and is not a directory, mkdir '${current}'`), {
          code: "EEXIST",
        });
      }
      const parent = dirname(current);
      if (code !== "ENOENT" || parent === current) throw err;
      missing.push(current);
      current = parent;
    }
  }
  for (const dir of missing.reverse()) {
    try {
      await mkdir(dir);
    } catch (err) {
      // Created meanwhile by someone else: fine if it is a directory.
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || !(await stat(dir)).isDirectory()) throw err;
    }
  }
}

/** Why a directory cannot receive downloads: which step failed, and the system's error. */
export interface OutputDirectoryProblem {
  readonly what: "cannot be created" | "cannot be written";
  /** The system's reason, e.g. `ENOTDIR: not a directory, mkdir '/x/y'`. */
  readonly reason: string;
  readonly cause: unknown;
}

/**
 * Makes sure `outDir` can receive downloads: creates it (and its parents) and writes and removes a
 * probe file in it.
 *
 * @returns what failed, or `undefined` when `outDir` is ready
 */
export async function checkOutputDirectory(outDir: string): Promise<OutputDirectoryProblem | undefined> {
  const problem = (what: OutputDirectoryProblem["what"], err: unknown) => ({
    what,
    reason: reason(err),
    cause: err,
  });
  try {
    await makeDirectory(outDir);
  } catch (err) {
    return problem("cannot be created", err);
  }
  // Named like a temporary file, so that the next get removes it should this one be killed now.
  const probe = join(outDir, `.write-check.partial-${process.pid}`);
  try {
    await writeFile(probe, "");
  } catch (err) {
    return problem("cannot be written", err);
  }
  await rm(probe, { force: true }).catch(() => {});
  return undefined;
}

/**
 * {@link checkOutputDirectory}, as a refusal. Called before anything is downloaded.
 *
 * @throws {ReaderError} `READER_OUTPUT_UNWRITABLE` naming the directory and the system's reason
 */
async function prepareOutputDirectory(outDir: string): Promise<void> {
  const problem = await checkOutputDirectory(outDir);
  if (problem) {
    throw new ReaderError(
      "READER_OUTPUT_UNWRITABLE",
      `The output directory ${outDir} ${problem.what} (${problem.reason}): give a directory this user can create and write.`,
      { file: outDir, cause: problem.cause },
    );
  }
}

/** Whether a process with this id is running (on this machine). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, under another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes the temporary files (`<file>.partial-<pid>`) that a `get` killed mid-download left in
 * `dir`; those of a `get` still running, this one included, are left alone.
 */
async function removeStalePartials(dir: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number(/\.partial-(\d+)$/.exec(name)?.[1]);
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && !isRunning(pid)) {
      // One that cannot be removed stays; it never counts as a downloaded file.
      await rm(join(dir, name), { force: true }).catch(() => {});
    }
  }
}

/**
 * Downloads `objects` under `outDir`, oldest first, skipping the files already present with the
 * same size and CRC32 (so an interrupted download resumes where it stopped). Each object is
 * written to a temporary file beside its final path, checked against its length and the
 * full-object CRC32 S3 stored with it, then renamed: a path never holds a partial or unverified
 * file. Temporary files left by an earlier `get` that was killed are removed.
 *
 * @throws {ReaderError} `READER_OUTPUT_UNWRITABLE` before any download when `outDir` cannot be
 *   created or written; when S3 refuses the bucket (missing, access denied). Other per-object
 *   failures (a file that cannot be written included) are in the report
 * @example
 * ```ts
 * const report = await getObjects({ s3, location, objects, outDir: "./audit" });
 * ```
 */
export async function getObjects(request: GetRequest): Promise<GetReport> {
  const { s3, location, objects, outDir } = request;
  const totalBytes = objects.reduce((n, o) => n + o.size, 0);
  const downloaded: string[] = [];
  const skipped: string[] = [];
  const failed: Array<{ key: string; reason: string }> = [];
  let downloadedBytes = 0;
  let doneBytes = 0;
  let files = 0;
  const progress = () =>
    request.onProgress?.({ files, totalFiles: objects.length, bytes: doneBytes, totalBytes });
  await prepareOutputDirectory(outDir);
  progress();

  const cleaned = new Set<string>();
  for (const object of objects) {
    const path = localPath(outDir, location.prefix, object.key);
    const temp = `${path}.partial-${process.pid}`;
    const before = doneBytes;
    try {
      if (!cleaned.has(dirname(path))) {
        cleaned.add(dirname(path));
        await removeStalePartials(dirname(path));
      }
      if (await alreadyPresent(request, object, path)) {
        skipped.push(path);
      } else {
        await makeDirectory(dirname(path));
        const response: GetObjectCommandOutput = await getObject(
          s3,
          { bucket: location.bucket, key: object.key, role: READER_ROLE, signal: request.signal },
          { checksum: true },
        );
        const expected = storedCrc32(response);
        let crc = 0;
        let received = 0;
        const meter = new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            crc = crc32(chunk, crc);
            received += chunk.length;
            doneBytes += chunk.length;
            progress();
            callback(null, chunk);
          },
        });
        const mismatch = (actual: string) =>
          new Error(
            `CRC32 ${actual} of the bytes received differs from the object's stored CRC32 ${expected}`,
          );
        try {
          await pipeline(response.Body as Readable, meter, createWriteStream(temp));
        } catch (err) {
          // The SDK checks the stored checksum itself while the body streams.
          throw isChecksumMismatch(err) ? mismatch(`(${(err as Error).message})`) : err;
        }
        if (response.ContentLength !== undefined && response.ContentLength !== received) {
          throw new Error(`received ${received} bytes, but S3 reports ${response.ContentLength}`);
        }
        const actual = crc32Base64(crc);
        if (expected !== undefined && expected !== actual) throw mismatch(actual);
        await rename(temp, path);
        downloaded.push(path);
        downloadedBytes += received;
      }
    } catch (err) {
      await rm(temp, { force: true }).catch(() => {});
      const code = (err as { code?: string }).code;
      if (code === "READER_NO_SUCH_BUCKET" || code === "READER_ACCESS_DENIED") throw err;
      failed.push({ key: object.key, reason: reason(err) });
    }
    files++;
    doneBytes = before + object.size;
    progress();
  }
  return { downloaded, skipped, failed, bytes: downloadedBytes, ok: failed.length === 0 };
}
