import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterEach, describe, expect, it } from "vitest";
import { type SecretsManagerFake, startSecretsManager } from "./secrets-manager";

let fake: SecretsManagerFake | undefined;
const clients: SecretsManagerClient[] = [];
async function start(): Promise<{ secrets: SecretsManagerFake; client: SecretsManagerClient }> {
  fake = await startSecretsManager();
  const client = new SecretsManagerClient({
    region: "us-east-1",
    endpoint: fake.endpoint,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
  });
  clients.push(client);
  return { secrets: fake, client };
}
afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await fake?.close();
  fake = undefined;
});

async function failure(
  promise: Promise<unknown>,
): Promise<{ name: string; status?: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as Error & { $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
  throw new Error("expected GetSecretValue to fail, but it succeeded");
}

describe("startSecretsManager", () => {
  it("returns a secret's value by name and by ARN through the SDK client", async () => {
    const { secrets, client } = await start();
    const { arn } = secrets.setSecret("atlas/archiver", '{"clientId":"id","clientSecret":"s"}');
    secrets.setSecret("other", "not this one");
    expect(arn).toMatch(/^arn:aws:secretsmanager:us-east-1:\d{12}:secret:atlas\/archiver-[A-Za-z0-9]{6}$/);

    const byName = await client.send(new GetSecretValueCommand({ SecretId: "atlas/archiver" }));
    expect(byName.SecretString).toBe('{"clientId":"id","clientSecret":"s"}');
    expect(byName.ARN).toBe(arn);
    expect(byName.Name).toBe("atlas/archiver");
    expect(byName.VersionStages).toEqual(["AWSCURRENT"]);
    expect(byName.CreatedDate).toBeInstanceOf(Date);

    const byArn = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    expect(byArn.SecretString).toBe('{"clientId":"id","clientSecret":"s"}');
    const byPartialArn = await client.send(new GetSecretValueCommand({ SecretId: arn.slice(0, -7) }));
    expect(byPartialArn.Name).toBe("atlas/archiver");

    expect(secrets.calls).toEqual([
      { target: "secretsmanager.GetSecretValue", secretId: "atlas/archiver" },
      { target: "secretsmanager.GetSecretValue", secretId: arn },
      { target: "secretsmanager.GetSecretValue", secretId: arn.slice(0, -7) },
    ]);
  });

  it("keeps a secret's ARN when it is set again, and serves the new value", async () => {
    const { secrets, client } = await start();
    const first = secrets.setSecret("rotating", "v1");
    const second = secrets.setSecret(first.arn, "v2");
    expect(second.arn).toBe(first.arn);
    expect((await client.send(new GetSecretValueCommand({ SecretId: "rotating" }))).SecretString).toBe("v2");
  });

  it("registers a secret given by full ARN under that ARN", async () => {
    const { secrets, client } = await start();
    const arn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/atlas-AbC123";
    expect(secrets.setSecret(arn, "value").arn).toBe(arn);
    expect((await client.send(new GetSecretValueCommand({ SecretId: "prod/atlas" }))).ARN).toBe(arn);
  });

  it("answers ResourceNotFoundException for an unknown or deleted secret", async () => {
    const { secrets, client } = await start();
    expect(await failure(client.send(new GetSecretValueCommand({ SecretId: "missing" })))).toEqual({
      name: "ResourceNotFoundException",
      status: 400,
      message: "Secrets Manager can't find the specified secret.",
    });
    secrets.setSecret("gone", "v");
    secrets.deleteSecret("gone");
    expect((await failure(client.send(new GetSecretValueCommand({ SecretId: "gone" })))).name).toBe(
      "ResourceNotFoundException",
    );
  });

  it("fails the next calls with an injected error type", async () => {
    const { secrets, client } = await start();
    secrets.setSecret("s", "v");
    secrets.inject({ type: "AccessDeniedException", message: "not allowed" });
    expect(await failure(client.send(new GetSecretValueCommand({ SecretId: "s" })))).toEqual({
      name: "AccessDeniedException",
      status: 400,
      message: "not allowed",
    });
    expect((await client.send(new GetSecretValueCommand({ SecretId: "s" }))).SecretString).toBe("v");
  });

  it("is found through AWS_ENDPOINT_URL_SECRETS_MANAGER", async () => {
    const { secrets } = await start();
    secrets.setSecret("env", "from env");
    const saved = process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = secrets.endpoint;
    try {
      const client = new SecretsManagerClient({
        region: "us-east-1",
        credentials: { accessKeyId: "test", secretAccessKey: "test" },
      });
      clients.push(client);
      expect((await client.send(new GetSecretValueCommand({ SecretId: "env" }))).SecretString).toBe(
        "from env",
      );
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
      else process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = saved;
    }
  });
});
