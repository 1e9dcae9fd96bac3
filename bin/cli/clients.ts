/**
 * The clients the commands build from the environment: Atlas credentials and the S3 client.
 * (Until the composition root shared with the Lambda handler exists.)
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { type AtlasCredentials, parseAtlasCredentials } from "../../lambda/atlas/auth";
import { AtlasCredentialsError } from "../../lambda/atlas/errors";
import { createS3Client } from "../../lambda/s3-client";

/** Atlas credentials from the environment, or undefined when none are set. */
export function credentialsFromEnv(env: NodeJS.ProcessEnv): AtlasCredentials | undefined {
  const pairs = [
    ["ATLAS_CLIENT_ID", "ATLAS_CLIENT_SECRET"],
    ["ATLAS_PUBLIC_KEY", "ATLAS_PRIVATE_KEY"],
  ] as const;
  for (const [a, b] of pairs) {
    if (Boolean(env[a]) !== Boolean(env[b])) {
      throw new AtlasCredentialsError(`${env[a] ? a : b} is set but ${env[a] ? b : a} is not: set both.`);
    }
  }
  if (env.ATLAS_CLIENT_ID) {
    return parseAtlasCredentials(
      { clientId: env.ATLAS_CLIENT_ID, clientSecret: env.ATLAS_CLIENT_SECRET },
      "env",
    );
  }
  if (env.ATLAS_PUBLIC_KEY) {
    return parseAtlasCredentials(
      { publicKey: env.ATLAS_PUBLIC_KEY, privateKey: env.ATLAS_PRIVATE_KEY },
      "env",
    );
  }
  return undefined;
}

/**
 * An S3 client from the SDK's standard environment, with the archiver's request timeouts;
 * path-style for S3-compatible endpoints.
 */
export function s3FromEnv(env: NodeJS.ProcessEnv): S3Client {
  return createS3Client({ forcePathStyle: Boolean(env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL) });
}
