/**
 * The demo's stand-ins for the cloud, all on loopback: the Atlas simulator, the project's S3 test
 * server, and moto's server for KMS when `moto_server` is installed (digests need a KMS key; the
 * S3 test server has none). `environment` is what the command line needs to use them.
 */
import {
  type AtlasSimulator,
  DEFAULT_SERVICE_ACCOUNT,
  startAtlasSimulator,
} from "../../test/support/atlas-simulator";
import { createSigningKey, type MotoServer, motoAvailable, startMoto } from "../../test/support/moto";
import { type S3TestServer, startS3Server } from "../../test/support/s3-server";

/** The demo bucket. */
export const BUCKET = "demo-audit-archive";
/** Any credentials do: the S3 test server and moto accept every SigV4 signature. */
const AWS_CREDENTIALS = { accessKeyId: "demo", secretAccessKey: "demo" } as const;
const REGION = "us-east-1";

/** The running servers. */
export interface DemoServers {
  readonly atlas: AtlasSimulator;
  readonly s3: S3TestServer;
  /** KMS on moto, with the digest signing key; absent when `moto_server` is not installed. */
  readonly kms?: { readonly moto: MotoServer; readonly keyArn: string };
  /**
   * The variables the command line reads to reach them, in the order the `export` lines show
   * (not `DIGEST_KEY_ARN`: the demo passes the key where it seals, so its other runs say in one
   * line that they seal nothing).
   */
  readonly environment: Readonly<Record<string, string>>;
  /** Stops every server (each one even when another fails to stop). */
  close(): Promise<void>;
}

/** Starts the servers; what started is stopped again when a later one fails to start. */
export async function startDemoServers(): Promise<DemoServers> {
  const started: Array<{ close(): Promise<void> }> = [];
  const close = async () => {
    const results = await Promise.allSettled(started.reverse().map((server) => server.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  };
  try {
    const atlas = await startAtlasSimulator();
    started.push(atlas);
    const s3 = await startS3Server({ bucket: BUCKET });
    started.push(s3);
    let kms: DemoServers["kms"];
    if (motoAvailable()) {
      const moto = await startMoto();
      started.push(moto);
      kms = { moto, keyArn: await createSigningKey(moto, "atlas-audit-archiver demo digests") };
    }
    const environment: Record<string, string> = {
      ATLAS_CLIENT_ID: DEFAULT_SERVICE_ACCOUNT.clientId,
      ATLAS_CLIENT_SECRET: DEFAULT_SERVICE_ACCOUNT.clientSecret,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: AWS_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: AWS_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      ...(kms ? { AWS_ENDPOINT_URL_KMS: kms.moto.endpoint } : {}),
    };
    return { atlas, s3, ...(kms ? { kms } : {}), environment, close };
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}
