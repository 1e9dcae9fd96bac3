/** Atlas credentials from the command line's environment (the clients themselves: `lambda/runtime.ts`). */
import { type AtlasCredentials, parseAtlasCredentials } from "../../lambda/atlas/auth";
import { AtlasCredentialsError } from "../../lambda/atlas/errors";

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
