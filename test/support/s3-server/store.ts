/**
 * The proxy's view of s3rver's on-disk store (`<root>/<bucket>/<dirs>/<name>._S3rver_<resource>`):
 * key listings in S3 order, multipart upload directories, the staging area that makes writes atomic,
 * and the checksum sidecar the proxy keeps next to each object.
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

/** An open multipart upload as s3rver stores it. */
export interface StoredUpload {
  readonly bucket: string;
  readonly key: string;
  readonly uploadId: string;
  readonly initiated: Date;
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
      let entries: string[];
      try {
        entries = readdirSync(dir);
      } catch {
        return;
      }
      for (const name of entries) {
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

  /** Size and MD5 (hex) of an uploaded part, or undefined. */
  async part(
    bucket: string,
    uploadId: string,
    partNumber: number,
  ): Promise<{ size: number; md5: string } | undefined> {
    const file = join(this.uploadDir(bucket, uploadId), String(partNumber));
    try {
      const [info, md5] = await Promise.all([stat(file), readFile(`${file}.md5`, "utf8")]);
      return { size: info.size, md5 };
    } catch {
      return undefined;
    }
  }

  async dropPart(bucket: string, uploadId: string, partNumber: number): Promise<void> {
    const file = join(this.uploadDir(bucket, uploadId), String(partNumber));
    await Promise.all([rm(file, { force: true }), rm(`${file}.md5`, { force: true })]);
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

  /** Open uploads of one bucket (every bucket when undefined), sorted by key then upload id. */
  uploads(bucket?: string): StoredUpload[] {
    const buckets = bucket === undefined ? this.buckets() : [bucket];
    const uploads: StoredUpload[] = [];
    for (const name of buckets) {
      const dir = this.store.getResourcePath(name, undefined, "uploads");
      let ids: string[];
      try {
        ids = readdirSync(dir);
      } catch {
        continue;
      }
      for (const uploadId of ids) {
        try {
          const key = this.completing.get(uploadId) ?? readFileSync(join(dir, uploadId, "key"), "utf8");
          uploads.push({ bucket: name, key, uploadId, initiated: statSync(join(dir, uploadId)).birthtime });
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
