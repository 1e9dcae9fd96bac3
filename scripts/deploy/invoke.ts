/**
 * Runs a deployed function's code as Lambda would: its code archive fetched from where
 * CloudFormation took it (the CDK staging bucket), unpacked, and loaded by
 * `test/support/lambda-driver.cjs` in a fresh Node process with the function's deployed
 * environment; and Lambda's SQS event source played by hand (receive a batch, invoke, delete what
 * the function did not report failed).
 */
import { type ChildProcess, fork } from "node:child_process";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { lambdaSqsRecord } from "../../test/support/moto";
import type { TemplateResource } from "./cloudformation";
import { ROOT } from "./lint";
import { unzipTo } from "./unzip";

/** How long the driver may take to load a bundle (a cold start is 0.2 to 1 s here). */
const START_TIMEOUT_MS = 30_000;
/** Lines of a function's output kept for error messages. */
const KEPT_OUTPUT = 40;

/** A function's code archive as fetched and unpacked. */
export interface FetchedCode {
  readonly bucket: string;
  readonly key: string;
  readonly bytes: number;
  /** Base64 SHA-256 of the archive: Lambda's `CodeSha256`. */
  readonly sha256: string;
  readonly dir: string;
  readonly files: readonly string[];
}

/** The `Code` of a function in the template, its `Fn::Sub` resolved for `account` and `region`. */
export function codeLocation(
  resource: TemplateResource,
  account: string,
  region: string,
): { bucket: string; key: string } {
  const code = resource.Properties?.Code as { S3Bucket?: unknown; S3Key?: unknown } | undefined;
  const raw = code?.S3Bucket;
  const sub = typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>)["Fn::Sub"] : raw;
  if (typeof sub !== "string" || typeof code?.S3Key !== "string") {
    throw new Error(
      `the function's Code is not an S3Bucket and S3Key the check can read: ${JSON.stringify(code)}`,
    );
  }
  const pseudo: Record<string, string> = { "AWS::AccountId": account, "AWS::Region": region };
  const bucket = sub.replace(/\$\{([^}]+)\}/g, (whole, name: string) => pseudo[name] ?? whole);
  return { bucket, key: code.S3Key };
}

/** Fetches the archive at `location` and unpacks it into `dir`. */
export async function fetchCode(
  s3: S3Client,
  location: { bucket: string; key: string },
  dir: string,
): Promise<FetchedCode> {
  const answer = await s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key }), {
    abortSignal: AbortSignal.timeout(60_000),
  });
  const zip = Buffer.from((await answer.Body?.transformToByteArray()) ?? []);
  const files = unzipTo(zip, dir, `s3://${location.bucket}/${location.key}`);
  return {
    ...location,
    bytes: zip.length,
    sha256: createHash("sha256").update(zip).digest("base64"),
    dir,
    files,
  };
}

/** One invocation as the driver answered it. */
export interface Invocation<T> {
  readonly ok: boolean;
  readonly result?: T;
  readonly error?: { readonly name: string; readonly code?: string; readonly message: string };
}

/** A function's code loaded in a process of its own; one invocation at a time. */
export interface RunningFunction {
  invoke<T>(event: unknown, timeoutMs: number): Promise<Invocation<T>>;
  /** The last lines it wrote (stdout and stderr). */
  output(): string;
  close(): void;
}

/**
 * Loads `code` in a fresh process with `environment` (and PATH, nothing else of ours), as Lambda
 * runs the function named `functionName` with a timeout of `timeoutMs`.
 */
export async function startFunction(
  code: FetchedCode,
  functionName: string,
  timeoutMs: number,
  environment: Readonly<Record<string, string>>,
): Promise<RunningFunction> {
  const child: ChildProcess = fork(join(ROOT, "test", "support", "lambda-driver.cjs"), {
    env: {
      PATH: process.env.PATH,
      ...environment,
      DRIVER_BUNDLE: join(code.dir, "index.js"),
      DRIVER_TIMEOUT_MS: String(timeoutMs),
      LAMBDA_TASK_ROOT: code.dir,
      AWS_LAMBDA_FUNCTION_NAME: functionName,
    },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
    if (lines.length > KEPT_OUTPUT) lines.splice(0, lines.length - KEPT_OUTPUT);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const output = () => lines.join("\n");
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      child.once("message", () => resolve());
      child.once("exit", (code) =>
        reject(new Error(`${functionName} exited (${code}) while loading:\n${output()}`)),
      );
    }),
    START_TIMEOUT_MS,
    () => `${functionName} did not load within ${START_TIMEOUT_MS / 1000} s:\n${output()}`,
  );
  return {
    invoke: <T>(event: unknown, invokeTimeoutMs: number) =>
      withTimeout(
        new Promise<Invocation<T>>((resolve) => {
          child.once("message", (message) => resolve(message as Invocation<T>));
          child.send({ event });
        }),
        invokeTimeoutMs,
        () => `${functionName} did not answer within ${invokeTimeoutMs / 1000} s:\n${output()}`,
      ),
    output,
    close: () => {
      child.kill();
    },
  };
}

/** One poll of the event source: how many messages it handed over and the function's answer. */
export interface Delivery {
  readonly messages: number;
  readonly invocation: Invocation<{ batchItemFailures: { itemIdentifier: string }[] }>;
}

/** What playing the event source until the queue handed out nothing did. */
export interface Drained {
  readonly deliveries: readonly Delivery[];
  /** Messages deleted (archived, or reported done). */
  readonly deleted: number;
}

/**
 * Plays Lambda's SQS event source for `fn` on the queue until a receive hands out nothing, at most
 * `maxPolls` polls: each batch (at most `batchSize`) is given to the function, and the messages it
 * did not report failed are deleted (none when the invocation failed).
 */
export async function drainQueue(
  sqs: SQSClient,
  queue: { url: string; arn: string; region: string },
  fn: RunningFunction,
  options: { batchSize: number; maxPolls: number; invokeTimeoutMs: number },
): Promise<Drained> {
  const deliveries: Delivery[] = [];
  let deleted = 0;
  for (let poll = 1; poll <= options.maxPolls; poll++) {
    const answer = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queue.url,
        MaxNumberOfMessages: options.batchSize,
        MessageSystemAttributeNames: ["All"],
      }),
    );
    const messages = answer.Messages ?? [];
    if (messages.length === 0) return { deliveries, deleted };
    const invocation = await fn.invoke<Delivery["invocation"]["result"]>(
      { Records: messages.map((m) => lambdaSqsRecord(m, queue)) },
      options.invokeTimeoutMs,
    );
    deliveries.push({ messages: messages.length, invocation } as Delivery);
    const failed = new Set(invocation.result?.batchItemFailures.map((f) => f.itemIdentifier));
    const done = invocation.ok ? messages.filter((m) => !failed.has(m.MessageId as string)) : [];
    for (let i = 0; i < done.length; i += 10) {
      const batch = done.slice(i, i + 10);
      const answer = await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queue.url,
          Entries: batch.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
      if (answer.Failed?.length)
        throw new Error(`could not delete messages: ${JSON.stringify(answer.Failed)}`);
      deleted += batch.length;
    }
  }
  throw new Error(`${queue.url} still handed out messages after ${options.maxPolls} polls`);
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
