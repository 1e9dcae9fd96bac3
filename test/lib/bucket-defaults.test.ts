import { RemovalPolicy, type Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import * as s3 from "aws-cdk-lib/aws-s3";
import { afterAll, describe, expect, it } from "vitest";
import { secureBucketProps } from "../../lib/bucket-defaults";
import { NO_BUNDLING, TestApps } from "./support";

const apps = new TestApps();
afterAll(() => apps.cleanup());

describe("secureBucketProps", () => {
  it("makes a private, TLS-only, ACL-free, SSE-S3 bucket that outlives the stack", () => {
    const stack: Stack = apps.stack(NO_BUNDLING);
    new s3.Bucket(stack, "Bucket", secureBucketProps());
    const template = Template.fromStack(stack);
    template.hasResource("AWS::S3::Bucket", {
      DeletionPolicy: "Retain",
      Properties: {
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: "BucketOwnerEnforced" }] },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
        },
      },
    });
    const policy = JSON.stringify(template.findResources("AWS::S3::BucketPolicy"));
    expect(policy).toContain('"aws:SecureTransport":"false"');
    expect(policy).toContain('"s3:TlsVersion":1.2');
  });

  it("lets the given props win over the defaults", () => {
    expect(secureBucketProps({ encryption: s3.BucketEncryption.KMS, versioned: true })).toMatchObject({
      encryption: s3.BucketEncryption.KMS,
      versioned: true,
      removalPolicy: RemovalPolicy.RETAIN,
      enforceSSL: true,
    });
  });
});
