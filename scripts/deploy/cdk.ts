/**
 * The CDK CLI against an emulator: `cdk bootstrap`, `cdk deploy` and `cdk destroy` with AWS's
 * endpoints all pointing at one server (moto's), fake credentials, and nothing of the caller's
 * AWS configuration (its `AWS_*` variables, profiles and credential files are left out), so the
 * check can never reach a real account.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cdkCliEnvironment, ROOT } from "./lint";
import { type CommandResult, mustRun } from "./process";

/** The account and region moto plays. */
export const MOTO_ACCOUNT = "123456789012";
export const MOTO_REGION = "us-east-1";

/** How long each CDK command may take (a deploy synthesizes and bundles first: 10 to 30 s here). */
export const CDK_TIMEOUT_MS = 300_000;

/**
 * The environment of a CDK CLI (and of anything else) talking to `endpoint` as AWS: every `AWS_*`
 * and `CDK_*` variable of `base` dropped, then the endpoint, fake credentials, the region, no
 * profile files. `AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION` makes the CLI hand CloudFormation an
 * `amazonaws.com` template URL, the only form moto's CloudFormation parses (it then reads the
 * template from its own S3).
 */
export function emulatorEnvironment(
  endpoint: string,
  base: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const kept = Object.fromEntries(Object.entries(base).filter(([name]) => !/^(AWS|CDK)_/.test(name)));
  const nowhere = join(tmpdir(), "atlas-audit-archiver-no-aws-config");
  return cdkCliEnvironment({
    ...kept,
    AWS_ENDPOINT_URL: endpoint,
    AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION: `https://s3.${MOTO_REGION}.amazonaws.com`,
    AWS_ACCESS_KEY_ID: "testing",
    AWS_SECRET_ACCESS_KEY: "testing",
    AWS_REGION: MOTO_REGION,
    AWS_DEFAULT_REGION: MOTO_REGION,
    AWS_CONFIG_FILE: nowhere,
    AWS_SHARED_CREDENTIALS_FILE: nowhere,
    AWS_EC2_METADATA_DISABLED: "true",
  });
}

const cdk = join(ROOT, "node_modules", ".bin", "cdk");

/**
 * `cdk bootstrap aws://ACCOUNT/REGION`, run from an empty directory: from this repository the CLI
 * would synthesize the app first, and the app's deploy guards refuse a synth without settings.
 */
export async function bootstrap(endpoint: string, echo?: string): Promise<CommandResult> {
  const dir = mkdtempSync(join(tmpdir(), "archiver-bootstrap-"));
  try {
    return await mustRun(cdk, ["bootstrap", `aws://${MOTO_ACCOUNT}/${MOTO_REGION}`, "--no-notices"], {
      cwd: dir,
      env: emulatorEnvironment(endpoint),
      timeoutMs: CDK_TIMEOUT_MS,
      ...(echo ? { echo } : {}),
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What {@link deploy} and {@link destroy} pass to the app. */
export interface AppSettings {
  /** The deploy settings file written for the app (`-c settings=...`), so no `config/deploy.json` of a developer's counts. */
  readonly settingsFile: string;
  /** `-c` values on top of it. */
  readonly context: Readonly<Record<string, string>>;
  /** The cloud assembly directory (`-o`). */
  readonly outdir: string;
}

/** Writes the deploy settings file of {@link AppSettings} with `settings` in it. */
export function writeDeploySettings(path: string, settings: Readonly<Record<string, string>>): string {
  writeFileSync(path, `${JSON.stringify(settings, null, 2)}\n`);
  return path;
}

function appArgs(app: AppSettings): string[] {
  return [
    "-o",
    app.outdir,
    "-c",
    `settings=${app.settingsFile}`,
    ...Object.entries(app.context).flatMap(([key, value]) => ["-c", `${key}=${value}`]),
  ];
}

/** `cdk deploy` of this repository's app (cdk.json) with `app`'s settings, approving nothing by hand. */
export function deploy(endpoint: string, app: AppSettings, echo?: string): Promise<CommandResult> {
  return mustRun(cdk, ["deploy", "--no-notices", "--require-approval", "never", ...appArgs(app)], {
    cwd: ROOT,
    env: emulatorEnvironment(endpoint),
    timeoutMs: CDK_TIMEOUT_MS,
    ...(echo ? { echo } : {}),
  });
}

/** `cdk destroy --force` of the stack {@link deploy} deployed. */
export function destroy(endpoint: string, app: AppSettings, echo?: string): Promise<CommandResult> {
  return mustRun(cdk, ["destroy", "--force", "--no-notices", ...appArgs(app)], {
    cwd: ROOT,
    env: emulatorEnvironment(endpoint),
    timeoutMs: CDK_TIMEOUT_MS,
    ...(echo ? { echo } : {}),
  });
}
