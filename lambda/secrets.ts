/**
 * Atlas credentials from AWS Secrets Manager, cached briefly and re-read when Atlas refuses
 * them, so that rotating the secret needs no redeploy.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { type AtlasCredentials, type CredentialsSource, parseAtlasCredentials } from "./atlas/auth";
import { AtlasCredentialsError } from "./atlas/errors";

/** How long a read secret is reused before Secrets Manager is asked again. */
export const SECRET_CACHE_MS = 5 * 60_000;

/**
 * Reads `{"clientId","clientSecret"}` or `{"publicKey","privateKey"}` from a secret. Keep one per
 * process: its cache then spans warm Lambda invocations.
 *
 * @example
 * ```ts
 * const credentials = new SecretCredentials(new SecretsManagerClient({}), process.env.ATLAS_SECRET_ARN!);
 * const client = createAtlasClient({ ..., credentials });
 * ```
 */
export class SecretCredentials implements CredentialsSource {
  private cached: { credentials: AtlasCredentials; readAt: number } | undefined;

  constructor(
    private readonly client: SecretsManagerClient,
    private readonly secretId: string,
    private readonly now: () => number = Date.now,
  ) {}

  async current(): Promise<AtlasCredentials> {
    if (this.cached && this.now() - this.cached.readAt < SECRET_CACHE_MS) return this.cached.credentials;
    return this.refresh();
  }

  async refresh(): Promise<AtlasCredentials> {
    let secret: string | undefined;
    try {
      const reply = await this.client.send(new GetSecretValueCommand({ SecretId: this.secretId }));
      secret = reply.SecretString;
    } catch (err) {
      const name = (err as { name?: string }).name ?? "Error";
      throw new AtlasCredentialsError(
        `Could not read the Atlas credentials from secret ${this.secretId} (${name}: ${(err as Error).message}). ` +
          "Check that the secret exists in this account and region and that the caller may " +
          "secretsmanager:GetSecretValue on it.",
        { cause: err },
      );
    }
    if (secret === undefined) {
      throw new AtlasCredentialsError(
        `Secret ${this.secretId} has no SecretString: store the credentials as JSON text, not binary.`,
      );
    }
    const credentials = parseAtlasCredentials(secret, `Secret ${this.secretId}`);
    this.cached = { credentials, readAt: this.now() };
    return credentials;
  }
}
