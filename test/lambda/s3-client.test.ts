import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { GetPublicKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { boundedRequestHandler } from "../../lambda/s3-client";

// An AWS endpoint that accepts every request and never answers: what a stalled KMS or SQS is.
describe("boundedRequestHandler", () => {
  let server: Server;
  let endpoint: string;
  let requests = 0;
  beforeAll(async () => {
    server = createServer(() => {
      requests++;
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const config = () => ({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 2,
  });

  it("ends a KMS and an SQS request that get no answer, after each attempt's time", async () => {
    for (const client of [
      new KMSClient({ ...config(), requestHandler: boundedRequestHandler({ requestMs: 300 }) }),
      new SQSClient({ ...config(), requestHandler: boundedRequestHandler({ requestMs: 300 }) }),
    ]) {
      const before = requests;
      const started = Date.now();
      const call =
        client instanceof KMSClient
          ? client.send(new GetPublicKeyCommand({ KeyId: "k" }))
          : (client as SQSClient).send(
              new SendMessageCommand({ QueueUrl: `${endpoint}/q`, MessageBody: "m" }),
            );
      await expect(call).rejects.toThrow();
      // Two attempts of 300 ms and the SDK's backoff between them: well under the 10 s of the test.
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(requests - before).toBe(2);
      client.destroy();
    }
  });

  it("is the S3 timeouts' defaults, unless told otherwise", () => {
    expect(boundedRequestHandler()).toEqual({
      connectionTimeout: 5_000,
      requestTimeout: 120_000,
      throwOnRequestTimeout: true,
      socketTimeout: 30_000,
    });
  });
});
