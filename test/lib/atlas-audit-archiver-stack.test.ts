import { type CfnElement, Token } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type { Construct } from "constructs";
import { afterAll, describe, expect, it } from "vitest";
import {
  AtlasAuditArchiverStack,
  type AtlasAuditArchiverStackProps,
} from "../../lib/atlas-audit-archiver-stack";
import { DeploymentError } from "../../lib/errors";
import {
  bundledFunction,
  NO_BUNDLING,
  PLANNER,
  policyStatements,
  TestApps,
  testConfig,
  WORKER,
} from "./support";

const apps = new TestApps();
afterAll(() => apps.cleanup());

function stackWith(props: Partial<AtlasAuditArchiverStackProps> = {}) {
  const stack = new AtlasAuditArchiverStack(apps.app(NO_BUNDLING), "AtlasAuditArchiver", {
    config: testConfig(),
    ...props,
  });
  return { stack, template: Template.fromStack(stack) };
}

function refusal(props: Partial<AtlasAuditArchiverStackProps>): DeploymentError {
  try {
    stackWith(props);
  } catch (error) {
    expect(error).toBeInstanceOf(DeploymentError);
    return error as DeploymentError;
  }
  throw new Error("expected the stack to be refused");
}

const SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:atlas/audit-archiver-AbC123";

describe("AtlasAuditArchiverStack", () => {
  it("is environment-agnostic unless told otherwise, and names what a user needs in its outputs", () => {
    const { stack, template } = stackWith();
    expect(Token.isUnresolved(stack.account)).toBe(true);
    expect(Token.isUnresolved(stack.region)).toBe(true);
    const outputs = template.findOutputs("*");
    expect(Object.keys(outputs).sort()).toEqual(
      [
        "AlarmNames",
        "AlarmTopicArn",
        "ArchivePrefix",
        "AthenaDatabaseName",
        "AthenaTableName",
        "AthenaWorkGroupName",
        "BucketName",
        "DeadLetterQueueUrl",
        "DigestKeyArn",
        "DigestPublicKey",
        "FailedRunsQueueUrl",
        "PlannerFunctionName",
        "PlannerLogGroupName",
        "QueueUrl",
        "SecretArn",
        "WorkerFunctionName",
        "WorkerLogGroupName",
      ].sort(),
    );
    const a = stack.archiver;
    const ref = (construct: Construct) => ({
      Ref: stack.getLogicalId(construct.node.defaultChild as CfnElement),
    });
    expect(outputs.PlannerFunctionName?.Value).toEqual(ref(a.plannerFunction));
    expect(outputs.PlannerFunctionName?.Description).toMatch(/backfill/);
    expect(outputs.WorkerFunctionName?.Value).toEqual(ref(a.workerFunction));
    expect(outputs.PlannerLogGroupName?.Value).toEqual(ref(a.plannerLogGroup));
    expect(outputs.WorkerLogGroupName?.Value).toEqual(ref(a.workerLogGroup));
    expect(outputs.QueueUrl?.Value).toEqual(ref(a.queue));
    expect(outputs.DeadLetterQueueUrl?.Value).toEqual(ref(a.deadLetterQueue));
    expect(outputs.FailedRunsQueueUrl?.Value).toEqual(ref(a.failedRunsQueue));
    expect(outputs.ArchivePrefix?.Value).toBe("atlas/stream-audit/");
    expect(outputs.BucketName?.Value).toEqual({
      Ref: stack.getLogicalId(stack.archiver.bucket.node.defaultChild as s3.CfnBucket),
    });
  });

  it("exports the digest key's ARN and its public key (read at deploy time), and neither without digests", () => {
    const { stack, template } = stackWith();
    const outputs = template.findOutputs("*");
    const keyId = stack.getLogicalId(stack.archiver.digestKey?.node.defaultChild as CfnElement);
    expect(outputs.DigestKeyArn?.Value).toEqual({ "Fn::GetAtt": [keyId, "Arn"] });
    const custom = Object.keys(template.findResources("Custom::DigestPublicKey"));
    expect(custom).toHaveLength(1);
    expect(outputs.DigestPublicKey?.Value).toEqual({ "Fn::GetAtt": [custom[0], "PublicKey"] });
    expect(outputs.DigestPublicKey?.Description).toMatch(/base64 DER/);
    const off = stackWith({ archiver: { digests: false } }).template.findOutputs("*");
    expect(Object.keys(off)).not.toContain("DigestKeyArn");
    expect(Object.keys(off)).not.toContain("DigestPublicKey");
  });

  it("names every alarm in one output, for set-alarm-state and describe-alarm-history", () => {
    const { stack, template } = stackWith();
    const alarmRefs = stack.archiver.alarms.map((alarm) => ({
      Ref: stack.getLogicalId(alarm.node.defaultChild as cloudwatch.CfnAlarm),
    }));
    expect(alarmRefs).toHaveLength(9);
    expect(alarmRefs).toContainEqual({
      Ref: stack.getLogicalId(stack.archiver.deadLettersAlarm.node.defaultChild as cloudwatch.CfnAlarm),
    });
    expect(template.findOutputs("AlarmNames").AlarmNames?.Value).toEqual({ "Fn::Join": [" ", alarmRefs] });
  });

  it("imports the Atlas secret by name", () => {
    const { template } = stackWith({ secretName: "atlas/audit-archiver" });
    template.resourceCountIs("AWS::SecretsManager::Secret", 0);
    const read = policyStatements(template, WORKER.role).find((s) => s.Sid === "ReadAtlasSecret");
    expect(JSON.stringify(read?.Resource)).toContain(":secret:atlas/audit-archiver-??????");
    // The planner has no access to the secret at all.
    expect(JSON.stringify(policyStatements(template, PLANNER.role))).not.toContain("secret");
  });

  it("imports the Atlas secret by its complete ARN, with the key that encrypts it", () => {
    const keyArn = "arn:aws:kms:eu-west-1:123456789012:key/secret-key";
    const { template } = stackWith({ secretArn: SECRET_ARN, secretKmsKeyArn: keyArn });
    template.resourceCountIs("AWS::SecretsManager::Secret", 0);
    const statements = policyStatements(template, WORKER.role);
    expect(statements.find((s) => s.Sid === "ReadAtlasSecret")?.Resource).toBe(SECRET_ARN);
    expect(statements.find((s) => s.Sid === "DecryptAtlasSecret")?.Resource).toBe(keyArn);
    expect(JSON.stringify(policyStatements(template, PLANNER.role))).not.toMatch(/secret|secret-key/);
    const env = (which: string) => bundledFunction(template, which).resource.Properties.Environment.Variables;
    expect(env(WORKER.function)).toMatchObject({ ATLAS_SECRET_ARN: SECRET_ARN });
    expect(env(PLANNER.function).ATLAS_SECRET_ARN).toBeUndefined();
  });

  it("refuses a partial secret ARN and a secret given twice", () => {
    const partial = refusal({
      secretArn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:atlas/audit",
    });
    expect(partial.message).toMatch(/^secretArn = .*must be the complete secret ARN/);
    const twice = refusal({ secretArn: SECRET_ARN, secretName: "atlas/audit-archiver" });
    expect(twice.message).toMatch(/conflicts with secretName/);
  });

  it("uses the given KMS key for a bucket named in the parameter file", () => {
    const keyArn = "arn:aws:kms:eu-west-1:123456789012:key/bucket-key";
    const { template } = stackWith({
      config: testConfig({ archive: { bucket: "central-audit-archive" } }),
      bucketKmsKeyArn: keyArn,
    });
    // The only bucket created is the Athena workgroup's query results bucket.
    expect(Object.keys(template.findResources("AWS::S3::Bucket"))).toEqual([
      expect.stringMatching(/^ArchiverAthenaQueryResults/),
    ]);
    expect(policyStatements(template, WORKER.role).find((s) => s.Sid === "UseArchiveKey")?.Resource).toBe(
      keyArn,
    );
    expect(policyStatements(template, PLANNER.role).find((s) => s.Sid === "ReadArchiveKey")?.Resource).toBe(
      keyArn,
    );
  });

  it("creates a VPC whose single NAT gateway uses the given Elastic IP, with flow logs, and runs both functions in it", () => {
    const { template, stack } = stackWith({ egressEipAllocationId: "eipalloc-0123456789abcdef0" });
    template.resourceCountIs("AWS::EC2::NatGateway", 1);
    template.hasResourceProperties("AWS::EC2::NatGateway", { AllocationId: "eipalloc-0123456789abcdef0" });
    template.resourceCountIs("AWS::EC2::EIP", 0);
    template.hasResourceProperties("AWS::EC2::FlowLog", {
      TrafficType: "ALL",
      LogDestinationType: "cloud-watch-logs",
    });
    const privateSubnets = Object.keys(
      template.findResources("AWS::EC2::Subnet", {
        Properties: { Tags: Match.arrayWith([{ Key: "aws-cdk:subnet-type", Value: "Private" }]) },
      }),
    ).map((id) => ({ Ref: id }));
    expect(privateSubnets).toHaveLength(2);
    for (const which of [PLANNER.function, WORKER.function]) {
      const fn = bundledFunction(template, which);
      expect(fn.resource.Properties.VpcConfig.SubnetIds).toEqual(expect.arrayContaining(privateSubnets));
    }
    expect(stack.vpc).toBeDefined();
  });

  it("refuses a malformed allocation ID, and a VPC given two ways", () => {
    expect(refusal({ egressEipAllocationId: "203.0.113.7" }).message).toMatch(
      /must be an Elastic IP allocation ID/,
    );
    expect(refusal({ egressEipAllocationId: "eipalloc-0123456789abcdef0", vpcId: "vpc-1" }).message).toMatch(
      /conflicts with vpcId/,
    );
  });

  it("passes the other settings to the construct", () => {
    const { stack } = stackWith({
      archiver: { memorySize: 2048, alarmEmail: "ops@example.com", workerConcurrency: 20, batchSize: 5 },
    });
    expect(stack.archiver.settings).toMatchObject({
      memorySize: 2048,
      alarmEmail: "ops@example.com",
      workerConcurrency: 20,
      batchSize: 5,
    });
  });
});
