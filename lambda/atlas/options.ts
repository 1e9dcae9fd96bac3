/**
 * What the Atlas client takes and gives: its options and their defaults (resolved here and in
 * `client.ts`'s `resolveSettings` only), per-call options, and a download.
 */
import type { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import type { AtlasAuthenticator } from "./auth";
import type { SecretRedactor } from "./redact";
import type { Clock, RetryEvent, RetryPolicy } from "./retry";

/** What a successful download returns. The body has not been read beyond its first bytes. */
export interface AuditLogDownload {
  /** The .gz file exactly as Atlas sent it. It fails with typed Atlas errors naming the window (network, timeout). */
  readonly body: Readable;
  readonly contentType: string;
  /** From `Content-Length`, when Atlas sent one. */
  readonly contentLength: number | undefined;
  /** The file name from `Content-Disposition`, e.g. `prod_2026-11-28T13:00:00Z_2026-11-28T14:00:00Z_audit.log.gz`. */
  readonly fileName: string | undefined;
  readonly rateLimit: { readonly limit: number | undefined; readonly remaining: number | undefined };
  /** Attempts it took (1 unless retried); authentication round trips are not counted. */
  readonly attempts: number;
}

/** Timeouts of a download (the connect timeout belongs to the dispatcher: see `createAtlasDispatcher`). */
export interface AtlasTimeouts {
  /** From sending a request to receiving all response headers (cut to what is left of the call's budget). */
  readonly headersMs: number;
  /** Longest silence while receiving the body. */
  readonly bodyIdleMs: number;
  /**
   * The whole download of one window, from its first request to the body's last byte, retries
   * and waits included: a body that trickles (never silent for long, never done) ends here.
   */
  readonly downloadMs: number;
}

/** Per-call options of {@link AtlasClient.download}. */
export interface DownloadOptions {
  /** Aborts the request and its body (the run's deadline, a user's interrupt). */
  readonly signal?: AbortSignal;
  /** No attempt or wait may end after this (in the client's clock): the run's deadline. */
  readonly deadlineMs?: number;
}

/** Options of {@link AtlasClient}. */
export interface AtlasClientOptions {
  /** e.g. `https://cloud.mongodb.com` (no trailing slash). */
  readonly baseUrl: string;
  /** e.g. `2023-02-01`: sent as `Accept: application/vnd.atlas.{apiVersion}+gzip`. */
  readonly apiVersion: string;
  readonly dispatcher: Dispatcher;
  readonly authenticator: AtlasAuthenticator;
  /** @default `DEFAULT_RETRY_POLICY` (`retry.ts`) */
  readonly retry?: Partial<RetryPolicy>;
  /** @default {@link DEFAULT_TIMEOUTS} */
  readonly timeouts?: Partial<AtlasTimeouts>;
  /** @default the system clock */
  readonly clock?: Clock;
  /** Source of jitter in [0, 1). @default Math.random */
  readonly random?: () => number;
  /** @default {@link USER_AGENT} */
  readonly userAgent?: string;
  /** Called before each retry wait, for progress logs. */
  readonly onRetry?: (event: RetryEvent & { readonly what: string }) => void;
  /**
   * Credentials sent, to be removed from whatever Atlas answers. Share it with the authenticator
   * (as `createAtlasClient` does). @default a new, empty one (the client still registers
   * every Authorization header it sends)
   */
  readonly redactor?: SecretRedactor;
}

/**
 * Timeout defaults, resolved here only. Atlas assembles a log before the first header byte, so
 * headers get two minutes; a body that stalls for a minute mid-stream is considered dead; and one
 * window's download never takes more than ten minutes in all (15 GB at 25 MB/s: far above any
 * hourly log; a Lambda run's deadline comes first anyway).
 */
export const DEFAULT_TIMEOUTS: AtlasTimeouts = {
  headersMs: 120_000,
  bodyIdleMs: 60_000,
  downloadMs: 600_000,
};

/** The User-Agent sent to Atlas. */
export const USER_AGENT = "atlas-audit-archiver";
