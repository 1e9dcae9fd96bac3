/**
 * `atlas-audit-archiver`: the command line. Thin: it parses arguments, builds the clients from
 * the environment, calls the core, and prints.
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import type { S3Client } from "@aws-sdk/client-s3";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { archiveRun, type RunEvent, type RunSummary } from "../lambda/archive/run";
import { type AtlasCredentials, parseAtlasCredentials } from "../lambda/atlas/auth";
import { createAtlasClient } from "../lambda/atlas/client";
import { createAtlasDispatcher } from "../lambda/atlas/dispatcher";
import { AtlasCredentialsError } from "../lambda/atlas/errors";
import { DEFAULT_CONFIG_PATH, loadConfig, parseConfig } from "../lambda/config";
import { compactUtc } from "../lambda/config/layout";
import { ArchiverError } from "../lambda/errors";
import { parseInstant, parseRange, type TimeRange } from "../lambda/range";
import { catLogs } from "../lambda/reader/cat";
import { isReaderSetupProblem } from "../lambda/reader/errors";
import { formatProgress, getObjects, prepareOutputDirectory } from "../lambda/reader/get";
import { listArchive } from "../lambda/reader/listing";
import { formatBytes, formatListReport, listWindows } from "../lambda/reader/ls";
import { checkSelection, type ReaderTarget, resolveTarget } from "../lambda/reader/target";
import { formatVerifyReport, verifyArchive } from "../lambda/reader/verify";
import { createS3Client } from "../lambda/s3-client";
import { SecretCredentials } from "../lambda/secrets";

const USAGE = `Usage: atlas-audit-archiver <command> [options]

Commands:
  run     Archive every due window that is missing from S3 (or a historical range).
  ls      List the archived windows of a group (or tenant) with their size, and the gaps.
  cat     Print the decompressed log lines of one workspace over a range, in time order.
  get     Download archived objects to a directory (resumable), keeping the key layout.
  verify  Re-read archived objects and check their gzip integrity and checksum metadata.

Options of run:
  --config FILE      Parameter file (default ${DEFAULT_CONFIG_PATH})
  --now INSTANT      Treat this instant as now (default: the current time): ISO 8601 with
                     its zone, e.g. 2026-11-28T13:00:00Z or 2026-11-28T14:00:00+01:00
  --from D --to D    Archive the due windows overlapping the range instead of the lookback
                     (both together; dates and instants as for the readers below; at most 366 days)
  --secret-id ID     Read Atlas credentials from this Secrets Manager secret (name or ARN)
  --json             Print the run summary as one JSON object on stdout
  -h, --help         Show this help

Options of ls, cat, get and verify:
  ls     --group G [--tenant T] [--from DATE] [--to DATE] [--now INSTANT] [--json]
  cat    --group G --tenant T [--sp NAME] --from DATE --to DATE
  get    --group G [--tenant T] --from DATE --to DATE --out DIR [--json]
  verify [--group G] [--from DATE --to DATE] [--json]
  --config FILE      Parameter file: bucket, prefix, window settings, workspaces
                     (default ${DEFAULT_CONFIG_PATH} when it exists)
  --bucket NAME      The archive bucket (wins over ARCHIVE_BUCKET and archive.bucket)
  --prefix PREFIX    The archive prefix (wins over archive.prefix)
  --from, --to       YYYY-MM-DD (whole UTC days, --to included) or ISO 8601 instants with a zone
                     (--to excluded), years 1970 through 9999; every window overlapping the range
                     is read. ls defaults to the lookback; ls exits 1 when a due window in the
                     range has no object.
  --sp NAME          cat: this stream processor's log (default: the whole workspace's log)
  --out DIR          get: where to write (DIR/group=.../tenant=.../date=.../file)

Environment:
  ATLAS_CLIENT_ID + ATLAS_CLIENT_SECRET   service account credentials (recommended), or
  ATLAS_PUBLIC_KEY + ATLAS_PRIVATE_KEY    API key credentials (HTTP Digest)
  ATLAS_BASE_URL     overrides atlas.baseUrl of the parameter file
  ARCHIVE_BUCKET     overrides archive.bucket of the parameter file
  AWS_REGION, AWS_PROFILE, ...            the AWS SDK's usual configuration
  AWS_ENDPOINT_URL_S3                     an S3-compatible endpoint (path-style addressing)

Exit status: 0 when nothing failed, 1 when a window failed (run), a gap was found (ls), an object
was bad (verify) or could not be fetched (get), 2 on a usage or configuration error, a missing
bucket or denied access.`;

/** A problem with how the command was called: printed with the usage hint, exit status 2. */
class UsageError extends ArchiverError {
  constructor(message: string) {
    super("CLI_USAGE", message);
  }
}

/** `--now`: an ISO 8601 instant with its zone (see lambda/range.ts), or the current time. */
function parseNow(value: string | undefined): number {
  return value === undefined ? Date.now() : parseInstant(value, "--now");
}

/** Atlas credentials from the environment, or undefined when none are set. */
export function credentialsFromEnv(env: NodeJS.ProcessEnv): AtlasCredentials | undefined {
  const pairs = [
    ["ATLAS_CLIENT_ID", "ATLAS_CLIENT_SECRET"],
    ["ATLAS_PUBLIC_KEY", "ATLAS_PRIVATE_KEY"],
  ] as const;
  for (const [a, b] of pairs) {
    if (Boolean(env[a]) !== Boolean(env[b])) {
      throw new AtlasCredentialsError(`${env[a] ? a : b} is set but ${env[a] ? b : a} is not: set both.`);
    }
  }
  if (env.ATLAS_CLIENT_ID) {
    return parseAtlasCredentials(
      { clientId: env.ATLAS_CLIENT_ID, clientSecret: env.ATLAS_CLIENT_SECRET },
      "env",
    );
  }
  if (env.ATLAS_PUBLIC_KEY) {
    return parseAtlasCredentials(
      { publicKey: env.ATLAS_PUBLIC_KEY, privateKey: env.ATLAS_PRIVATE_KEY },
      "env",
    );
  }
  return undefined;
}

/**
 * An S3 client from the SDK's standard environment, with the archiver's request timeouts;
 * path-style for S3-compatible endpoints.
 */
function s3FromEnv(env: NodeJS.ProcessEnv): S3Client {
  return createS3Client({ forcePathStyle: Boolean(env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL) });
}

/** One human-readable progress line per event. */
export function describeEvent(event: RunEvent): string {
  switch (event.type) {
    case "planned":
      return `${event.workspace}: ${event.due} due window(s), ${event.missing} missing`;
    case "archived":
      return `  + ${event.window} ${formatBytes(event.bytes)}, ${event.lines} line(s) -> ${event.key}`;
    case "already-present":
      return `  = ${event.window} already archived by another run`;
    case "failed":
      return `  ! ${event.window} FAILED ${event.code}: ${event.message}`;
    case "deferred":
      return `  … ${event.windows} window(s) left for the next run (${event.reason}${event.detail ? `: ${event.detail}` : ""})`;
  }
}

/** The closing summary for people. */
export function describeSummary(summary: RunSummary): string {
  const t = summary.totals;
  const lines = [
    `Run ${summary.runId} at ${summary.now} into s3://${summary.bucket}/${summary.prefix}`,
    `  archived ${t.archived} (${formatBytes(t.bytes)}), already present ${t.alreadyPresent}, failed ${t.failed}, ` +
      `deferred ${t.deferred}, of ${t.due} due, in ${(summary.durationMs / 1000).toFixed(1)} s`,
  ];
  for (const w of summary.workspaces.filter((w) => w.failed.length > 0)) {
    lines.push(`  ${w.workspace}: ${w.failed.length} failed`);
    for (const f of w.failed.slice(0, 5)) lines.push(`    ${f.window} ${f.code}`);
    if (w.failed.length > 5) lines.push(`    … and ${w.failed.length - 5} more`);
  }
  lines.push(
    !summary.ok
      ? "FAILED: the next run retries the failed windows."
      : t.deferred > 0
        ? `INCOMPLETE: ${t.deferred} window(s) deferred; run again to archive them.`
        : "OK",
  );
  return lines.join("\n");
}

async function run(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: "string" },
      now: { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      "secret-id": { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const nowMs = parseNow(values.now);
  // The readers' rules: dates are whole UTC days (a --to date included), instants need a zone.
  // At most 366 days (archiveRun checks it too), refused here before anything is read or asked.
  const range =
    values.from !== undefined || values.to !== undefined
      ? parseRange({ from: values.from, to: values.to }, { required: true, maxSpanMs: 366 * 86_400_000 })
      : undefined;

  const loaded = await loadConfig(values.config ?? DEFAULT_CONFIG_PATH);
  // The override goes through the same validation as the file (https, or http to loopback only).
  const config = env.ATLAS_BASE_URL
    ? parseConfig(
        JSON.stringify({ ...loaded, atlas: { ...loaded.atlas, baseUrl: env.ATLAS_BASE_URL } }),
        "ATLAS_BASE_URL",
      )
    : loaded;
  const bucket = env.ARCHIVE_BUCKET || config.archive.bucket;
  if (!bucket) {
    throw new UsageError(
      "No bucket: set archive.bucket in the parameter file or the ARCHIVE_BUCKET variable.",
    );
  }
  const secretId = values["secret-id"];
  const credentials = secretId
    ? new SecretCredentials(new SecretsManagerClient({}), secretId)
    : credentialsFromEnv(env);
  if (!credentials) {
    throw new UsageError(
      "No Atlas credentials: set ATLAS_CLIENT_ID and ATLAS_CLIENT_SECRET (service account), or " +
        "ATLAS_PUBLIC_KEY and ATLAS_PRIVATE_KEY (API key), or pass --secret-id.",
    );
  }
  const dispatcher = createAtlasDispatcher();
  const atlas = createAtlasClient({
    baseUrl: config.atlas.baseUrl,
    apiVersion: config.atlas.apiVersion,
    dispatcher,
    credentials,
    onRetry: (e) =>
      process.stderr.write(`  ~ ${e.what}: ${e.reason}, retrying in ${(e.delayMs / 1000).toFixed(1)} s\n`),
  });
  const s3 = s3FromEnv(env);
  try {
    // Credentials first (the secret read, a service account's token): a problem with them is
    // reported once, with exit status 2, not once per window.
    await atlas.prepare();
    const summary = await archiveRun({
      config,
      bucket,
      atlas,
      s3,
      nowMs,
      runId: `cli-${compactUtc(Date.now())}-${randomBytes(3).toString("hex")}`,
      ...(range ? { range } : {}),
      onEvent: (event) => process.stderr.write(`${describeEvent(event)}\n`),
    });
    process.stderr.write(`${describeSummary(summary)}\n`);
    if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    return summary.ok ? 0 : 1;
  } finally {
    await atlas.close();
    await dispatcher.close();
    s3.destroy();
  }
}

/** The options each reader command accepts, besides the common ones. */
const READER_COMMANDS = {
  ls: ["group", "tenant", "from", "to", "now", "json"],
  cat: ["group", "tenant", "sp", "from", "to"],
  get: ["group", "tenant", "from", "to", "out", "json"],
  verify: ["group", "from", "to", "json"],
} as const;
type ReaderCommand = keyof typeof READER_COMMANDS;

interface ReaderValues {
  config?: string;
  bucket?: string;
  prefix?: string;
  group?: string;
  tenant?: string;
  sp?: string;
  from?: string;
  to?: string;
  now?: string;
  out?: string;
  json?: boolean;
  help?: boolean;
}

function parseReaderArgs(command: ReaderCommand, args: string[]): ReaderValues {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {
    config: { type: "string" },
    bucket: { type: "string" },
    prefix: { type: "string" },
    help: { type: "boolean", short: "h" },
  };
  for (const name of READER_COMMANDS[command])
    options[name] = { type: name === "json" ? "boolean" : "string" };
  const { values } = parseArgs({ args, options, strict: true, allowPositionals: false });
  return values as ReaderValues;
}

function required<T>(value: T | undefined, flag: string, command: string): T {
  if (value === undefined) throw new UsageError(`${command} needs ${flag}.`);
  return value;
}

/** ls, cat, get, verify: read the archive. */
async function read(command: ReaderCommand, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const values = parseReaderArgs(command, args);
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  checkSelection(values);
  const nowMs = parseNow(values.now);
  const target = await resolveTarget({
    config: values.config,
    bucket: values.bucket,
    prefix: values.prefix,
    envBucket: env.ARCHIVE_BUCKET,
  });
  const s3 = s3FromEnv(env);
  try {
    switch (command) {
      case "ls":
        return await ls(s3, target, values, nowMs);
      case "cat":
        return await cat(s3, target, values, nowMs);
      case "get":
        return await get(s3, target, values, nowMs);
      case "verify":
        return await verify(s3, target, values, nowMs);
    }
  } finally {
    s3.destroy();
  }
}

function rangeOf(values: ReaderValues, nowMs: number, target: ReaderTarget, isRequired: boolean): TimeRange {
  return parseRange(values, {
    nowMs,
    fallbackSpanMs: target.window.lookbackHours * 3_600_000,
    required: isRequired,
  });
}

async function ls(s3: S3Client, target: ReaderTarget, values: ReaderValues, nowMs: number): Promise<number> {
  const groupId = required(values.group, "--group G", "ls");
  const explicit = values.from !== undefined || values.to !== undefined;
  const report = await listWindows({
    s3,
    location: target,
    groupId,
    ...(values.tenant === undefined ? {} : { tenantName: values.tenant }),
    ...(explicit ? { range: rangeOf(values, nowMs, target, false) } : {}),
    nowMs,
    window: target.window,
    expected: target.workspaces,
  });
  process.stdout.write(`${values.json ? JSON.stringify(report) : formatListReport(report)}\n`);
  return report.ok ? 0 : 1;
}

async function cat(s3: S3Client, target: ReaderTarget, values: ReaderValues, nowMs: number): Promise<number> {
  const groupId = required(values.group, "--group G", "cat");
  const tenantName = required(values.tenant, "--tenant T", "cat");
  const range = rangeOf(values, nowMs, target, true);
  // A reader that goes away (\`| head\`) makes stdout fail with EPIPE; that ends the output quietly.
  process.stdout.on("error", () => {});
  const result = await catLogs({
    s3,
    location: target,
    groupId,
    tenantName,
    ...(values.sp === undefined ? {} : { spName: values.sp }),
    range,
    out: process.stdout,
  });
  if (result.objects === 0 && !result.closed) {
    process.stderr.write(`No archived window of ${groupId}/${tenantName} in this range.\n`);
  }
  return 0;
}

async function get(s3: S3Client, target: ReaderTarget, values: ReaderValues, nowMs: number): Promise<number> {
  const groupId = required(values.group, "--group G", "get");
  const outDir = required(values.out, "--out DIR", "get");
  const range = rangeOf(values, nowMs, target, true);
  // Before anything is listed or downloaded: an unusable --out is a usage problem (exit 2).
  await prepareOutputDirectory(outDir);
  const { objects } = await listArchive(s3, target, {
    groupId,
    ...(values.tenant === undefined ? {} : { tenantName: values.tenant }),
    range,
  });
  // One updating line on a terminal, redrawn at most every 100 ms; nothing when stderr is a file or pipe.
  const tty = process.stderr.isTTY === true;
  let drawnAt = 0;
  const report = await getObjects({
    s3,
    location: target,
    objects,
    outDir,
    onProgress: (p) => {
      const now = Date.now();
      if (!tty || (now - drawnAt < 100 && p.files < p.totalFiles)) return;
      drawnAt = now;
      process.stderr.write(`\r${formatProgress(p)}\x1b[K`);
    },
  });
  if (tty) process.stderr.write("\n");
  for (const f of report.failed) process.stderr.write(`FAILED ${f.key}: ${f.reason}\n`);
  process.stderr.write(
    `${report.downloaded.length} downloaded (${formatBytes(report.bytes)}), ${report.skipped.length} already present, ` +
      `${report.failed.length} failed, into ${outDir}\n`,
  );
  if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
  return report.ok ? 0 : 1;
}

async function verify(
  s3: S3Client,
  target: ReaderTarget,
  values: ReaderValues,
  nowMs: number,
): Promise<number> {
  const explicit = values.from !== undefined || values.to !== undefined;
  const report = await verifyArchive({
    s3,
    location: target,
    ...(values.group === undefined ? {} : { groupId: values.group }),
    ...(explicit ? { range: rangeOf(values, nowMs, target, true) } : {}),
  });
  process.stdout.write(`${values.json ? JSON.stringify(report) : formatVerifyReport(report)}\n`);
  return report.ok ? 0 : 1;
}

/** Runs the command line with `argv` (without node and script) and returns the exit status. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "run":
        return await run(rest, env);
      case "ls":
      case "cat":
      case "get":
      case "verify":
        return await read(command, rest, env);
      case undefined:
      case "-h":
      case "--help":
      case "help":
        process.stdout.write(`${USAGE}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`Unknown command ${JSON.stringify(command)}.`);
    }
  } catch (err) {
    if (err instanceof ArchiverError) {
      process.stderr.write(`atlas-audit-archiver: ${err.message}\n`);
      const usage =
        err instanceof UsageError ||
        err.code === "READER_USAGE" ||
        err.code === "RANGE_INVALID" ||
        err.code === "RUN_RANGE_INVALID";
      if (usage) process.stderr.write("Run atlas-audit-archiver --help for usage.\n");
      return err.code.startsWith("CONFIG_") ||
        usage ||
        isReaderSetupProblem(err) ||
        err.code.startsWith("ATLAS_CREDENTIALS") ||
        // Thrown (not in a run summary) only by the credentials check before the first window.
        err.code === "ATLAS_UNAUTHORIZED" ||
        err.code === "ATLAS_FORBIDDEN"
        ? 2
        : 1;
    }
    if (err instanceof TypeError && (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(
        `atlas-audit-archiver: ${err.message}\nRun atlas-audit-archiver --help for usage.\n`,
      );
      return 2;
    }
    throw err;
  }
}
