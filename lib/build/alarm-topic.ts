/** The SNS topic the alarms notify, when none is given: encrypted, TLS only, this account's alarms only. */
import { ArnFormat, RemovalPolicy, Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as sns from "aws-cdk-lib/aws-sns";
import type { Construct } from "constructs";

/**
 * A topic encrypted with its own KMS key (CloudWatch cannot publish to a topic encrypted with the
 * AWS-managed `aws/sns` key), accepting only TLS, that only this account's CloudWatch alarms may
 * publish to.
 */
export function buildAlarmTopic(scope: Construct): sns.Topic {
  const key = new kms.Key(scope, "AlarmTopicKey", {
    description: "Encrypts the Atlas audit archiver alarm topic",
    enableKeyRotation: true,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  // CloudWatch alarms must be able to publish to the encrypted topic, on behalf of this account's
  // alarms only (no confused deputy). The key policy cannot name the alarms themselves: they refer
  // to the topic, which refers to the key, so that would be a dependency cycle.
  key.addToResourcePolicy(allowThisAccountsAlarms(scope, ["kms:Decrypt", "kms:GenerateDataKey*"], ["*"]));
  const topic = new sns.Topic(scope, "AlarmTopic", {
    displayName: "Atlas audit archiver alarms",
    masterKey: key,
    enforceSSL: true,
  });
  // enforceSSL creates a topic policy, which replaces SNS's default policy: without this
  // statement nothing allows CloudWatch to publish, and no alarm notification is ever sent.
  topic.addToResourcePolicy(allowThisAccountsAlarms(scope, ["sns:Publish"], [topic.topicArn]));
  return topic;
}

/**
 * A statement allowing the CloudWatch service principal `actions` on `resources`, for alarms of the
 * stack's account and region only: `aws:SourceAccount`, and `aws:SourceArn` like
 * `arn:<partition>:cloudwatch:<region>:<account>:alarm:*`.
 */
function allowThisAccountsAlarms(
  scope: Construct,
  actions: string[],
  resources: string[],
): iam.PolicyStatement {
  const stack = Stack.of(scope);
  return new iam.PolicyStatement({
    sid: "AllowCloudWatchAlarmsToPublish",
    principals: [new iam.ServicePrincipal("cloudwatch.amazonaws.com")],
    actions,
    resources,
    conditions: {
      StringEquals: { "aws:SourceAccount": stack.account },
      ArnLike: {
        "aws:SourceArn": stack.formatArn({
          service: "cloudwatch",
          resource: "alarm",
          resourceName: "*",
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      },
    },
  });
}
