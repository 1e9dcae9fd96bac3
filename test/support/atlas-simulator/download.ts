/** `GET /api/atlas/v2/groups/{groupId}/streams/{tenantName}/auditLogs`: auth, faults, limits, validation, body. */
import type { IncomingMessage } from "node:http";
import { MAX_RANGE_SECONDS } from "./defaults";
import type { DigestAuthority } from "./digest";
import type { FaultQueue } from "./faults";
import { echoCredentials } from "./hostile";
import { apiError, type Body, defaultErrorCode, type Outgoing, type SendContext, send } from "./http";
import { defaultBody, lineCount } from "./lines";
import type { TokenStore } from "./oauth";
import { type RateLimiter, type RetryAfterLedger, retryAfterMs } from "./rate-limit";
import type { AuditLogRequest, Fault, SimulatorOptions } from "./types";

/** What the download handler shares with the rest of the simulator. */
export interface DownloadDeps {
  options: SimulatorOptions & { supportedApiVersions: string[] };
  digest: DigestAuthority;
  tokens: TokenStore;
  faults: FaultQueue;
  limiter: RateLimiter;
  ledger: RetryAfterLedger;
  /** `groupId/tenantName` keys, when only some workspaces exist. */
  workspaces?: ReadonlySet<string>;
}

const GROUP_ID = /^[a-f0-9]{24}$/;
const QUERY_PARAMS: ReadonlySet<string> = new Set(["startDate", "endDate", "spName"]);
const MILLISECONDS_THRESHOLD = 1e11;
const AUTH_HELP =
  "Authenticate with a service-account bearer token or an API key (HTTP Digest). The account needs " +
  "Organization Stream Processing Admin, Project Stream Processing Manager or a Project Data Access role.";

/** An ISO instant without milliseconds, as in Atlas's file names. */
function isoSeconds(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function badParameter(field: string, value: string | undefined, detail: string): Outgoing {
  return apiError(400, "INVALID_QUERY_PARAMETER", detail, {
    field,
    parameters: value === undefined ? [field] : [field, value],
  });
}

function parseSeconds(params: URLSearchParams, name: "startDate" | "endDate"): number | Outgoing {
  const values = params.getAll(name);
  if (values.length === 0) {
    return badParameter(name, undefined, `Missing required query parameter ${name} (epoch seconds).`);
  }
  const [text = ""] = values;
  if (values.length > 1) return badParameter(name, text, `Query parameter ${name} is given more than once.`);
  if (!/^\d{1,16}$/.test(text)) {
    return badParameter(
      name,
      text,
      `Invalid ${name} "${text}": it must be an integer number of seconds since the UNIX epoch.`,
    );
  }
  const value = Number(text);
  if (value > MILLISECONDS_THRESHOLD) {
    return badParameter(
      name,
      text,
      `Invalid ${name} ${text}: it looks like milliseconds; send seconds since the UNIX epoch.`,
    );
  }
  return value;
}

/** The request the query describes, or a 400. */
function parseRequest(
  groupId: string,
  tenantName: string,
  params: URLSearchParams,
): AuditLogRequest | Outgoing {
  for (const name of new Set(params.keys())) {
    if (name === "envelope") {
      return badParameter(
        name,
        params.get(name) ?? "",
        "The envelope parameter is not allowed on a binary (gzip) download.",
      );
    }
    if (!QUERY_PARAMS.has(name)) {
      return badParameter(
        name,
        params.get(name) ?? "",
        `Unknown query parameter ${name}; allowed: startDate, endDate, spName.`,
      );
    }
  }
  const startDate = parseSeconds(params, "startDate");
  if (typeof startDate !== "number") return startDate;
  const endDate = parseSeconds(params, "endDate");
  if (typeof endDate !== "number") return endDate;
  if (startDate >= endDate) {
    return badParameter(
      "endDate",
      String(endDate),
      `endDate ${endDate} must be after startDate ${startDate}.`,
    );
  }
  if (endDate - startDate > MAX_RANGE_SECONDS) {
    return badParameter(
      "endDate",
      String(endDate),
      `The range ${startDate}..${endDate} is longer than 30 days.`,
    );
  }
  const spNames = params.getAll("spName");
  if (spNames.length > 1)
    return badParameter("spName", spNames[0], "Query parameter spName is given more than once.");
  const spName = spNames[0];
  return spName
    ? { groupId, tenantName, spName, startDate, endDate }
    : { groupId, tenantName, startDate, endDate };
}

/**
 * The API version an `Accept` header selects: a (list of) `application/vnd.atlas.{version}+gzip` with a
 * supported version and at most a `q` parameter. Anything else, `*\/*` included, selects nothing.
 */
export function negotiateVersion(
  accept: string | undefined,
  versions: readonly string[],
): string | undefined {
  let best: { version: string; q: number } | undefined;
  for (const part of (accept ?? "").split(",")) {
    const [type = "", ...params] = part.split(";").map((s) => s.trim());
    const match = /^application\/vnd\.atlas\.(\d{4}-\d{2}-\d{2})\+gzip$/i.exec(type);
    if (!match?.[1] || !versions.includes(match[1])) continue;
    let q = 1;
    let simple = true;
    for (const param of params) {
      const m = /^q\s*=\s*(0(\.\d{0,3})?|1(\.0{0,3})?)$/i.exec(param);
      if (m?.[1] === undefined) simple = false;
      else q = Number(m[1]);
    }
    if (simple && q > 0 && (best === undefined || q > best.q)) best = { version: match[1], q };
  }
  return best?.version;
}

/** Handle one download attempt end to end. */
export async function handleDownload(
  deps: DownloadDeps,
  req: IncomingMessage,
  base: SendContext,
  path: { groupId: string; tenantName: string | undefined },
  rawUrl: string,
  params: URLSearchParams,
): Promise<void> {
  const options = deps.options;
  const record = base.record;
  /** A fault that shapes whatever response follows (headers, body), set once one is taken. */
  let shaping: Fault | undefined;
  const respond = (out: Outgoing): Promise<void> =>
    send(
      { ...base, fault: shaping, latencyMs: options.latencyMs ?? 0, bytesPerSecond: options.bytesPerSecond },
      out,
    );
  const unauthorized = (detail: string, stale = false): Outgoing =>
    apiError(401, "UNAUTHORIZED", detail, { headers: { "www-authenticate": deps.digest.challenge(stale) } });

  if (req.method !== "GET") {
    return respond(
      apiError(405, defaultErrorCode(405), `${req.method} is not allowed here; use GET.`, {
        headers: { allow: "GET" },
      }),
    );
  }

  // Authentication: every 401 carries a fresh Digest challenge, as Atlas's does.
  const authorization = req.headers.authorization ?? "";
  let bearer: string | undefined;
  let nonce: string | undefined;
  switch (record.auth) {
    case "none":
      return respond(unauthorized(`You are not authorized for this resource. ${AUTH_HELP}`));
    case "basic":
      return respond(unauthorized(`Basic authentication is not accepted here. ${AUTH_HELP}`));
    case "bearer": {
      bearer = authorization.slice("bearer".length).trim();
      const state = deps.tokens.check(bearer);
      if (state !== "live") {
        return respond(
          unauthorized(
            state === "expired"
              ? "The access token is expired or revoked; request a new one."
              : `The access token is not valid. ${AUTH_HELP}`,
          ),
        );
      }
      break;
    }
    case "digest": {
      const result = deps.digest.verify(authorization.slice("digest".length), "GET", rawUrl);
      if (!result.ok)
        return respond(unauthorized(`Digest authentication failed: ${result.reason}.`, result.stale));
      nonce = result.nonce;
      break;
    }
  }

  // The API access list, checked once the caller is authenticated (Atlas's shape: error, errorCode,
  // detail, parameters [address], reason).
  const address = (req.socket.remoteAddress ?? "").replace(/^::ffff:/, "");
  if (options.accessList && !options.accessList.includes(address)) {
    return respond(
      apiError(
        403,
        "IP_ADDRESS_NOT_ON_ACCESS_LIST",
        `IP address ${address} is not allowed to access this resource.`,
        {
          parameters: [address],
        },
      ),
    );
  }

  // Injected faults apply to authenticated attempts only (a Digest challenge round trip never eats one).
  const fault = deps.faults.take({
    endpoint: "download",
    groupId: path.groupId,
    tenantName: path.tenantName,
    startDate: params.get("startDate") ?? undefined,
    auth: record.auth,
  });
  if (fault) record.fault = fault.kind;
  switch (fault?.kind) {
    case "status": {
      const headers: Record<string, string> = {};
      if (fault.status === 401) headers["www-authenticate"] = deps.digest.challenge(false);
      if (fault.retryAfter !== undefined) {
        headers["retry-after"] = String(fault.retryAfter);
        const ms = retryAfterMs(fault.retryAfter);
        if (ms !== undefined) deps.ledger.promise(path.groupId, ms, options.latencyMs ?? 0);
      }
      const { status } = fault;
      const detail = fault.detail ?? `Injected ${status} from the Atlas simulator.`;
      return respond(apiError(status, fault.errorCode ?? defaultErrorCode(status), detail, { headers }));
    }
    case "reset-before-headers":
      base.res.socket?.resetAndDestroy();
      return;
    case "echo-credentials": {
      const status = fault.status ?? 400;
      const echo = echoCredentials(req.headers.authorization);
      const headers: Record<string, string> = { "x-echo": echo.header };
      if (status === 401) headers["www-authenticate"] = deps.digest.challenge(false);
      return respond(apiError(status, defaultErrorCode(status), echo.text, { headers }));
    }
    case "expire-token":
      if (bearer !== undefined) deps.tokens.revoke(bearer);
      return respond(unauthorized("The access token is expired; request a new one."));
    case "stale-nonce":
      if (nonce !== undefined) deps.digest.expire(nonce);
      return respond(unauthorized("Digest authentication failed: the nonce is stale.", true));
    default:
      shaping = fault; // body-shaping faults (or none) go with whatever response follows
  }

  const rate = deps.limiter.take(path.groupId);
  const rateHeaders = {
    "ratelimit-limit": String(rate.limit),
    "ratelimit-remaining": String(rate.remaining),
  };
  if (!rate.allowed) {
    const retryAfter =
      options.rateLimit?.retryAfterSeconds === undefined ? 1 : options.rateLimit.retryAfterSeconds;
    const headers: Record<string, string> = { ...rateHeaders };
    if (retryAfter !== null) {
      headers["retry-after"] = String(retryAfter);
      deps.ledger.promise(path.groupId, retryAfter * 1000, options.latencyMs ?? 0);
    }
    return respond(
      apiError(
        429,
        "RATE_LIMITED_TOKEN_BUCKET",
        "You have exceeded the rate limit for this endpoint; retry later.",
        {
          headers,
        },
      ),
    );
  }
  const withRate = (out: Outgoing): Outgoing => ({ ...out, headers: { ...rateHeaders, ...out.headers } });

  if (!GROUP_ID.test(path.groupId)) {
    return respond(
      withRate(
        apiError(
          400,
          "INVALID_GROUP_ID",
          `Invalid groupId "${path.groupId}": it must be 24 lowercase hex digits.`,
          {
            field: "groupId",
            parameters: [path.groupId],
          },
        ),
      ),
    );
  }
  if (!path.tenantName) {
    return respond(
      withRate(
        badParameter("tenantName", undefined, "The tenantName path segment is empty or badly encoded."),
      ),
    );
  }
  const parsed = parseRequest(path.groupId, path.tenantName, params);
  if ("status" in parsed) return respond(withRate(parsed));

  const version = negotiateVersion(req.headers.accept, options.supportedApiVersions);
  if (version === undefined) {
    const wanted = options.supportedApiVersions.map((v) => `application/vnd.atlas.${v}+gzip`).join(", ");
    return respond(
      withRate(
        apiError(
          406,
          "NOT_ACCEPTABLE",
          `Accept "${req.headers.accept ?? ""}" is not supported; send one of: ${wanted}.`,
        ),
      ),
    );
  }
  if (deps.workspaces && !deps.workspaces.has(`${parsed.groupId}/${parsed.tenantName}`)) {
    return respond(
      withRate(
        apiError(
          404,
          "STREAM_TENANT_NOT_FOUND_FOR_NAME",
          `No stream workspace named ${parsed.tenantName} exists in group ${parsed.groupId}.`,
          { parameters: [parsed.tenantName, parsed.groupId] },
        ),
      ),
    );
  }

  let body: Body;
  try {
    body = options.body?.(parsed) ?? defaultBody(parsed, lineCount(parsed, options));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return respond(withRate(apiError(500, "UNEXPECTED_ERROR", `Simulator body failed: ${message}`)));
  }
  const filename = `${parsed.tenantName}_${isoSeconds(parsed.startDate)}_${isoSeconds(parsed.endDate)}_audit.log.gz`;
  return respond(
    withRate({
      status: 200,
      headers: {
        "content-type": options.legacyContentType
          ? "application/gzip"
          : `application/vnd.atlas.${version}+gzip`,
        "content-disposition": `attachment; filename="${filename}"`,
        "x-java-method": "ApiStreamsResource::getAuditLogsForTenant",
      },
      body,
    }),
  );
}
