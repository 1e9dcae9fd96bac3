import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { type App, Duration, Stack } from "aws-cdk-lib";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import type * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sns from "aws-cdk-lib/aws-sns";
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
  byStatement,
  functionAssetHash,
  manyWorkspaces,
  NO_BUNDLING,
  normalizeStatement,
  onlyResource,
  policyStatements,
  ROOT,
  resources,
  type TemplateResource,
  TestApps,
  testConfig,
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

  it("runs the bundled handler on Node.js 24, arm64, 1,024 MB, 15 minutes, never more than one at a time", () => {
    s.template.hasResourceProperties("AWS::Lambda::Function", {
      Runtime: "nodejs24.x",
      Architectures: ["arm64"],
      Handler: "index.handler",
      MemorySize: 1024,
      Timeout: 900,
      ReservedConcurrentExecutions: 1,
      LoggingConfig: {
        LogFormat: "JSON",
        LogGroup: { Ref: onlyResource(s.template, "AWS::Logs::LogGroup").id },
      },
    });
  });

  it("passes the secret's ARN, the bucket name, the metrics namespace and the run interval, never a secret value", () => {
    const { resource } = onlyResource(s.template, "AWS::Lambda::Function");
    const secretId = onlyResource(s.template, "AWS::SecretsManager::Secret").id;
    expect(resource.Properties.Environment.Variables).toEqual({
      ATLAS_SECRET_ARN: { Ref: secretId },
      ARCHIVE_BUCKET: { Ref: bucketId },
      METRICS_NAMESPACE: "AtlasAuditArchiver",
      RUN_INTERVAL_MINUTES: "60",
    });
    expect(JSON.stringify(resource.Properties)).not.toMatch(
      /resolve:secretsmanager|SecretString|clientSecret/,
    );
  });

  it("bundles the validated parameter file as archiver-config.json beside the minified CJS handler", () => {
    const bundled = bundledFile(s.app, s.template, BUNDLED_CONFIG_FILE);
    expect(parseBundledConfig(bundled, BUNDLED_CONFIG_FILE)).toEqual(config);
    const handler = bundledFile(s.app, s.template, "index.js");
    expect(handler).toMatch(/module\.exports/);
    // Minified: the code is packed into very long lines.
    expect(Math.max(...handler.split("\n").map((line) => line.length))).toBeGreaterThan(10_000);
    expect(bundledFile(s.app, s.template, "index.js.map")).toContain('"mappings"');
    // The parameter file travels in the bundle, not in the environment.
    expect(JSON.stringify(onlyResource(s.template, "AWS::Lambda::Function").resource)).not.toContain(
      "billing",
    );
  });

  it("leaves zod and undici's fetch, WebSocket and mock agents out of the handler bundle, under 1 MB", () => {
    const handler = bundledFile(s.app, s.template, "index.js");
    expect(Buffer.byteLength(handler)).toBeLessThan(1_000_000);
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
    expect(absent.filter(([, marker]) => handler.includes(marker as string))).toEqual([]);
    // What the handler does use is there: undici's Agent and HTTP/1.1 client, the S3 client.
    expect(handler).toContain("UND_ERR_CONNECT_TIMEOUT");
    expect(handler).toContain('"PutObject"');
  });

  it("loads as CommonJS exporting handler, even inside this ESM repository", () => {
    const bundle = join(s.app.outdir, `asset.${functionAssetHash(s.template)}`);
    expect(JSON.parse(readFileSync(join(bundle, "package.json"), "utf8"))).toEqual({ type: "commonjs" });
    const loaded = createRequire(import.meta.url)(join(bundle, "index.js")) as Record<string, unknown>;
    expect(typeof loaded.handler).toBe("function");
  });

  it("keeps the function's JSON logs for one year in its own log group", () => {
    s.template.hasResource("AWS::Logs::LogGroup", {
      Properties: { RetentionInDays: 365 },
      DeletionPolicy: "Retain",
    });
  });

  it("runs on the parameter file's schedule, and puts undeliverable events in the failed-runs queue", () => {
    const fnId = onlyResource(s.template, "AWS::Lambda::Function").id;
    const queueId = onlyResource(s.template, "AWS::SQS::Queue").id;
    s.template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(1 hour)",
      State: "ENABLED",
      Targets: [
        Match.objectLike({
          Arn: getAtt(fnId),
          RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
          DeadLetterConfig: { Arn: getAtt(queueId) },
        }),
      ],
    });
  });

  it("never retries a failed run (the next run heals gaps) and records it in an encrypted, TLS-only queue", () => {
    const queueId = onlyResource(s.template, "AWS::SQS::Queue").id;
    s.template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 21_600,
      DestinationConfig: { OnFailure: { Destination: getAtt(queueId) } },
    });
    s.template.hasResourceProperties("AWS::SQS::Queue", {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1_209_600,
    });
    s.template.hasResourceProperties("AWS::SQS::QueuePolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
  });

  it("grants exactly list on the prefix, write/read/abort below it, and the secret: no delete anywhere", () => {
    const bucketArn = getAtt(bucketId);
    expect(policyStatements(s.template)).toEqual(
      [
        {
          Sid: "WriteLogs",
          Effect: "Allow",
          Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
          Resource: getAtt(onlyResource(s.template, "AWS::Logs::LogGroup").id),
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
        {
          Sid: "ReadAtlasSecret",
          Effect: "Allow",
          Action: ["secretsmanager:GetSecretValue"],
          Resource: { Ref: onlyResource(s.template, "AWS::SecretsManager::Secret").id },
        },
        {
          // Added by the on-failure destination.
          Effect: "Allow",
          Action: ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"],
          Resource: getAtt(onlyResource(s.template, "AWS::SQS::Queue").id),
        },
      ]
        .map(normalizeStatement)
        .sort(byStatement),
    );
    const role = onlyResource(s.template, "AWS::IAM::Role").resource;
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
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

  it("alarms on errors, failed, invalid and expired windows, backlog, a stopped schedule and failed runs, notifying the topic both ways", () => {
    const fnId = onlyResource(s.template, "AWS::Lambda::Function").id;
    const topicId = onlyResource(s.template, "AWS::SNS::Topic").id;
    const fn = [{ Name: "FunctionName", Value: { Ref: fnId } }];
    const notify = { AlarmActions: [{ Ref: topicId }], OKActions: [{ Ref: topicId }] };
    const alarms = Object.values(s.template.findResources("AWS::CloudWatch::Alarm")).map(
      (a) => (a as { Properties: Record<string, unknown> }).Properties,
    );
    const pick = (metricName: string) => alarms.find((a) => a.MetricName === metricName);
    expect(alarms).toHaveLength(7);
    expect(pick("Errors")).toMatchObject({
      Namespace: "AWS/Lambda",
      Dimensions: fn,
      Statistic: "Sum",
      Period: 7200,
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      EvaluationPeriods: 1,
      TreatMissingData: "notBreaching",
      ...notify,
    });
    expect(pick("WindowsFailed")).toMatchObject({
      Namespace: "AtlasAuditArchiver",
      Dimensions: fn,
      Statistic: "Sum",
      Period: 7200,
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      TreatMissingData: "notBreaching",
      ...notify,
    });
    expect(pick("WindowsInvalid")).toMatchObject({
      Namespace: "AtlasAuditArchiver",
      Dimensions: fn,
      Statistic: "Sum",
      Period: 7200,
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      EvaluationPeriods: 1,
      TreatMissingData: "notBreaching",
      ...notify,
    });
    expect(pick("BacklogWindows")).toMatchObject({
      Namespace: "AtlasAuditArchiver",
      Dimensions: fn,
      Statistic: "Minimum",
      Period: 3 * 3600,
      Threshold: 0,
      ComparisonOperator: "GreaterThanThreshold",
      TreatMissingData: "notBreaching",
      ...notify,
    });
    expect(pick("Invocations")).toMatchObject({
      Namespace: "AWS/Lambda",
      Dimensions: fn,
      Statistic: "Sum",
      Period: 7200,
      Threshold: 1,
      ComparisonOperator: "LessThanThreshold",
      TreatMissingData: "breaching",
      ...notify,
    });
    expect(pick("WindowsExpired")).toMatchObject({
      Namespace: "AtlasAuditArchiver",
      Dimensions: fn,
      Statistic: "Sum",
      Period: 7200,
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      EvaluationPeriods: 1,
      TreatMissingData: "notBreaching",
      ...notify,
    });
    expect(pick("ApproximateNumberOfMessagesVisible")).toMatchObject({
      Namespace: "AWS/SQS",
      Statistic: "Maximum",
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      TreatMissingData: "ignore",
      ...notify,
    });
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
    const { resource } = onlyResource(s.template, "AWS::CloudWatch::Alarm", {
      Properties: { MetricName: "WindowsInvalid" },
    });
    const description = resource.Properties.AlarmDescription as string;
    expect(description).toMatch(/not a verified archive object/);
    expect(description).toMatch(/full-object CRC32/);
    expect(description).toMatch(/head-object --checksum-mode ENABLED/);
    expect(description).toMatch(/principal other than the function/);
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
    expect(s.archiver.encryptionKey).toBeUndefined();
    expect(s.archiver.accessLogsBucket).toBeDefined();
    expect(s.archiver.notRunningAlarm).toBeDefined();
    expect(s.archiver.alarms).toHaveLength(7);
    expect(s.archiver.alarms).toContain(s.archiver.windowsExpiredAlarm);
    expect(s.archiver.alarms).toContain(s.archiver.invalidObjectsAlarm);
    expect(s.archiver.settings.runIntervalMinutes).toBe(60);
  });
});

describe("AtlasAuditArchiver bundling", () => {
  it("fits 500 workspaces, and changes the code asset exactly when the configuration changes", () => {
    const base = synth({ config: testConfig() }, { bundle: true });
    const again = synth({ config: testConfig() }, { bundle: true });
    const large = manyWorkspaces(500);
    const big = synth({ config: large }, { bundle: true });

    expect(functionAssetHash(again.template)).toBe(functionAssetHash(base.template));
    expect(functionAssetHash(big.template)).not.toBe(functionAssetHash(base.template));

    const bundled = parseBundledConfig(bundledFile(big.app, big.template, BUNDLED_CONFIG_FILE), "bundle");
    expect(bundled.workspaces).toHaveLength(500);
    expect(bundled).toEqual(large);
    const env = onlyResource(big.template, "AWS::Lambda::Function").resource.Properties.Environment;
    expect(JSON.stringify(env).length).toBeLessThan(1024);
  });
});

describe("AtlasAuditArchiver options", () => {
  it("uses a retained, rotated KMS key when asked, and grants only data-key use through S3", () => {
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
    expect(policyStatements(template)).toContainEqual({
      Sid: "UseArchiveKey",
      Effect: "Allow",
      Action: ["kms:Decrypt", "kms:GenerateDataKey"],
      Resource: getAtt(keyId),
      Condition: {
        StringEquals: { "kms:ViaService": join_("s3.", { Ref: "AWS::Region" }, ".amazonaws.com") },
      },
    });
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

  it("runs in the VPC's private subnets with a security group that only allows outbound HTTPS", () => {
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
    const { resource } = onlyResource(template, "AWS::Lambda::Function", {
      Properties: { Handler: "index.handler" },
    });
    expect(resource.Properties.VpcConfig).toEqual({
      SubnetIds: expect.arrayContaining(privateSubnets.map((id) => ({ Ref: id }))),
      SecurityGroupIds: [getAtt(sgId, "GroupId")],
    });
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
    const roleId = stack.getLogicalId(archiver.role.node.defaultChild as iam.CfnRole);
    const role = resources(template, "AWS::IAM::Role")[roleId] as TemplateResource;
    // CDK adds AWSLambdaVPCAccessExecutionRole only to a role it creates itself, never to one passed in.
    expect(JSON.stringify(role.Properties.ManagedPolicyArns ?? [])).not.toContain(
      "AWSLambdaVPCAccessExecutionRole",
    );
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    const roleStatements = Object.values(resources(template, "AWS::IAM::Policy"))
      .filter((p) => JSON.stringify(p.Properties.Roles).includes(roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[])
      .map(normalizeStatement);
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
    const outside = synth({ config: testConfig() }).template;
    expect(roleStatements.filter((st) => st.Sid !== "ManageVpcNetworkInterfaces").sort(byStatement)).toEqual(
      policyStatements(outside),
    );
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
    const statements = policyStatements(template).filter(
      (st) => st.Sid !== "WriteLogs" && st.Sid !== undefined,
    );
    expect(statements).toEqual(
      [
        // An empty prefix is the whole bucket: no s3:prefix condition.
        { Sid: "ListArchivePrefix", Effect: "Allow", Action: ["s3:ListBucket"], Resource: bucketArn },
        {
          Sid: "WriteArchivePrefix",
          Effect: "Allow",
          Action: ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
          Resource: join_("arn:", { Ref: "AWS::Partition" }, ":s3:::my-archive-bucket/*"),
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
    template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: { Variables: Match.objectLike({ ARCHIVE_BUCKET: "my-archive-bucket" }) },
    });
  });

  it("sizes the alarm windows from the schedule, and warns when a cron schedule's interval is unknown", () => {
    const fiveMinutes = synth({
      config: testConfig({ schedule: "rate(5 minutes)", window: { minutes: 5 } }),
    });
    const periods = (template: Template) =>
      Object.fromEntries(
        Object.values(template.findResources("AWS::CloudWatch::Alarm")).map((a) => {
          const p = (a as { Properties: { MetricName: string; Period: number } }).Properties;
          return [p.MetricName, p.Period];
        }),
      );
    expect(periods(fiveMinutes.template)).toMatchObject({ Invocations: 35 * 60, BacklogWindows: 15 * 60 });

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

  it("sets memory, timeout and the metrics namespace from props", () => {
    const { template } = synth({
      config: testConfig(),
      memorySize: 1024,
      timeout: Duration.minutes(10),
      metricsNamespace: "Audit/Archiver",
    });
    template.hasResourceProperties("AWS::Lambda::Function", {
      MemorySize: 1024,
      Timeout: 600,
      Environment: { Variables: Match.objectLike({ METRICS_NAMESPACE: "Audit/Archiver" }) },
    });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "WindowsFailed",
      Namespace: "Audit/Archiver",
    });
  });
});
