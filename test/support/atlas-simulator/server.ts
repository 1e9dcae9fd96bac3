/** The loopback HTTP server: routing, request records, lifecycle. */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { DEFAULT_API_KEY, DEFAULT_API_VERSIONS, DEFAULT_SERVICE_ACCOUNT } from "./defaults";
import { DigestAuthority } from "./digest";
import { type DownloadDeps, handleDownload } from "./download";
import { FaultQueue } from "./faults";
import { echoCredentials, hugeTokenBody } from "./hostile";
import { apiError, defaultErrorCode, type SendContext, send } from "./http";
import { oauthError, revokeEndpoint, TokenStore, tokenEndpoint } from "./oauth";
import { RateLimiter, RetryAfterLedger } from "./rate-limit";
import type { AtlasSimulator, RequestRecord, SimulatorOptions } from "./types";

const DOWNLOAD_PATH = /^\/api\/atlas\/v2\/groups\/([^/]*)\/streams\/([^/]*)\/auditLogs$/;
const MAX_FORM_BYTES = 64 * 1024;

function authKind(header: string | undefined): RequestRecord["auth"] {
  const scheme = (header ?? "").trim().split(/\s+/)[0]?.toLowerCase();
  if (scheme === "bearer" || scheme === "digest" || scheme === "basic") return scheme;
  return "none";
}

function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function check(name: string, value: number | undefined, ok: (v: number) => boolean, rule: string): void {
  if (value !== undefined && !ok(value))
    throw new RangeError(`SimulatorOptions.${name}=${value} must be ${rule}`);
}

function validateOptions(o: SimulatorOptions): void {
  const nonNegative = (v: number): boolean => Number.isFinite(v) && v >= 0;
  const positive = (v: number): boolean => Number.isFinite(v) && v > 0;
  check("nonceTtlMs", o.nonceTtlMs, nonNegative, "a non-negative number");
  check("tokenTtlSeconds", o.tokenTtlSeconds, positive, "a positive number");
  check("maxLiveTokens", o.maxLiveTokens, (v) => Number.isInteger(v) && v >= 0, "a non-negative integer");
  check("latencyMs", o.latencyMs, nonNegative, "a non-negative number");
  check("bytesPerSecond", o.bytesPerSecond, positive, "a positive number");
  check(
    "rateLimit.capacity",
    o.rateLimit?.capacity,
    (v) => Number.isInteger(v) && v >= 1,
    "a positive integer",
  );
  check("rateLimit.refillPerSecond", o.rateLimit?.refillPerSecond, nonNegative, "a non-negative number");
  check(
    "rateLimit.retryAfterSeconds",
    o.rateLimit?.retryAfterSeconds ?? undefined,
    nonNegative,
    "non-negative",
  );
  if (o.supportedApiVersions?.length === 0)
    throw new RangeError("SimulatorOptions.supportedApiVersions is empty");
  for (const w of o.workspaces ?? []) {
    if (!/^[a-f0-9]{24}$/.test(w.groupId)) {
      throw new RangeError(
        `SimulatorOptions.workspaces groupId "${w.groupId}" is not 24 lowercase hex digits`,
      );
    }
  }
}

async function readForm(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_FORM_BYTES) chunks.push(chunk);
  }
  return size > MAX_FORM_BYTES ? undefined : Buffer.concat(chunks).toString("utf8");
}

/**
 * Start a loopback HTTP server that behaves like the Atlas Stream Processing audit-log download endpoint,
 * with its OAuth (service account) and Digest (API key) authentication, rate limits and injectable faults.
 *
 * @example
 * ```ts
 * const atlas = await startAtlasSimulator({ rateLimit: { capacity: 5, refillPerSecond: 1 } });
 * atlas.inject({ kind: "status", status: 503, retryAfter: 1 });
 * // ... point the client at atlas.baseUrl ...
 * await atlas.close();
 * ```
 */
export async function startAtlasSimulator(options: SimulatorOptions = {}): Promise<AtlasSimulator> {
  validateOptions(options);
  const serviceAccounts = options.serviceAccounts ?? [DEFAULT_SERVICE_ACCOUNT];
  const tokenTtlSeconds = options.tokenTtlSeconds ?? 3600;
  const tokens = new TokenStore(tokenTtlSeconds, options.maxLiveTokens ?? 100);
  const faults = new FaultQueue();
  const deps: DownloadDeps = {
    options: { ...options, supportedApiVersions: options.supportedApiVersions ?? [...DEFAULT_API_VERSIONS] },
    digest: new DigestAuthority(
      options.apiKeys ?? [DEFAULT_API_KEY],
      options.digestAlgorithm ?? "MD5",
      options.nonceTtlMs ?? 60_000,
    ),
    tokens,
    faults,
    limiter: new RateLimiter(options.rateLimit),
    ledger: new RetryAfterLedger(),
    workspaces: options.workspaces && new Set(options.workspaces.map((w) => `${w.groupId}/${w.tenantName}`)),
  };
  const requests: RequestRecord[] = [];
  const sockets = new Set<Socket>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const controller = new AbortController();
    res.once("close", () => controller.abort());
    const rawUrl = req.url ?? "/";
    const queryAt = rawUrl.indexOf("?");
    const path = queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt);
    const params = new URLSearchParams(queryAt === -1 ? "" : rawUrl.slice(queryAt + 1));
    const download = DOWNLOAD_PATH.exec(path);
    const endpoint: RequestRecord["endpoint"] = download
      ? "download"
      : path === "/api/oauth/token"
        ? "token"
        : path === "/api/oauth/revoke"
          ? "revoke"
          : "other";
    const record: RequestRecord = {
      at: Date.now(),
      method: req.method ?? "GET",
      endpoint,
      path,
      query: Object.fromEntries(params),
      status: 0,
      auth: authKind(req.headers.authorization),
      retryAfterViolation: false,
    };
    const groupId = download ? (decodeSegment(download[1] ?? "") ?? download[1] ?? "") : undefined;
    const tenantName = download ? decodeSegment(download[2] ?? "") : undefined;
    if (groupId !== undefined) {
      record.groupId = groupId;
      record.retryAfterViolation = deps.ledger.violated(groupId);
    }
    if (tenantName !== undefined) record.tenantName = tenantName;
    requests.push(record);
    const base: SendContext = { res, signal: controller.signal, record };

    try {
      if (groupId !== undefined) {
        await handleDownload(deps, req, base, { groupId, tenantName }, rawUrl, params);
        return;
      }
      if (endpoint === "other") {
        await send(base, apiError(404, "RESOURCE_NOT_FOUND", `No resource at ${path}.`));
        return;
      }
      if (req.method !== "POST") {
        const detail = `${req.method} is not allowed here; use POST.`;
        await send(base, apiError(405, defaultErrorCode(405), detail, { headers: { allow: "POST" } }));
        return;
      }
      const form = await readForm(req);
      const fault = endpoint === "token" ? faults.take({ endpoint: "token", auth: record.auth }) : undefined;
      if (fault) record.fault = fault.kind;
      if (fault?.kind === "reset-before-headers") {
        res.socket?.resetAndDestroy();
        return;
      }
      if (fault?.kind === "status") {
        const headers = fault.retryAfter === undefined ? {} : { "retry-after": String(fault.retryAfter) };
        const detail = fault.detail ?? `Injected ${fault.status} from the Atlas simulator.`;
        const errorCode = fault.errorCode ?? defaultErrorCode(fault.status);
        await send(base, apiError(fault.status, errorCode, detail, { headers }));
        return;
      }
      if (fault?.kind === "echo-credentials") {
        const status = fault.status ?? 401;
        const echo = echoCredentials(req.headers.authorization, form ?? "(larger than the form limit)");
        const error = status === 401 ? "invalid_client" : "invalid_request";
        await send(base, oauthError(status, error, echo.text, { "x-echo": echo.header }));
        return;
      }
      if (fault?.kind === "huge-token-response") {
        const headers = {
          "content-type": "application/json",
          "cache-control": "no-store",
          pragma: "no-cache",
        };
        await send(base, { status: 200, headers, body: hugeTokenBody(fault.bytes) });
        return;
      }
      if (form === undefined) {
        await send(
          base,
          apiError(413, defaultErrorCode(413), `The form is larger than ${MAX_FORM_BYTES} bytes.`),
        );
        return;
      }
      const input = {
        authorization: req.headers.authorization,
        contentType: req.headers["content-type"],
        body: form,
      };
      const out =
        endpoint === "token"
          ? tokenEndpoint(input, serviceAccounts, tokens, tokenTtlSeconds)
          : revokeEndpoint(input, serviceAccounts, tokens, (token, wasLive) => {
              record.revokedToken = token;
              record.revokedLive = wasLive;
            });
      await send({ ...base, fault }, out);
    } catch (error) {
      if (res.headersSent) {
        res.socket?.destroy();
        return;
      }
      const message = error instanceof Error ? error.message : String(error);
      await send(base, apiError(500, "UNEXPECTED_ERROR", `Simulator failure: ${message}`));
    }
  };

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  server.on("clientError", (_error, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.address.includes(":") ? `[${address.address}]` : address.address;

  let closing: Promise<void> | undefined;
  return {
    baseUrl: `http://${host}:${address.port}`,
    requests,
    inject: (...rules) => faults.add(rules),
    clearFaults: () => faults.clear(),
    pendingFaults: () => faults.pending,
    tokensIssued: () => tokens.issued,
    liveTokens: () => tokens.live,
    rateLimitViolations: () => requests.filter((r) => r.retryAfterViolation).length,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
