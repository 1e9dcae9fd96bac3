/**
 * Types for the parts of s3rver 3.7.1 (a CommonJS package without its own types) that the loopback
 * S3 server in `test/support/s3-server/` uses.
 */
declare module "s3rver" {
  import type { Server } from "node:http";
  import type { AddressInfo } from "node:net";

  interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    /** Where objects are stored on disk. */
    directory?: string;
    resetOnClose?: boolean;
    allowMismatchedSignatures?: boolean;
    vhostBuckets?: boolean;
    serviceEndpoint?: string;
    configureBuckets?: Array<{ name: string; configs?: Array<string | Buffer> }>;
  }

  /** Stored headers of an object, plus `etag` (a quoted MD5), `last-modified` and `content-length`. */
  type S3rverMetadata = Record<string, string> & {
    etag: string;
    "last-modified": string;
    "content-length": number;
  };

  /** s3rver's on-disk store: `<root>/<bucket>/<key dirs>/<last segment>._S3rver_<resource>`. */
  interface FilesystemStore {
    readonly rootDirectory: string;
    getResourcePath(bucket: string, key: string | undefined, resource: string): string;
    getMetadata(bucket: string, key: string): Promise<S3rverMetadata>;
    existsObject(bucket: string, key: string): Promise<boolean>;
    deleteObject(bucket: string, key: string): Promise<void>;
    /** Writes an object in place; `metadata` holds request headers (content-type, x-amz-meta-*). */
    putObject(object: {
      bucket: string;
      key: string;
      content: Buffer;
      metadata: Record<string, string>;
    }): Promise<{ size: number; md5: string }>;
    putBucket(bucket: string): Promise<unknown>;
    getBucket(bucket: string): Promise<unknown>;
  }

  class S3rver {
    constructor(options?: S3rverOptions);
    readonly store: FilesystemStore;
    httpServer?: Server;
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
  }

  export = S3rver;
}
