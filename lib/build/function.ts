/**
 * The archiver function: its role, log group and security group, the `NodejsFunction` bundled
 * locally by esbuild, and the files staged into its bundle (the parameter file among them).
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { RemovalPolicy, Stage } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as destinations from "aws-cdk-lib/aws-lambda-destinations";
import * as nodejs from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import {
  type ArchiverConfig,
  BUNDLED_CONFIG_FILE,
  HANDLER_ENVIRONMENT,
  renderBundledConfig,
} from "../../lambda/config";
import { ARCHIVER_DEFAULTS } from "../defaults";
import type { ResolvedArchiverSettings } from "../settings";
import { allowVpcNetworking } from "./permissions";

/** The repository root (this file is `lib/build/function.ts`). */
const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/**
 * `package.json` at the bundle root: marks `index.js` as CommonJS even where an enclosing
 * `package.json` says `"type": "module"` (this repository's), e.g. when a test loads the bundle
 * from `cdk.out`. In Lambda, where CommonJS is the default, it changes nothing.
 */
const BUNDLE_PACKAGE_JSON = `${JSON.stringify({ type: "commonjs" })}\n`;

/** What the function needs from the rest of the construct. */
export interface FunctionDependencies {
  readonly secret: secretsmanager.ISecret;
  readonly bucket: s3.IBucket;
  readonly failedRunsQueue: sqs.IQueue;
}

/** What {@link buildFunction} created. */
export interface ArchiverFunction {
  readonly function: nodejs.NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  /** Created in a VPC when no security groups were given. */
  readonly securityGroup?: ec2.SecurityGroup;
}

/**
 * The scheduled function: Node.js 24 on arm64, one run at a time, no retries (the next run heals
 * gaps), failures to `failedRunsQueue`, JSON logs in its own log group, optionally in a VPC.
 */
export function buildFunction(
  scope: Construct,
  settings: ResolvedArchiverSettings,
  deps: FunctionDependencies,
): ArchiverFunction {
  const role = new iam.Role(scope, "FunctionRole", {
    assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
    description: "Atlas audit archiver: reads the Atlas secret, writes the archive prefix",
  });
  const logGroup = new logs.LogGroup(scope, "LogGroup", {
    retention: settings.logRetention,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  const vpc = settings.vpc;
  if (vpc) allowVpcNetworking(role);
  const securityGroup = vpc && !settings.securityGroups ? buildSecurityGroup(scope, vpc) : undefined;
  const securityGroups = settings.securityGroups ?? (securityGroup ? [securityGroup] : []);

  const fn = new nodejs.NodejsFunction(scope, "Function", {
    description: "Archives MongoDB Atlas Stream Processing audit logs into S3",
    entry: join(PROJECT_ROOT, "lambda", "handler.ts"),
    handler: "handler",
    projectRoot: PROJECT_ROOT,
    depsLockFilePath: join(PROJECT_ROOT, "package-lock.json"),
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    memorySize: settings.memorySize,
    timeout: settings.timeout,
    reservedConcurrentExecutions: 1,
    role,
    logGroup,
    loggingFormat: lambda.LoggingFormat.JSON,
    retryAttempts: 0,
    maxEventAge: ARCHIVER_DEFAULTS.maxEventAge,
    onFailure: new destinations.SqsDestination(deps.failedRunsQueue),
    environment: {
      [HANDLER_ENVIRONMENT.secretArn]: deps.secret.secretArn,
      [HANDLER_ENVIRONMENT.bucket]: deps.bucket.bucketName,
      [HANDLER_ENVIRONMENT.metricsNamespace]: settings.metricsNamespace,
      [HANDLER_ENVIRONMENT.runIntervalMinutes]: String(settings.runIntervalMinutes),
    },
    bundling: bundlingOptions(writeBundleFiles(scope, settings.config)),
    ...(vpc ? { vpc, vpcSubnets: settings.vpcSubnets, securityGroups: [...securityGroups] } : {}),
  });
  return { function: fn, role, logGroup, ...(securityGroup ? { securityGroup } : {}) };
}

function buildSecurityGroup(scope: Construct, vpc: ec2.IVpc): ec2.SecurityGroup {
  const group = new ec2.SecurityGroup(scope, "SecurityGroup", {
    vpc,
    description: "Atlas audit archiver: outbound HTTPS only (Atlas, S3, Secrets Manager)",
    allowAllOutbound: false,
  });
  group.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), "HTTPS to Atlas and AWS APIs");
  return group;
}

/** esbuild options of the handler bundle; each of `files` is copied to the bundle root under its key. */
function bundlingOptions(files: Readonly<Record<string, string>>): nodejs.BundlingOptions {
  return {
    forceDockerBundling: false,
    format: nodejs.OutputFormat.CJS,
    // Keep in step with the function's runtime (NODEJS_24_X).
    target: "node24",
    minify: true,
    // Error classes set `name` from their constructor: keep class names through minification.
    keepNames: true,
    // The map ships beside index.js, but NODE_OPTIONS does not turn on --enable-source-maps: Node
    // would read and parse it at every cold start (a fifth of the load time), while keepNames
    // already puts function names in stack traces. Set NODE_OPTIONS=--enable-source-maps on the
    // function to get TypeScript file and line positions while investigating.
    sourceMap: true,
    sourcesContent: false,
    // Bundle the pinned AWS SDK rather than rely on the runtime's copy, whose version drifts.
    externalModules: [],
    // The SDK's ES modules (dist-es) before its CommonJS builds: only from ES modules can esbuild
    // leave out the commands and protocols the handler never uses (a fifth of the bundle).
    mainFields: ["module", "main"],
    logLevel: nodejs.LogLevel.WARNING,
    commandHooks: {
      beforeBundling: () => [],
      beforeInstall: () => [],
      afterBundling: (_inputDir: string, outputDir: string) =>
        Object.entries(files).map(([name, source]) => copyCommand(source, join(outputDir, name))),
    },
  };
}

/**
 * The files added to the bundle, written into the cloud assembly directory under names made of
 * their content hash, so that each distinct configuration has its own file (and bundling cache key).
 */
function writeBundleFiles(scope: Construct, config: ArchiverConfig): Record<string, string> {
  const dir = Stage.of(scope)?.outdir ?? join(tmpdir(), "atlas-audit-archiver");
  mkdirSync(dir, { recursive: true });
  const write = (name: string, text: string) => {
    const hash = createHash("sha256").update(text).digest("hex").slice(0, 16);
    const file = join(dir, `bundle-${hash}.${name}`);
    writeFileSync(file, text);
    return file;
  };
  return {
    [BUNDLED_CONFIG_FILE]: write(BUNDLED_CONFIG_FILE, renderBundledConfig(config)),
    "package.json": write("package.json", BUNDLE_PACKAGE_JSON),
  };
}

/** A shell command that copies one file (POSIX shell, or cmd.exe on Windows). */
export function copyCommand(from: string, to: string, platform: NodeJS.Platform = process.platform): string {
  if (platform === "win32") return `copy /Y "${from}" "${to}"`;
  const quote = (path: string) => `'${path.replace(/'/g, `'\\''`)}'`;
  return `cp ${quote(from)} ${quote(to)}`;
}
