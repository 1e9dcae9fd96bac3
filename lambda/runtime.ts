/**
 * The composition root: the one place that builds the archiver's clients (the Atlas dispatcher,
 * the credentials, the Atlas client, the S3 client) for the Lambda handler and the command line.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { Dispatcher } from "undici";
import type { AtlasCredentials, CredentialsSource } from "./atlas/auth";
import { type AtlasClient, createAtlasClient } from "./atlas/client";
import { createAtlasDispatcher } from "./atlas/dispatcher";
import type { RetryEvent } from "./atlas/retry";
import type { ArchiverConfig } from "./config";
import { boundedRequestHandler, createS3Client } from "./s3-client";
import { SecretCredentials } from "./secrets";

/**
 * An S3 client with the archiver's request timeouts, configured by the SDK's standard
 * environment; path-style addressing when an S3-compatible endpoint is set (`AWS_ENDPOINT_URL_S3`
 * or `AWS_ENDPOINT_URL`), as such servers expect.
 */
export function s3ClientFor(env: NodeJS.ProcessEnv): S3Client {
  return createS3Client({ forcePathStyle: Boolean(env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL) });
}

/** Where the Atlas credentials come from. */
export type CredentialsOrigin =
  /** Given as they are (the command line's environment variables). */
  | { readonly credentials: AtlasCredentials }
  /** A Secrets Manager secret, read again when Atlas refuses them (rotation). */
  | { readonly secretId: string };

/** The clients of one process: built once, reused by every run (a warm Lambda's invocations). */
export interface Runtime {
  readonly s3: S3Client;
  readonly dispatcher: Dispatcher;
  readonly credentials: AtlasCredentials | CredentialsSource;
  /** An Atlas client for one run over the shared dispatcher and credentials; close it after the run. */
  atlasClient(
    config: ArchiverConfig,
    onRetry?: (event: RetryEvent & { readonly what: string }) => void,
  ): AtlasClient;
  /** Closes the dispatcher and the S3 client. */
  close(): Promise<void>;
}

/**
 * Builds the process's clients (S3 as {@link s3ClientFor} builds it from `env`).
 *
 * @example
 * ```ts
 * const runtime = createRuntime({ secretId: process.env.ATLAS_SECRET_ARN }, process.env);
 * const atlas = runtime.atlasClient(config);
 * try { await archiveRun({ config, bucket, atlas, s3: runtime.s3, nowMs: Date.now(), runId }); }
 * finally { await atlas.close(); await runtime.close(); }
 * ```
 */
export function createRuntime(origin: CredentialsOrigin, env: NodeJS.ProcessEnv = {}): Runtime {
  const s3 = s3ClientFor(env);
  const dispatcher = createAtlasDispatcher();
  const credentials =
    "secretId" in origin
      ? new SecretCredentials(
          new SecretsManagerClient({ requestHandler: boundedRequestHandler() }),
          origin.secretId,
        )
      : origin.credentials;
  return {
    s3,
    dispatcher,
    credentials,
    atlasClient: (config, onRetry) =>
      createAtlasClient({
        baseUrl: config.atlas.baseUrl,
        apiVersion: config.atlas.apiVersion,
        dispatcher,
        credentials,
        ...(onRetry ? { onRetry } : {}),
      }),
    close: async () => {
      await dispatcher.close();
      s3.destroy();
    },
  };
}
