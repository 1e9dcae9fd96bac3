/**
 * A minimal, independent client for the simulator's own tests: it computes Digest responses and
 * fetches tokens by hand (node:crypto + undici), so the tests do not trust the simulator's code.
 */
import { createHash, randomBytes } from "node:crypto";
import { type Dispatcher, request } from "undici";
import { afterEach } from "vitest";
import type { ApiKey, AtlasSimulator, AuditLogRequest, ServiceAccount, SimulatorOptions } from "./index";
import { DEFAULT_API_KEY, DEFAULT_SERVICE_ACCOUNT, expectedLines, startAtlasSimulator } from "./index";

/**
 * A starter for simulators that are closed after each test. Call it once at the top of a test
 * file (or describe block), then `await start(options)` inside tests.
 */
export function simulatorPerTest(): (options?: SimulatorOptions) => Promise<AtlasSimulator> {
  const running: AtlasSimulator[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((sim) => sim.close()));
  });
  return async (options) => {
    const sim = await startAtlasSimulator(options);
    running.push(sim);
    return sim;
  };
}

export const GROUP_ID = "0123456789abcdef01234567";
export const TENANT = "demo-workspace";
export const ACCEPT = "application/vnd.atlas.2023-02-01+gzip";
/** 2026-08-10T03:10:00Z, a multiple of 600. */
export const BASE_START = 1_786_331_400;

/** The path and query of a download, with the tenant URL-encoded. */
export function auditPath(req: Partial<AuditLogRequest> & { extra?: string }): string {
  const group = req.groupId ?? GROUP_ID;
  const tenant = encodeURIComponent(req.tenantName ?? TENANT);
  const query = new URLSearchParams();
  if (req.startDate !== undefined) query.set("startDate", String(req.startDate));
  if (req.endDate !== undefined) query.set("endDate", String(req.endDate));
  if (req.spName !== undefined) query.set("spName", req.spName);
  const text = [query.toString(), req.extra].filter(Boolean).join("&");
  return `/api/atlas/v2/groups/${group}/streams/${tenant}/auditLogs${text ? `?${text}` : ""}`;
}

/** The first 10-minute window from {@link BASE_START} whose default log is empty (or not). */
export function findWindow(empty: boolean, tenantName = TENANT): AuditLogRequest {
  for (let i = 0; i < 1000; i++) {
    const req = {
      groupId: GROUP_ID,
      tenantName,
      startDate: BASE_START + i * 600,
      endDate: BASE_START + (i + 1) * 600,
    };
    if ((expectedLines(req).length === 0) === empty) return req;
  }
  throw new Error("no such window");
}

/** The Basic header value built from the raw credentials. */
export function basic(account: ServiceAccount = DEFAULT_SERVICE_ACCOUNT): string {
  return `Basic ${Buffer.from(`${account.clientId}:${account.clientSecret}`).toString("base64")}`;
}

/** POST the token form and return the response. */
export function postToken(
  baseUrl: string,
  init: { authorization?: string; body?: string; contentType?: string } = {},
): Promise<Dispatcher.ResponseData> {
  const headers: Record<string, string> = {
    "content-type": init.contentType ?? "application/x-www-form-urlencoded",
  };
  if (init.authorization !== "") headers.authorization = init.authorization ?? basic();
  return request(`${baseUrl}/api/oauth/token`, {
    method: "POST",
    headers,
    body: init.body ?? "grant_type=client_credentials",
  });
}

/** A fresh access token for the default service account. */
export async function fetchToken(baseUrl: string): Promise<string> {
  const res = await postToken(baseUrl);
  const json = (await res.body.json()) as { access_token: string };
  if (res.statusCode !== 200) throw new Error(`token request failed: ${res.statusCode}`);
  return json.access_token;
}

/** GET a path with a bearer token and the versioned Accept. */
export function getWithToken(
  baseUrl: string,
  path: string,
  token: string,
  headers: Record<string, string> = {},
): Promise<Dispatcher.ResponseData> {
  return request(`${baseUrl}${path}`, {
    headers: { authorization: `Bearer ${token}`, accept: ACCEPT, ...headers },
  });
}

/** The parameters of a `WWW-Authenticate: Digest ...` challenge. */
export function parseChallenge(header: string | string[] | undefined): Record<string, string> {
  const text = Array.isArray(header) ? (header[0] ?? "") : (header ?? "");
  if (!text.startsWith("Digest ")) throw new Error(`not a Digest challenge: ${text}`);
  const params: Record<string, string> = {};
  for (const m of text.slice(7).matchAll(/([a-z]+)=(?:"([^"]*)"|([^,\s]*))/g)) {
    params[m[1] ?? ""] = m[2] ?? m[3] ?? "";
  }
  return params;
}

/** An `Authorization: Digest` value per RFC 7616 for qop=auth. */
export function digestAuthorization(options: {
  challenge: Record<string, string>;
  method: string;
  uri: string;
  nc: number;
  key?: ApiKey;
  cnonce?: string;
}): string {
  const key = options.key ?? DEFAULT_API_KEY;
  const algorithm = options.challenge.algorithm ?? "MD5";
  const h = (s: string): string =>
    createHash(algorithm === "SHA-256" ? "sha256" : "md5")
      .update(s)
      .digest("hex");
  const realm = options.challenge.realm ?? "";
  const nonce = options.challenge.nonce ?? "";
  const nc = options.nc.toString(16).padStart(8, "0");
  const cnonce = options.cnonce ?? randomBytes(8).toString("hex");
  const ha1 = h(`${key.publicKey}:${realm}:${key.privateKey}`);
  const ha2 = h(`${options.method}:${options.uri}`);
  const response = h(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`);
  return (
    `Digest username="${key.publicKey}", realm="${realm}", nonce="${nonce}", uri="${options.uri}", ` +
    `algorithm=${algorithm}, response="${response}", qop=auth, nc=${nc}, cnonce="${cnonce}"`
  );
}

/** Get a fresh Digest challenge from the download endpoint. */
export async function challengeFor(baseUrl: string, path: string): Promise<Record<string, string>> {
  const res = await request(`${baseUrl}${path}`, { headers: { accept: ACCEPT } });
  await res.body.dump();
  if (res.statusCode !== 401) throw new Error(`expected 401, got ${res.statusCode}`);
  return parseChallenge(res.headers["www-authenticate"]);
}
