/**
 * The archiver's functions, the planner and the worker: their roles, log groups and security group,
 * each a `NodejsFunction` made by one builder, and the files staged into their bundles (the
 * parameter file among them). From the sources (a clone) esbuild bundles each handler at synth;
 * from the installed package the handlers come prebundled (`npm run build`, `dist/lambda/`) and
 * are staged with the same files, so that a CDK app needs neither esbuild nor these sources.
 */
import { createHash } from "node:crypto";
import { copyFileSync, cpSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { AssetHashType, DockerImage, type Duration, RemovalPolicy, Stage } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as destinations from "aws-cdk-lib/aws-lambda-destinations";
import * as eventSources from "aws-cdk-lib/aws-lambda-event-sources";
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

/** The two handlers: each one's module under `lambda/` (exporting `handler`) and its bundle's directory. */
export const HANDLERS = {
  planner: { entry: "planner-handler.ts", bundle: "planner" },
  worker: { entry: "worker-handler.ts", bundle: "worker" },
} as const;

/**
 * How both handlers are bundled (CommonJS `index.js`, `index.handler`), by NodejsFunction at synth
 * in a clone and ahead of time by the package build (`scripts/build.ts`): one set of options, so
 * the two are the same bytes (test/lib/build/function.test.ts compares them).
 */
export const HANDLER_BUNDLING = {
  // Keep in step with the functions' runtime (NODEJS_24_X).
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
  // The SDK's ES modules (dist-es) before its CommonJS builds: only from ES modules can esbuild
  // leave out the commands and protocols the handler never uses (a fifth of the bundle).
  mainFields: ["module", "main"],
} as const;

/** The directory of the prebundled handlers in the package, under `dist/`: `dist/lambda/<bundle>/`. */
export const PREBUNDLED_HANDLERS_DIR = "lambda";

/**
 * The name the package build defines (esbuild `define`) in the compiled library: the prebundled
 * handlers' directory relative to it. Undefined in the sources, which bundle at synth.
 */
export const PREBUNDLED_HANDLERS_DEFINE = "ARCHIVER_PREBUNDLED_HANDLERS";
declare const ARCHIVER_PREBUNDLED_HANDLERS: string | undefined;

/** Where the prebundled handlers are, when this module is the package's compiled library. */
function prebundledHandlers(): string | undefined {
  if (typeof ARCHIVER_PREBUNDLED_HANDLERS !== "string") return undefined;
  return fileURLToPath(new URL(`${ARCHIVER_PREBUNDLED_HANDLERS}/`, import.meta.url));
}

/**
 * `package.json` at the bundle root: marks `index.js` as CommonJS even where an enclosing
 * `package.json` says `"type": "module"` (this repository's), e.g. when a test loads the bundle
 * from `cdk.out`. In Lambda, where CommonJS is the default, it changes nothing.
 */
const BUNDLE_PACKAGE_JSON = `${JSON.stringify({ type: "commonjs" })}\n`;

/** What the functions need from the rest of the construct. */
export interface FunctionDependencies {
  readonly secret: secretsmanager.ISecret;
  readonly bucket: s3.IBucket;
  readonly failedRunsQueue: sqs.IQueue;
  /** The window queue: the planner sends to it, the worker consumes it. */
  readonly queue: sqs.IQueue;
  /** The key the planner signs the digests with, when it seals them. */
  readonly digestKey?: kms.IKey;
}

/** One function {@link buildFunctions} created, with its own role and log group. */
export interface ArchiverFunction {
  readonly function: nodejs.NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
}

/** What {@link buildFunctions} created. */
export interface ArchiverFunctions {
  readonly planner: ArchiverFunction;
  readonly worker: ArchiverFunction;
  /** Created in a VPC when no security groups were given; both functions use it. */
  readonly securityGroup?: ec2.SecurityGroup;
}

/** What makes one function different from the other: everything else {@link buildFunction} sets alike. */
interface FunctionSpec {
  /** Prefix of the construct IDs: `<name>Function`, `<name>Role`, `<name>LogGroup`. */
  readonly name: "Planner" | "Worker";
  /** Its handler module and bundle directory (one of {@link HANDLERS}). */
  readonly handler: (typeof HANDLERS)[keyof typeof HANDLERS];
  readonly description: string;
  readonly roleDescription: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly environment: Readonly<Record<string, string>>;
  /** Its concurrency and asynchronous invocation settings. */
  readonly invocation: Partial<nodejs.NodejsFunctionProps>;
}

/** What both functions share: the settings, the bundle's extra files, the network. */
interface SharedFunctionSettings {
  readonly settings: ResolvedArchiverSettings;
  readonly bundleFiles: Readonly<Record<string, string>>;
  readonly securityGroups: readonly ec2.ISecurityGroup[];
}

/**
 * The two functions of the queue design, both Node.js 24 on arm64 with JSON logs in a log group of
 * their own, bundled with the parameter file, in the VPC when there is one:
 *
 * - the planner, the schedule's target (and a backfill's): one at a time, two retries of a failed
 *   invocation, then the failed-runs queue; it sends the missing windows to `queue`;
 * - the worker, fed by an SQS event source on `queue` (partial batch responses), at most
 *   `workerConcurrency` at once.
 */
export function buildFunctions(
  scope: Construct,
  settings: ResolvedArchiverSettings,
  deps: FunctionDependencies,
): ArchiverFunctions {
  const vpc = settings.vpc;
  const securityGroup = vpc && !settings.securityGroups ? buildSecurityGroup(scope, vpc) : undefined;
  const shared: SharedFunctionSettings = {
    settings,
    bundleFiles: writeBundleFiles(scope, settings.config),
    securityGroups: settings.securityGroups ?? (securityGroup ? [securityGroup] : []),
  };
  const env = HANDLER_ENVIRONMENT;
  const common = {
    [env.bucket]: deps.bucket.bucketName,
    [env.metricsNamespace]: settings.metricsNamespace,
    [env.queueUrl]: deps.queue.queueUrl,
  };

  const planner = buildFunction(scope, shared, {
    name: "Planner",
    handler: HANDLERS.planner,
    description: "Plans the Atlas audit log windows due and missing, and sends them to the window queue",
    roleDescription: "Atlas audit archiver planner: lists the archive prefix, sends windows to the queue",
    memorySize: ARCHIVER_DEFAULTS.plannerMemorySize,
    timeout: ARCHIVER_DEFAULTS.plannerTimeout,
    environment: {
      ...common,
      [env.lanesPerProject]: String(settings.lanesPerProject),
      [env.runIntervalMinutes]: String(settings.runIntervalMinutes),
      // Absent without digests: the planner then seals none.
      ...(deps.digestKey ? { [env.digestKeyArn]: deps.digestKey.keyArn } : {}),
    },
    invocation: {
      // One planner at a time, as the single function was: two plans never race for the queue.
      reservedConcurrentExecutions: 1,
      retryAttempts: ARCHIVER_DEFAULTS.plannerRetryAttempts,
      maxEventAge: ARCHIVER_DEFAULTS.maxEventAge,
      onFailure: new destinations.SqsDestination(deps.failedRunsQueue),
      // A long backfill goes on by the planner invoking itself with the rest of its range, one
      // invocation after another: Lambda's loop detection would take that chain for a runaway loop
      // and drop it after about 16 invocations. It is bounded: every continuation plans a part of
      // a shrinking range, one at a time (the reserved concurrency of 1).
      recursiveLoop: lambda.RecursiveLoop.ALLOW,
    },
  });

  const worker = buildFunction(scope, shared, {
    name: "Worker",
    handler: HANDLERS.worker,
    description: "Archives the MongoDB Atlas Stream Processing audit log windows of the queue into S3",
    roleDescription: "Atlas audit archiver worker: reads the Atlas secret, writes the archive prefix",
    memorySize: settings.memorySize,
    timeout: settings.timeout,
    environment: {
      [env.secretArn]: deps.secret.secretArn,
      ...common,
      [env.maxReceiveCount]: String(settings.maxReceiveCount),
    },
    // Invoked by its event source only: no asynchronous invocation to configure.
    invocation: {},
  });
  worker.function.addEventSource(
    new eventSources.SqsEventSource(deps.queue, {
      batchSize: settings.batchSize,
      maxConcurrency: settings.workerConcurrency,
      reportBatchItemFailures: true,
    }),
  );
  return { planner, worker, ...(securityGroup ? { securityGroup } : {}) };
}

/** One function with its role and log group: what both share, and what `spec` sets apart. */
function buildFunction(
  scope: Construct,
  shared: SharedFunctionSettings,
  spec: FunctionSpec,
): ArchiverFunction {
  const { settings } = shared;
  const role = new iam.Role(scope, `${spec.name}Role`, {
    assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
    description: spec.roleDescription,
  });
  const logGroup = new logs.LogGroup(scope, `${spec.name}LogGroup`, {
    retention: settings.logRetention,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  const vpc = settings.vpc;
  if (vpc) allowVpcNetworking(role);
  const prebundled = prebundledHandlers();
  const fn = new nodejs.NodejsFunction(scope, `${spec.name}Function`, {
    description: spec.description,
    ...(prebundled
      ? {
          code: prebundledCode(join(prebundled, spec.handler.bundle), shared.bundleFiles),
          handler: "index.handler",
        }
      : {
          entry: join(PROJECT_ROOT, "lambda", spec.handler.entry),
          handler: "handler",
          projectRoot: PROJECT_ROOT,
          depsLockFilePath: join(PROJECT_ROOT, "package-lock.json"),
          bundling: bundlingOptions(shared.bundleFiles),
        }),
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    memorySize: spec.memorySize,
    timeout: spec.timeout,
    role,
    logGroup,
    loggingFormat: lambda.LoggingFormat.JSON,
    environment: { ...spec.environment },
    ...(vpc ? { vpc, vpcSubnets: settings.vpcSubnets, securityGroups: [...shared.securityGroups] } : {}),
    ...spec.invocation,
  });
  return { function: fn, role, logGroup };
}

function buildSecurityGroup(scope: Construct, vpc: ec2.IVpc): ec2.SecurityGroup {
  const group = new ec2.SecurityGroup(scope, "SecurityGroup", {
    vpc,
    description: "Atlas audit archiver: outbound HTTPS only (Atlas, S3, SQS, Secrets Manager, Lambda)",
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
    ...HANDLER_BUNDLING,
    mainFields: [...HANDLER_BUNDLING.mainFields],
    // Bundle the pinned AWS SDK rather than rely on the runtime's copy, whose version drifts.
    externalModules: [],
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
 * A prebundled handler's code: its directory (`index.js`, `index.js.map`) and each of `files`
 * copied to the bundle root under its key, staged by CDK's local bundling (a copy; Docker is never
 * used), so the asset is hashed from what it holds, as NodejsFunction's is, and a synth with
 * bundling skipped (`aws:cdk:bundling-stacks`) skips it too.
 */
export function prebundledCode(dir: string, files: Readonly<Record<string, string>>): lambda.Code {
  return lambda.Code.fromAsset(dir, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Required by the type, never pulled: the local copy below always succeeds or throws.
      image: DockerImage.fromRegistry("scratch"),
      local: {
        tryBundle(outputDir: string): boolean {
          cpSync(dir, outputDir, { recursive: true });
          for (const [name, source] of Object.entries(files)) copyFileSync(source, join(outputDir, name));
          return true;
        },
      },
    },
  });
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
