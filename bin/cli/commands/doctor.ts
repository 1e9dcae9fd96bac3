/** `atlas-audit-archiver doctor`: checks a setup, one line per check with its fix (core: `lambda/doctor`). */
import { KMSClient } from "@aws-sdk/client-kms";
import type { S3Client } from "@aws-sdk/client-s3";
import type { Dispatcher } from "undici";
import type { AtlasCredentials, CredentialsSource } from "../../../lambda/atlas/auth";
import { createAtlasDispatcher } from "../../../lambda/atlas/dispatcher";
import { AtlasCredentialsError } from "../../../lambda/atlas/errors";
import { DEFAULT_CONFIG_PATH, loadConfig, validateConfig } from "../../../lambda/config";
import { DEFAULT_DOCTOR_BOUNDS, runDoctor } from "../../../lambda/doctor";
import { type CredentialsOrigin, createRuntime, s3ClientFor } from "../../../lambda/runtime";
import { boundedRequestHandler } from "../../../lambda/s3-client";
import { JSON_OPTION, type OptionValues, parseNow, stringOptions } from "../command";
import { credentialsFromEnv } from "../credentials";
import { formatCheck, formatDoctorSummary } from "../format/doctor";
import { ATLAS_ROWS, AWS_ROWS, formatHelp, jsonRow, NOW_ROW } from "../help";
import type { CliIo } from "../io";

export const summary =
  "Check a setup (parameter file, Atlas, workspaces, access list, bucket, KMS) and say what to fix.";

export const options = { ...stringOptions("config", "secret-id", "digest-key", "now"), ...JSON_OPTION };

const b = DEFAULT_DOCTOR_BOUNDS;

export const help = formatHelp({
  usage: "doctor [--config FILE] [--secret-id ID] [--digest-key ARN] [--now INSTANT] [--json]",
  summary,
  options: [
    ["--config FILE", `Parameter file (default ${DEFAULT_CONFIG_PATH})`],
    ["--secret-id ID", "Check the Atlas credentials of this Secrets Manager secret (name or ARN)"],
    ["--digest-key ARN", "Check this KMS key signs digests (default DIGEST_KEY_ARN; none: not checked)"],
    [NOW_ROW[0], `${NOW_ROW[1]}; the probe window is the last minute of the latest window due then`],
    jsonRow("every check (id, subject, status ok/warn/fail/skip, detail, fix, code, ms)"),
  ],
  environment: [...ATLAS_ROWS, ...AWS_ROWS],
  exitStatus:
    "0 when no check failed (a note does not fail: versioning, Object Lock or default encryption missing, or a " +
    "setting that cannot be read), 1 when one did, 2 on a usage error. The checks, in order: the parameter file; " +
    "the credentials (a token request, or a Digest round trip); each workspace (a download of the last " +
    `${b.probeWindowMs / 60_000} minute of a past window, at most ${b.probeBytes / 1024 / 1024} MiB read and ` +
    "discarded, never stored); the API access list; the bucket (listing, region, encryption, versioning, Object " +
    "Lock); write permission under the prefix (a PutObject whose CRC32 does not match: S3 refuses it after " +
    "authorization, nothing is written); the digest key (GetPublicKey, a Sign verified offline). Each Atlas call " +
    `is bounded to ${b.atlasCallMs / 1000} s, each S3 or KMS request to ${b.s3CallMs / 1000} s.`,
});

/** Where the Atlas credentials come from: `--secret-id`, or the environment (undefined when neither). */
function credentialsOrigin(
  secretId: string | undefined,
  env: NodeJS.ProcessEnv,
): CredentialsOrigin | undefined {
  if (secretId) return { secretId };
  const credentials = credentialsFromEnv(env);
  return credentials && { credentials };
}

export async function run(values: OptionValues<typeof options>, io: CliIo): Promise<number> {
  const { env } = io;
  const nowMs = parseNow(values.now, io);
  const configFile = values.config ?? DEFAULT_CONFIG_PATH;
  let origin: CredentialsOrigin | undefined;
  let problem: unknown;
  try {
    origin = credentialsOrigin(values["secret-id"], env);
  } catch (err) {
    problem = err;
  }
  const runtime = origin ? createRuntime(origin, env) : undefined;
  const s3: S3Client = runtime?.s3 ?? s3ClientFor(env);
  const dispatcher: Dispatcher = runtime?.dispatcher ?? createAtlasDispatcher();
  const keyArn = values["digest-key"] || env.DIGEST_KEY_ARN;
  const kms = keyArn ? new KMSClient({ requestHandler: boundedRequestHandler() }) : undefined;
  try {
    const report = await runDoctor({
      configSubject: `parameter file ${configFile}`,
      loadConfig: async () => {
        const loaded = await loadConfig(configFile);
        return env.ATLAS_BASE_URL
          ? validateConfig(
              { ...loaded, atlas: { ...loaded.atlas, baseUrl: env.ATLAS_BASE_URL } },
              "ATLAS_BASE_URL",
            )
          : loaded;
      },
      ...(env.ARCHIVE_BUCKET ? { bucket: env.ARCHIVE_BUCKET } : {}),
      credentials: (): AtlasCredentials | CredentialsSource => {
        if (problem) throw problem;
        if (!runtime) {
          throw new AtlasCredentialsError(
            "No Atlas credentials: none of ATLAS_CLIENT_ID/ATLAS_CLIENT_SECRET, ATLAS_PUBLIC_KEY/ATLAS_PRIVATE_KEY or --secret-id is set.",
          );
        }
        return runtime.credentials;
      },
      dispatcher,
      s3,
      digestKey:
        kms && keyArn
          ? { kms, keyId: keyArn }
          : {
              absent:
                "no --digest-key or DIGEST_KEY_ARN (the digests' key is the planner's; pass its ARN to check it)",
            },
      nowMs,
      onCheck: (check) => {
        if (!values.json) io.stdout.write(`${formatCheck(check)}\n`);
      },
    });
    if (values.json) io.stdout.write(`${JSON.stringify(report)}\n`);
    else io.stdout.write(`${formatDoctorSummary(report)}\n`);
    return report.ok ? 0 : 1;
  } finally {
    kms?.destroy();
    if (runtime) await runtime.close();
    else {
      s3.destroy();
      await dispatcher.close();
    }
  }
}
