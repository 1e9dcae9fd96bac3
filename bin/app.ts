/**
 * The CDK app (`cdk.json`: `npx tsx bin/app.ts`): the deploy settings (`config/deploy.json` under the
 * `-c` values, `lib/context.ts`) as props, the parameter file, the deploy guards, and
 * {@link AtlasAuditArchiverStack} under cdk-nag's AwsSolutions checks. A bad parameter file, settings
 * file, context value or prop, or a stack the guards refuse, fails `cdk synth` with its message and
 * exit code 1.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync, realpathSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Annotations, App, Errors, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { ConfigError, loadConfig } from "../lambda/config";
import { AtlasAuditArchiverStack } from "../lib/atlas-audit-archiver-stack";
import {
  checkContextKeys,
  checkDeployGuards,
  DEFAULT_SETTINGS_PATH,
  type DeploySettingsFile,
  EXAMPLE_CONFIG_PATH,
  EXAMPLE_SETTINGS_PATH,
  MAX_SETTINGS_BYTES,
  namingContextKeys,
  parseDeploySettings,
  propsFromContext,
  SETTINGS_KEY,
} from "../lib/context";
import { DeploymentError } from "../lib/errors";

export { EXAMPLE_CONFIG_PATH };

/** Options of {@link createApp}, for tests and embedding. */
export interface CreateAppOptions {
  /** Context values, as `-c key=value` would give them. */
  readonly context?: Record<string, unknown>;
  /** Cloud assembly directory. @default `CDK_OUTDIR` (set by the CDK CLI) or a temporary directory */
  readonly outdir?: string;
  /** Relative parameter and settings file paths resolve against it. @default `process.cwd()` */
  readonly cwd?: string;
}

/** Builds the app and its stack; throws a `ConfigError` or `DeploymentError` for a user error. */
export async function createApp(options: CreateAppOptions = {}) {
  const { outdir, context, cwd = process.cwd() } = options;
  const app = new App({ autoSynth: false, ...(outdir ? { outdir } : {}), ...(context ? { context } : {}) });
  // cdk-nag's AwsSolutions pack checks every synth: an unacknowledged finding fails it.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  // Relative paths stay as given (so messages name them as written) unless another cwd was asked for.
  const locate = (path: string) => (isAbsolute(path) || cwd === process.cwd() ? path : join(cwd, path));
  const lookup = (key: string) => app.node.tryGetContext(key);
  checkContextKeys(Object.keys(app.node.getAllContext()));

  const namedSettings = lookup(SETTINGS_KEY) as unknown;
  if (namedSettings !== undefined && (typeof namedSettings !== "string" || namedSettings.trim() === "")) {
    throw new DeploymentError(
      "DEPLOY_CONTEXT_INVALID",
      SETTINGS_KEY,
      `-c ${SETTINGS_KEY} must name the deploy settings file, e.g. -c ${SETTINGS_KEY}=${DEFAULT_SETTINGS_PATH}`,
    );
  }
  const settingsPath = typeof namedSettings === "string" ? namedSettings.trim() : DEFAULT_SETTINGS_PATH;
  const settings =
    namedSettings !== undefined || existsSync(locate(settingsPath))
      ? readSettingsFile(settingsPath, locate(settingsPath))
      : undefined;

  const deploy = propsFromContext(lookup, process.env, settings);
  // The example stands in for a missing default parameter file only in a try-out (example=true).
  const missing = !deploy.configGiven && !existsSync(locate(deploy.configPath));
  const configPath = missing && deploy.optIns.example ? EXAMPLE_CONFIG_PATH : deploy.configPath;
  const config = missing && !deploy.optIns.example ? undefined : await loadConfig(locate(configPath));
  const guards = checkDeployGuards(deploy, config, configPath);
  if (config === undefined) throw new Error("unreachable: the guards refuse a missing parameter file");
  const stack = namingContextKeys(
    deploy.origins,
    () => new AtlasAuditArchiverStack(app, deploy.stackName, { ...deploy.stack, config }),
  );
  for (const warning of guards.warnings) {
    Annotations.of(stack).addWarningV2("atlas-audit-archiver:deployGuard", warning);
  }
  return { app, stack, configPath, settingsPath: settings?.path };
}

/**
 * Reads the deploy settings file (a regular file of at most `MAX_SETTINGS_BYTES`, read without
 * waiting: a FIFO or device is refused, not read).
 */
function readSettingsFile(path: string, located: string): DeploySettingsFile {
  const invalid = (why: string) =>
    new DeploymentError("DEPLOY_SETTINGS_INVALID", SETTINGS_KEY, `Deploy settings file ${path} ${why}`);
  let fd: number;
  try {
    fd = openSync(located, "r");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw invalid(
      code === "ENOENT"
        ? `does not exist: create it (cp ${EXAMPLE_SETTINGS_PATH} ${path}) or fix -c ${SETTINGS_KEY}.`
        : `cannot be read (${code ?? String(error)}): make it readable by this user.`,
    );
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) throw invalid(`is not a regular file: give the path of the JSON file.`);
    if (info.size > MAX_SETTINGS_BYTES) {
      throw invalid(
        `is larger than ${MAX_SETTINGS_BYTES} bytes, far more than every setting takes: is it the right file?`,
      );
    }
    const buffer = Buffer.alloc(info.size);
    let read = 0;
    while (read < info.size) {
      const n = readSync(fd, buffer, read, info.size - read, read);
      if (n === 0) break;
      read += n;
    }
    return parseDeploySettings(buffer.subarray(0, read).toString("utf8"), path);
  } finally {
    closeSync(fd);
  }
}

/** Synthesizes the app; a user error prints its message alone to stderr and returns exit code 1. */
export async function main(options: CreateAppOptions = {}): Promise<number> {
  try {
    (await createApp(options)).app.synth();
    return 0;
  } catch (error) {
    if (error instanceof ConfigError || error instanceof DeploymentError || Errors.isValidationError(error)) {
      console.error((error as Error).message);
      return 1;
    }
    throw error;
  }
}

function isMain(): boolean {
  try {
    return pathToFileURL(realpathSync(process.argv[1] ?? "")).href === import.meta.url;
  } catch {
    return false;
  }
}

if (isMain()) process.exitCode = await main();
