/** `atlas-audit-archiver run`: archives every due window that is missing from S3 (or a historical range). */
import { randomBytes } from "node:crypto";
import { KMSClient } from "@aws-sdk/client-kms";
import { archiveRun, DEFAULT_RUN_SETTINGS } from "../../../lambda/archive/run";
import {
  compactUtc,
  DEFAULT_CONFIG_PATH,
  loadConfig,
  rateIntervalMinutes,
  validateConfig,
} from "../../../lambda/config";
import { kmsSigner } from "../../../lambda/digest/kms";
import { type SealEvent, type SealSummary, sealDates, sealDigests } from "../../../lambda/digest/seal";
import { createRuntime } from "../../../lambda/runtime";
import { boundedRequestHandler } from "../../../lambda/s3-client";
import {
  JSON_OPTION,
  MAX_RUN_RANGE_DAYS,
  type OptionValues,
  parseNow,
  parseRunRange,
  runBucket,
  stringOptions,
  usageError,
} from "../command";
import { credentialsFromEnv } from "../credentials";
import { describeEvent, describeRetry, describeSummary } from "../format/run";
import { ATLAS_ROWS, AWS_ROWS, formatHelp, jsonRow, NOW_ROW, RANGE_TEXT } from "../help";
import type { CliIo } from "../io";

export const summary = "Archive every due window that is missing from S3 (or a historical range).";

export const options = {
  ...stringOptions("config", "now", "from", "to", "secret-id", "concurrency", "lanes", "digest-key"),
  ...JSON_OPTION,
};

/** The most downloads in flight, and lanes per project, that `--concurrency` and `--lanes` accept. */
const MAX_CONCURRENCY = 64;

export const help = formatHelp({
  usage:
    "run [--config FILE] [--now INSTANT] [--from DATE --to DATE] [--secret-id ID] [--digest-key ARN] [--json]",
  summary,
  options: [
    ["--config FILE", `Parameter file (default ${DEFAULT_CONFIG_PATH})`],
    NOW_ROW,
    [
      "--from, --to",
      `Archive the due windows overlapping the range instead of the lookback (both together, at most ${MAX_RUN_RANGE_DAYS} days): ${RANGE_TEXT}`,
    ],
    ["--secret-id ID", "Read Atlas credentials from this Secrets Manager secret (name or ARN)"],
    [
      "--concurrency N",
      `Downloads at once, 1 to ${MAX_CONCURRENCY} (default ${DEFAULT_RUN_SETTINGS.concurrency})`,
    ],
    [
      "--lanes N",
      `Downloads at once per Atlas project, 1 to ${MAX_CONCURRENCY} (default ${DEFAULT_RUN_SETTINGS.lanesPerProject}): raise it when Atlas's rate limit allows`,
    ],
    [
      "--digest-key ARN",
      "Seal the complete days of the run into signed digests with this KMS key (ECC_NIST_P256); default DIGEST_KEY_ARN",
    ],
    jsonRow("the run summary"),
  ],
  environment: [...ATLAS_ROWS, ...AWS_ROWS],
  exitStatus:
    "0 when every due window (of the lookback, or of the range) is archived, 1 when a window failed " +
    "or was left undone (Atlas asked to wait longer than a call may) or a day could not be sealed, 2 on a usage or configuration " +
    "error or credentials that Atlas or Secrets Manager refuse.",
});

export async function run(values: OptionValues<typeof options>, io: CliIo): Promise<number> {
  const { env } = io;
  const nowMs = parseNow(values.now, io);
  const concurrency = count(values.concurrency, "concurrency", DEFAULT_RUN_SETTINGS.concurrency);
  const lanesPerProject = count(values.lanes, "lanes", DEFAULT_RUN_SETTINGS.lanesPerProject);
  const range = parseRunRange(values);

  const loaded = await loadConfig(values.config ?? DEFAULT_CONFIG_PATH);
  // The override goes through the same validation as the file (https, or http to loopback only).
  const config = env.ATLAS_BASE_URL
    ? validateConfig({ ...loaded, atlas: { ...loaded.atlas, baseUrl: env.ATLAS_BASE_URL } }, "ATLAS_BASE_URL")
    : loaded;
  const bucket = runBucket(env, config);
  const secretId = values["secret-id"];
  const credentials = secretId ? undefined : credentialsFromEnv(env);
  const origin = secretId ? { secretId } : credentials && { credentials };
  if (!origin) {
    throw usageError(
      "secret-id",
      (n) =>
        "No Atlas credentials: set ATLAS_CLIENT_ID and ATLAS_CLIENT_SECRET (service account), or " +
        `ATLAS_PUBLIC_KEY and ATLAS_PRIVATE_KEY (API key), or pass ${n("secret-id")}.`,
    );
  }
  const runtime = createRuntime(origin, env);
  const atlas = runtime.atlasClient(config, (e) => io.stderr.write(`${describeRetry(e)}\n`));
  try {
    // Credentials first (the secret read, a service account's token): a problem with them is
    // reported once, with exit status 2, not once per window.
    await atlas.prepare();
    const result = await archiveRun({
      config,
      bucket,
      atlas,
      s3: runtime.s3,
      nowMs,
      runId: `cli-${compactUtc(io.now())}-${randomBytes(3).toString("hex")}`,
      clock: io.now,
      ...(range ? { range } : {}),
      ...previousRun(config.schedule, nowMs, range !== undefined),
      // One process with no deadline: the whole lookback or range, however many windows.
      settings: { concurrency, lanesPerProject },
      onEvent: (event) => io.stderr.write(`${describeEvent(event)}\n`),
    });
    const digests = await seal(values["digest-key"] || env.DIGEST_KEY_ARN, {
      config,
      bucket,
      s3: runtime.s3,
      nowMs,
      range,
      // A range's days are out of the lookback: sealed now, a window that failed would be sealed
      // as missing for good. They are sealed by the run that archives all of them.
      complete: range === undefined || (result.ok && result.totals.deferred === 0),
      io,
    });
    io.stderr.write(`${describeSummary(result)}\n`);
    if (values.json) io.stdout.write(`${JSON.stringify(digests ? { ...result, digests } : result)}\n`);
    return result.ok && result.totals.deferred === 0 && result.totals.expired === 0 && !digests?.failed
      ? 0
      : 1;
  } finally {
    await atlas.close();
    await runtime.close();
  }
}

/**
 * Seals the run's complete days (those of its lookback or range, see `digest/seal.ts`) with the
 * KMS key `keyArn`, one stderr line per day sealed or not; without a key, one line saying so.
 */
async function seal(
  keyArn: string | undefined,
  run: {
    readonly config: Parameters<typeof sealDigests>[0]["config"];
    readonly bucket: string;
    readonly s3: Parameters<typeof sealDigests>[0]["s3"];
    readonly nowMs: number;
    readonly range: { readonly fromMs: number; readonly toMs: number } | undefined;
    readonly complete: boolean;
    readonly io: CliIo;
  },
): Promise<SealSummary | undefined> {
  const { config, nowMs, range, io } = run;
  if (!keyArn) {
    io.stderr.write("digests: the run's days are not sealed (no --digest-key or DIGEST_KEY_ARN)\n");
    return undefined;
  }
  if (!run.complete) {
    io.stderr.write(
      "digests: the range's days are not sealed: a window failed or was left undone; run the range again\n",
    );
    return undefined;
  }
  const kms = new KMSClient({ requestHandler: boundedRequestHandler() });
  try {
    const digests = await sealDigests({
      config,
      bucket: run.bucket,
      s3: run.s3,
      signer: kmsSigner(kms, keyArn),
      nowMs,
      dates: sealDates(config.window, nowMs, {
        ...(range ? { range } : {}),
        ...previousRun(config.schedule, nowMs, range !== undefined),
      }),
      clock: io.now,
      onEvent: (event) => {
        const line = describeSealEvent(event);
        if (line) io.stderr.write(`${line}\n`);
      },
    });
    io.stderr.write(
      `digests: ${digests.sealed} sealed, ${digests.alreadySealed} already sealed, ${digests.waiting} waiting, ` +
        `${digests.failed} failed\n`,
    );
    return digests;
  } finally {
    kms.destroy();
  }
}

/** One stderr line for a day's sealing (none for a day sealed before). */
function describeSealEvent(event: SealEvent): string | undefined {
  switch (event.type) {
    case "sealed": {
      const w = event.windows;
      return (
        `SEALED ${event.workspace} ${event.date} #${event.sequence}: ${w.archived} archived, ${w.empty} empty, ` +
        `${w.missing} missing, ${w.unreceipted} unreceipted (${event.key})`
      );
    }
    case "waiting":
      return `not sealed yet ${event.workspace} ${event.date}: ${event.reason}`;
    case "skipped":
      return `not sealed ${event.workspace} ${event.date}: ${event.reason}`;
    case "failed":
      return `DIGEST FAILED ${event.workspace} ${event.date}: ${event.code}: ${event.message}`;
    case "deferred":
      return `not sealed ${event.workspace}: ${event.days} days left for the next run`;
    default:
      return undefined;
  }
}

/** A `--concurrency` or `--lanes` value: a whole number from 1 to {@link MAX_CONCURRENCY}. */
function count(value: string | undefined, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (/^[0-9]{1,3}$/.test(value) && Number(value) >= 1 && Number(value) <= MAX_CONCURRENCY)
    return Number(value);
  throw usageError(
    field,
    (n) =>
      `${n(field)} ${JSON.stringify(value.slice(0, 20))} must be a whole number from 1 to ${MAX_CONCURRENCY}.`,
  );
}

/**
 * For a lookback run on a `rate(...)` schedule: when the previous scheduled run was, so that the
 * windows that left the lookback since then unarchived are reported (and exit 1), as the
 * function reports them.
 */
function previousRun(schedule: string, nowMs: number, isRange: boolean): { previousRunMs?: number } {
  const minutes = isRange ? undefined : rateIntervalMinutes(schedule);
  return minutes === undefined ? {} : { previousRunMs: nowMs - minutes * 60_000 };
}
