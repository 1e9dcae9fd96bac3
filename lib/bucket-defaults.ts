/**
 * The hardened properties of every bucket the construct creates (the archive, its access-log bucket
 * and the Athena query results bucket), in the style of aws-solutions-constructs' `s3-bucket-defaults.ts`.
 */
import { RemovalPolicy } from "aws-cdk-lib";
import * as s3 from "aws-cdk-lib/aws-s3";

/**
 * The secure bucket defaults with `props` merged over them: no public access, TLS 1.2 or later only,
 * ACLs off (the bucket owner owns every object), SSE-S3, and retained when the stack is deleted.
 *
 * @example
 * ```ts
 * new s3.Bucket(scope, "Logs", secureBucketProps({ lifecycleRules: [{ expiration: Duration.days(365) }] }));
 * ```
 */
export function secureBucketProps(props: s3.BucketProps = {}): s3.BucketProps {
  return {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    encryption: s3.BucketEncryption.S3_MANAGED,
    removalPolicy: RemovalPolicy.RETAIN,
    ...props,
  };
}
