/**
 * `doctor`, pure: checks a setup in order, one line each, and says what to fix. The parameter
 * file; the Atlas credentials; each workspace (a probe download, not stored); the API access list;
 * the bucket (exists, region, encryption, versioning, Object Lock); write permission under the
 * prefix (nothing written); the digest key. Every check is bounded in time ({@link DoctorBounds});
 * a check whose premise failed is skipped, not run. Its clients come as arguments: the command
 * line and the worker function build them.
 */
import type { KMSClient } from "@aws-sdk/client-kms";
import type { S3Client } from "@aws-sdk/client-s3";
import type { Dispatcher } from "undici";
import type { AtlasCredentials, CredentialsSource } from "../atlas/auth";
import type { Clock } from "../atlas/retry";
import { type ArchiverConfig, workspaceLabel } from "../config";
import { ArchiverError } from "../errors";
import { checkAtlas } from "./atlas";
import { DEFAULT_DOCTOR_BOUNDS, type DoctorBounds } from "./bounds";
import { checkBucket } from "./bucket";
import { checkDigestKey } from "./kms";
import {
  CheckRecorder,
  type CheckResult,
  type DoctorCheck,
  type DoctorReport,
  doctorReport,
  skipped,
} from "./report";

export { DEFAULT_DOCTOR_BOUNDS, type DoctorBounds } from "./bounds";
export type { CheckId, CheckStatus, DoctorCheck, DoctorReport } from "./report";

/** What a doctor run checks, and with which clients. */
export interface DoctorRequest {
  /** What the configuration is called in its line, e.g. `parameter file config/workspaces.json`. */
  readonly configSubject: string;
  /** Reads and validates the configuration; a throw is the first check's failure. */
  readonly loadConfig: () => Promise<ArchiverConfig> | ArchiverConfig;
  /** The bucket, when it does not come from the configuration (`ARCHIVE_BUCKET`, the stack's). */
  readonly bucket?: string;
  /** The Atlas credentials; a throw (none set, half a pair) is the credentials check's failure. */
  readonly credentials: () => AtlasCredentials | CredentialsSource;
  readonly dispatcher: Dispatcher;
  readonly s3: S3Client;
  /** The digest key to check, or why there is none to check. */
  readonly digestKey: { readonly kms: KMSClient; readonly keyId: string } | { readonly absent: string };
  readonly nowMs: number;
  /** @default {@link DEFAULT_DOCTOR_BOUNDS} */
  readonly bounds?: Partial<DoctorBounds>;
  /** @default the system clock */
  readonly clock?: Clock;
  /** Each check's result as soon as it is known (the command line prints it then). */
  readonly onCheck?: (check: DoctorCheck) => void;
}

/** The first line when the configuration cannot be read or does not validate. */
function configFailure(subject: string, err: unknown): CheckResult {
  return {
    id: "config",
    subject,
    status: "fail",
    ...thrown(err),
    fix: "fix the configuration as the message says (the parameter file's schema: config/workspaces.schema.json)",
  };
}

/** The checks that need a configuration, skipped. */
function skippedAfterConfig(): CheckResult[] {
  const reason = "the configuration is unusable";
  return (
    [
      ["credentials", "credentials"],
      ["access-list", "Atlas API access list"],
      ["bucket", "bucket"],
      ["write", "write permission"],
      ["kms", "digest key"],
    ] as const
  ).map(([id, subject]) => skipped(id, subject, reason));
}

/**
 * The report when the configuration fails before any client can be built (a function whose
 * bundle or environment is broken): that line, and every other check skipped.
 */
export function configFailureReport(subject: string, err: unknown): DoctorReport {
  return doctorReport([
    { ...configFailure(subject, err), ms: 0 },
    ...skippedAfterConfig().map((c) => ({ ...c, ms: 0 })),
  ]);
}

/** The message and code of a thrown error, for a failing line. */
function thrown(err: unknown): { detail: string; code: string } {
  if (err instanceof ArchiverError) return { detail: err.message, code: err.code };
  return { detail: err instanceof Error ? err.message : String(err), code: "UNEXPECTED" };
}

/**
 * Runs every check in order and resolves to the report (ok when none failed). Never throws for
 * what it checks: each problem is a line.
 *
 * @example
 * ```ts
 * const report = await runDoctor({
 *   configSubject: "parameter file config/workspaces.json",
 *   loadConfig: () => loadConfig("config/workspaces.json"),
 *   credentials: () => credentials, dispatcher, s3, digestKey: { absent: "no --digest-key" }, nowMs: Date.now(),
 * });
 * report.ok; // false when a check failed; report.checks says which, and what to do
 * ```
 */
export async function runDoctor(request: DoctorRequest): Promise<DoctorReport> {
  const bounds: DoctorBounds = { ...DEFAULT_DOCTOR_BOUNDS, ...request.bounds };
  const clock = request.clock;
  const recorder = new CheckRecorder(clock ? () => clock.now() : Date.now, request.onCheck);
  let config: ArchiverConfig | undefined;
  await recorder.run(async (): Promise<CheckResult> => {
    try {
      config = await request.loadConfig();
    } catch (err) {
      return configFailure(request.configSubject, err);
    }
    const n = config.workspaces.length;
    return {
      id: "config",
      subject: request.configSubject,
      status: "ok",
      detail: `valid: ${n} workspace${n === 1 ? "" : "s"}, ${config.window.minutes}-minute windows, ${config.window.lookbackHours} h lookback, ${config.schedule}`,
    };
  });
  if (!config) {
    for (const check of skippedAfterConfig()) recorder.add(check);
    return doctorReport(recorder.checks);
  }
  const loaded: ArchiverConfig = config;

  let credentials: AtlasCredentials | CredentialsSource | undefined;
  try {
    credentials = request.credentials();
  } catch (err) {
    recorder.add({
      id: "credentials",
      subject: "credentials",
      status: "fail",
      ...thrown(err),
      fix: "set ATLAS_CLIENT_ID and ATLAS_CLIENT_SECRET (service account), or ATLAS_PUBLIC_KEY and ATLAS_PRIVATE_KEY (API key), or pass --secret-id",
    });
    for (const workspace of loaded.workspaces) {
      recorder.add(skipped("workspace", `workspace ${workspaceLabel(workspace)}`, "no credentials"));
    }
    recorder.add(skipped("access-list", "Atlas API access list", "no credentials"));
  }
  if (credentials) {
    await checkAtlas(
      {
        config: loaded,
        dispatcher: request.dispatcher,
        credentials,
        nowMs: request.nowMs,
        bounds,
        ...(clock ? { clock } : {}),
      },
      recorder,
    );
  }

  const bucket = request.bucket || loaded.archive.bucket;
  if (bucket) {
    await checkBucket(
      { s3: request.s3, bucket, prefix: loaded.archive.prefix, nowMs: request.nowMs, bounds },
      recorder,
    );
  } else {
    recorder.add({
      id: "bucket",
      subject: "bucket",
      status: "fail",
      code: "CLI_USAGE",
      detail: "no bucket is configured",
      fix: "set archive.bucket in the parameter file, or ARCHIVE_BUCKET (the stack's bucket name)",
    });
    recorder.add(skipped("write", "write permission", "no bucket"));
  }

  const key = request.digestKey;
  if ("absent" in key) recorder.add(skipped("kms", "digest key", key.absent));
  else await recorder.run(() => checkDigestKey(key.kms, key.keyId, bounds));
  return doctorReport(recorder.checks);
}
