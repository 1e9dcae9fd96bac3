/**
 * The CDK app (`cdk.json`: `npx tsx bin/app.ts`): the context values as props (`lib/context.ts`),
 * the parameter file, and {@link AtlasAuditArchiverStack} under cdk-nag's AwsSolutions checks. A bad
 * parameter file, context value or prop fails `cdk synth` with its message and exit code 1.
 */
import { existsSync, realpathSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Annotations, App, Errors, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { ConfigError, loadConfig } from "../lambda/config";
import { AtlasAuditArchiverStack } from "../lib/atlas-audit-archiver-stack";
import { EXAMPLE_CONFIG_PATH, namingContextKeys, propsFromContext } from "../lib/context";
import { DeploymentError } from "../lib/errors";

export { EXAMPLE_CONFIG_PATH };

/** Options of {@link createApp}, for tests and embedding. */
export interface CreateAppOptions {
  /** Context values, as `-c key=value` would give them. */
  readonly context?: Record<string, unknown>;
  /** Cloud assembly directory. @default `CDK_OUTDIR` (set by the CDK CLI) or a temporary directory */
  readonly outdir?: string;
  /** Relative parameter file paths resolve against it. @default `process.cwd()` */
  readonly cwd?: string;
}

/** Builds the app and its stack; throws a `ConfigError` or `DeploymentError` for a user error. */
export async function createApp(options: CreateAppOptions = {}) {
  const { outdir, context, cwd = process.cwd() } = options;
  const app = new App({ autoSynth: false, ...(outdir ? { outdir } : {}), ...(context ? { context } : {}) });
  // cdk-nag's AwsSolutions pack checks every synth: an unacknowledged finding fails it.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const deploy = propsFromContext((key) => app.node.tryGetContext(key));
  // Relative paths stay as given (so messages name them as written) unless another cwd was asked for.
  const locate = (path: string) => (isAbsolute(path) || cwd === process.cwd() ? path : join(cwd, path));
  const fallback = !deploy.configGiven && !existsSync(locate(deploy.configPath));
  const configPath = fallback ? EXAMPLE_CONFIG_PATH : deploy.configPath;
  const config = await loadConfig(locate(configPath));
  const stack = namingContextKeys(
    deploy.origins,
    () => new AtlasAuditArchiverStack(app, deploy.stackName, { ...deploy.stack, config }),
  );
  if (fallback) {
    Annotations.of(stack).addWarningV2(
      "atlas-audit-archiver:exampleConfig",
      `${deploy.configPath} does not exist, so this synth uses ${configPath}, whose workspaces are placeholders: ` +
        `do not deploy it. Create your parameter file (cp ${configPath} ${deploy.configPath}) or pass ` +
        "-c config=path/to/your.json.",
    );
  }
  return { app, stack, configPath };
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
