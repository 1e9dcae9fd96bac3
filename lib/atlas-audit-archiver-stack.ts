/** The stack `bin/app.ts` deploys: one {@link AtlasAuditArchiver}, its optional VPC, and outputs. */
import { CfnOutput, Fn, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as kms from "aws-cdk-lib/aws-kms";
import * as logs from "aws-cdk-lib/aws-logs";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sns from "aws-cdk-lib/aws-sns";
import type { Construct } from "constructs";
import type { ArchiverConfig } from "../lambda/config";
import { AtlasAuditArchiver } from "./atlas-audit-archiver";
import { invalidProp } from "./errors";
import type { AtlasAuditArchiverProps } from "./props";

/** Props of {@link AtlasAuditArchiverStack}. */
export interface AtlasAuditArchiverStackProps extends StackProps {
  /** The validated parameter file. */
  readonly config: ArchiverConfig;

  /**
   * Name of the existing Secrets Manager secret with the Atlas credentials.
   *
   * @default `secretArn` if given, otherwise the stack creates a secret with a placeholder value
   * (which `bin/app.ts` does only with `placeholderSecret: true`)
   */
  readonly secretName?: string;

  /**
   * Complete ARN (ending in `-` and six random characters) of the existing Atlas credentials secret.
   *
   * @default `secretName` if given, otherwise the stack creates a secret with a placeholder value
   * (which `bin/app.ts` does only with `placeholderSecret: true`)
   */
  readonly secretArn?: string;

  /**
   * ARN of the customer-managed KMS key that encrypts the existing secret.
   *
   * @default the secret uses the AWS-managed key `aws/secretsmanager`
   */
  readonly secretKmsKeyArn?: string;

  /**
   * ARN of a KMS key: the key a bucket named in `config.archive.bucket` is encrypted with, or the
   * key the created bucket should use.
   *
   * @default a created bucket uses `archiver.encryption` (SSE-S3 unless "KMS")
   */
  readonly bucketKmsKeyArn?: string;

  /**
   * ID of an existing VPC to run the functions in (its private subnets with egress). Looked up at
   * synth time, so the stack needs an account and region and AWS credentials on the first synth
   * (the result is cached in `cdk.context.json`).
   *
   * @default not in a VPC, unless `egressEipAllocationId` is given
   */
  readonly vpcId?: string;

  /**
   * Allocation ID (`eipalloc-...`) of an Elastic IP you allocated: the stack creates a VPC (two AZs,
   * public and private subnets, one NAT gateway using that address, flow logs) and runs the
   * functions in its private subnets, so Atlas sees every request from that one IP. The address
   * outlives the stack: add it to the Atlas API access list once.
   *
   * @default no VPC is created
   */
  readonly egressEipAllocationId?: string;

  /**
   * ARN of an existing standard SNS topic for the alarms to publish to, instead of a topic the stack
   * creates (see the archiver's `alarmTopic` for the policies it needs). An `archiver.alarmEmail` is
   * subscribed to it.
   *
   * @default the archiver creates its topic (`archiver.alarmTopic`'s default)
   */
  readonly alarmTopicArn?: string;

  /** Every other construct setting (alarm email, bucket encryption, object lock, memory, ...). */
  readonly archiver?: Omit<AtlasAuditArchiverProps, "config" | "secret" | "secretEncryptionKey" | "vpc">;
}

/**
 * The deployable stack: the archiver, optionally in a VPC with a fixed egress IP, and outputs
 * naming what a user needs after the deploy (bucket, planner and worker functions and their log
 * groups, secret, topic, alarms, the window, dead-letter and failed-runs queues, the digest key and
 * its public key, Athena database, table and workgroup).
 *
 * @example
 * ```ts
 * new AtlasAuditArchiverStack(app, "AtlasAuditArchiver", { config, secretName: "atlas/audit-archiver" });
 * ```
 */
export class AtlasAuditArchiverStack extends Stack {
  /** The archiver construct. */
  readonly archiver: AtlasAuditArchiver;
  /** The VPC the stack created (with `egressEipAllocationId`) or looked up (with `vpcId`). */
  readonly vpc?: ec2.IVpc;

  constructor(scope: Construct, id: string, props: AtlasAuditArchiverStackProps) {
    super(scope, id, {
      description: "Archives MongoDB Atlas Stream Processing audit logs into S3 (atlas-audit-archiver)",
      ...props,
    });

    if (props.secretName !== undefined && props.secretArn !== undefined) {
      throw invalidProp(
        "secretArn",
        props.secretArn,
        "conflicts with secretName: give the secret one way only",
      );
    }
    if (props.vpcId !== undefined && props.egressEipAllocationId !== undefined) {
      throw invalidProp(
        "egressEipAllocationId",
        props.egressEipAllocationId,
        "conflicts with vpcId: either run in your VPC or let the stack create one, not both",
      );
    }

    let secret: secretsmanager.ISecret | undefined;
    if (props.secretName !== undefined) {
      secret = secretsmanager.Secret.fromSecretNameV2(this, "AtlasSecret", props.secretName);
    } else if (props.secretArn !== undefined) {
      if (!/^arn:[a-z-]+:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/.test(props.secretArn)) {
        throw invalidProp(
          "secretArn",
          props.secretArn,
          "must be the complete secret ARN, ending in - and six characters (aws secretsmanager describe-secret " +
            "--secret-id NAME --query ARN), or give secretName instead",
        );
      }
      secret = secretsmanager.Secret.fromSecretCompleteArn(this, "AtlasSecret", props.secretArn);
    }
    let alarmTopic: sns.ITopic | undefined;
    if (props.alarmTopicArn !== undefined) {
      if (props.archiver?.alarmTopic !== undefined) {
        throw invalidProp(
          "alarmTopicArn",
          props.alarmTopicArn,
          "conflicts with archiver.alarmTopic: give the topic one way only",
        );
      }
      alarmTopic = sns.Topic.fromTopicArn(this, "AlarmTopic", checkTopicArn(props.alarmTopicArn));
    }
    const secretKey =
      props.secretKmsKeyArn !== undefined
        ? kms.Key.fromKeyArn(this, "AtlasSecretKey", props.secretKmsKeyArn)
        : undefined;
    const bucketKey =
      props.bucketKmsKeyArn !== undefined
        ? kms.Key.fromKeyArn(this, "ArchiveBucketKey", props.bucketKmsKeyArn)
        : undefined;

    if (props.egressEipAllocationId !== undefined) {
      this.vpc = this.createVpc(props.egressEipAllocationId);
    } else if (props.vpcId !== undefined) {
      this.vpc = ec2.Vpc.fromLookup(this, "Vpc", { vpcId: props.vpcId });
    }

    this.archiver = new AtlasAuditArchiver(this, "Archiver", {
      ...props.archiver,
      config: props.config,
      ...(secret ? { secret } : {}),
      ...(alarmTopic ? { alarmTopic } : {}),
      ...(secretKey ? { secretEncryptionKey: secretKey } : {}),
      ...(bucketKey ? { encryptionKey: bucketKey } : {}),
      ...(this.vpc ? { vpc: this.vpc } : {}),
    });

    const a = this.archiver;
    const athena = a.athenaTable;
    // [id, value, description]: what a user needs after the deploy.
    const outputs: [string, string | undefined, string][] = [
      ["BucketName", a.bucket.bucketName, "Archive bucket"],
      ["ArchivePrefix", props.config.archive.prefix || "(bucket root)", "Key prefix of the archive"],
      [
        "PlannerFunctionName",
        a.plannerFunction.functionName,
        'Planner function: the schedule\'s target; invoke it with {"from": ..., "to": ...} to backfill',
      ],
      ["WorkerFunctionName", a.workerFunction.functionName, "Worker function (run by the window queue)"],
      ["PlannerLogGroupName", a.plannerLogGroup.logGroupName, "Planner logs (JSON)"],
      ["WorkerLogGroupName", a.workerLogGroup.logGroupName, "Worker logs (JSON)"],
      ["QueueUrl", a.queue.queueUrl, "FIFO queue of the windows to archive"],
      [
        "DeadLetterQueueUrl",
        a.deadLetterQueue.queueUrl,
        "Window messages that failed maxReceiveCount times (redrive with aws sqs start-message-move-task)",
      ],
      ["SecretArn", a.secret.secretArn, "Atlas credentials secret (put your credentials here)"],
      ["AlarmTopicArn", a.alarmTopic.topicArn, "Alarm notifications"],
      [
        "AlarmNames",
        Fn.join(
          " ",
          a.alarms.map((alarm) => alarm.alarmName),
        ),
        "The alarms, space-separated (aws cloudwatch set-alarm-state / describe-alarm-history)",
      ],
      ["FailedRunsQueueUrl", a.failedRunsQueue.queueUrl, "Records of failed planner runs"],
      ["DigestKeyArn", a.digestKey?.keyArn, "KMS key (ECC_NIST_P256) that signs the digests"],
      [
        "DigestPublicKey",
        a.digestPublicKey,
        "Public key of the digests, base64 DER (SPKI): base64 -d > key.der; openssl pkey -pubin -inform DER -in key.der",
      ],
      ["AthenaDatabaseName", athena?.databaseName, "Glue database of the Athena table over the archive"],
      [
        "AthenaTableName",
        athena?.tableName,
        'Athena table over the archive (filter on "group", tenant and "date")',
      ],
      [
        "AthenaWorkGroupName",
        athena?.workGroupName,
        "Athena workgroup for the archive (encrypted query results)",
      ],
    ];
    for (const [id, value, description] of outputs) {
      if (value !== undefined) new CfnOutput(this, id, { value, description });
    }
  }

  private createVpc(eipAllocationId: string): ec2.Vpc {
    if (!/^eipalloc-[0-9a-f]{8,17}$/.test(eipAllocationId)) {
      throw invalidProp(
        "egressEipAllocationId",
        eipAllocationId,
        "must be an Elastic IP allocation ID such as eipalloc-0123456789abcdef0 (aws ec2 allocate-address)",
      );
    }
    const flowLogs = new logs.LogGroup(this, "VpcFlowLogs", {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    return new ec2.Vpc(this, "Vpc", {
      maxAzs: 2,
      natGateways: 1,
      natGatewayProvider: ec2.NatProvider.gateway({ eipAllocationIds: [eipAllocationId] }),
      subnetConfiguration: [
        { name: "public", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: "private", subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 24 },
      ],
      restrictDefaultSecurityGroup: true,
      flowLogs: {
        all: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs),
          trafficType: ec2.FlowLogTrafficType.ALL,
        },
      },
    });
  }
}

/** The ARN of a standard SNS topic, as given; a FIFO topic or another ARN is refused. */
function checkTopicArn(arn: string): string {
  const match = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:([A-Za-z0-9_.-]{1,256})$/.exec(arn);
  if (!match) {
    throw invalidProp(
      "alarmTopicArn",
      arn,
      "must be an SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:ops-alarms (aws sns list-topics)",
    );
  }
  if ((match[1] as string).endsWith(".fifo")) {
    throw invalidProp(
      "alarmTopicArn",
      arn,
      "is a FIFO topic, which takes only SQS FIFO subscribers and a message group ID with every publish, which " +
        "CloudWatch alarms do not send: give a standard topic",
    );
  }
  return arn;
}
