import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { type App, type CfnElement, Duration, Stack } from "aws-cdk-lib";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import type * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sns from "aws-cdk-lib/aws-sns";
import type { Construct } from "constructs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ArchiverConfig,
  BUNDLED_CONFIG_FILE,
  ConfigError,
  parseBundledConfig,
} from "../../lambda/config";
import { AtlasAuditArchiver, type AtlasAuditArchiverProps } from "../../lib";
import {
  bundledFile,
  bundledFunction,
  byStatement,
  functionAssetHash,
  manyWorkspaces,
  NO_BUNDLING,
  normalizeStatement,
  onlyResource,
  PLANNER,
  policyStatements,
  ROOT,
  resourceById,
  resources,
  type TemplateResource,
  TestApps,
  testConfig,
  WORKER,
} from "./support";

const apps = new TestApps();
afterAll(() => apps.cleanup());

interface Synth {
  readonly app: App;
  readonly stack: Stack;
  readonly archiver: AtlasAuditArchiver;
  readonly template: Template;
}

function synth(
  props: Partial<AtlasAuditArchiverProps> & { config: ArchiverConfig },
  options: {
    readonly bundle?: boolean;
    readonly extra?: (stack: Stack) => Partial<AtlasAuditArchiverProps>;
  } = {},
): Synth {
  const app = apps.app(options.bundle ? {} : NO_BUNDLING);
  const stack = new Stack(app, "TestStack");
  const archiver = new AtlasAuditArchiver(stack, "Archiver", { ...props, ...options.extra?.(stack) });
  return { app, stack, archiver, template: Template.fromStack(stack) };
}

const getAtt = (id: string, attribute = "Arn") => ({ "Fn::GetAtt": [id, attribute] });
const join_ = (...parts: unknown[]) => ({ "Fn::Join": ["", parts] });
const byRef = (a: { Ref: string }, b: { Ref: string }) => a.Ref.localeCompare(b.Ref);

function archiveBucketId(template: Template): string {
  return onlyResource(template, "AWS::S3::Bucket", {
    Properties: { VersioningConfiguration: Match.anyValue() },
  }).id;
}

describe("AtlasAuditArchiver with its defaults", () => {
  const config = testConfig({
    workspaces: [
      { groupId: "32b6e34b3d91647abb20e7b8", tenantName: "prod-workspace" },
      { groupId: "32b6e34b3d91647abb20e7b8", tenantName: "billing", spName: "payments" },
    ],
  });
  let s: Synth;
  let bucketId: string;
  beforeAll(() => {
    s = synth({ config }, { bundle: true });
    bucketId = archiveBucketId(s.template);
  });
  const id = (prefix: string, type: string) => resourceById(s.template, type, prefix).id;

  it("runs the bundled planner and worker on Node.js 24, arm64, 1,024 MB, 15 minutes, the planner one at a time", () => {
    const common = {
      Runtime: "nodejs24.x",
      Architectures: ["arm64"],
      Handler: "index.handler",
      MemorySize: 1024,
      Timeout: 900,
    };
    const planner = bundledFunction(s.template, PLANNER.function).resource.Properties;
    expect(planner).toMatchObject({
      ...common,
      ReservedConcurrentExecutions: 1,
      LoggingConfig: { LogFormat: "JSON", LogGroup: { Ref: id(PLANNER.logGroup, "AWS::Logs::LogGroup") } },
    });
    const worker = bundledFunction(s.template, WORKER.function).resource.Properties;
    expect(worker).toMatchObject({
      ...common,
      LoggingConfig: { LogFormat: "JSON", LogGroup: { Ref: id(WORKER.logGroup, "AWS::Logs::LogGroup") } },
    });
    // The workers' concurrency is the event source's maximum concurrency, nothing is reserved.
    expect(worker.ReservedConcurrentExecutions).toBeUndefined();
    // A backfill's chain of self-invocations is intended; the worker keeps Lambda's loop detection.
    expect(planner.RecursiveLoop).toBe("Allow");
    expect(worker.RecursiveLoop).toBeUndefined();
    expect(worker.Description).toMatch(/into S3/);
    expect(planner.Description).toMatch(/window queue/);
  });

  it("passes each function only its own settings: the secret's ARN (never its value) to the worker alone", () => {
    const queueRef = { Ref: id("ArchiverWindowQueue", "AWS::SQS::Queue") };
    const planner = bundledFunction(s.template, PLANNER.function).resource;
    expect(planner.Properties.Environment.Variables).toEqual({
      ARCHIVE_BUCKET: { Ref: bucketId },
      METRICS_NAMESPACE: "AtlasAuditArchiver",
      QUEUE_URL: queueRef,
      LANES_PER_PROJECT: "1",
      RUN_INTERVAL_MINUTES: "60",
      DIGEST_KEY_ARN: getAtt(id("ArchiverDigestKey", "AWS::KMS::Key")),
    });
    const worker = bundledFunction(s.template, WORKER.function).resource;
    expect(worker.Properties.Environment.Variables).toEqual({
      ATLAS_SECRET_ARN: { Ref: onlyResource(s.template, "AWS::SecretsManager::Secret").id },
      ARCHIVE_BUCKET: { Ref: bucketId },
      METRICS_NAMESPACE: "AtlasAuditArchiver",
      QUEUE_URL: queueRef,
      MAX_RECEIVE_COUNT: "10",
    });
    for (const fn of [planner, worker]) {
      expect(JSON.stringify(fn.Properties)).not.toMatch(/resolve:secretsmanager|SecretString|clientSecret/);
    }
  });

  it("bundles the validated parameter file as archiver-config.json beside each minified CJS handler", () => {
    for (const which of [PLANNER.function, WORKER.function]) {
      const bundled = bundledFile(s.app, s.template, BUNDLED_CONFIG_FILE, which);
      expect(parseBundledConfig(bundled, BUNDLED_CONFIG_FILE)).toEqual(config);
      const handler = bundledFile(s.app, s.template, "index.js", which);
      expect(handler).toMatch(/module\.exports/);
      // Minified: the code is packed into very long lines.
      expect(Math.max(...handler.split("\n").map((line) => line.length))).toBeGreaterThan(10_000);
      expect(bundledFile(s.app, s.template, "index.js.map", which)).toContain('"mappings"');
      // The parameter file travels in the bundle, not in the environment.
      expect(JSON.stringify(bundledFunction(s.template, which).resource)).not.toContain("billing");
    }
    // Two handlers, two bundles.
    expect(functionAssetHash(s.template, PLANNER.function)).not.toBe(
      functionAssetHash(s.template, WORKER.function),
    );
  });

  it("leaves zod and undici's fetch, WebSocket and mock agents out of the handler bundles, under 1 MB", () => {
    // A string literal of each module that must stay out; each is checked to be in that module.
    const absent = [
      ["zod/v4/core/errors.js", "$ZodError"],
      ["undici/lib/web/fetch/index.js", "fetch failed"],
      ["undici/lib/web/websocket/websocket.js", "WebSocket constructor"],
      ["undici/lib/mock/mock-errors.js", "UND_MOCK_ERR_MOCK_NOT_MATCHED"],
    ];
    for (const [file, marker] of absent) {
      expect(readFileSync(join(ROOT, "node_modules", file as string), "utf8")).toContain(marker);
    }
    const planner = bundledFile(s.app, s.template, "index.js", PLANNER.function);
    const worker = bundledFile(s.app, s.template, "index.js", WORKER.function);
    for (const handler of [planner, worker]) {
      expect(Buffer.byteLength(handler)).toBeLessThan(1_000_000);
      expect(absent.filter(([, marker]) => handler.includes(marker as string))).toEqual([]);
    }
    // What the worker does use is there: undici's Agent and HTTP/1.1 client, the S3 client.
    expect(worker).toContain("UND_ERR_CONNECT_TIMEOUT");
    expect(worker).toContain('"PutObject"');
    // The planner sends messages, and has no way to read the secret.
    expect(planner).toContain('"SendMessageBatch"');
    expect(planner).not.toContain("GetSecretValue");
  });

  it("loads each bundle as CommonJS exporting handler, even inside this ESM repository", () => {
    for (const which of [PLANNER.function, WORKER.function]) {
      const bundle = join(s.app.outdir, `asset.${functionAssetHash(s.template, which)}`);
      expect(JSON.parse(readFileSync(join(bundle, "package.json"), "utf8"))).toEqual({ type: "commonjs" });
      const loaded = createRequire(import.meta.url)(join(bundle, "index.js")) as Record<string, unknown>;
      expect(typeof loaded.handler).toBe("function");
    }
  });

  it("keeps each function's JSON logs for one year in its own log group", () => {
    for (const logGroup of [PLANNER.logGroup, WORKER.logGroup]) {
      const { resource } = resourceById(s.template, "AWS::Logs::LogGroup", logGroup);
      expect(resource.Properties).toEqual({ RetentionInDays: 365 });
      expect(resource.DeletionPolicy).toBe("Retain");
    }
    // The third is the deploy-time public key reader's, which logs only a failure's cause.
    const { resource } = resourceById(s.template, "AWS::Logs::LogGroup", "ArchiverDigestPublicKeyLogGroup");
    expect(resource.Properties).toEqual({ RetentionInDays: 365 });
    expect(resource.DeletionPolicy).toBe("Delete");
    s.template.resourceCountIs("AWS::Logs::LogGroup", 3);
  });

  it("runs the planner on the parameter file's schedule, and puts undeliverable events in the failed-runs queue", () => {
    s.template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(1 hour)",
      State: "ENABLED",
      Targets: [
        Match.objectLike({
          Arn: getAtt(id(PLANNER.function, "AWS::Lambda::Function")),
          RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
          DeadLetterConfig: { Arn: getAtt(id("ArchiverFailedRuns", "AWS::SQS::Queue")) },
        }),
      ],
    });
    s.template.resourceCountIs("AWS::Events::Rule", 1);
  });

  it("retries a failed planner run twice, then records it in an encrypted, TLS-only queue", () => {
    const failedRuns = id("ArchiverFailedRuns", "AWS::SQS::Queue");
    // The planner's only: the worker is invoked by its event source, never asynchronously.
    const { resource } = onlyResource(s.template, "AWS::Lambda::EventInvokeConfig");
    expect(resource.Properties).toEqual({
      FunctionName: { Ref: id(PLANNER.function, "AWS::Lambda::Function") },
      Qualifier: "$LATEST",
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 21_600,
      DestinationConfig: { OnFailure: { Destination: getAtt(failedRuns) } },
    });
    expect(resourceById(s.template, "AWS::SQS::Queue", failedRuns).resource.Properties).toEqual({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1_209_600,
    });
  });

  it("queues windows in a high-throughput FIFO queue, invisible for six worker timeouts, with a FIFO dead-letter queue", () => {
    const dlq = id("ArchiverDeadLetterQueue", "AWS::SQS::Queue");
    expect(resourceById(s.template, "AWS::SQS::Queue", "ArchiverWindowQueue").resource.Properties).toEqual({
      FifoQueue: true,
      // The planner sets each message's deduplication ID (the window's key).
      ContentBasedDeduplication: false,
      DeduplicationScope: "messageGroup",
      FifoThroughputLimit: "perMessageGroupId",
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1_209_600,
      VisibilityTimeout: 6 * 900,
      RedrivePolicy: { deadLetterTargetArn: getAtt(dlq), maxReceiveCount: 10 },
    });
    expect(resourceById(s.template, "AWS::SQS::Queue", dlq).resource.Properties).toEqual({
      FifoQueue: true,
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1_209_600,
    });
    // Every queue refuses requests without TLS.
    s.template.resourceCountIs("AWS::SQS::Queue", 3);
    const policies = Object.values(resources(s.template, "AWS::SQS::QueuePolicy"));
    expect(policies.flatMap((p) => p.Properties.Queues).sort(byRef)).toEqual(
      Object.keys(resources(s.template, "AWS::SQS::Queue"))
        .map((queue) => ({ Ref: queue }))
        .sort(byRef),
    );
    for (const policy of policies) {
      expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
      );
    }
  });

  it("feeds the worker from the window queue: batches of 10, at most 10 at once, partial batch responses", () => {
    const { resource } = onlyResource(s.template, "AWS::Lambda::EventSourceMapping");
    expect(resource.Properties).toEqual({
      EventSourceArn: getAtt(id("ArchiverWindowQueue", "AWS::SQS::Queue")),
      FunctionName: { Ref: id(WORKER.function, "AWS::Lambda::Function") },
      BatchSize: 10,
      ScalingConfig: { MaximumConcurrency: 10 },
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
  });

  it("lets the planner list and read the prefix, send to the window queue, invoke itself, write digests and sign with the digest key: no secret, no other write", () => {
    const bucketArn = getAtt(bucketId);
    const planner = id(PLANNER.function, "AWS::Lambda::Function");
    expect(policyStatements(s.template, PLANNER.role)).toEqual(
      [
        {
          Sid: "WriteLogs",
          Effect: "Allow",
          Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
          Resource: getAtt(id(PLANNER.logGroup, "AWS::Logs::LogGroup")),
        },
        {
          Sid: "ListArchivePrefix",
          Effect: "Allow",
          Action: ["s3:ListBucket"],
          Resource: bucketArn,
          Condition: { StringLike: { "s3:prefix": ["atlas/stream-audit/*"] } },
        },
        {
          Sid: "ReadArchivePrefix",
          Effect: "Allow",
          Action: ["s3:GetObject"],
          Resource: join_(bucketArn, "/atlas/stream-audit/*"),
        },
        {
          Sid: "EnqueueWindows",
          Effect: "Allow",
          Action: ["sqs:SendMessage"],
          Resource: getAtt(id("ArchiverWindowQueue", "AWS::SQS::Queue")),
        },
        {
          // The only write: digests, below the digests folder.
          Sid: "WriteDigests",
          Effect: "Allow",
          Action: ["s3:PutObject"],
          Resource: join_(bucketArn, "/atlas/stream-audit/_digests/*"),
        },
        {
          // The only use of the digest key: no Verify, no GetPublicKey, no Decrypt.
          Sid: "SignDigests",
          Effect: "Allow",
          Action: ["kms:Sign"],
          Resource: getAtt(id("ArchiverDigestKey", "AWS::KMS::Key")),
        },
        {
          Sid: "ContinueBackfill",
          Effect: "Allow",
          Action: ["lambda:InvokeFunction"],
          Resource: getAtt(planner),
        },
        {
          // Added by the on-failure destination.
          Effect: "Allow",
          Action: ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"],
          Resource: getAtt(id("ArchiverFailedRuns", "AWS::SQS::Queue")),
        },
      ]
        .map(normalizeStatement)
        .sort(byStatement),
    );
    // The self-invocation is in a policy of its own, which the function does not wait for: in the
    // default policy, which it does, its own ARN would be a dependency cycle.
    const selfInvoke = resourceById(s.template, "AWS::IAM::Policy", "ArchiverPlannerSelfInvokePolicy");
    expect(selfInvoke.resource.Properties.Roles).toEqual([{ Ref: id(PLANNER.role, "AWS::IAM::Role") }]);
    const dependsOn = resources(s.template, "AWS::Lambda::Function")[planner]?.DependsOn as string[];
    expect(dependsOn).toContain(id("ArchiverPlannerRoleDefaultPolicy", "AWS::IAM::Policy"));
    expect(dependsOn).not.toContain(selfInvoke.id);
  });

  it("lets the worker list, write, read and abort below the prefix, read the bucket's settings (its doctor), read the secret and consume the queue: no delete, no send", () => {
    const bucketArn = getAtt(bucketId);
    const queueArn = getAtt(id("ArchiverWindowQueue", "AWS::SQS::Queue"));
    expect(policyStatements(s.template, WORKER.role)).toEqual(
      [
        {
          Sid: "WriteLogs",
          Effect: "Allow",
          Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
          Resource: getAtt(id(WORKER.logGroup, "AWS::Logs::LogGroup")),
        },
        {
          Sid: "ListArchivePrefix",
          Effect: "Allow",
          Action: ["s3:ListBucket"],
          Resource: bucketArn,
          Condition: { StringLike: { "s3:prefix": ["atlas/stream-audit/*"] } },
        },
        {
          Sid: "WriteArchivePrefix",
          Effect: "Allow",
          Action: ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
          Resource: join_(bucketArn, "/atlas/stream-audit/*"),
        },
        // The doctor's bucket lines: the bucket's settings, on the bucket alone.
        {
          Sid: "ReadBucketSettings",
          Effect: "Allow",
          Action: [
            "s3:GetBucketLocation",
            "s3:GetBucketObjectLockConfiguration",
            "s3:GetBucketVersioning",
            "s3:GetEncryptionConfiguration",
          ],
          Resource: bucketArn,
        },
        {
          Sid: "ReadAtlasSecret",
          Effect: "Allow",
          Action: ["secretsmanager:GetSecretValue"],
          Resource: { Ref: onlyResource(s.template, "AWS::SecretsManager::Secret").id },
        },
        {
          Sid: "DelayWindowMessages",
          Effect: "Allow",
          Action: ["sqs:ChangeMessageVisibility"],
          Resource: queueArn,
        },
        // Digests are the planner's: the worker's write below the prefix stops short of them.
        {
          Sid: "NoDigestWrites",
          Effect: "Deny",
          Action: ["s3:PutObject"],
          Resource: join_(bucketArn, "/atlas/stream-audit/_digests/*"),
        },
        {
          // Added by the SQS event source.
          Effect: "Allow",
          Action: [
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
            "sqs:ReceiveMessage",
          ],
          Resource: queueArn,
        },
      ]
        .map(normalizeStatement)
        .sort(byStatement),
    );
    for (const role of Object.values(resources(s.template, "AWS::IAM::Role"))) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  it("gives no statement anywhere a delete, and sends to the window queue from the planner alone", () => {
    const every = [PLANNER.role, WORKER.role].flatMap((role) =>
      policyStatements(s.template, role).map((st): Record<string, unknown> => ({ role, ...st })),
    );
    expect(every.filter((st) => (st.Action as string[]).some((a) => /Delete(?!Message$)/.test(a)))).toEqual(
      [],
    );
    const senders = every.filter((st) => (st.Action as string[]).some((a) => a.startsWith("sqs:Send")));
    expect(senders.map((st) => [st.role, st.Resource])).toEqual(
      expect.arrayContaining([
        [PLANNER.role, getAtt(id("ArchiverWindowQueue", "AWS::SQS::Queue"))],
        [PLANNER.role, getAtt(id("ArchiverFailedRuns", "AWS::SQS::Queue"))],
      ]),
    );
    expect(senders).toHaveLength(2);
    // Neither may touch the dead-letter queue: SQS moves messages there itself.
    expect(JSON.stringify(every)).not.toContain(id("ArchiverDeadLetterQueue", "AWS::SQS::Queue"));
  });

  it("creates a private, TLS-only, S3-encrypted, versioned archive bucket that survives the stack", () => {
    s.template.hasResource("AWS::S3::Bucket", {
      Properties: {
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
        },
        VersioningConfiguration: { Status: "Enabled" },
        OwnershipControls: { Rules: [{ ObjectOwnership: "BucketOwnerEnforced" }] },
      },
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
    });
    s.template.hasResourceProperties("AWS::S3::BucketPolicy", {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: "Deny",
            Principal: { AWS: "*" },
            Action: "s3:*",
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          }),
          Match.objectLike({
            Effect: "Deny",
            Action: "s3:*",
            Condition: { NumericLessThan: { "s3:TlsVersion": 1.2 } },
          }),
        ]),
      },
    });
    expect(
      s.template.findResources("AWS::KMS::Key", {
        Properties: { Description: Match.stringLikeRegexp("audit log archive") },
      }),
    ).toEqual({});
  });

  it("aborts stale uploads and moves the archive to Glacier IR after 90 days", () => {
    const bucket = resources(s.template, "AWS::S3::Bucket")[bucketId] as TemplateResource;
    expect(bucket.Properties.LifecycleConfiguration.Rules).toEqual([
      {
        Id: "abort-incomplete-uploads-and-clean-delete-markers",
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 3 },
        ExpiredObjectDeleteMarker: true,
        Status: "Enabled",
      },
      {
        Id: "archive-retention",
        Prefix: "atlas/stream-audit/",
        Transitions: [{ StorageClass: "GLACIER_IR", TransitionInDays: 90 }],
        Status: "Enabled",
      },
    ]);
    expect(bucket.Properties.ObjectLockEnabled).toBeUndefined();
  });

  it("logs bucket access into a separate private log bucket through a bucket policy, not an ACL", () => {
    const archive = resources(s.template, "AWS::S3::Bucket")[bucketId] as TemplateResource;
    const logBucketId = archive.Properties.LoggingConfiguration.DestinationBucketName.Ref as string;
    expect(logBucketId).not.toBe(bucketId);
    expect(archive.Properties.LoggingConfiguration.LogFilePrefix).toBe("atlas-audit-archive/");
    const logBucket = resources(s.template, "AWS::S3::Bucket")[logBucketId] as TemplateResource;
    expect(logBucket.Properties).toMatchObject({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
      },
      LifecycleConfiguration: { Rules: [expect.objectContaining({ ExpirationInDays: 365 })] },
    });
    expect(logBucket.Properties.AccessControl).toBeUndefined();
    s.template.hasResourceProperties("AWS::S3::BucketPolicy", {
      Bucket: { Ref: logBucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: "Allow",
            Principal: { Service: "logging.s3.amazonaws.com" },
            Action: "s3:PutObject",
          }),
        ]),
      },
    });
  });

  it("creates a secret with a placeholder in the documented JSON shape for the user to fill in", () => {
    s.template.hasResourceProperties("AWS::SecretsManager::Secret", {
      GenerateSecretString: {
        SecretStringTemplate: '{"clientId":"REPLACE_ME"}',
        GenerateStringKey: "clientSecret",
      },
    });
  });

  it("alarms on errors, failed, invalid and expired windows, an old window, a stopped schedule, failed runs and dead letters, notifying the topic both ways", () => {
    const fnRef = (which: string) => ({ Ref: id(which, "AWS::Lambda::Function") });
    const of = (which: string) => [{ Name: "FunctionName", Value: fnRef(which) }];
    const queueName = (queue: string) => [
      { Name: "QueueName", Value: getAtt(id(queue, "AWS::SQS::Queue"), "QueueName") },
    ];
    const topicId = onlyResource(s.template, "AWS::SNS::Topic").id;
    const notify = { AlarmActions: [{ Ref: topicId }], OKActions: [{ Ref: topicId }] };
    const onAny = {
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      EvaluationPeriods: 1,
      TreatMissingData: "notBreaching",
      ...notify,
    };
    const alarm = (name: string) =>
      resourceById(s.template, "AWS::CloudWatch::Alarm", `Archiver${name}`).resource.Properties;
    s.template.resourceCountIs("AWS::CloudWatch::Alarm", 9);
    /** A sum of the planner's and the worker's metric, each summed over two hours. */
    const sumOfBoth = (namespace: string, metricName: string) => [
      expect.objectContaining({ Expression: "FILL(planner, 0) + FILL(worker, 0)", ReturnData: true }),
      ...[
        ["planner", PLANNER.function],
        ["worker", WORKER.function],
      ].map(([metricId, which]) => ({
        Id: metricId,
        MetricStat: {
          Metric: { Namespace: namespace, MetricName: metricName, Dimensions: of(which as string) },
          Period: 7200,
          Stat: "Sum",
        },
        ReturnData: false,
      })),
    ];
    expect(alarm("ErrorsAlarm")).toMatchObject({ ...onAny });
    expect(alarm("ErrorsAlarm").Metrics).toEqual(sumOfBoth("AWS/Lambda", "Errors"));
    expect(alarm("WindowsFailedAlarm")).toMatchObject({ ...onAny });
    expect(alarm("WindowsFailedAlarm").Metrics).toEqual(sumOfBoth("AtlasAuditArchiver", "WindowsFailed"));
    expect(alarm("InvalidObjectsAlarm")).toMatchObject({ ...onAny });
    expect(alarm("InvalidObjectsAlarm").Metrics).toEqual(sumOfBoth("AtlasAuditArchiver", "WindowsInvalid"));
    // A day the planner could not seal, or a receipt a worker could not write.
    expect(alarm("DigestFailuresAlarm")).toMatchObject({ ...onAny });
    expect(alarm("DigestFailuresAlarm").Metrics).toEqual(sumOfBoth("AtlasAuditArchiver", "DigestFailures"));
    expect(alarm("BacklogAlarm")).toMatchObject({
      Namespace: "AWS/SQS",
      MetricName: "ApproximateAgeOfOldestMessage",
      Dimensions: queueName("ArchiverWindowQueue"),
      Statistic: "Maximum",
      Period: 300,
      // Three hourly runs, in seconds.
      Threshold: 3 * 3600,
      ComparisonOperator: "GreaterThanThreshold",
      EvaluationPeriods: 1,
      TreatMissingData: "notBreaching",
      ...notify,
    });
    expect(alarm("BacklogAlarm").AlarmDescription).toMatch(/backfill legitimately holds old messages/);
    expect(alarm("NotRunningAlarm")).toMatchObject({
      Namespace: "AWS/Lambda",
      MetricName: "Invocations",
      Dimensions: of(PLANNER.function),
      Statistic: "Sum",
      Period: 7200,
      Threshold: 1,
      ComparisonOperator: "LessThanThreshold",
      TreatMissingData: "breaching",
      ...notify,
    });
    expect(alarm("WindowsExpiredAlarm")).toMatchObject({
      Namespace: "AtlasAuditArchiver",
      MetricName: "WindowsExpired",
      Dimensions: of(PLANNER.function),
      Statistic: "Sum",
      Period: 7200,
      ...onAny,
    });
    for (const [name, queue] of [
      ["FailedRunsAlarm", "ArchiverFailedRuns"],
      ["DeadLettersAlarm", "ArchiverDeadLetterQueue"],
    ] as const) {
      expect(alarm(name)).toMatchObject({
        Namespace: "AWS/SQS",
        MetricName: "ApproximateNumberOfMessagesVisible",
        Dimensions: queueName(queue),
        Statistic: "Maximum",
        Period: 300,
        ...onAny,
        TreatMissingData: "ignore",
      });
    }
  });

  it("says what a dead letter means and how to redrive it", () => {
    const description = resourceById(s.template, "AWS::CloudWatch::Alarm", "ArchiverDeadLettersAlarm")
      .resource.Properties.AlarmDescription as string;
    expect(description).toMatch(/"window failed" log lines \(with receiveCount\)/);
    expect(description).toMatch(/aws sqs start-message-move-task/);
    expect(description).toMatch(/or delete them/);
    expect(description).toMatch(/re-enqueues any window still within/);
    expect(description.length).toBeLessThanOrEqual(1024);
  });

  it("encrypts the alarm topic with a rotated key that CloudWatch may use, and accepts only TLS", () => {
    const { resource: topic } = onlyResource(s.template, "AWS::SNS::Topic");
    const keyId = (topic.Properties.KmsMasterKeyId as { "Fn::GetAtt": string[] })["Fn::GetAtt"][0] as string;
    s.template.hasResourceProperties("AWS::KMS::Key", {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: "cloudwatch.amazonaws.com" },
            Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
          }),
        ]),
      },
    });
    expect(s.template.findResources("AWS::KMS::Key")[keyId]).toBeDefined();
    s.template.hasResourceProperties("AWS::SNS::TopicPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
    s.template.resourceCountIs("AWS::SNS::Subscription", 0);
  });

  it("says what an invalid object at a window's key means and how to resolve it", () => {
    const { resource } = resourceById(s.template, "AWS::CloudWatch::Alarm", "ArchiverInvalidObjectsAlarm");
    const description = resource.Properties.AlarmDescription as string;
    expect(description).toMatch(/not a verified archive object/);
    expect(description).toMatch(/full-object CRC32/);
    expect(description).toMatch(/head-object --checksum-mode ENABLED/);
    expect(description).toMatch(/principal other than the functions/);
    expect(description).toMatch(/next run archives the window again/);
    expect(description.length).toBeLessThanOrEqual(1024);
  });

  it("lets CloudWatch publish to the topic and use its key only for this account's alarms", () => {
    const topicId = onlyResource(s.template, "AWS::SNS::Topic").id;
    const thisAccountsAlarms = {
      StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } },
      ArnLike: {
        "aws:SourceArn": join_(
          "arn:",
          { Ref: "AWS::Partition" },
          ":cloudwatch:",
          { Ref: "AWS::Region" },
          ":",
          { Ref: "AWS::AccountId" },
          ":alarm:*",
        ),
      },
    };
    const { resource: policy } = onlyResource(s.template, "AWS::SNS::TopicPolicy");
    expect(policy.Properties.Topics).toEqual([{ Ref: topicId }]);
    // A topic policy replaces SNS's default policy: without the Allow, no alarm could publish.
    expect(policy.Properties.PolicyDocument.Statement).toEqual([
      {
        Sid: "AllowPublishThroughSSLOnly",
        Effect: "Deny",
        Principal: "*",
        Action: "sns:Publish",
        Resource: { Ref: topicId },
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
      {
        Sid: "AllowCloudWatchAlarmsToPublish",
        Effect: "Allow",
        Principal: { Service: "cloudwatch.amazonaws.com" },
        Action: "sns:Publish",
        Resource: { Ref: topicId },
        Condition: thisAccountsAlarms,
      },
    ]);
    const { resource: topic } = onlyResource(s.template, "AWS::SNS::Topic");
    const keyId = (topic.Properties.KmsMasterKeyId as { "Fn::GetAtt": string[] })["Fn::GetAtt"][0] as string;
    const key = resources(s.template, "AWS::KMS::Key")[keyId] as TemplateResource;
    const statements = key.Properties.KeyPolicy.Statement as Record<string, unknown>[];
    expect(statements.filter((st) => JSON.stringify(st.Principal).includes("cloudwatch"))).toEqual([
      {
        Sid: "AllowCloudWatchAlarmsToPublish",
        Effect: "Allow",
        Principal: { Service: "cloudwatch.amazonaws.com" },
        Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
        Resource: "*",
        Condition: thisAccountsAlarms,
      },
    ]);
  });

  it("exposes what it created", () => {
    const a = s.archiver;
    const logicalId = (construct: Construct) =>
      s.stack.getLogicalId(construct.node.defaultChild as CfnElement);
    expect(logicalId(a.plannerFunction)).toBe(id(PLANNER.function, "AWS::Lambda::Function"));
    expect(logicalId(a.workerFunction)).toBe(id(WORKER.function, "AWS::Lambda::Function"));
    expect(logicalId(a.plannerRole)).toBe(id(PLANNER.role, "AWS::IAM::Role"));
    expect(logicalId(a.workerRole)).toBe(id(WORKER.role, "AWS::IAM::Role"));
    expect(logicalId(a.plannerLogGroup)).toBe(id(PLANNER.logGroup, "AWS::Logs::LogGroup"));
    expect(logicalId(a.workerLogGroup)).toBe(id(WORKER.logGroup, "AWS::Logs::LogGroup"));
    expect(logicalId(a.queue)).toBe(id("ArchiverWindowQueue", "AWS::SQS::Queue"));
    expect(logicalId(a.deadLetterQueue)).toBe(id("ArchiverDeadLetterQueue", "AWS::SQS::Queue"));
    expect(a.encryptionKey).toBeUndefined();
    expect(a.accessLogsBucket).toBeDefined();
    expect(a.securityGroup).toBeUndefined();
    expect(a.notRunningAlarm).toBeDefined();
    expect(a.alarms).toEqual([
      a.errorsAlarm,
      a.windowsFailedAlarm,
      a.invalidObjectsAlarm,
      a.backlogAlarm,
      a.failedRunsAlarm,
      a.windowsExpiredAlarm,
      a.deadLettersAlarm,
      a.digestFailuresAlarm,
      a.notRunningAlarm,
    ]);
    expect(logicalId(a.deadLettersAlarm)).toMatch(/^ArchiverDeadLettersAlarm/);
    expect(a.settings.runIntervalMinutes).toBe(60);
  });
});

describe("AtlasAuditArchiver bundling", () => {
  it("fits 500 workspaces, and changes the code asset exactly when the configuration changes", () => {
    const base = synth({ config: testConfig() }, { bundle: true });
    const again = synth({ config: testConfig() }, { bundle: true });
    const large = manyWorkspaces(500);
    const big = synth({ config: large }, { bundle: true });

    for (const which of [PLANNER.function, WORKER.function]) {
      expect(functionAssetHash(again.template, which)).toBe(functionAssetHash(base.template, which));
      expect(functionAssetHash(big.template, which)).not.toBe(functionAssetHash(base.template, which));

      const text = bundledFile(big.app, big.template, BUNDLED_CONFIG_FILE, which);
      const bundled = parseBundledConfig(text, "bundle");
      expect(bundled.workspaces).toHaveLength(500);
      expect(bundled).toEqual(large);
      const env = bundledFunction(big.template, which).resource.Properties.Environment;
      expect(JSON.stringify(env).length).toBeLessThan(1024);
    }
  });

  it("tells apart the functions of a template with several, and keeps the one-function form", () => {
    const { template } = synth({ config: testConfig() });
    expect(() => functionAssetHash(template)).toThrow(/expected one AWS::Lambda::Function, found 2/);
    expect(() => functionAssetHash(template, "ArchiverNoSuchFunction")).toThrow(/found 0/);
    const single = apps.stack(NO_BUNDLING);
    new lambda.Function(single, "Fn", {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: "index.handler",
      code: lambda.Code.fromAsset(join(ROOT, "lambda", "config")),
    });
    expect(functionAssetHash(Template.fromStack(single))).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("AtlasAuditArchiver options", () => {
  it("uses a retained, rotated KMS key when asked, and grants only data-key use through S3 (the planner's for digests)", () => {
    const { template, stack, archiver } = synth({ config: testConfig(), encryption: "KMS" });
    const keyId = stack.getLogicalId(archiver.encryptionKey?.node.defaultChild as kms.CfnKey);
    template.hasResource("AWS::KMS::Key", {
      Properties: { EnableKeyRotation: true },
      DeletionPolicy: "Retain",
    });
    template.hasResourceProperties("AWS::S3::Bucket", {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            ServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: getAtt(keyId) },
            BucketKeyEnabled: true,
          },
        ],
      },
    });
    const viaS3 = {
      StringEquals: { "kms:ViaService": join_("s3.", { Ref: "AWS::Region" }, ".amazonaws.com") },
    };
    const keyStatements = (role: string) =>
      policyStatements(template, role).filter((st) =>
        (st.Action as string[]).some((a) => a.startsWith("kms:")),
      );
    expect(keyStatements(WORKER.role)).toEqual([
      {
        Sid: "UseArchiveKey",
        Effect: "Allow",
        Action: ["kms:Decrypt", "kms:GenerateDataKey"],
        Resource: getAtt(keyId),
        Condition: viaS3,
      },
    ]);
    // The planner reads (a read-back of an object whose store reports no checksum), and encrypts
    // the digests it writes; it signs with the digest key, which is not the archive's.
    const digestKeyId = stack.getLogicalId(archiver.digestKey?.node.defaultChild as kms.CfnKey);
    expect(keyStatements(PLANNER.role)).toEqual(
      [
        {
          Sid: "ReadArchiveKey",
          Effect: "Allow",
          Action: ["kms:Decrypt"],
          Resource: getAtt(keyId),
          Condition: viaS3,
        },
        {
          Sid: "EncryptDigests",
          Effect: "Allow",
          Action: ["kms:GenerateDataKey"],
          Resource: getAtt(keyId),
          Condition: viaS3,
        },
        { Sid: "SignDigests", Effect: "Allow", Action: ["kms:Sign"], Resource: getAtt(digestKeyId) },
      ].sort(byStatement),
    );
  });

  it("locks objects (WORM), expires them after the retention, and can do without access logs", () => {
    const { template, archiver } = synth({
      config: testConfig(),
      objectLock: { mode: "COMPLIANCE", retentionDays: 2555 },
      transition: { storageClass: s3.StorageClass.INFREQUENT_ACCESS, afterDays: 30 },
      expireAfterDays: 3650,
      serverAccessLogs: false,
      alarmEmail: "ops@example.com",
    });
    const { resource } = onlyResource(template, "AWS::S3::Bucket", {
      Properties: { VersioningConfiguration: Match.anyValue() },
    });
    expect(resource.Properties.ObjectLockEnabled).toBe(true);
    expect(resource.Properties.ObjectLockConfiguration).toEqual({
      ObjectLockEnabled: "Enabled",
      Rule: { DefaultRetention: { Mode: "COMPLIANCE", Days: 2555 } },
    });
    expect(resource.Properties.LoggingConfiguration).toBeUndefined();
    expect(resource.Properties.LifecycleConfiguration.Rules[1]).toEqual({
      Id: "archive-retention",
      Prefix: "atlas/stream-audit/",
      Transitions: [{ StorageClass: "STANDARD_IA", TransitionInDays: 30 }],
      ExpirationInDays: 3650,
      NoncurrentVersionExpiration: { NoncurrentDays: 30 },
      Status: "Enabled",
    });
    template.hasResourceProperties("AWS::SNS::Subscription", {
      Protocol: "email",
      Endpoint: "ops@example.com",
    });
    expect(archiver.accessLogsBucket).toBeUndefined();
  });

  it("keeps the archive in S3 Standard when the transition is off", () => {
    const { template } = synth({ config: testConfig(), transition: false });
    const rules = onlyResource(template, "AWS::S3::Bucket", {
      Properties: { VersioningConfiguration: Match.anyValue() },
    }).resource.Properties.LifecycleConfiguration.Rules as { Id: string }[];
    expect(rules.map((r) => r.Id)).toEqual(["abort-incomplete-uploads-and-clean-delete-markers"]);
  });

  it("runs both functions in the VPC's private subnets with one security group that only allows outbound HTTPS", () => {
    const { template } = synth(
      { config: testConfig() },
      { extra: (stack) => ({ vpc: new ec2.Vpc(stack, "Vpc", { maxAzs: 2, natGateways: 1 }) }) },
    );
    const privateSubnets = Object.keys(
      template.findResources("AWS::EC2::Subnet", {
        Properties: { Tags: Match.arrayWith([{ Key: "aws-cdk:subnet-type", Value: "Private" }]) },
      }),
    );
    expect(privateSubnets).toHaveLength(2);
    const sgId = onlyResource(template, "AWS::EC2::SecurityGroup", {
      Properties: { GroupDescription: Match.stringLikeRegexp("outbound HTTPS only") },
    }).id;
    // (The VPC brings a custom-resource function of its own.)
    for (const which of [PLANNER.function, WORKER.function]) {
      expect(bundledFunction(template, which).resource.Properties.VpcConfig).toEqual({
        SubnetIds: expect.arrayContaining(privateSubnets.map((id) => ({ Ref: id }))),
        SecurityGroupIds: [getAtt(sgId, "GroupId")],
      });
    }
    template.hasResourceProperties("AWS::EC2::SecurityGroup", {
      GroupDescription: Match.stringLikeRegexp("outbound HTTPS only"),
      SecurityGroupEgress: [
        { CidrIp: "0.0.0.0/0", IpProtocol: "tcp", FromPort: 443, ToPort: 443, Description: Match.anyValue() },
      ],
    });
    expect(template.toJSON().Resources[sgId].Properties.SecurityGroupIngress).toBeUndefined();
  });

  it("grants only the network-interface actions in a VPC, not the managed policy's logs:* on every log group", () => {
    const { template, stack, archiver } = synth(
      { config: testConfig() },
      { extra: (stack) => ({ vpc: new ec2.Vpc(stack, "Vpc", { maxAzs: 2, natGateways: 1 }) }) },
    );
    const outside = synth({ config: testConfig() }).template;
    for (const [role, which] of [
      [archiver.plannerRole, PLANNER.role],
      [archiver.workerRole, WORKER.role],
    ] as const) {
      const roleId = stack.getLogicalId(role.node.defaultChild as iam.CfnRole);
      const resource = resources(template, "AWS::IAM::Role")[roleId] as TemplateResource;
      // CDK adds AWSLambdaVPCAccessExecutionRole only to a role it creates itself, never to one passed in.
      expect(resource.Properties.ManagedPolicyArns).toBeUndefined();
      const roleStatements = policyStatements(template, which);
      expect(roleStatements).toContainEqual({
        Sid: "ManageVpcNetworkInterfaces",
        Effect: "Allow",
        Action: [
          "ec2:AssignPrivateIpAddresses",
          "ec2:CreateNetworkInterface",
          "ec2:DeleteNetworkInterface",
          "ec2:DescribeNetworkInterfaces",
          "ec2:DescribeSubnets",
          "ec2:UnassignPrivateIpAddresses",
        ],
        Resource: "*",
      });
      // The rest is what the function has outside a VPC.
      expect(roleStatements.filter((st) => st.Sid !== "ManageVpcNetworkInterfaces")).toEqual(
        policyStatements(outside, which),
      );
    }
    // No statement of any role or policy in the template allows a logs action on every resource.
    const everyStatement = [
      ...Object.values(resources(template, "AWS::IAM::Policy")).flatMap(
        (p) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[],
      ),
      ...Object.values(resources(template, "AWS::IAM::Role")).flatMap((r) =>
        (
          (r.Properties.Policies ?? []) as { PolicyDocument: { Statement: Record<string, unknown>[] } }[]
        ).flatMap((p) => p.PolicyDocument.Statement),
      ),
    ].map(normalizeStatement);
    expect(everyStatement.length).toBeGreaterThan(5);
    const onEverything = (st: Record<string, unknown>) =>
      st.Resource === "*" || (Array.isArray(st.Resource) && st.Resource.includes("*"));
    expect(
      everyStatement.filter(
        (st) => onEverything(st) && (st.Action as string[]).some((a) => a.startsWith("logs:")),
      ),
    ).toEqual([]);
  });

  it("leaves an alarm topic passed in alone (its policy is the user's), and notifies it", () => {
    const { template } = synth(
      { config: testConfig() },
      { extra: (stack) => ({ alarmTopic: new sns.Topic(stack, "OpsTopic") }) },
    );
    const topicId = onlyResource(template, "AWS::SNS::Topic").id;
    expect(topicId).toMatch(/^OpsTopic/);
    template.resourceCountIs("AWS::SNS::TopicPolicy", 0);
    expect(
      template.findResources("AWS::KMS::Key", {
        Properties: { Description: Match.stringLikeRegexp("alarm topic") },
      }),
    ).toEqual({});
    for (const alarm of Object.values(resources(template, "AWS::CloudWatch::Alarm"))) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
    }
  });

  it("archives into an existing bucket and secret, creating neither, with grants on their ARNs and keys", () => {
    const { template } = synth(
      { config: testConfig({ archive: { bucket: "my-archive-bucket", prefix: "" } }) },
      {
        extra: (stack) => ({
          secret: secretsmanager.Secret.fromSecretNameV2(stack, "Secret", "atlas/audit-archiver"),
          secretEncryptionKey: kms.Key.fromKeyArn(
            stack,
            "SecretKey",
            "arn:aws:kms:eu-west-1:123456789012:key/secret-key",
          ),
          encryptionKey: kms.Key.fromKeyArn(
            stack,
            "BucketKey",
            "arn:aws:kms:eu-west-1:123456789012:key/bucket-key",
          ),
        }),
      },
    );
    // The only bucket created is the Athena workgroup's query results bucket.
    expect(Object.keys(resources(template, "AWS::S3::Bucket"))).toEqual([
      expect.stringMatching(/^ArchiverAthenaQueryResults/),
    ]);
    template.resourceCountIs("AWS::SecretsManager::Secret", 0);
    const bucketArn = join_("arn:", { Ref: "AWS::Partition" }, ":s3:::my-archive-bucket");
    const viaService = (service: string) => ({
      StringEquals: { "kms:ViaService": join_(`${service}.`, { Ref: "AWS::Region" }, ".amazonaws.com") },
    });
    const statements = (role: string) =>
      policyStatements(template, role).filter(
        (st) =>
          ![
            "WriteLogs",
            "EnqueueWindows",
            "DelayWindowMessages",
            "ContinueBackfill",
            "SignDigests",
            "NoDigestWrites",
            undefined,
          ].includes(st.Sid as string),
      );
    const objects = join_("arn:", { Ref: "AWS::Partition" }, ":s3:::my-archive-bucket/*");
    // An empty prefix is the whole bucket: no s3:prefix condition.
    const list = {
      Sid: "ListArchivePrefix",
      Effect: "Allow",
      Action: ["s3:ListBucket"],
      Resource: bucketArn,
    };
    expect(statements(PLANNER.role)).toEqual(
      [
        list,
        { Sid: "ReadArchivePrefix", Effect: "Allow", Action: ["s3:GetObject"], Resource: objects },
        {
          Sid: "ReadArchiveKey",
          Effect: "Allow",
          Action: ["kms:Decrypt"],
          Resource: "arn:aws:kms:eu-west-1:123456789012:key/bucket-key",
          Condition: viaService("s3"),
        },
        // An empty prefix: the digests folder is at the bucket's root.
        {
          Sid: "WriteDigests",
          Effect: "Allow",
          Action: ["s3:PutObject"],
          Resource: join_("arn:", { Ref: "AWS::Partition" }, ":s3:::my-archive-bucket/_digests/*"),
        },
        {
          Sid: "EncryptDigests",
          Effect: "Allow",
          Action: ["kms:GenerateDataKey"],
          Resource: "arn:aws:kms:eu-west-1:123456789012:key/bucket-key",
          Condition: viaService("s3"),
        },
      ]
        .map(normalizeStatement)
        .sort(byStatement),
    );
    expect(statements(WORKER.role)).toEqual(
      [
        list,
        {
          Sid: "WriteArchivePrefix",
          Effect: "Allow",
          Action: ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
          Resource: objects,
        },
        {
          Sid: "ReadBucketSettings",
          Effect: "Allow",
          Action: [
            "s3:GetBucketLocation",
            "s3:GetBucketObjectLockConfiguration",
            "s3:GetBucketVersioning",
            "s3:GetEncryptionConfiguration",
          ],
          Resource: bucketArn,
        },
        {
          Sid: "ReadAtlasSecret",
          Effect: "Allow",
          Action: ["secretsmanager:GetSecretValue"],
          Resource: join_(
            "arn:",
            { Ref: "AWS::Partition" },
            ":secretsmanager:",
            { Ref: "AWS::Region" },
            ":",
            { Ref: "AWS::AccountId" },
            ":secret:atlas/audit-archiver-??????",
          ),
        },
        {
          Sid: "UseArchiveKey",
          Effect: "Allow",
          Action: ["kms:Decrypt", "kms:GenerateDataKey"],
          Resource: "arn:aws:kms:eu-west-1:123456789012:key/bucket-key",
          Condition: viaService("s3"),
        },
        {
          Sid: "DecryptAtlasSecret",
          Effect: "Allow",
          Action: ["kms:Decrypt"],
          Resource: "arn:aws:kms:eu-west-1:123456789012:key/secret-key",
          Condition: viaService("secretsmanager"),
        },
      ]
        .map(normalizeStatement)
        .sort(byStatement),
    );
    for (const which of [PLANNER.function, WORKER.function]) {
      expect(bundledFunction(template, which).resource.Properties.Environment.Variables).toMatchObject({
        ARCHIVE_BUCKET: "my-archive-bucket",
      });
    }
  });

  it("sizes the alarm windows from the schedule, and warns when a cron schedule's interval is unknown", () => {
    const fiveMinutes = synth({
      config: testConfig({ schedule: "rate(5 minutes)", window: { minutes: 5 } }),
    });
    const periods = (template: Template) =>
      Object.fromEntries(
        Object.values(template.findResources("AWS::CloudWatch::Alarm")).map((a) => {
          const p = (a as { Properties: { MetricName?: string; Period?: number } }).Properties;
          return [p.MetricName, p.Period];
        }),
      );
    expect(periods(fiveMinutes.template)).toMatchObject({ Invocations: 35 * 60, WindowsExpired: 35 * 60 });
    // The backlog alarm fires on a window older than three runs.
    fiveMinutes.template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "ApproximateAgeOfOldestMessage",
      Threshold: 15 * 60,
    });

    const weekdays = synth({ config: testConfig({ schedule: "cron(0 2 ? * MON-FRI *)" }) });
    Annotations.fromStack(weekdays.stack).hasWarning(
      "/TestStack/Archiver",
      Match.stringLikeRegexp("set the runIntervalMinutes prop"),
    );
    expect(periods(weekdays.template)).toMatchObject({ Invocations: 2 * 86_400 });
    weekdays.template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "cron(0 2 ? * MON-FRI *)",
    });
  });

  it("fails the synth with the parameter file's message when a hand-made configuration has a bad schedule", () => {
    const stack = apps.stack(NO_BUNDLING);
    const config = { ...testConfig(), schedule: "rate(0 hours)" };
    let error: unknown;
    try {
      new AtlasAuditArchiver(stack, "Archiver", { config });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(
      /^props\.config has 1 problem:\n {2}- \$\.schedule = "rate\(0 hours\)": /,
    );
  });

  it("sets the worker's memory and timeout (and the queue's visibility) and the metrics namespace from props", () => {
    const { template } = synth({
      config: testConfig(),
      memorySize: 2048,
      timeout: Duration.minutes(10),
      metricsNamespace: "Audit/Archiver",
    });
    const props = (which: string) => bundledFunction(template, which).resource.Properties;
    expect(props(WORKER.function)).toMatchObject({ MemorySize: 2048, Timeout: 600 });
    // The planner's are fixed: it never downloads.
    expect(props(PLANNER.function)).toMatchObject({ MemorySize: 1024, Timeout: 900 });
    for (const which of [PLANNER.function, WORKER.function]) {
      expect(props(which).Environment.Variables).toMatchObject({ METRICS_NAMESPACE: "Audit/Archiver" });
    }
    template.hasResourceProperties("AWS::SQS::Queue", { FifoQueue: true, VisibilityTimeout: 6 * 600 });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "WindowsExpired",
      Namespace: "Audit/Archiver",
    });
  });

  it("sets the workers' concurrency, the lanes per project, the batch size and the receives before the dead-letter queue from props", () => {
    const { template } = synth({
      config: testConfig(),
      workerConcurrency: 50,
      lanesPerProject: 3,
      batchSize: 1,
      maxReceiveCount: 4,
    });
    const mapping = onlyResource(template, "AWS::Lambda::EventSourceMapping").resource.Properties;
    expect(mapping).toMatchObject({ BatchSize: 1, ScalingConfig: { MaximumConcurrency: 50 } });
    const env = (which: string) => bundledFunction(template, which).resource.Properties.Environment.Variables;
    expect(env(PLANNER.function)).toMatchObject({ LANES_PER_PROJECT: "3" });
    expect(env(WORKER.function)).toMatchObject({ MAX_RECEIVE_COUNT: "4" });
    expect(env(PLANNER.function).MAX_RECEIVE_COUNT).toBeUndefined();
    expect(env(WORKER.function).LANES_PER_PROJECT).toBeUndefined();
    const queue = resourceById(template, "AWS::SQS::Queue", "ArchiverWindowQueue").resource.Properties;
    expect(queue.RedrivePolicy.maxReceiveCount).toBe(4);
  });
});
