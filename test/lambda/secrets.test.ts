import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AtlasCredentialsError } from "../../lambda/atlas/errors";
import { SECRET_CACHE_MS, SecretCredentials } from "../../lambda/secrets";
import { type SecretsManagerFake, startSecretsManager } from "../support/secrets-manager";

describe("SecretCredentials", () => {
  let fake: SecretsManagerFake;
  let client: SecretsManagerClient;

  beforeAll(async () => {
    fake = await startSecretsManager();
    client = new SecretsManagerClient({
      endpoint: fake.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
  });
  afterAll(async () => {
    client.destroy();
    await fake.close();
  });

  it("reads the secret once and serves it from cache for five minutes", async () => {
    fake.setSecret("cache-test", JSON.stringify({ clientId: "mdb_sa_id_1", clientSecret: "one" }));
    let now = 0;
    const source = new SecretCredentials(client, "cache-test", () => now);
    const calls = () => fake.calls.filter((c) => c.secretId === "cache-test").length;
    expect(await source.current()).toMatchObject({ kind: "service-account", clientId: "mdb_sa_id_1" });
    now += SECRET_CACHE_MS - 1;
    await source.current();
    expect(calls()).toBe(1);
    now += 1;
    fake.setSecret("cache-test", JSON.stringify({ publicKey: "pub", privateKey: "priv" }));
    expect(await source.current()).toMatchObject({ kind: "api-key", publicKey: "pub" });
    expect(calls()).toBe(2);
  });

  it("refresh() reads again at once (after Atlas refused the cached credentials)", async () => {
    fake.setSecret("refresh-test", JSON.stringify({ clientId: "a", clientSecret: "b" }));
    const source = new SecretCredentials(client, "refresh-test");
    await source.current();
    fake.setSecret("refresh-test", JSON.stringify({ clientId: "a", clientSecret: "rotated" }));
    expect(await source.refresh()).toMatchObject({ clientSecret: "rotated" });
  });

  it("says what to check when the secret cannot be read", async () => {
    const err = await new SecretCredentials(client, "no-such-secret").current().catch((e) => e);
    expect(err).toBeInstanceOf(AtlasCredentialsError);
    expect(err.message).toContain("no-such-secret");
    expect(err.message).toContain("ResourceNotFoundException");
    expect(err.message).toContain("secretsmanager:GetSecretValue");
  });

  it("refuses the placeholder the stack creates the secret with, saying what to store", async () => {
    fake.setSecret("placeholder", JSON.stringify({ clientId: "REPLACE_ME", clientSecret: "Xy7generated" }));
    const err = await new SecretCredentials(client, "placeholder").current().catch((e) => e);
    expect(err.code).toBe("ATLAS_CREDENTIALS_INVALID");
    expect(err.message).toContain("placeholder");
    expect(err.message).not.toContain("Xy7generated");
  });
});
