/**
 * The Atlas client: downloads one workspace's audit log for one window as a stream of the raw
 * gzip bytes, with authentication, retries and timeouts.
 *
 * About 440 lines, one class: a download's attempts, authentication round trips, per-project
 * pauses and the acceptance of its answer share the client's state (endpoint, redactor, pauses);
 * what does not (options, the body's helpers, status mapping, retries) lives beside it.
 */
import type { Dispatcher } from "undici";
import { type Workspace, workspaceLabel } from "../config";
import { ArchiverError } from "../errors";
import { timerDelay } from "../timers";
import { formatInstant, formatWindow, type TimeWindow, toEpochSeconds } from "../windows";
import { type AtlasCredentials, type CredentialsSource, createAuthenticator } from "./auth";
import { type AtlasEndpoint, atlasEndpoint } from "./base-url";
import {
  contentDispositionFileName,
  FRAMING_CODINGS,
  headerNumber,
  headerText,
  isGzipType,
  peek,
  typeErrors,
} from "./body";
import { AtlasPausedError, AtlasTimeoutError, AtlasUnexpectedResponseError } from "./errors";
import type { TokenCache } from "./oauth";
import {
  type AtlasClientOptions,
  type AtlasTimeouts,
  type AuditLogDownload,
  DEFAULT_TIMEOUTS,
  type DownloadOptions,
  USER_AGENT,
} from "./options";
import { SecretRedactor } from "./redact";
import {
  type CallContext,
  discard,
  isNetworkError,
  networkError,
  readErrorBody,
  statusFailure,
  transportFailure,
} from "./responses";
import {
  type AttemptOutcome,
  type CallBudget,
  type Clock,
  DEFAULT_RETRY_POLICY,
  describeRetryAfter,
  formatDuration,
  parseRetryAfter,
  type RetryPolicy,
  retrying,
  systemClock,
} from "./retry";

/** The client's optional settings with their defaults applied: the one place they are resolved. */
function resolveSettings(options: Omit<AtlasClientOptions, "authenticator">) {
  return {
    policy: { ...DEFAULT_RETRY_POLICY, ...options.retry },
    timeouts: { ...DEFAULT_TIMEOUTS, ...options.timeouts },
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
    userAgent: options.userAgent ?? USER_AGENT,
    redactor: options.redactor ?? new SecretRedactor(),
  };
}

/**
 * Downloads Stream Processing audit logs from the Atlas Admin API.
 *
 * @example
 * ```ts
 * const client = new AtlasClient({ baseUrl, apiVersion: "2023-02-01", dispatcher, authenticator });
 * const log = await client.download({ groupId, tenantName: "prod" }, window);
 * await pipeline(log.body, destination);
 * ```
 */
export class AtlasClient {
  private readonly policy: RetryPolicy;
  private readonly timeouts: AtlasTimeouts;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly userAgent: string;
  private readonly redactor: SecretRedactor;
  private readonly endpoint: AtlasEndpoint;
  /**
   * Per project (the scope of Atlas's token buckets): when its last `Retry-After` ends. Every
   * request to that project waits for it, not only the one that was refused, so concurrent
   * downloads never knock on a bucket Atlas said is empty. A pause that ends after a call's
   * budget is not waited for: that call is deferred instead ({@link AtlasPausedError}).
   */
  private readonly pausedUntil = new Map<string, { readonly untilMs: number; readonly raw: string }>();

  constructor(private readonly options: AtlasClientOptions) {
    ({
      policy: this.policy,
      timeouts: this.timeouts,
      clock: this.clock,
      random: this.random,
      userAgent: this.userAgent,
      redactor: this.redactor,
    } = resolveSettings(options));
    this.endpoint = atlasEndpoint(options.baseUrl);
  }

  /** The URL path and query requested, base path included (the Digest `uri` leaves the base path out). */
  downloadPath(workspace: Workspace, window: TimeWindow): string {
    const { startDate, endDate } = toEpochSeconds(window);
    const query = new URLSearchParams({ startDate: String(startDate), endDate: String(endDate) });
    if (workspace.spName) query.set("spName", workspace.spName);
    return (
      `${this.endpoint.basePath}/api/atlas/v2/groups/${encodeURIComponent(workspace.groupId)}` +
      `/streams/${encodeURIComponent(workspace.tenantName)}/auditLogs?${query}`
    );
  }

  /** Describes a download for messages (workspace and window). */
  private context(workspace: Workspace, window: TimeWindow): CallContext {
    const ws = workspaceLabel(workspace);
    const win = formatWindow(window);
    const { authenticator } = this.options;
    return {
      what: `audit-log download of ${ws} for ${win}`,
      workspace: ws,
      window: win,
      groupId: workspace.groupId,
      tenantName: workspace.tenantName,
      // Read when a message is written: a rotating authenticator knows its kind only once it has loaded credentials.
      get credentialKind() {
        return authenticator.kind;
      },
    };
  }

  /**
   * Prepares the credentials before any download: reads them (a secret) and, for a service
   * account, gets a token. A credentials problem then surfaces once, before the first window.
   */
  async prepare(signal?: AbortSignal): Promise<void> {
    await this.options.authenticator.prepare?.(signal);
  }

  /**
   * Starts the download of one window and resolves once Atlas answered 200 with a gzip body.
   * Retries what can be retried; throws a typed `AtlasError` otherwise. The body is not
   * buffered: consume it (or destroy it) promptly.
   *
   * Bounded in time: no attempt or wait outlasts the retry budget (`retry.maxTotalMs`) or
   * `options.deadlineMs`, and the body must be read to its end within `timeouts.downloadMs` of
   * the first request, or it fails with {@link AtlasTimeoutError}. `options.signal` aborts the
   * request, a wait, or the body.
   */
  async download(
    workspace: Workspace,
    window: TimeWindow,
    options: DownloadOptions = {},
  ): Promise<AuditLogDownload> {
    const path = this.downloadPath(workspace, window);
    const context = this.context(workspace, window);
    const { signal } = options;
    // One controller per download: undici ties the request and its body to it, so the overall
    // bound (or the caller's signal) ends whichever is in progress, even a body read later.
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal?.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    const limitMs = this.timeouts.downloadMs;
    const timer = setTimeout(() => {
      controller.abort(
        new AtlasTimeoutError(
          `The ${context.what} did not finish within ${formatDuration(limitMs)} (the bound on one window's ` +
            "download, body included): Atlas or the network is too slow. The next run retries the window; if " +
            "its log is this large, use shorter windows (window.minutes).",
          { workspace: context.workspace, window: context.window },
        ),
      );
    }, timerDelay(limitMs));
    timer.unref?.();
    const release = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const startedAt = this.clock.now();
    const deadlineMs = Math.min(options.deadlineMs ?? Number.POSITIVE_INFINITY, startedAt + limitMs);
    try {
      const log = await retrying<AuditLogDownload>(
        async (attempt, budget) => {
          const outcome = await this.attempt(workspace.groupId, path, context, controller.signal, budget);
          return outcome.ok ? { ok: true, value: { ...outcome.value, attempts: attempt } } : outcome;
        },
        {
          policy: this.policy,
          clock: this.clock,
          random: this.random,
          signal: controller.signal,
          deadlineMs,
          onRetry: (event) => this.options.onRetry?.({ ...event, what: context.what }),
        },
      );
      if (log.body.destroyed) release();
      else log.body.once("close", release);
      typeErrors(log.body, (err) => this.bodyError(err, workspace, window));
      return log;
    } catch (err) {
      release();
      throw err;
    }
  }

  /** Releases the credentials' resources (revokes a service-account token). Call when done, e.g. at CLI exit. */
  close(): Promise<void> {
    return this.options.authenticator.close();
  }

  /** The error a download body stream emits, as a typed error naming the workspace and window. */
  private bodyError(err: unknown, workspace: Workspace, window: TimeWindow): Error {
    // An error already typed (the download's own timeout, aborting the body) stays as it is.
    if (err instanceof ArchiverError) return err;
    return isNetworkError(err) ? networkError(err, this.context(workspace, window), 1) : (err as Error);
  }

  /**
   * One attempt, including the authentication round trips it needs (a Digest challenge, a
   * refreshed token); those do not count against the attempts, but do against the budget.
   */
  private async attempt(
    scope: string,
    path: string,
    context: CallContext,
    signal: AbortSignal,
    budget: CallBudget,
  ): Promise<AttemptOutcome<Omit<AuditLogDownload, "attempts">>> {
    const { authenticator, apiVersion } = this.options;
    let refusals = 0;
    for (let requests = 1; ; requests++) {
      await this.waitForScope(scope, context, signal, budget);
      // A Digest `uri` names the request as Atlas sees it: a path-prefix proxy in front strips its prefix.
      const atlasPath = path.slice(this.endpoint.basePath.length);
      const authorization = await authenticator.authorization("GET", atlasPath, signal);
      this.redactor.addAuthorization(authorization);
      // The request may not outlive the call's budget: its own controller aborts it then. Once the
      // headers are in, only `signal` (the download's bound) governs the body.
      const attemptController = new AbortController();
      const followCall = () => attemptController.abort(signal.reason);
      signal.addEventListener("abort", followCall, { once: true });
      const budgetTimer = setTimeout(() => {
        attemptController.abort(
          new AtlasTimeoutError(
            `The ${context.what} got no answer from Atlas before ${budget.limit} ran out. The next run retries ` +
              "the window; if it persists, check the network path to Atlas and https://status.mongodb.com.",
            { workspace: context.workspace, window: context.window },
          ),
        );
      }, timerDelay(budget.remainingMs()));
      let response: Dispatcher.ResponseData;
      try {
        response = await this.options.dispatcher.request({
          origin: this.endpoint.origin,
          path,
          method: "GET",
          headers: {
            accept: `application/vnd.atlas.${apiVersion}+gzip`,
            "user-agent": this.userAgent,
            ...(authorization ? { authorization } : {}),
          },
          headersTimeout: Math.min(this.timeouts.headersMs, budget.remainingMs()),
          bodyTimeout: this.timeouts.bodyIdleMs,
          signal: attemptController.signal,
        });
      } catch (err) {
        signal.removeEventListener("abort", followCall);
        return transportFailure(err, context);
      } finally {
        clearTimeout(budgetTimer);
      }
      const { statusCode: status, headers } = response;
      // Bounded: a Digest challenge, a retried nonce and a rotated secret's own challenge fit in six.
      if (status === 401 && requests <= 6) {
        await response.body.dump();
        signal.removeEventListener("abort", followCall);
        if (authorization) refusals++;
        const again = await authenticator.onUnauthorized({
          sentAuthorization: authorization,
          wwwAuthenticate: headers["www-authenticate"],
          refusals,
        });
        if (again) continue;
        return statusFailure(status, {}, context);
      }
      if (status !== 200) {
        const body = await readErrorBody(response.body, this.redactor);
        signal.removeEventListener("abort", followCall);
        const raw = this.redactor.redact(headerText(headers["retry-after"]));
        const retryAfterMs = parseRetryAfter(raw, this.clock.now());
        const retryAfter =
          raw !== undefined && retryAfterMs !== undefined ? { ms: retryAfterMs, raw } : undefined;
        if (retryAfter) this.pauseScope(scope, retryAfter);
        return statusFailure(status, body, context, retryAfter);
      }
      return this.accept(response, context);
    }
  }

  private pauseScope(scope: string, retryAfter: { readonly ms: number; readonly raw: string }): void {
    const untilMs = this.clock.now() + retryAfter.ms;
    if (untilMs > (this.pausedUntil.get(scope)?.untilMs ?? 0)) {
      this.pausedUntil.set(scope, { untilMs, raw: retryAfter.raw });
    }
  }

  /**
   * When Atlas allows calls for project `groupId` again (epoch ms, the client's clock), if it
   * asked (a `Retry-After`) to wait beyond now; a queue's worker delays the project's message so.
   */
  resumeAt(groupId: string): number | undefined {
    const untilMs = this.pausedUntil.get(groupId)?.untilMs;
    return untilMs !== undefined && untilMs > this.clock.now() ? untilMs : undefined;
  }

  /** Waits for the project's pause, or defers the call when the pause ends after its budget. */
  private async waitForScope(
    scope: string,
    context: CallContext,
    signal: AbortSignal,
    budget: CallBudget,
  ): Promise<void> {
    for (;;) {
      const pause = this.pausedUntil.get(scope);
      const now = this.clock.now();
      if (!pause || pause.untilMs <= now) return;
      if (pause.untilMs >= budget.endsAtMs) {
        throw new AtlasPausedError(
          `Atlas asked (${describeRetryAfter(pause.raw, pause.untilMs - now)}) not to call project ${scope} ` +
            `again before ${formatInstant(pause.untilMs)}, which is after ${budget.limit}: the ${context.what} is ` +
            "left for a later run.",
          { workspace: context.workspace, window: context.window, status: 429 },
        );
      }
      await this.clock.sleep(pause.untilMs - now, signal);
    }
  }

  /** Checks that a 200 really is a gzip audit log before handing its body out. */
  private async accept(
    response: Dispatcher.ResponseData,
    context: CallContext,
  ): Promise<AttemptOutcome<Omit<AuditLogDownload, "attempts">>> {
    const { headers, body } = response;
    const redact = (value: string | string[] | undefined) => this.redactor.redact(headerText(value) ?? "");
    const contentType = redact(headers["content-type"]);
    const reject = (why: string) => {
      discard(body);
      return {
        ok: false as const,
        retryable: false,
        reason: why,
        error: (attempts: number) =>
          new AtlasUnexpectedResponseError(
            `Atlas answered the ${context.what} with 200 but ${why}, so it is not archived. If a proxy sits ` +
              `between the archiver and Atlas, check it; otherwise check atlas.baseUrl and atlas.apiVersion.`,
            { status: 200, workspace: context.workspace, window: context.window, attempts },
          ),
      };
    };
    const encoding = redact(headers["content-encoding"]);
    if (encoding && encoding !== "identity") {
      return reject(
        `with Content-Encoding "${encoding.slice(0, 100)}" (the log must arrive as a plain .gz file)`,
      );
    }
    const transfer = redact(headers["transfer-encoding"]);
    const codings = transfer
      .split(",")
      .map((c) => c.trim().toLowerCase())
      .filter((c) => c !== "");
    if (codings.some((c) => !FRAMING_CODINGS.has(c))) {
      return reject(
        `with Transfer-Encoding "${transfer.slice(0, 100)}" (a compressing transfer coding would store the log ` +
          "compressed twice; only chunked framing is accepted)",
      );
    }
    if (!isGzipType(contentType, this.options.apiVersion)) {
      return reject(
        `with Content-Type "${contentType.slice(0, 100)}" (expected application/gzip or ` +
          `application/vnd.atlas.${this.options.apiVersion}+gzip)`,
      );
    }
    let head: Buffer;
    try {
      head = await peek(body, 2);
    } catch (err) {
      return transportFailure(err, context);
    }
    if (head[0] !== 0x1f || head[1] !== 0x8b) {
      const seen =
        head.length === 0 ? "an empty body" : `a body starting with 0x${head.subarray(0, 2).toString("hex")}`;
      return reject(`with ${seen} instead of the gzip magic bytes 0x1f8b`);
    }
    const fileName = contentDispositionFileName(headers["content-disposition"]);
    return {
      ok: true,
      value: {
        body,
        contentType,
        contentLength: headerNumber(headers["content-length"]),
        fileName: fileName === undefined ? undefined : this.redactor.redact(fileName),
        rateLimit: {
          limit: headerNumber(headers["ratelimit-limit"]),
          remaining: headerNumber(headers["ratelimit-remaining"]),
        },
      },
    };
  }
}

/** Options of {@link createAtlasClient}: the client's, with credentials instead of an authenticator. */
export interface CreateAtlasClientOptions extends Omit<AtlasClientOptions, "authenticator"> {
  /** Fixed credentials, or a source that is read again when Atlas refuses them (secret rotation). */
  readonly credentials: AtlasCredentials | CredentialsSource;
  /** Where service-account tokens are cached. @default the process-wide cache */
  readonly tokenCache?: TokenCache;
}

/**
 * Builds an {@link AtlasClient} and its authenticator from credentials, sharing one clock,
 * retry policy and dispatcher between downloads and token requests.
 *
 * @example
 * ```ts
 * const client = createAtlasClient({
 *   baseUrl: config.atlas.baseUrl, apiVersion: config.atlas.apiVersion,
 *   credentials: parseAtlasCredentials(secretString, "secret atlas/archiver"),
 *   dispatcher: createAtlasDispatcher(),
 * });
 * ```
 */
export function createAtlasClient(options: CreateAtlasClientOptions): AtlasClient {
  const { credentials, tokenCache, ...rest } = options;
  const settings = resolveSettings(rest);
  const authenticator = createAuthenticator(credentials, {
    baseUrl: rest.baseUrl,
    dispatcher: rest.dispatcher,
    retry: {
      policy: settings.policy,
      clock: settings.clock,
      random: settings.random,
      onRetry: (event) => rest.onRetry?.({ ...event, what: "token request" }),
    },
    headersTimeoutMs: settings.timeouts.headersMs,
    userAgent: settings.userAgent,
    redactor: settings.redactor,
    cache: tokenCache,
  });
  return new AtlasClient({ ...rest, redactor: settings.redactor, authenticator });
}
