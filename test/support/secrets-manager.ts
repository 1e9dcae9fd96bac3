/**
 * A loopback fake of the AWS Secrets Manager JSON API (`application/x-amz-json-1.1`), enough for
 * `@aws-sdk/client-secrets-manager`'s `GetSecretValueCommand`: secrets are found by name, full ARN or
 * partial ARN (without the 6-character suffix); unknown ones answer 400 `ResourceNotFoundException`.
 * Point the SDK at {@link SecretsManagerFake.endpoint} with the client's `endpoint` or
 * `AWS_ENDPOINT_URL_SECRETS_MANAGER`.
 *
 * @example
 * ```ts
 * const secrets = await startSecretsManager();
 * const { arn } = secrets.setSecret("atlas/archiver", JSON.stringify({ clientId, clientSecret }));
 * const client = new SecretsManagerClient({ region: "us-east-1", endpoint: secrets.endpoint, credentials });
 * ```
 */
import { randomBytes, randomUUID } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request the fake received. */
export interface SecretsManagerCall {
  /** The `X-Amz-Target` header, e.g. `secretsmanager.GetSecretValue`. */
  readonly target: string;
  /** The request's `SecretId` (`""` when absent). */
  readonly secretId: string;
}

/** An error the next matching requests get instead of their answer. */
export interface SecretsManagerFault {
  /** The AWS error type (`__type`), e.g. `AccessDeniedException`. */
  readonly type: string;
  /** HTTP status (default 400). */
  readonly status?: number;
  readonly message?: string;
  /** How many requests fail (default 1). */
  readonly times?: number;
}

/** A running fake; see {@link startSecretsManager}. */
export interface SecretsManagerFake {
  /** `http://127.0.0.1:PORT`. */
  readonly endpoint: string;
  /** Creates or updates a secret (given by name or ARN); returns its ARN. */
  setSecret(nameOrArn: string, value: string): { arn: string };
  /** Removes a secret, so reads of it fail with ResourceNotFoundException. */
  deleteSecret(nameOrArn: string): void;
  /** Makes the next requests fail; consumed in order. */
  inject(...faults: SecretsManagerFault[]): void;
  /** Every request received, in order. */
  readonly calls: SecretsManagerCall[];
  close(): Promise<void>;
}

interface Secret {
  readonly name: string;
  readonly arn: string;
  value: string;
  versionId: string;
  createdDate: number;
}

const REGION = "us-east-1";
const ACCOUNT = "123456789012";
const ARN_PATTERN = /^arn:aws[\w-]*:secretsmanager:[\w-]+:\d{12}:secret:(.+)$/;
const CONTENT_TYPE = "application/x-amz-json-1.1";

/** Starts the fake on 127.0.0.1 (port 0). */
export async function startSecretsManager(): Promise<SecretsManagerFake> {
  const secrets: Secret[] = [];
  const calls: SecretsManagerCall[] = [];
  const faults: Array<{ fault: SecretsManagerFault; remaining: number }> = [];

  const find = (id: string): Secret | undefined =>
    secrets.find(
      (s) => s.name === id || s.arn === id || (ARN_PATTERN.test(id) && s.arn.startsWith(`${id}-`)),
    );

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 500, "InternalServiceError", String(error));
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    const target = String(req.headers["x-amz-target"] ?? "");
    let input: Record<string, unknown>;
    try {
      input =
        chunks.length === 0
          ? {}
          : (JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>);
    } catch {
      calls.push({ target, secretId: "" });
      return sendError(res, 400, "SerializationException", "The request body is not valid JSON.");
    }
    const secretId = typeof input.SecretId === "string" ? input.SecretId : "";
    calls.push({ target, secretId });

    const pending = faults[0];
    if (pending !== undefined) {
      pending.remaining -= 1;
      if (pending.remaining === 0) faults.shift();
      const { fault } = pending;
      return sendError(res, fault.status ?? 400, fault.type, fault.message ?? "Injected fault");
    }
    if (req.method !== "POST" || target !== "secretsmanager.GetSecretValue") {
      return sendError(
        res,
        400,
        "UnknownOperationException",
        `The fake does not implement ${target || "(no X-Amz-Target)"}.`,
      );
    }
    if (secretId === "") {
      return sendError(res, 400, "InvalidParameterException", "You must provide a SecretId.");
    }
    const secret = find(secretId);
    if (secret === undefined) {
      return sendError(
        res,
        400,
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret.",
      );
    }
    const stage = input.VersionStage;
    if (stage !== undefined && stage !== "AWSCURRENT") {
      return sendError(
        res,
        400,
        "ResourceNotFoundException",
        `Secrets Manager can't find the specified secret value for staging label: ${String(stage)}`,
      );
    }
    sendJson(res, 200, {
      ARN: secret.arn,
      Name: secret.name,
      VersionId: secret.versionId,
      SecretString: secret.value,
      VersionStages: ["AWSCURRENT"],
      CreatedDate: secret.createdDate,
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let closed = false;

  return {
    endpoint,
    calls,
    setSecret(nameOrArn, value) {
      const existing = find(nameOrArn);
      if (existing !== undefined) {
        existing.value = value;
        existing.versionId = randomUUID();
        return { arn: existing.arn };
      }
      const fromArn = ARN_PATTERN.exec(nameOrArn)?.[1];
      const name = fromArn === undefined ? nameOrArn : fromArn.replace(/-[A-Za-z0-9]{6}$/, "");
      const arn =
        fromArn !== undefined && fromArn !== name
          ? nameOrArn
          : `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-${suffix()}`;
      secrets.push({ name, arn, value, versionId: randomUUID(), createdDate: Math.floor(Date.now() / 1000) });
      return { arn };
    },
    deleteSecret(nameOrArn) {
      const secret = find(nameOrArn);
      if (secret !== undefined) secrets.splice(secrets.indexOf(secret), 1);
    },
    inject(...added) {
      for (const fault of added) faults.push({ fault, remaining: fault.times ?? 1 });
    },
    async close() {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** The 6-character suffix Secrets Manager appends to a secret's name in its ARN. */
function suffix(): string {
  return randomBytes(6)
    .toString("base64")
    .replace(/[^A-Za-z0-9]/g, "x")
    .slice(0, 6);
}

function sendJson(
  res: ServerResponse,
  status: number,
  payload: unknown,
  extra: http.OutgoingHttpHeaders = {},
): void {
  const body = Buffer.from(JSON.stringify(payload));
  res.writeHead(status, {
    "content-type": CONTENT_TYPE,
    "content-length": body.length,
    "x-amzn-requestid": randomUUID(),
    ...extra,
  });
  res.end(body);
}

/** An AWS JSON-protocol error: `__type` in the body and `x-amzn-ErrorType`. */
function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  sendJson(res, status, { __type: type, message }, { "x-amzn-errortype": type });
}
