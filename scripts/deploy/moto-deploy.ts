/**
 * Part 2 of the deploy check: the app deployed for real, into moto's server, and its deployed code
 * run. {@link startMotoDeploy} starts moto and the Atlas simulator; then, in order:
 *
 * 1. {@link MotoDeploy.bootstrap}: `cdk bootstrap` (the CDKToolkit stack, the staging bucket).
 * 2. {@link MotoDeploy.deploy}: `cdk deploy` of this repository's app with a real deploy's settings,
 *    to CREATE_COMPLETE; every resource of the deployed template created, but for the types moto
 *    does not implement ({@link MOTO_UNIMPLEMENTED}).
 * 3. {@link MotoDeploy.inspect}: the resources that matter as moto holds them: bucket, queues and
 *    redrive, functions (runtime, role, environment), the worker's SQS event source, the digest key.
 * 4. {@link MotoDeploy.invoke}: the planner's and worker's code fetched from the staging bucket and
 *    run with their deployed environments against moto and the simulator; the archived objects
 *    byte for byte what the simulator served.
 * 5. {@link MotoDeploy.destroy}: `cdk destroy`; the stack, its functions and queues gone, what it
 *    retains still there.
 *
 * Each step returns what it found and its `problems` (empty when it passed), and how long it took.
 * What this proves and what it does not: docs/development.md, "The deploy check".
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { GetPublicKeyCommand, KMSClient, ListKeysCommand } from "@aws-sdk/client-kms";
import {
  GetFunctionCommand,
  type GetFunctionCommandOutput,
  LambdaClient,
  ListEventSourceMappingsCommand,
  UpdateEventSourceMappingCommand,
} from "@aws-sdk/client-lambda";
import {
  GetBucketEncryptionCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from "@aws-sdk/client-sqs";
import { archiveKey, HANDLER_ENVIRONMENT, type Workspace } from "../../lambda/config";
import {
  type AtlasSimulator,
  DEFAULT_SERVICE_ACCOUNT,
  EMPTY_GZIP,
  expectedLines,
  startAtlasSimulator,
} from "../../test/support/atlas-simulator";
import { createSigningKey, type MotoServer, startMoto } from "../../test/support/moto";
import * as cdk from "./cdk";
import {
  deployedTemplate,
  type StackResource,
  stackResources,
  stackStatus,
  type Template,
} from "./cloudformation";
import { codeLocation, type Drained, drainQueue, type FetchedCode, fetchCode, startFunction } from "./invoke";
import { DEPLOY_CONTEXT, WORKSPACES } from "./lint";

/** The stack the app deploys (its default name). */
export const STACK_NAME = "AtlasAuditArchiver";
/** The archive prefix of the deployed parameter file. */
export const PREFIX = "atlas/stream-audit/";

/**
 * Resource types moto's CloudFormation does not implement: it lists each as an entry without IDs
 * and creates nothing. A template resource missing from the stack of any other type fails the step.
 */
export const MOTO_UNIMPLEMENTED: ReadonlySet<string> = new Set([
  "AWS::CloudWatch::Alarm",
  "AWS::Glue::Database",
  "AWS::Glue::Table",
  "AWS::Athena::WorkGroup",
  "AWS::SNS::TopicPolicy",
  "AWS::SNS::Subscription",
  "AWS::S3::BucketPolicy",
  "AWS::SQS::QueuePolicy",
  "AWS::Lambda::EventInvokeConfig",
]);

/** What EventBridge hands the planner on its schedule. */
const SCHEDULED_EVENT = {
  version: "0",
  id: "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
  "detail-type": "Scheduled Event",
  source: "aws.events",
  account: cdk.MOTO_ACCOUNT,
  time: new Date().toISOString(),
  region: cdk.MOTO_REGION,
  resources: [`arn:aws:events:${cdk.MOTO_REGION}:${cdk.MOTO_ACCOUNT}:rule/${STACK_NAME}-schedule`],
  detail: {},
};

/** How long one invocation of the deployed code may take here (its deployed timeouts are 15 minutes). */
const INVOKE_TIMEOUT_MS = 120_000;

/** How a step ended: what it found, what is wrong (nothing when it passed), how long it took. */
export interface StepResult<T> {
  readonly ms: number;
  readonly problems: readonly string[];
  readonly found: T;
}

/** What {@link MotoDeploy.deploy} found. */
export interface Deployed {
  readonly status: string | undefined;
  /** Resources of the template, of the stack with IDs, and entries without IDs. */
  readonly counts: { readonly template: number; readonly created: number; readonly unnamed: number };
  /** Types of the template's resources moto did not create, with their counts. */
  readonly notCreated: Readonly<Record<string, number>>;
}

/** What {@link MotoDeploy.inspect} found of the resources that matter. */
export interface Inspected {
  readonly bucket: { readonly name: string; readonly encryption: string | undefined };
  readonly queue: {
    readonly fifo: boolean;
    readonly visibilityTimeout: number;
    readonly maxReceiveCount: number;
  };
  readonly functions: Readonly<
    Record<"planner" | "worker", { readonly runtime: string; readonly environment: Record<string, string> }>
  >;
  readonly eventSource: { readonly batchSize: number; readonly stateAfter: string };
  /** The digest key's usage as moto's KMS reports it (the template asks for SIGN_VERIFY). */
  readonly digestKeyUsage: string | undefined;
}

/** What {@link MotoDeploy.invoke} found. */
export interface Invoked {
  readonly code: Readonly<Record<"planner" | "worker", { readonly bytes: number; readonly files: number }>>;
  readonly planner: { readonly due: number; readonly enqueued: number; readonly failed: number };
  readonly worker: {
    readonly invocations: number;
    readonly batches: readonly number[];
    readonly failures: number;
  };
  /** Windows the simulator served, and archived objects equal to them byte for byte. */
  readonly windows: { readonly served: number; readonly archived: number; readonly identical: number };
}

/** What {@link MotoDeploy.destroy} found. */
export interface Destroyed {
  readonly status: string | undefined;
  /** Logical IDs the template retains (DeletionPolicy Retain) that the check found still there. */
  readonly retained: readonly string[];
  readonly archivedObjectsLeft: number;
}

/** A session of the deploy against moto; {@link close} it. */
export interface MotoDeploy {
  readonly moto: MotoServer;
  readonly simulator: AtlasSimulator;
  bootstrap(): Promise<StepResult<{ readonly toolkit: string | undefined; readonly stagingBucket: string }>>;
  deploy(): Promise<StepResult<Deployed>>;
  inspect(): Promise<StepResult<Inspected>>;
  invoke(): Promise<StepResult<Invoked>>;
  destroy(): Promise<StepResult<Destroyed>>;
  close(): Promise<void>;
}

/** Writes the parameter file of the deploy: {@link WORKSPACES} at the simulator, a 3-hour lookback. */
function writeDeployedConfig(path: string, baseUrl: string): string {
  const config = {
    atlas: { baseUrl, apiVersion: "2023-02-01" },
    archive: { prefix: PREFIX },
    window: { minutes: 60, lagMinutes: 15, lookbackHours: 3 },
    schedule: "rate(1 hour)",
    workspaces: WORKSPACES,
  };
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`);
  return path;
}

/**
 * Starts moto (Lambda invocations without Docker) and the simulator, creates the Atlas secret the
 * deploy names (`secretName`: an existing secret, as the deploy guide has users create it first),
 * and writes the deploy settings into `workDir`. `echo` prefixes the CDK CLI's output on stderr.
 */
export async function startMotoDeploy(workDir: string, echo?: string): Promise<MotoDeploy> {
  mkdirSync(workDir, { recursive: true });
  const served = new Map<string, Buffer>();
  const [moto, simulator] = await Promise.all([
    startMotoWithoutDocker(),
    startAtlasSimulator({
      workspaces: WORKSPACES.map(({ groupId, tenantName }) => ({ groupId, tenantName })),
      body: (req) => {
        const lines = expectedLines(req);
        const body = lines.length === 0 ? EMPTY_GZIP : gzipSync(`${lines.join("\n")}\n`);
        const workspace: Workspace = {
          groupId: req.groupId,
          tenantName: req.tenantName,
          ...(req.spName ? { spName: req.spName } : {}),
        };
        served.set(
          archiveKey(PREFIX, workspace, { startMs: req.startDate * 1000, endMs: req.endDate * 1000 }),
          body,
        );
        return body;
      },
    }),
  ]);
  const aws = {
    endpoint: moto.endpoint,
    region: cdk.MOTO_REGION,
    credentials: moto.credentials,
    maxAttempts: 2,
  };
  const cfn = { endpoint: moto.endpoint, region: cdk.MOTO_REGION, credentials: moto.credentials };
  const s3 = new S3Client({ ...aws, forcePathStyle: true });
  const sqs = new SQSClient(aws);
  const lambda = new LambdaClient(aws);
  const kms = new KMSClient(aws);
  const secrets = new SecretsManagerClient(aws);
  await secrets.send(
    new CreateSecretCommand({
      Name: DEPLOY_CONTEXT.secretName,
      SecretString: JSON.stringify(DEFAULT_SERVICE_ACCOUNT),
    }),
  );
  const configFile = writeDeployedConfig(join(workDir, "workspaces.json"), simulator.baseUrl);
  const app: cdk.AppSettings = {
    settingsFile: cdk.writeDeploySettings(join(workDir, "deploy.json"), {
      config: configFile,
      ...DEPLOY_CONTEXT,
    }),
    // moto generates no FIFO queue names: the queues get names of their own.
    context: { explicitQueueNames: "true" },
    outdir: join(workDir, "cdk.out"),
  };

  let template: Template | undefined;
  let resources: StackResource[] = [];
  let inspected: Inspected | undefined;
  let archived: string[] = [];
  const timed = async <T>(step: (problems: string[]) => Promise<T>): Promise<StepResult<T>> => {
    const started = performance.now();
    const problems: string[] = [];
    const found = await step(problems);
    return { ms: performance.now() - started, problems, found };
  };
  const physical = (logicalId: string): string => {
    const id = resources.find((r) => r.logicalId === logicalId)?.physicalId;
    if (id === undefined) throw new Error(`the stack has no ${logicalId}`);
    return id;
  };
  /** The one resource of `type` whose logical ID is `prefix` and CDK's 8-character hash. */
  const logical = (type: string, prefix: string): string => {
    const ids = Object.keys(template?.Resources ?? {}).filter(
      (id) => template?.Resources[id]?.Type === type && new RegExp(`^${prefix}[0-9A-F]{8}$`).test(id),
    );
    if (ids.length !== 1)
      throw new Error(`the template has ${ids.length} ${type} named ${prefix}…, expected one`);
    return ids[0] as string;
  };
  const fn = (name: "Planner" | "Worker") => logical("AWS::Lambda::Function", `Archiver${name}Function`);
  const getFunction = (name: "Planner" | "Worker"): Promise<GetFunctionCommandOutput> =>
    lambda.send(new GetFunctionCommand({ FunctionName: physical(fn(name)) }));

  return {
    moto,
    simulator,

    bootstrap: () =>
      timed(async (problems) => {
        await cdk.bootstrap(moto.endpoint, echo);
        const toolkit = await stackStatus(cfn, "CDKToolkit");
        if (toolkit !== "CREATE_COMPLETE")
          problems.push(`CDKToolkit is ${toolkit}, expected CREATE_COMPLETE`);
        // The default synthesizer's staging bucket, where cdk deploy publishes the code archives.
        const stagingBucket = `cdk-hnb659fds-assets-${cdk.MOTO_ACCOUNT}-${cdk.MOTO_REGION}`;
        await s3.send(new HeadBucketCommand({ Bucket: stagingBucket })).catch((error: Error) => {
          problems.push(`the staging bucket ${stagingBucket} is not there (${error.name})`);
        });
        return { toolkit, stagingBucket };
      }),

    deploy: () =>
      timed(async (problems) => {
        await cdk.deploy(moto.endpoint, app, echo);
        const status = await stackStatus(cfn, STACK_NAME);
        if (status !== "CREATE_COMPLETE")
          problems.push(`${STACK_NAME} is ${status}, expected CREATE_COMPLETE`);
        template = await deployedTemplate(cfn, STACK_NAME);
        const listed = await stackResources(cfn, STACK_NAME);
        resources = listed.resources;
        const notCreated: Record<string, number> = {};
        for (const [id, resource] of Object.entries(template.Resources)) {
          const created = resources.find((r) => r.logicalId === id);
          if (created === undefined) {
            notCreated[resource.Type] = (notCreated[resource.Type] ?? 0) + 1;
            if (!MOTO_UNIMPLEMENTED.has(resource.Type))
              problems.push(`${id} (${resource.Type}) was not created`);
          } else if (created.status !== "CREATE_COMPLETE") {
            problems.push(`${id} (${resource.Type}) is ${created.status}`);
          }
        }
        return {
          status,
          counts: {
            template: Object.keys(template.Resources).length,
            created: resources.length,
            unnamed: listed.unnamed,
          },
          notCreated,
        };
      }),

    inspect: () =>
      timed(async (problems) => {
        const t = template as Template;
        const expect = (what: string, actual: unknown, expected: unknown) => {
          if (JSON.stringify(actual) !== JSON.stringify(expected)) {
            problems.push(`${what} is ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
          }
        };
        const props = (id: string) => t.Resources[id]?.Properties ?? {};

        const bucketId = logical("AWS::S3::Bucket", "ArchiverBucket");
        const bucket = physical(bucketId);
        await s3.send(new HeadBucketCommand({ Bucket: bucket }));
        // moto's CloudFormation applies a bucket's encryption and tags, and none of its other
        // properties (versioning, lifecycle, Object Lock, public access block, logging).
        const encryption = (await s3.send(new GetBucketEncryptionCommand({ Bucket: bucket })))
          .ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm;
        const wantedEncryption = (
          props(bucketId).BucketEncryption as {
            ServerSideEncryptionConfiguration?: {
              ServerSideEncryptionByDefault?: { SSEAlgorithm?: string };
            }[];
          }
        )?.ServerSideEncryptionConfiguration?.[0]?.ServerSideEncryptionByDefault?.SSEAlgorithm;
        expect("the archive bucket's encryption", encryption, wantedEncryption);

        const queueId = logical("AWS::SQS::Queue", "ArchiverWindowQueue");
        const dlqId = logical("AWS::SQS::Queue", "ArchiverDeadLetterQueue");
        const attributes = async (id: string) =>
          (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: physical(id), AttributeNames: ["All"] })))
            .Attributes ?? {};
        const [queueAttributes, dlqAttributes] = await Promise.all([attributes(queueId), attributes(dlqId)]);
        const redrive = JSON.parse(queueAttributes.RedrivePolicy ?? "{}") as {
          deadLetterTargetArn?: string;
          maxReceiveCount?: number | string;
        };
        const queueProps = props(queueId) as {
          VisibilityTimeout?: number;
          RedrivePolicy?: { maxReceiveCount?: number };
        };
        expect("the window queue's FifoQueue", queueAttributes.FifoQueue, "true");
        expect("the dead-letter queue's FifoQueue", dlqAttributes.FifoQueue, "true");
        expect(
          "the window queue's VisibilityTimeout",
          Number(queueAttributes.VisibilityTimeout),
          queueProps.VisibilityTimeout,
        );
        expect("the window queue's dead-letter target", redrive.deadLetterTargetArn, dlqAttributes.QueueArn);
        expect(
          "the window queue's maxReceiveCount",
          Number(redrive.maxReceiveCount),
          queueProps.RedrivePolicy?.maxReceiveCount,
        );

        const keyId = physical(logical("AWS::KMS::Key", "ArchiverDigestKey"));
        const keys = (await kms.send(new ListKeysCommand({}))).Keys ?? [];
        if (!keys.some((k) => k.KeyId === keyId)) problems.push(`the digest key ${keyId} is not in KMS`);
        const digestKeyUsage = (await kms.send(new GetPublicKeyCommand({ KeyId: keyId }))).KeyUsage;

        const secretArn = `arn:aws:secretsmanager:${cdk.MOTO_REGION}:${cdk.MOTO_ACCOUNT}:secret:${DEPLOY_CONTEXT.secretName}`;
        const references: Record<string, string> = {
          [HANDLER_ENVIRONMENT.bucket]: bucket,
          [HANDLER_ENVIRONMENT.queueUrl]: physical(queueId),
          [HANDLER_ENVIRONMENT.secretArn]: secretArn,
          [HANDLER_ENVIRONMENT.digestKeyArn]: `arn:aws:kms:${cdk.MOTO_REGION}:${cdk.MOTO_ACCOUNT}:key/${keyId}`,
        };
        const functions = {} as Record<
          "planner" | "worker",
          { runtime: string; environment: Record<string, string> }
        >;
        for (const name of ["Planner", "Worker"] as const) {
          const id = fn(name);
          const p = props(id) as {
            Runtime?: string;
            Handler?: string;
            Timeout?: number;
            MemorySize?: number;
            Role?: { "Fn::GetAtt"?: [string, string] };
            Environment?: { Variables?: Record<string, unknown> };
          };
          const c = (await getFunction(name)).Configuration ?? {};
          const what = `the ${name.toLowerCase()} function's`;
          expect(`${what} Runtime`, c.Runtime, p.Runtime);
          expect(`${what} Handler`, c.Handler, p.Handler);
          // Not compared, as moto's CloudFormation does not apply them: Architectures (arm64 in the
          // template, x86_64 in moto) and LoggingConfig.
          expect(`${what} Timeout`, c.Timeout, p.Timeout);
          expect(`${what} MemorySize`, c.MemorySize, p.MemorySize);
          const roleId = p.Role?.["Fn::GetAtt"]?.[0] ?? "(none)";
          expect(`${what} Role`, c.Role, `arn:aws:iam::${cdk.MOTO_ACCOUNT}:role/${physical(roleId)}`);
          const environment = c.Environment?.Variables ?? {};
          const wanted = Object.fromEntries(
            Object.entries(p.Environment?.Variables ?? {}).map(([variable, value]) => [
              variable,
              typeof value === "string"
                ? value
                : (references[variable] ?? `(a reference the check does not resolve)`),
            ]),
          );
          expect(`${what} environment`, sorted(environment), sorted(wanted));
          functions[name.toLowerCase() as "planner" | "worker"] = { runtime: c.Runtime ?? "", environment };
        }

        const workerArn = (await getFunction("Worker")).Configuration?.FunctionArn;
        // Listed unfiltered: moto's FunctionName filter does not match a function ARN.
        const mappings = (
          (await lambda.send(new ListEventSourceMappingsCommand({}))).EventSourceMappings ?? []
        ).filter((m) => m.FunctionArn === workerArn);
        if (mappings.length !== 1)
          problems.push(`the worker has ${mappings.length} event source mappings, expected 1`);
        const mapping = mappings[0] ?? {};
        const mappingProps = props(
          Object.keys(t.Resources).find(
            (id) => t.Resources[id]?.Type === "AWS::Lambda::EventSourceMapping",
          ) ?? "",
        ) as { BatchSize?: number };
        expect("the worker's event source", mapping.EventSourceArn, queueAttributes.QueueArn);
        expect("the event source's BatchSize", mapping.BatchSize, mappingProps.BatchSize);
        expect("the event source's FunctionResponseTypes", mapping.FunctionResponseTypes, [
          "ReportBatchItemFailures",
        ]);
        // The check plays the event source itself (invoke): the mapping is switched off, as an
        // operator would pause it, so that moto does not take the messages.
        const stateAfter = mapping.UUID
          ? ((await lambda.send(new UpdateEventSourceMappingCommand({ UUID: mapping.UUID, Enabled: false })))
              .State ?? "")
          : "(no mapping)";
        expect("the event source's state after disabling it", stateAfter, "Disabled");

        inspected = {
          bucket: { name: bucket, encryption },
          queue: {
            fifo: queueAttributes.FifoQueue === "true",
            visibilityTimeout: Number(queueAttributes.VisibilityTimeout),
            maxReceiveCount: Number(redrive.maxReceiveCount),
          },
          functions,
          eventSource: { batchSize: mapping.BatchSize ?? 0, stateAfter },
          digestKeyUsage,
        };
        return inspected;
      }),

    invoke: () =>
      timed(async (problems) => {
        const t = template as Template;
        const found = inspected as Inspected;
        const code = {} as Record<"planner" | "worker", FetchedCode>;
        for (const name of ["Planner", "Worker"] as const) {
          const key = name.toLowerCase() as "planner" | "worker";
          const location = codeLocation(
            t.Resources[fn(name)] ?? { Type: "" },
            cdk.MOTO_ACCOUNT,
            cdk.MOTO_REGION,
          );
          code[key] = await fetchCode(s3, location, join(workDir, "code", key));
          const deployedSha = (await getFunction(name)).Configuration?.CodeSha256;
          if (code[key].sha256 !== deployedSha) {
            problems.push(
              `the ${key}'s code in the staging bucket (${code[key].sha256}) is not the function's (${deployedSha})`,
            );
          }
        }
        // moto's CloudFormation creates every AWS::KMS::Key as a symmetric ENCRYPT_DECRYPT key
        // whatever the template's KeySpec, so kms:Sign with the deployed digest key cannot work
        // there: the planner gets a P-256 signing key made through the KMS API instead.
        const signingKeyArn = await createSigningKey(moto, "atlas-audit-archiver deploy check digests");
        // moto names the queues its CloudFormation creates by AWS's host (sqs.REGION.amazonaws.com),
        // and the SDK sends a queue's requests to the host of its URL: the functions get the same
        // queue's URL as moto's GetQueueUrl answers it, on moto's host.
        const deployedQueueUrl = found.functions.worker.environment[HANDLER_ENVIRONMENT.queueUrl] as string;
        const queueUrl = (
          await sqs.send(new GetQueueUrlCommand({ QueueName: deployedQueueUrl.split("/").pop() }))
        ).QueueUrl as string;
        const runtime = {
          [HANDLER_ENVIRONMENT.queueUrl]: queueUrl,
          AWS_ENDPOINT_URL: moto.endpoint,
          AWS_REGION: cdk.MOTO_REGION,
          AWS_ACCESS_KEY_ID: moto.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: moto.credentials.secretAccessKey,
        };
        const timeoutMs = (name: "Planner" | "Worker") =>
          ((t.Resources[fn(name)]?.Properties?.Timeout as number) ?? 900) * 1000;
        const planner = await startFunction(code.planner, physical(fn("Planner")), timeoutMs("Planner"), {
          ...found.functions.planner.environment,
          [HANDLER_ENVIRONMENT.digestKeyArn]: signingKeyArn,
          ...runtime,
        });
        const worker = await startFunction(code.worker, physical(fn("Worker")), timeoutMs("Worker"), {
          ...found.functions.worker.environment,
          ...runtime,
        });
        try {
          const planned = await planner.invoke<{ due: number; enqueued: number; failed: number }>(
            SCHEDULED_EVENT,
            INVOKE_TIMEOUT_MS,
          );
          if (!planned.ok)
            problems.push(`the planner failed: ${JSON.stringify(planned.error)}\n${planner.output()}`);
          const plan = planned.result ?? { due: 0, enqueued: 0, failed: 0 };
          if (plan.due === 0 || plan.enqueued !== plan.due || plan.failed !== 0) {
            problems.push(`the planner planned ${JSON.stringify(plan)}: expected every due window enqueued`);
          }
          const queueArn = (
            await sqs.send(
              new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }),
            )
          ).Attributes?.QueueArn as string;
          const drained: Drained = await drainQueue(
            sqs,
            { url: queueUrl, arn: queueArn, region: cdk.MOTO_REGION },
            worker,
            {
              batchSize: found.eventSource.batchSize,
              maxPolls: Math.ceil(plan.enqueued / Math.max(1, found.eventSource.batchSize)) + 3,
              invokeTimeoutMs: INVOKE_TIMEOUT_MS,
            },
          );
          let failures = 0;
          for (const delivery of drained.deliveries) {
            const { invocation } = delivery;
            failures += invocation.ok
              ? (invocation.result?.batchItemFailures.length ?? 0)
              : delivery.messages;
            if (!invocation.ok || invocation.result?.batchItemFailures.length) {
              problems.push(`a worker invocation failed: ${JSON.stringify(invocation)}\n${worker.output()}`);
            }
          }
          archived = await archiveKeys();
          const expected = [...served.keys()].sort();
          if (JSON.stringify(archived) !== JSON.stringify(expected)) {
            problems.push(
              `archived ${JSON.stringify(archived)}, expected the windows served ${JSON.stringify(expected)}`,
            );
          }
          if (served.size !== plan.enqueued) {
            problems.push(
              `the simulator served ${served.size} windows, the planner enqueued ${plan.enqueued}`,
            );
          }
          let identical = 0;
          for (const key of archived) {
            const object = await s3.send(new GetObjectCommand({ Bucket: found.bucket.name, Key: key }));
            const bytes = Buffer.from((await object.Body?.transformToByteArray()) ?? []);
            if (served.get(key)?.equals(bytes)) identical++;
            else problems.push(`${key} is not the bytes the simulator served`);
          }
          return {
            code: {
              planner: { bytes: code.planner.bytes, files: code.planner.files.length },
              worker: { bytes: code.worker.bytes, files: code.worker.files.length },
            },
            planner: plan,
            worker: {
              invocations: drained.deliveries.length,
              batches: drained.deliveries.map((d) => d.messages),
              failures,
            },
            windows: { served: served.size, archived: archived.length, identical },
          };
        } finally {
          planner.close();
          worker.close();
        }
      }),

    destroy: () =>
      timed(async (problems) => {
        const t = template as Template;
        const found = inspected as Inspected;
        const planner = physical(fn("Planner"));
        const queueUrl = found.functions.worker.environment[HANDLER_ENVIRONMENT.queueUrl] as string;
        await cdk.destroy(moto.endpoint, app, echo);
        const status = await stackStatus(cfn, STACK_NAME);
        if (status !== undefined && status !== "DELETE_COMPLETE") {
          problems.push(`${STACK_NAME} is ${status} after cdk destroy`);
        }
        const gone = async (what: string, call: () => Promise<unknown>) => {
          try {
            await call();
            problems.push(`${what} is still there after cdk destroy`);
          } catch {
            // gone, as it should be
          }
        };
        await gone(`the planner function ${planner}`, () =>
          lambda.send(new GetFunctionCommand({ FunctionName: planner })),
        );
        await gone(`the window queue ${queueUrl}`, () =>
          sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] })),
        );
        const retained: string[] = [];
        const keys = (await kms.send(new ListKeysCommand({}))).Keys ?? [];
        for (const [id, resource] of Object.entries(t.Resources)) {
          if (resource.DeletionPolicy !== "Retain") continue;
          const physicalId = physical(id);
          let there = true;
          if (resource.Type === "AWS::S3::Bucket") {
            there = await s3.send(new HeadBucketCommand({ Bucket: physicalId })).then(
              () => true,
              () => false,
            );
          } else if (resource.Type === "AWS::KMS::Key") {
            there = keys.some((k) => k.KeyId === physicalId);
          } else {
            continue; // log groups: the check has no CloudWatch Logs client
          }
          if (there) retained.push(id);
          else problems.push(`${id} (${resource.Type}, DeletionPolicy Retain) is gone after cdk destroy`);
        }
        const left = await archiveKeys();
        if (left.length !== archived.length) {
          problems.push(
            `${left.length} archived objects left after cdk destroy, expected ${archived.length}`,
          );
        }
        return { status, retained, archivedObjectsLeft: left.length };
      }),

    async close() {
      for (const client of [s3, sqs, lambda, kms, secrets]) client.destroy();
      await Promise.all([moto.close(), simulator.close()]);
    },
  };

  /** The archive's window objects (receipts and digests, under `_`, left out), in key order. */
  async function archiveKeys(): Promise<string[]> {
    const bucket = inspected?.bucket.name as string;
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: PREFIX,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key && !object.Key.startsWith(`${PREFIX}_`)) keys.push(object.Key);
      }
      token = page.NextContinuationToken;
    } while (token);
    return keys.sort();
  }
}

function sorted(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * moto's server with no Docker to reach: it runs a function's code in Docker when it can (the
 * custom resource's provider during the deploy; a mapped queue's function on every send), which
 * here would pull images or hang. moto's `use_docker: false` setting cannot be used instead: with
 * it, its Lambda API no longer sees the functions its CloudFormation created. `DOCKER_HOST` is
 * what moto's Docker client reads; it is set for the spawn only.
 */
async function startMotoWithoutDocker(): Promise<MotoServer> {
  const before = process.env.DOCKER_HOST;
  process.env.DOCKER_HOST = "unix:///nonexistent/atlas-audit-archiver-no-docker.sock";
  try {
    return await startMoto();
  } finally {
    if (before === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = before;
  }
}
