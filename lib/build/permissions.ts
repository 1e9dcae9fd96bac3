/**
 * The functions' permissions, the planner's and the worker's apart, every statement explicit (with
 * a Sid) and least privilege, with the cdk-nag acknowledgements of the wildcards that remain (the
 * objects below the prefix, the planner's digests below it, and `*` for a VPC's network interfaces).
 */
import { Aws, Stack, Validations } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { DIGESTS_FOLDER } from "../../lambda/config";

/** What both functions may touch. */
export interface RunResources {
  /** The function's own log group. */
  readonly logGroup: logs.ILogGroup;
  readonly bucket: s3.IBucket;
  /** The archive prefix: `""` or segments ending in `/`. */
  readonly prefix: string;
  /** The window queue. */
  readonly queue: sqs.IQueue;
  /** The archive's KMS key, when it uses one. */
  readonly encryptionKey?: kms.IKey;
  /** Whether the function runs in a VPC (its role then has {@link allowVpcNetworking}). */
  readonly inVpc: boolean;
}

/** What the planner may touch besides. */
export interface PlannerResources extends RunResources {
  /** The key that signs the digests, when the planner seals them. */
  readonly digestKey?: kms.IKey;
}

/** What the worker may touch besides. */
export interface WorkerResources extends RunResources {
  readonly secret: secretsmanager.ISecret;
  /** The secret's customer-managed KMS key, when it has one. */
  readonly secretEncryptionKey?: kms.IKey;
}

/**
 * The network-interface part of AWSLambdaVPCAccessExecutionRole, without its `logs:*` on every log
 * group (the function writes only to its own). CDK adds that managed policy only to a role it
 * creates, never to one passed in, as the function's is.
 */
export function allowVpcNetworking(role: iam.Role): void {
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: "ManageVpcNetworkInterfaces",
      actions: [
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
      ],
      resources: ["*"],
    }),
  );
}

/**
 * Lets the planner's `role` write its logs, list the archive prefix and read (head) the objects
 * below it, decrypt them through S3 (a read-back of an object whose store reports no checksum),
 * send window messages to the queue, and invoke `planner` (itself) to continue a long backfill.
 * With a digest key, it also writes the digests (below `{prefix}_digests/` only, encrypting them
 * through S3 with the archive's key if there is one) and may `kms:Sign` with the digest key (only
 * that: no Verify, no GetPublicKey, no Decrypt). No secret, no other write, no delete.
 */
export function grantPlannerPermissions(
  scope: Construct,
  role: iam.Role,
  planner: lambda.IFunction,
  run: PlannerResources,
): void {
  const objects = run.bucket.arnForObjects(`${run.prefix}*`);
  const digests = run.bucket.arnForObjects(`${run.prefix}${DIGESTS_FOLDER}*`);
  const statements: (iam.PolicyStatementProps | undefined)[] = [
    ...prefixStatements(run),
    { sid: "ReadArchivePrefix", actions: ["s3:GetObject"], resources: [objects] },
    run.encryptionKey && {
      sid: "ReadArchiveKey",
      actions: ["kms:Decrypt"],
      resources: [run.encryptionKey.keyArn],
      conditions: viaService("s3"),
    },
    // SendMessageBatch is authorized as sqs:SendMessage.
    { sid: "EnqueueWindows", actions: ["sqs:SendMessage"], resources: [run.queue.queueArn] },
    // A digest is sealed with a conditional write (If-None-Match), which needs no more than PutObject;
    // Object Lock's default retention applies to it without s3:PutObjectRetention.
    run.digestKey && { sid: "WriteDigests", actions: ["s3:PutObject"], resources: [digests] },
    run.digestKey &&
      run.encryptionKey && {
        sid: "EncryptDigests",
        actions: ["kms:GenerateDataKey"],
        resources: [run.encryptionKey.keyArn],
        conditions: viaService("s3"),
      },
    run.digestKey && { sid: "SignDigests", actions: ["kms:Sign"], resources: [run.digestKey.keyArn] },
  ];
  addStatements(role, statements);
  // In a policy of its own, which the function does not depend on: in the role's default policy,
  // which the function depends on (so that its role can act when it is created), the function's
  // own ARN would make a cycle (function -> default policy -> function). The planner invokes
  // itself only to continue a backfill, long after the deploy has attached this policy.
  new iam.Policy(scope, "PlannerSelfInvokePolicy", {
    roles: [role],
    statements: [
      new iam.PolicyStatement({
        sid: "ContinueBackfill",
        actions: ["lambda:InvokeFunction"],
        resources: [planner.functionArn],
      }),
    ],
  });
  acknowledgeWildcards(
    scope,
    role,
    objects,
    "Objects are only read (HeadObject, and a read-back) under the archive prefix; the wildcard covers the " +
      "object keys below it (one per workspace and window), which cannot be listed in advance.",
    run.inVpc,
  );
  if (run.digestKey) {
    acknowledgeObjects(
      scope,
      role,
      digests,
      "Digests are written (PutObject only) under the digests folder of the archive prefix; the wildcard " +
        "covers their keys (one per workspace and UTC day), which cannot be listed in advance.",
    );
  }
}

/**
 * Lets the worker's `role` write its logs, list the archive prefix, write, read and abort uploads
 * below it (never delete), read the secret, use the archive's and the secret's keys only through
 * their services, and delay window messages (their visibility). Its SQS event source adds what it
 * needs to receive and delete the queue's messages; it may send none. For its doctor
 * (`{"doctor": true}`) it may also read the bucket's region, versioning, default encryption and
 * Object Lock settings: reads of the bucket's configuration only, nothing about its objects.
 */
export function grantWorkerPermissions(scope: Construct, role: iam.Role, run: WorkerResources): void {
  const objects = run.bucket.arnForObjects(`${run.prefix}*`);
  const statements: (iam.PolicyStatementProps | undefined)[] = [
    ...prefixStatements(run),
    {
      sid: "WriteArchivePrefix",
      actions: ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
      resources: [objects],
    },
    // The doctor's bucket lines (its write probe needs no more than WriteArchivePrefix).
    {
      sid: "ReadBucketSettings",
      actions: [
        "s3:GetBucketLocation",
        "s3:GetBucketVersioning",
        "s3:GetEncryptionConfiguration",
        "s3:GetBucketObjectLockConfiguration",
      ],
      resources: [run.bucket.bucketArn],
    },
    {
      sid: "ReadAtlasSecret",
      actions: ["secretsmanager:GetSecretValue"],
      resources: [secretArnForPolicies(run.secret)],
    },
    run.encryptionKey && {
      sid: "UseArchiveKey",
      actions: ["kms:GenerateDataKey", "kms:Decrypt"],
      resources: [run.encryptionKey.keyArn],
      conditions: viaService("s3"),
    },
    run.secretEncryptionKey && {
      sid: "DecryptAtlasSecret",
      actions: ["kms:Decrypt"],
      resources: [run.secretEncryptionKey.keyArn],
      conditions: viaService("secretsmanager"),
    },
    // A rate-limited window's message comes back after Atlas's Retry-After.
    { sid: "DelayWindowMessages", actions: ["sqs:ChangeMessageVisibility"], resources: [run.queue.queueArn] },
    // Its write under the prefix would cover the digests' folder: a worker that wrote a file at a
    // day's digest key first would make the planner's conditional write fail and leave the day
    // unsealed. Digests are the planner's alone.
    {
      sid: "NoDigestWrites",
      effect: iam.Effect.DENY,
      actions: ["s3:PutObject"],
      resources: [run.bucket.arnForObjects(`${run.prefix}${DIGESTS_FOLDER}*`)],
    },
  ];
  addStatements(role, statements);
  acknowledgeWildcards(
    scope,
    role,
    objects,
    "Objects are written under the archive prefix only; the wildcard covers the object keys below it (one " +
      "per workspace and window), which cannot be listed in advance.",
    run.inVpc,
  );
}

/** What both functions have: their own log group, and the listing of the archive prefix. */
function prefixStatements(run: RunResources): iam.PolicyStatementProps[] {
  return [
    {
      sid: "WriteLogs",
      actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
      resources: [run.logGroup.logGroupArn],
    },
    {
      sid: "ListArchivePrefix",
      actions: ["s3:ListBucket"],
      resources: [run.bucket.bucketArn],
      ...(run.prefix ? { conditions: { StringLike: { "s3:prefix": [`${run.prefix}*`] } } } : {}),
    },
  ];
}

/** A KMS key used only through `service` in this region. */
function viaService(service: string): Record<string, unknown> {
  return { StringEquals: { "kms:ViaService": `${service}.${Aws.REGION}.amazonaws.com` } };
}

function addStatements(role: iam.Role, statements: readonly (iam.PolicyStatementProps | undefined)[]): void {
  for (const statement of statements) {
    if (statement) role.addToPolicy(new iam.PolicyStatement(statement));
  }
}

/**
 * The cdk-nag acknowledgements of the role's default policy's wildcards: the objects
 * below the archive prefix, and (in a VPC) the network-interface actions on `*`.
 */
function acknowledgeWildcards(
  scope: Construct,
  role: iam.Role,
  objects: string,
  objectsReason: string,
  inVpc: boolean,
): void {
  const policy = role.node.tryFindChild("DefaultPolicy");
  if (!policy) return;
  acknowledgeObjects(scope, role, objects, objectsReason);
  if (inVpc) {
    Validations.of(policy).acknowledge({
      id: "AwsSolutions-IAM5[Resource::*]",
      reason:
        "Only the ManageVpcNetworkInterfaces statement (VPC mode) is on *: Lambda creates, describes and " +
        "deletes the function's network interfaces with these six ec2 actions, whose interfaces do not exist " +
        "before it creates them and whose Describe actions support no resource-level permissions; it is the " +
        "ec2 part of AWSLambdaVPCAccessExecutionRole, without that policy's logs:* on every log group.",
    });
  }
}

/** The cdk-nag acknowledgement of a wildcard of objects (`objects`) in the role's default policy. */
function acknowledgeObjects(scope: Construct, role: iam.Role, objects: string, reason: string): void {
  const policy = role.node.tryFindChild("DefaultPolicy");
  if (!policy) return;
  Validations.of(policy).acknowledge({
    id: `AwsSolutions-IAM5[Resource::${nagResource(scope, objects)}]`,
    reason,
  });
}

/** The ARN to put in a policy: a name-only import matches any of the secret's random suffixes. */
function secretArnForPolicies(secret: secretsmanager.ISecret): string {
  return secret.secretFullArn ?? `${secret.secretArn}-??????`;
}

/**
 * A policy resource as cdk-nag writes it in finding IDs: intrinsics become `<LogicalId.Attr>` or
 * `<Ref>`, e.g. `<ArchiverBucketFEA15B54.Arn>/atlas/stream-audit/*`.
 *
 * Kept by hand because cdk-nag offers no way to express it: v3 acknowledges a finding only by its
 * exact ID (`Validations.of(...).acknowledge`, no pattern), and the renderer its IAM5 rule uses
 * (`flattenCfnReference`) is internal (`cdk-nag/lib/utils`, not exported by the package; cdk-nag is
 * also only a dev dependency, so `lib/` may not import it). The nag tests fail the synth if the two
 * ever render differently.
 */
function nagResource(scope: Construct, arn: string): string {
  const render = (value: unknown): string => {
    if (typeof value === "string") return value;
    const v = value as Record<string, unknown> | null;
    if (v && typeof v.Ref === "string") return `<${v.Ref}>`;
    const getAtt = v?.["Fn::GetAtt"];
    if (Array.isArray(getAtt)) return `<${getAtt.join(".")}>`;
    const join = v?.["Fn::Join"];
    if (Array.isArray(join) && typeof join[0] === "string" && Array.isArray(join[1])) {
      return join[1].map(render).join(join[0]);
    }
    return JSON.stringify(value);
  };
  return render(Stack.of(scope).resolve(arn));
}
