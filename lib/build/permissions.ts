/**
 * The function role's permissions, every statement explicit and least privilege, with the cdk-nag
 * acknowledgements of the two wildcards that remain.
 */
import { Aws, Stack, Validations } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import type * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type { Construct } from "constructs";

/** What the function may touch. */
export interface RunResources {
  readonly logGroup: logs.ILogGroup;
  readonly bucket: s3.IBucket;
  /** The archive prefix: `""` or segments ending in `/`. */
  readonly prefix: string;
  readonly secret: secretsmanager.ISecret;
  /** The archive's KMS key, when it uses one. */
  readonly encryptionKey?: kms.IKey;
  /** The secret's customer-managed KMS key, when it has one. */
  readonly secretEncryptionKey?: kms.IKey;
  /** Whether the function runs in a VPC (its role then has {@link allowVpcNetworking}). */
  readonly inVpc: boolean;
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
 * Lets `role` write its logs, list the archive prefix, write, read and abort uploads below it (never
 * delete), read the secret, and use the archive's and the secret's keys only through their services.
 */
export function grantRunPermissions(scope: Construct, role: iam.Role, run: RunResources): void {
  const objects = run.bucket.arnForObjects(`${run.prefix}*`);
  const viaService = (service: string) => ({
    StringEquals: { "kms:ViaService": `${service}.${Aws.REGION}.amazonaws.com` },
  });
  const statements: iam.PolicyStatementProps[] = [
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
    {
      sid: "WriteArchivePrefix",
      actions: ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
      resources: [objects],
    },
    {
      sid: "ReadAtlasSecret",
      actions: ["secretsmanager:GetSecretValue"],
      resources: [secretArnForPolicies(run.secret)],
    },
  ];
  if (run.encryptionKey) {
    const resources = [run.encryptionKey.keyArn];
    statements.push({
      sid: "UseArchiveKey",
      actions: ["kms:GenerateDataKey", "kms:Decrypt"],
      resources,
      conditions: viaService("s3"),
    });
  }
  if (run.secretEncryptionKey) {
    const resources = [run.secretEncryptionKey.keyArn];
    statements.push({
      sid: "DecryptAtlasSecret",
      actions: ["kms:Decrypt"],
      resources,
      conditions: viaService("secretsmanager"),
    });
  }
  for (const statement of statements) role.addToPolicy(new iam.PolicyStatement(statement));

  const policy = role.node.tryFindChild("DefaultPolicy");
  if (!policy) return;
  Validations.of(policy).acknowledge({
    id: `AwsSolutions-IAM5[Resource::${nagResource(scope, objects)}]`,
    reason:
      "Objects are written under the archive prefix only; the wildcard covers the object keys below it (one " +
      "per workspace and window), which cannot be listed in advance.",
  });
  if (run.inVpc) {
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
