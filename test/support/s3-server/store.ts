/**
 * The proxy's view of s3rver's on-disk store (`<root>/<bucket>/<dirs>/<name>._S3rver_<resource>`):
 * key listings in S3 order, multipart upload directories, the staging area that makes writes atomic,
 * and the checksum sidecars the proxy keeps next to each object, upload and part.
 */
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type S3rver from "s3rver";
import type { StoredChecksum } from "./body";
import { KeyLocks } from "./locks";

type Store = S3rver["store"];

const OBJECT_SUFFIX = "._S3rver_object";
/** Bucket-root directories that hold s3rver's or the proxy's own state, never keys. */
const INTERNAL_PREFIX = "._S3rver_";
/** Where in-flight writes go before they are renamed to their key. */
const STAGING_DIR = "._S3rver_inflight";
/** Sidecar files of an object, besides the object itself, that a write replaces. */
const SIDECARS = ["object.md5", "metadata.json", "tagging.xml", "checksum.json"] as const;

/** Where an upload's directory keeps its checksum settings (s3rver's own files are `key`, `metadata`, parts). */
const UPLOAD_CHECKSUM_FILE = "checksum.json";

/** A multipart upload's checksum settings, as CreateMultipartUpload's headers gave them (upper-case). */
export interface UploadChecksum {
  /** `x-amz-checksum-algorithm`: `CRC32`, `CRC32C`, `CRC64NVME`, `SHA1` or `SHA256`. */
  readonly algorithm?: string;
  /** `x-amz-checksum-type`: `FULL_OBJECT` or `COMPOSITE`. */
  readonly type?: string;
}

/** An uploaded part as s3rver stored it, with the CRC-32 the proxy verified for it, if any. */
export interface StoredPart {
  readonly size: number;
  /** Hex, as in the part's ETag. */
  readonly md5: string;
  /** Base64, as in `x-amz-checksum-crc32`; kept for parts of FULL_OBJECT CRC32 uploads. */
  readonly crc32?: string;
}

/** An open multipart upload as s3rver stores it. */
export interface StoredUpload {
  readonly bucket: string;
  readonly key: string;
  readonly uploadId: string;
}

/** S3 orders keys by their UTF-8 bytes. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Helpers over one s3rver store. */
export class StoreLayout {
  /** Original keys of uploads whose `key` file points at a staging key while they complete. */
  private readonly completing = new Map<string, string>();
  private readonly tree = new KeyLocks();

  constructor(private readonly store: Store) {}

  /**
   * Runs `task` alone among the store's directory changes: s3rver's DeleteObject removes parent
   * directories it finds empty, which would race with a commit or seed creating a file in them.
   */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    return this.tree.run("", task);
  }

  get root(): string {
    return this.store.rootDirectory;
  }

  bucketExists(bucket: string): boolean {
    return bucket !== "" && !bucket.includes("/") && existsSync(join(this.root, bucket));
  }

  path(bucket: string, key: string, resource: string): string {
    return this.store.getResourcePath(bucket, key, resource);
  }

  objectExists(bucket: string, key: string): Promise<boolean> {
    return stat(this.path(bucket, key, "object")).then(
      () => true,
      () => false,
    );
  }

  metadata(bucket: string, key: string) {
    return this.store.getMetadata(bucket, key);
  }

  /** Every key starting with `prefix`, sorted in S3 order. */
  keys(bucket: string, prefix = ""): string[] {
    const bucketDir = join(this.root, bucket);
    const slash = prefix.lastIndexOf("/");
    const base = slash === -1 ? "" : prefix.slice(0, slash + 1);
    const keys: string[] = [];
    const walk = (dir: string, relative: string): void => {
      for (const name of entriesOf(dir)) {
        if (relative === "" && name.startsWith(INTERNAL_PREFIX) && !name.endsWith(OBJECT_SUFFIX)) continue;
        const full = join(dir, name);
        let isDir: boolean;
        try {
          isDir = statSync(full).isDirectory();
        } catch {
          continue;
        }
        if (isDir) {
          const sub = `${relative}${name}/`;
          if (sub.startsWith(prefix) || prefix.startsWith(sub)) walk(full, sub);
        } else if (name.endsWith(OBJECT_SUFFIX)) {
          const key = relative + name.slice(0, -OBJECT_SUFFIX.length);
          if (key.startsWith(prefix)) keys.push(key);
        }
      }
    };
    walk(base === "" ? bucketDir : join(bucketDir, base), base);
    return keys.sort(compareKeys);
  }

  /** A fresh key in the bucket's staging area; {@link keys} never lists it. */
  stagingKey(): string {
    return `${STAGING_DIR}/${randomUUID()}`;
  }

  /**
   * Moves a finished staging object to `key`, replacing whatever was there, and records its
   * checksum (or drops the old one). The object file moves last, so readers never see a key
   * without its metadata.
   */
  commit(bucket: string, stagingKey: string, key: string, checksum?: StoredChecksum): Promise<void> {
    return this.exclusive(async () => {
      await mkdir(dirname(this.path(bucket, key, "object")), { recursive: true });
      for (const resource of SIDECARS) {
        const target = this.path(bucket, key, resource);
        if (resource === "checksum.json" && checksum !== undefined) {
          await writeFile(target, JSON.stringify(checksum));
          continue;
        }
        try {
          await rename(this.path(bucket, stagingKey, resource), target);
        } catch {
          await rm(target, { force: true });
        }
      }
      await rename(this.path(bucket, stagingKey, "object"), this.path(bucket, key, "object"));
    });
  }

  /** Removes a staging object's files (its directory stays: other writes may be using it). */
  async discard(bucket: string, stagingKey: string): Promise<void> {
    for (const resource of ["object", ...SIDECARS]) {
      await rm(this.path(bucket, stagingKey, resource), { force: true });
    }
  }

  async checksum(bucket: string, key: string): Promise<StoredChecksum | undefined> {
    try {
      return JSON.parse(await readFile(this.path(bucket, key, "checksum.json"), "utf8")) as StoredChecksum;
    } catch {
      return undefined;
    }
  }

  /** Records `checksum` as the stored checksum of `key`, whatever its bytes are. */
  async setChecksum(bucket: string, key: string, checksum: StoredChecksum): Promise<void> {
    await writeFile(this.path(bucket, key, "checksum.json"), JSON.stringify(checksum));
  }

  async dropChecksum(bucket: string, key: string): Promise<void> {
    await rm(this.path(bucket, key, "checksum.json"), { force: true });
  }

  uploadDir(bucket: string, uploadId: string): string {
    return join(this.store.getResourcePath(bucket, undefined, "uploads"), uploadId);
  }

  /** The key an upload belongs to, or undefined when there is no such upload. */
  async uploadKey(bucket: string, uploadId: string): Promise<string | undefined> {
    if (!/^[0-9a-zA-Z_-]+$/.test(uploadId)) return undefined;
    const completing = this.completing.get(uploadId);
    if (completing !== undefined) return completing;
    try {
      return await readFile(join(this.uploadDir(bucket, uploadId), "key"), "utf8");
    } catch {
      return undefined;
    }
  }

  /** Records an upload's checksum settings (CreateMultipartUpload). */
  async setUploadChecksum(bucket: string, uploadId: string, checksum: UploadChecksum): Promise<void> {
    await writeFile(join(this.uploadDir(bucket, uploadId), UPLOAD_CHECKSUM_FILE), JSON.stringify(checksum));
  }

  /** An upload's checksum settings; undefined when it was created without any. */
  async uploadChecksum(bucket: string, uploadId: string): Promise<UploadChecksum | undefined> {
    try {
      const text = await readFile(join(this.uploadDir(bucket, uploadId), UPLOAD_CHECKSUM_FILE), "utf8");
      return JSON.parse(text) as UploadChecksum;
    } catch {
      return undefined;
    }
  }

  /** An uploaded part, or undefined. */
  async part(bucket: string, uploadId: string, partNumber: number): Promise<StoredPart | undefined> {
    const file = join(this.uploadDir(bucket, uploadId), String(partNumber));
    try {
      const [info, md5, crc32] = await Promise.all([
        stat(file),
        readFile(`${file}.md5`, "utf8"),
        readFile(`${file}.crc32`, "utf8").catch(() => undefined),
      ]);
      return crc32 === undefined ? { size: info.size, md5 } : { size: info.size, md5, crc32 };
    } catch {
      return undefined;
    }
  }

  /** Records the verified CRC-32 (base64) of a part, next to s3rver's `.md5`; undefined removes it. */
  async setPartCrc32(
    bucket: string,
    uploadId: string,
    partNumber: number,
    crc32: string | undefined,
  ): Promise<void> {
    const file = `${join(this.uploadDir(bucket, uploadId), String(partNumber))}.crc32`;
    if (crc32 === undefined) await rm(file, { force: true });
    else await writeFile(file, crc32);
  }

  async dropPart(bucket: string, uploadId: string, partNumber: number): Promise<void> {
    const file = join(this.uploadDir(bucket, uploadId), String(partNumber));
    await Promise.all([
      rm(file, { force: true }),
      rm(`${file}.md5`, { force: true }),
      rm(`${file}.crc32`, { force: true }),
    ]);
  }

  async abortUpload(bucket: string, uploadId: string): Promise<void> {
    await rm(this.uploadDir(bucket, uploadId), { recursive: true, force: true });
  }

  /** Points an upload at `stagingKey` so that s3rver assembles it there; undo with the result. */
  async retarget(
    bucket: string,
    uploadId: string,
    key: string,
    stagingKey: string,
  ): Promise<() => Promise<void>> {
    const file = join(this.uploadDir(bucket, uploadId), "key");
    this.completing.set(uploadId, key);
    await writeFile(file, stagingKey);
    return async () => {
      this.completing.delete(uploadId);
      if (existsSync(file)) await writeFile(file, key);
    };
  }

  /** Forgets the retargeting of a completed upload (s3rver removed its directory). */
  completed(uploadId: string): void {
    this.completing.delete(uploadId);
  }

  /** Open uploads in every bucket, sorted by key then upload id. */
  uploads(): StoredUpload[] {
    const uploads: StoredUpload[] = [];
    for (const bucket of this.buckets()) {
      const dir = this.store.getResourcePath(bucket, undefined, "uploads");
      for (const uploadId of entriesOf(dir)) {
        try {
          const key = this.completing.get(uploadId) ?? readFileSync(join(dir, uploadId, "key"), "utf8");
          uploads.push({ bucket, key, uploadId });
        } catch {
          // a part-only directory or one being removed: not an upload
        }
      }
    }
    return uploads.sort((a, b) => compareKeys(a.key, b.key) || compareKeys(a.uploadId, b.uploadId));
  }

  buckets(): string[] {
    return readdirSync(this.root)
      .filter((name) => statSync(join(this.root, name)).isDirectory())
      .sort();
  }
}

/** The names in a directory; none when it does not exist (or is being removed). */
function entriesOf(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
