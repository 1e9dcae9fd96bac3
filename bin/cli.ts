/**
 * `atlas-audit-archiver`: the command line. Thin: it parses arguments, builds the clients from
 * the environment, calls the core, and prints.
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { S3Client } from "@aws-sdk/client-s3";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { archiveRun, type RunEvent, type RunSummary } from "../lambda/archive/run";
import { type AtlasCredentials, parseAtlasCredentials } from "../lambda/atlas/auth";
import { createAtlasClient } from "../lambda/atlas/client";
import { createAtlasDispatcher } from "../lambda/atlas/dispatcher";
import { AtlasCredentialsError } from "../lambda/atlas/errors";
import { DEFAULT_CONFIG_PATH, loadConfig } from "../lambda/config";
import { compactUtc } from "../lambda/config/layout";
import { ArchiverError } from "../lambda/errors";
import { SecretCredentials } from "../lambda/secrets";

const USAGE = `Usage: atlas-audit-archiver <command> [options]

Commands:
  run     Archive every due window that is missing from S3 (or a historical range).

Options of run:
  --config FILE      Parameter file (default ${DEFAULT_CONFIG_PATH})
  --now ISO          Treat this instant as now (default: the current time)
  --from ISO --to ISO
                     Archive the due windows overlapping [from, to) instead of the lookback
  --secret-id ID     Read Atlas credentials from this Secrets Manager secret (name or ARN)
  --json             Print the run summary as one JSON object on stdout
  -h, --help         Show this help

Environment:
  ATLAS_CLIENT_ID + ATLAS_CLIENT_SECRET   service account credentials (recommended), or
  ATLAS_PUBLIC_KEY + ATLAS_PRIVATE_KEY    API key credentials (HTTP Digest)
  ATLAS_BASE_URL     overrides atlas.baseUrl of the parameter file
  ARCHIVE_BUCKET     overrides archive.bucket of the parameter file
  AWS_REGION, AWS_PROFILE, ...            the AWS SDK's usual configuration
  AWS_ENDPOINT_URL_S3                     an S3-compatible endpoint (path-style addressing)

Exit status: 0 when nothing failed, 1 when a window failed, 2 on a usage or configuration error.`;

/** A problem with how the command was called: printed with the usage hint, exit status 2. */
class UsageError extends ArchiverError {
  constructor(message: string) {
    super("CLI_USAGE", message);
  }
}

function parseInstant(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) {
    throw new UsageError(
      `${flag} ${JSON.stringify(value)} is not a date: use ISO 8601, e.g. 2026-11-28T13:00:00Z.`,
    );
  }
  return ms;
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

/** An S3 client from the SDK's standard environment; path-style for S3-compatible endpoints. */
function s3FromEnv(env: NodeJS.ProcessEnv): S3Client {
  return new S3Client({ forcePathStyle: Boolean(env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL) });
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
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
      return `  … ${event.windows} window(s) left for the next run (${event.reason})`;
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
  lines.push(summary.ok ? "OK" : "FAILED: the next run retries the failed windows.");
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
  const nowMs = parseInstant(values.now, "--now") ?? Date.now();
  const fromMs = parseInstant(values.from, "--from");
  const toMs = parseInstant(values.to, "--to");
  if ((fromMs === undefined) !== (toMs === undefined))
    throw new UsageError("--from and --to go together: give both.");

  const config = await loadConfig(values.config ?? DEFAULT_CONFIG_PATH);
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
  const baseUrl = (env.ATLAS_BASE_URL || config.atlas.baseUrl).replace(/\/+$/, "");
  const dispatcher = createAtlasDispatcher();
  const atlas = createAtlasClient({
    baseUrl,
    apiVersion: config.atlas.apiVersion,
    dispatcher,
    credentials,
    onRetry: (e) =>
      process.stderr.write(`  ~ ${e.what}: ${e.reason}, retrying in ${(e.delayMs / 1000).toFixed(1)} s\n`),
  });
  const s3 = s3FromEnv(env);
  try {
    const summary = await archiveRun({
      config: { ...config, atlas: { ...config.atlas, baseUrl } },
      bucket,
      atlas,
      s3,
      nowMs,
      runId: `cli-${compactUtc(Date.now())}-${randomBytes(3).toString("hex")}`,
      ...(fromMs !== undefined && toMs !== undefined ? { range: { fromMs, toMs } } : {}),
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

/** Runs the command line with `argv` (without node and script) and returns the exit status. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "run":
        return await run(rest, env);
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
      if (err instanceof UsageError) process.stderr.write("Run atlas-audit-archiver --help for usage.\n");
      return err.code.startsWith("CONFIG_") ||
        err instanceof UsageError ||
        err.code.startsWith("ATLAS_CREDENTIALS")
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
