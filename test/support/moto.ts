/**
 * Runs moto's standalone server (`moto_server`, from `pip install "moto[server]"`) for tests that need a real
 * AWS wire protocol with AWS semantics: SQS now, KMS and S3 later. One server answers every service.
 *
 * - {@link motoAvailable} says whether `moto_server` can be run here (checked once).
 * - {@link startMoto} starts it on 127.0.0.1 on a free port and resolves once it answers HTTP.
 * - {@link describeWithMoto} is `describe` that is skipped (with one line on stderr) where moto is missing.
 * - {@link createFifoQueueWithDlq} creates a FIFO queue with a FIFO dead-letter queue through the SDK.
 * - {@link createSigningKey} creates the kind of KMS key the stack signs digests with.
 * - {@link lambdaSqsRecord} is a received message as Lambda's SQS event source hands it to a function.
 *
 * The server runs under a small Node watchdog whose stdin is a pipe from the test process: when that process
 * ends in any way (even SIGKILL) the pipe closes and the watchdog stops moto, so no `moto_server` outlives a
 * crashed or killed test run. A `process.on("exit")` hook also kills both at once.
 *
 * @example
 * ```ts
 * describeWithMoto("the SQS worker", () => {
 *   let moto: MotoServer;
 *   beforeAll(async () => { moto = await startMoto(); });
 *   afterAll(() => moto.close());
 *   beforeEach(() => moto.reset());
 *   it("...", async () => {
 *     const { queueUrl } = await createFifoQueueWithDlq(moto, "windows", { maxReceiveCount: 3, visibilityTimeoutSeconds: 1 });
 *   });
 * });
 * ```
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { CreateKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { CreateQueueCommand, GetQueueAttributesCommand, type Message, SQSClient } from "@aws-sdk/client-sqs";
import type { SQSRecord } from "aws-lambda";
import { describe } from "vitest";

const COMMAND = "moto_server";
const HOST = "127.0.0.1";
const REGION = "us-east-1";
const CREDENTIALS = { accessKeyId: "testing", secretAccessKey: "testing" } as const;
/** How long {@link startMoto} waits for the server to answer before giving up. */
const START_TIMEOUT_MS = 15_000;
/** How long `close()` waits for a graceful stop before SIGKILL. */
const STOP_TIMEOUT_MS = 3_000;
/** Lines of the server's output kept for error messages. */
const KEPT_LINES = 30;
/** Attempts with a fresh port when the chosen one was taken in the meantime. */
const PORT_ATTEMPTS = 3;

/** A running moto server; see {@link startMoto}. */
export interface MotoServer {
  /** `http://127.0.0.1:PORT`: pass as the SDK client's `endpoint` (or `AWS_ENDPOINT_URL`). */
  readonly endpoint: string;
  /** `us-east-1`. */
  readonly region: string;
  /** Dummy credentials moto accepts. */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Milliseconds from spawning the process to its first HTTP answer. */
  readonly startupMs: number;
  /** Forgets every resource in every service (`POST /moto-api/reset`). */
  reset(): Promise<void>;
  /** Stops the server and waits for the process to exit; idempotent. */
  close(): Promise<void>;
}

let available: boolean | undefined;

/** Whether `moto_server` can be run on this machine (checked once, synchronously, then cached). */
export function motoAvailable(): boolean {
  if (available === undefined) {
    const result = spawnSync(COMMAND, ["--help"], { stdio: "ignore", timeout: 10_000 });
    available = result.error === undefined && result.status === 0;
  }
  return available;
}

/**
 * `describe`, except that where `moto_server` is unavailable the block is registered as skipped and one line
 * on stderr says so. (Uses `describe.runIf`, which the lint rule against skipped tests allows.)
 */
export function describeWithMoto(name: string, fn: () => void): void {
  const run = motoAvailable();
  if (!run) process.stderr.write(`moto_server not found: skipping ${name} (pip install "moto[server]")\n`);
  describe.runIf(run)(name, fn);
}

/**
 * The watchdog, run as `node -e WATCHDOG COMMAND ARGS...`: starts the command with its output on ours, stops it
 * when our stdin closes (the test process ended) or on SIGTERM/SIGINT, and exits when it exits.
 */
const WATCHDOG = `
const { spawn } = require("node:child_process");
const [command, ...args] = process.argv.slice(1);
const child = spawn(command, args, { stdio: ["ignore", "inherit", "inherit"] });
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  child.kill("SIGTERM");
  setTimeout(() => child.kill("SIGKILL"), 2000).unref();
};
process.stdin.on("end", stop);
process.stdin.on("error", stop);
process.stdin.resume();
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
child.on("error", (error) => { console.error(String(error)); process.exit(127); });
child.on("exit", (code, signal) => process.exit(code ?? (stopping ? 0 : 1)));
`;

/** Starts `moto_server -H 127.0.0.1 -p <free port>` and resolves once it answers HTTP (at most 15 s). */
export async function startMoto(): Promise<MotoServer> {
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
    const port = await freePort();
    try {
      return await startOn(port);
    } catch (error) {
      lastError = error as Error;
      // Someone took the port between our probe and moto's bind: try another one.
      if (!(error instanceof PortInUseError)) throw error;
    }
  }
  throw lastError ?? new Error("moto_server did not start");
}

class PortInUseError extends Error {}

async function startOn(port: number): Promise<MotoServer> {
  const endpoint = `http://${HOST}:${port}`;
  const posix = process.platform !== "win32";
  const started = performance.now();
  const child = spawn(process.execPath, ["-e", WATCHDOG, COMMAND, "-H", HOST, "-p", String(port)], {
    stdio: ["pipe", "pipe", "pipe"],
    // Its own process group, so the watchdog and moto can be killed together.
    detached: posix,
    windowsHide: true,
  });
  const output = keepLastLines(child);
  // A forgotten close() must not keep the test process alive; the "exit" hook below still stops the server.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) {
    (stream as unknown as { unref?: () => void } | null)?.unref?.();
  }

  let exited = false;
  let exitStatus = "";
  const exit = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      exited = true;
      exitStatus = signal ? `signal ${signal}` : `exit code ${code}`;
      process.removeListener("exit", killNow);
      resolve();
    });
  });
  const killNow = (): void => {
    if (exited || child.pid === undefined) return;
    try {
      if (posix) process.kill(-child.pid, "SIGKILL");
      else child.kill("SIGKILL");
    } catch {
      // already gone
    }
  };
  process.once("exit", killNow);

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      if (exited) return;
      child.stdin?.end(); // the watchdog stops moto and exits
      const timer = setTimeout(killNow, STOP_TIMEOUT_MS);
      await exit;
      clearTimeout(timer);
    })();
    return closing;
  };

  try {
    await waitUntilAnswering(endpoint, exit, () => (exited ? exitStatus : undefined));
  } catch (error) {
    await close();
    const message = (error as Error).message;
    const lines = output();
    const ErrorType = /address already in use/i.test(lines) ? PortInUseError : Error;
    throw new ErrorType(`${message}${lines ? `\nLast lines of moto_server's output:\n${lines}` : ""}`);
  }
  const startupMs = performance.now() - started;

  return {
    endpoint,
    region: REGION,
    credentials: CREDENTIALS,
    startupMs,
    async reset() {
      const response = await fetch(`${endpoint}/moto-api/reset`, {
        method: "POST",
        signal: AbortSignal.timeout(5_000),
      });
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`moto reset answered HTTP ${response.status}`);
    },
    close,
  };
}

/** Polls `GET /moto-api/` until it answers, the process exits (`exitStatus()` defined), or 15 s pass. */
async function waitUntilAnswering(
  endpoint: string,
  exit: Promise<void>,
  exitStatus: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let lastFailure = "";
  while (exitStatus() === undefined) {
    if (Date.now() > deadline) {
      throw new Error(
        `moto_server did not answer at ${endpoint} within ${START_TIMEOUT_MS / 1000} s (${lastFailure})`,
      );
    }
    try {
      const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      return;
    } catch (error) {
      lastFailure = String((error as Error).cause ?? error);
    }
    await Promise.race([exit, new Promise((resolve) => setTimeout(resolve, 50))]);
  }
  throw new Error(`moto_server exited (${exitStatus()}) before answering at ${endpoint}`);
}

/** Drains the child's stdout and stderr (so it never blocks on a full pipe), keeping the last lines. */
function keepLastLines(child: ChildProcess): () => string {
  const lines: string[] = [];
  let partial = "";
  const take = (chunk: Buffer): void => {
    const parts = (partial + chunk.toString("utf8")).split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts);
    if (lines.length > KEPT_LINES) lines.splice(0, lines.length - KEPT_LINES);
  };
  child.stdout?.on("data", take);
  child.stderr?.on("data", take);
  return () => [...lines, partial].filter((line) => line.trim() !== "").join("\n");
}

/** A port nothing listens on right now (bind port 0, read it, release it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error("could not find a free port"))));
    });
  });
}

/** An SQS client for the given moto server (one attempt per call: tests want errors, not retries). */
export function motoSqsClient(moto: MotoServer): SQSClient {
  return new SQSClient({
    endpoint: moto.endpoint,
    region: moto.region,
    credentials: moto.credentials,
    maxAttempts: 1,
  });
}

/** Creates the kind of key the stack signs digests with (ECC_NIST_P256, SIGN_VERIFY) and returns its ARN. */
export async function createSigningKey(moto: MotoServer, description: string): Promise<string> {
  const kms = new KMSClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials });
  try {
    const { KeyMetadata } = await kms.send(
      new CreateKeyCommand({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY", Description: description }),
    );
    if (!KeyMetadata?.Arn) throw new Error("moto created a KMS key without an ARN");
    return KeyMetadata.Arn;
  } finally {
    kms.destroy();
  }
}

/** A received message (received with `MessageSystemAttributeNames: ["All"]`) as Lambda's SQS event source hands it to a function. */
export function lambdaSqsRecord(
  m: Message,
  queue: { readonly arn: string; readonly region: string },
): SQSRecord {
  return {
    messageId: m.MessageId,
    receiptHandle: m.ReceiptHandle,
    body: m.Body,
    attributes: m.Attributes,
    messageAttributes: {},
    md5OfBody: m.MD5OfBody,
    eventSource: "aws:sqs",
    eventSourceARN: queue.arn,
    awsRegion: queue.region,
  } as unknown as SQSRecord;
}

/** The queues {@link createFifoQueueWithDlq} created. */
export interface FifoQueueWithDlq {
  readonly queueUrl: string;
  readonly dlqUrl: string;
  readonly queueArn: string;
  readonly dlqArn: string;
}

/**
 * Creates `<name>-dlq.fifo` and `<name>.fifo` (FIFO, no content-based deduplication), the latter redriving to
 * the former after `maxReceiveCount` receives. `visibilityTimeoutSeconds` applies to both queues.
 */
export async function createFifoQueueWithDlq(
  moto: MotoServer,
  name: string,
  options: { maxReceiveCount: number; visibilityTimeoutSeconds: number },
): Promise<FifoQueueWithDlq> {
  const sqs = motoSqsClient(moto);
  try {
    const fifo = {
      FifoQueue: "true",
      ContentBasedDeduplication: "false",
      VisibilityTimeout: String(options.visibilityTimeoutSeconds),
    };
    const dlqUrl = await createQueue(sqs, `${name}-dlq.fifo`, fifo);
    const dlqArn = await queueArn(sqs, dlqUrl);
    const queueUrl = await createQueue(sqs, `${name}.fifo`, {
      ...fifo,
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: dlqArn,
        maxReceiveCount: options.maxReceiveCount,
      }),
    });
    return { queueUrl, dlqUrl, queueArn: await queueArn(sqs, queueUrl), dlqArn };
  } finally {
    sqs.destroy();
  }
}

async function createQueue(
  sqs: SQSClient,
  name: string,
  attributes: Record<string, string>,
): Promise<string> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  if (!QueueUrl) throw new Error(`CreateQueue ${name} returned no QueueUrl`);
  return QueueUrl;
}

async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }),
  );
  const arn = Attributes?.QueueArn;
  if (!arn) throw new Error(`GetQueueAttributes ${queueUrl} returned no QueueArn`);
  return arn;
}
