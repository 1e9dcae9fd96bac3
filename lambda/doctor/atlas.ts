/**
 * The doctor's Atlas checks: the credentials (a service account's token request, an API key's
 * Digest round trip), each configured workspace (a probe download of a small past window, read
 * through and discarded, never stored), and the API access list, named plainly when Atlas refuses
 * the caller's address.
 */
import type { Dispatcher } from "undici";
import type { AtlasCredentials, CredentialsSource } from "../atlas/auth";
import { type AtlasClient, createAtlasClient } from "../atlas/client";
import {
  AtlasCredentialsError,
  AtlasError,
  AtlasTimeoutError,
  AtlasUnauthorizedError,
  REQUIRED_ROLES,
} from "../atlas/errors";
import type { Clock } from "../atlas/retry";
import { type ArchiverConfig, type Workspace, workspaceLabel } from "../config";
import { ArchiverError } from "../errors";
import { forEachLimited } from "../pool";
import { dueWindows, formatWindow, type TimeWindow } from "../windows";
import type { DoctorBounds } from "./bounds";
import type { CheckRecorder, CheckResult } from "./report";
import { skipped } from "./report";

/** Atlas's `errorCode` for a caller outside the API access list of the key or service account. */
export const ACCESS_LIST_ERROR_CODE = "IP_ADDRESS_NOT_ON_ACCESS_LIST";

/** What the Atlas checks work with. */
export interface AtlasChecks {
  readonly config: ArchiverConfig;
  readonly dispatcher: Dispatcher;
  readonly credentials: AtlasCredentials | CredentialsSource;
  /** "now": the probe window is the last minute of the latest due window before it. */
  readonly nowMs: number;
  readonly bounds: DoctorBounds;
  /** @default the system clock */
  readonly clock?: Clock;
}

/** How one Atlas call ended, for the access-list check. */
type CallOutcome =
  | { readonly type: "answered" }
  | { readonly type: "access-list"; readonly detail: string }
  | { readonly type: "unknown" };

/**
 * The probe window: the last `probeWindowMs` of the latest due window (past its lag, so Atlas has
 * its log), or of the window before now when none is due yet.
 */
export function probeWindow(config: ArchiverConfig, nowMs: number, lengthMs: number): TimeWindow {
  const due = dueWindows(nowMs, config.window);
  const endMs = due.at(-1)?.endMs ?? Math.floor(nowMs / 60_000) * 60_000 - config.window.lagMinutes * 60_000;
  return { startMs: endMs - Math.min(lengthMs, config.window.minutes * 60_000), endMs };
}

/** Whether `err` is Atlas refusing the caller's IP address (the API access list). */
function isAccessList(err: unknown): err is AtlasError {
  return (
    err instanceof AtlasError &&
    err.status === 403 &&
    (err.atlasErrorCode === ACCESS_LIST_ERROR_CODE ||
      /\bIP address\b.*\bnot allowed\b/i.test(err.detail ?? ""))
  );
}

/** What the caller's kind of credentials is called, or undefined when they cannot be read. */
async function kindOf(
  credentials: AtlasCredentials | CredentialsSource,
): Promise<AtlasCredentials["kind"] | { readonly error: unknown }> {
  try {
    return "kind" in credentials ? credentials.kind : (await credentials.current()).kind;
  } catch (error) {
    return { error };
  }
}

/** `Atlas answered 403 CODE: detail` or the error's own code and message. */
function describeFailure(err: unknown): { detail: string; code: string } {
  if (err instanceof AtlasError && err.status !== undefined) {
    const code = err.atlasErrorCode ?? err.code;
    return { detail: `Atlas answered ${err.status} ${code}${err.detail ? `: ${err.detail}` : ""}`, code };
  }
  if (err instanceof ArchiverError) return { detail: `${err.code}: ${err.message}`, code: err.code };
  const name = (err as { name?: string } | null)?.name ?? "Error";
  return { detail: `${name}: ${err instanceof Error ? err.message : String(err)}`, code: name };
}

/** A failed call as a check's result, with the fix for what Atlas said. */
function failure(
  id: "credentials" | "workspace",
  subject: string,
  err: unknown,
  timedOut: boolean,
  bounds: DoctorBounds,
  workspace?: Workspace,
): CheckResult {
  // The client's own bound on the call (the deadline given) or the doctor's signal: either way, silence.
  if (timedOut || err instanceof AtlasTimeoutError) {
    return {
      id,
      subject,
      status: "fail",
      code: "DOCTOR_TIMEOUT",
      detail: `no answer from Atlas within ${bounds.atlasCallMs / 1000} s`,
      fix: "check atlas.baseUrl (ATLAS_BASE_URL), and the network path to Atlas: DNS, proxy, the VPC's NAT gateway",
    };
  }
  const { detail, code } = describeFailure(err);
  const status = err instanceof AtlasError ? err.status : undefined;
  const where = workspace ? `project ${workspace.groupId}` : "the project";
  const fix = isAccessList(err)
    ? "add this caller's public IP address to the API access list of the service account or API key (see the access-list line)"
    : err instanceof AtlasUnauthorizedError || err instanceof AtlasCredentialsError
      ? "check the credentials: a service account's client id and secret (ATLAS_CLIENT_ID/ATLAS_CLIENT_SECRET) or an API key's public and private key, not expired or revoked; in a secret, the JSON the README shows"
      : status === 403
        ? `give the service account or API key one of these roles on ${where}: ${REQUIRED_ROLES}`
        : status === 404
          ? `check groupId and tenantName in the parameter file against the Atlas UI (Stream Processing): Atlas has no such workspace`
          : "see the message; the run would meet the same problem";
  return { id, subject, status: "fail", code, detail, fix };
}

/**
 * Downloads the probe window of `workspace` and reads at most `bounds.probeBytes` of it, all
 * discarded. Resolves to the bytes read and whether the log was longer.
 */
async function probe(
  atlas: AtlasClient,
  workspace: Workspace,
  window: TimeWindow,
  signal: AbortSignal,
  deadlineMs: number,
  limit: number,
): Promise<{ bytes: number; cut: boolean }> {
  const log = await atlas.download(workspace, window, { signal, deadlineMs });
  let bytes = 0;
  for await (const chunk of log.body) {
    bytes += (chunk as Buffer).length;
    if (bytes >= limit) {
      log.body.destroy();
      return { bytes, cut: true };
    }
  }
  return { bytes, cut: false };
}

/**
 * Checks the credentials, every configured workspace and the access list, recording one line
 * each. The client it builds retries within {@link DoctorBounds.atlasCallMs} only, and is closed
 * at the end (a service account's token is revoked).
 */
export async function checkAtlas(input: AtlasChecks, recorder: CheckRecorder): Promise<void> {
  const { config, bounds } = input;
  const clock = input.clock;
  const now = clock ? () => clock.now() : Date.now;
  const atlas = createAtlasClient({
    baseUrl: config.atlas.baseUrl,
    apiVersion: config.atlas.apiVersion,
    dispatcher: input.dispatcher,
    credentials: input.credentials,
    retry: { maxTotalMs: bounds.atlasCallMs },
    ...(clock ? { clock } : {}),
  });
  const window = probeWindow(config, input.nowMs, bounds.probeWindowMs);
  const outcomes: CallOutcome[] = [];
  const bounded = () => {
    const signal = AbortSignal.timeout(bounds.atlasCallMs);
    return { signal, deadlineMs: now() + bounds.atlasCallMs };
  };
  const note = (err: unknown) =>
    outcomes.push(
      isAccessList(err)
        ? { type: "access-list", detail: err.detail ?? err.message }
        : err instanceof AtlasError && err.status !== undefined && err.status !== 401
          ? { type: "answered" }
          : { type: "unknown" },
    );
  try {
    const kind = await kindOf(input.credentials);
    // A service account: its token request. An API key: the Digest round trip of the first
    // workspace's probe (a challenge, then the signed request), whose answer says whether Atlas
    // took the key.
    let credentialsOk = false;
    let first: { result: CheckResult; ms: number } | undefined;
    const credentials = await recorder.run(async (): Promise<CheckResult> => {
      const subject =
        typeof kind === "string" ? (kind === "api-key" ? "API key" : "service account") : "credentials";
      if (typeof kind !== "string") return failure("credentials", subject, kind.error, false, bounds);
      const { signal, deadlineMs } = bounded();
      if (kind === "service-account") {
        try {
          await atlas.prepare(signal);
          credentialsOk = true;
          return {
            id: "credentials",
            subject,
            status: "ok",
            detail: `Atlas issued an access token (${config.atlas.baseUrl})`,
          };
        } catch (err) {
          note(err);
          return failure("credentials", subject, err, signal.aborted, bounds);
        }
      }
      const startedMs = now();
      const { result, error } = await probeWorkspace(config.workspaces[0] as Workspace, signal, deadlineMs);
      first = { result, ms: now() - startedMs };
      const refused = error instanceof AtlasUnauthorizedError || error instanceof AtlasCredentialsError;
      if (refused || result.code === "DOCTOR_TIMEOUT") return { ...result, id: "credentials", subject };
      credentialsOk = true;
      return {
        id: "credentials",
        subject,
        status: "ok",
        detail: `Atlas accepted the Digest response (${config.atlas.baseUrl})`,
      };
    });

    async function probeWorkspace(
      workspace: Workspace,
      signal: AbortSignal,
      deadlineMs: number,
    ): Promise<{ result: CheckResult; error?: unknown }> {
      const subject = `workspace ${workspaceLabel(workspace)}`;
      try {
        const read = await probe(atlas, workspace, window, signal, deadlineMs, bounds.probeBytes);
        outcomes.push({ type: "answered" });
        const size = read.cut ? `the first ${read.bytes} bytes (the rest not read)` : `${read.bytes} bytes`;
        return {
          result: {
            id: "workspace",
            subject,
            status: "ok",
            detail: `downloaded the window ${formatWindow(window)}: ${size} of gzip, read and discarded, not stored`,
          },
        };
      } catch (err) {
        note(err);
        return { result: failure("workspace", subject, err, signal.aborted, bounds, workspace), error: err };
      }
    }

    const results: ({ result: CheckResult; ms: number } | undefined)[] = config.workspaces.map(
      () => undefined,
    );
    if (credentialsOk) {
      await forEachLimited([...config.workspaces.keys()], bounds.workspaceConcurrency, async (i) => {
        const workspace = config.workspaces[i] as Workspace;
        if (i === 0 && first) {
          results[i] = first;
          return;
        }
        const startedMs = now();
        const { signal, deadlineMs } = bounded();
        const { result } = await probeWorkspace(workspace, signal, deadlineMs);
        results[i] = { result, ms: now() - startedMs };
      });
    }
    for (const [i, workspace] of config.workspaces.entries()) {
      const done = results[i];
      if (done) recorder.add(done.result, done.ms);
      else
        recorder.add(
          skipped("workspace", `workspace ${workspaceLabel(workspace)}`, `the ${credentials.subject} failed`),
        );
    }
    recorder.add(accessList(outcomes, credentials.status === "fail"));
  } finally {
    await atlas.close();
  }
}

/** The access-list line, from how Atlas answered the calls before it. */
function accessList(outcomes: readonly CallOutcome[], credentialsFailed: boolean): CheckResult {
  const subject = "Atlas API access list";
  const refused = outcomes.find((o) => o.type === "access-list");
  if (refused?.type === "access-list") {
    return {
      id: "access-list",
      subject,
      status: "fail",
      code: ACCESS_LIST_ERROR_CODE,
      detail: `Atlas refuses this caller's IP address (${ACCESS_LIST_ERROR_CODE}: ${refused.detail})`,
      fix:
        "add that address to the API access list of the service account or API key (Atlas: Organization, Access " +
        "Manager, Applications, the account's API Access List); for the Lambda functions, the stack's fixed egress IP " +
        "(egressEipAllocationId)",
    };
  }
  if (outcomes.some((o) => o.type === "answered")) {
    return {
      id: "access-list",
      subject,
      status: "ok",
      detail: "Atlas accepts calls from this caller's IP address",
    };
  }
  return skipped(
    "access-list",
    subject,
    credentialsFailed ? "the credentials failed" : "no Atlas call got an answer",
  );
}
