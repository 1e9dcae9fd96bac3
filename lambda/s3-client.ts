/**
 * The S3 client every part of the archiver uses (Lambda handler, CLI, readers): the AWS SDK's
 * client with bounded waits, so that an S3 that stalls, trickles or never answers ends a request
 * instead of hanging the run.
 */
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";

/** How long one S3 request may take, at each stage. */
export interface S3Timeouts {
  /** Establishing the TCP (and TLS) connection. */
  readonly connectMs: number;
  /** From sending a request (its body included) to receiving the response headers. */
  readonly requestMs: number;
  /** Longest silence on the socket, while sending or receiving. */
  readonly idleMs: number;
}

/**
 * S3 timeout defaults, resolved here only: 5 s to connect, 2 minutes to an answer (an 8 MiB part
 * needs about 8 s even at 1 MB/s), 30 s of silence. The SDK makes 3 attempts of each request, so
 * one hung request ends within about 6 minutes at worst, and a run's deadline sooner.
 */
export const DEFAULT_S3_TIMEOUTS: S3Timeouts = { connectMs: 5_000, requestMs: 120_000, idleMs: 30_000 };

/** Options of {@link createS3Client}: the SDK's configuration, plus the timeouts. */
export interface ArchiveS3ClientOptions extends Omit<S3ClientConfig, "requestHandler"> {
  /** @default {@link DEFAULT_S3_TIMEOUTS} */
  readonly timeouts?: Partial<S3Timeouts>;
}

/**
 * An `S3Client` whose every request is bounded by {@link S3Timeouts} (a request over its time
 * fails with a `TimeoutError`, which the SDK retries like any transient failure).
 *
 * @example
 * ```ts
 * const s3 = createS3Client({ forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL_S3) });
 * ```
 */
export function createS3Client(options: ArchiveS3ClientOptions = {}): S3Client {
  const { timeouts, ...config } = options;
  return new S3Client({ ...config, requestHandler: boundedRequestHandler(timeouts) });
}

/**
 * The request handler settings that bound every request of an AWS SDK client by
 * {@link S3Timeouts}: S3's, and the archiver's other clients (SQS, KMS, Lambda, Secrets Manager),
 * whose requests are small, so that none of them can hang a run or a command either.
 *
 * @example
 * ```ts
 * const kms = new KMSClient({ requestHandler: boundedRequestHandler() });
 * ```
 */
export function boundedRequestHandler(timeouts: Partial<S3Timeouts> = {}): {
  readonly connectionTimeout: number;
  readonly requestTimeout: number;
  readonly throwOnRequestTimeout: true;
  readonly socketTimeout: number;
} {
  const t = { ...DEFAULT_S3_TIMEOUTS, ...timeouts };
  return {
    connectionTimeout: t.connectMs,
    requestTimeout: t.requestMs,
    throwOnRequestTimeout: true,
    socketTimeout: t.idleMs,
  };
}
