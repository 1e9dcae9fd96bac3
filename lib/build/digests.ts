/**
 * The digests' signing key (KMS, ECC_NIST_P256, SIGN_VERIFY), created or given, and the custom
 * resource that reads its public half at deploy time so that the stack can export it.
 */
import { CustomResource, Duration, RemovalPolicy, Stack, Token } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import type { Construct } from "constructs";
import type { ResolvedArchiverSettings } from "../settings";

/** What {@link buildDigestKey} created or was given. */
export interface DigestKey {
  /** The key that signs the digests. */
  readonly key: kms.IKey;
  /**
   * Its public key, base64 of the DER SubjectPublicKeyInfo (what KMS's GetPublicKey returns), read
   * at deploy time: a token.
   */
  readonly publicKey: string;
  /** The function behind the custom resource that reads the public key. */
  readonly publicKeyFunction: lambda.Function;
}

/**
 * The custom resource's handler (CommonJS, inline: it needs only the SDK that Lambda's Node.js
 * runtime includes). It answers CloudFormation itself, through the pre-signed `ResponseURL`, with
 * the public key as base64 DER, and fails the deploy when the key is not an ECC_NIST_P256
 * SIGN_VERIFY key (the planner could not sign with it). A delete calls nothing.
 *
 * Not `AwsCustomResource`: its handler turns every binary field of an answer into UTF-8 text
 * (aws/aws-cdk#19065), which destroys GetPublicKey's DER bytes.
 */
export const PUBLIC_KEY_HANDLER = `"use strict";
const { KMSClient, GetPublicKeyCommand } = require("@aws-sdk/client-kms");
const kms = new KMSClient({});
exports.onEvent = async (event) => {
  const keyId = event.ResourceProperties.KeyId;
  const reply = {
    Status: "SUCCESS",
    Reason: "OK",
    PhysicalResourceId: keyId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  };
  try {
    if (event.RequestType !== "Delete") {
      const answer = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
      const spec = answer.KeySpec || answer.CustomerMasterKeySpec;
      if (spec !== "ECC_NIST_P256" || answer.KeyUsage !== "SIGN_VERIFY") {
        throw new Error(
          "the digest key must be an ECC_NIST_P256 SIGN_VERIFY key, but " + keyId + " is " +
            spec + " " + answer.KeyUsage,
        );
      }
      reply.Data = { PublicKey: Buffer.from(answer.PublicKey).toString("base64"), KeySpec: spec };
    }
  } catch (err) {
    console.error(err);
    reply.Status = "FAILED";
    reply.Reason = ("Reading the public key of " + keyId + " failed: " + (err && err.name) + ": " +
      (err && err.message)).slice(0, 1000);
  }
  const body = JSON.stringify(reply);
  const res = await fetch(event.ResponseURL, {
    method: "PUT",
    headers: { "content-type": "", "content-length": String(Buffer.byteLength(body)) },
    body,
  });
  if (!res.ok) throw new Error("CloudFormation refused the response: HTTP " + res.status);
};
`;

/**
 * The digest key: `settings.digestKey`, or a new ECC_NIST_P256 SIGN_VERIFY key, retained on stack
 * deletion (old digests must stay verifiable), with an alias naming the stack; and its public key,
 * read at deploy time by a function that may only `kms:GetPublicKey` on it.
 */
export function buildDigestKey(scope: Construct, id: string, settings: ResolvedArchiverSettings): DigestKey {
  const key =
    settings.digestKey ??
    new kms.Key(scope, "DigestKey", {
      description:
        "Signs the Atlas audit archive's digests (ECDSA P-256); the planner may only kms:Sign with it, " +
        "auditors verify with its public key. Retained: the digests it signed stay verifiable.",
      keySpec: kms.KeySpec.ECC_NIST_P256,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      // Asymmetric keys cannot rotate (KMS refuses it): a new key would be a new chain's signer.
      enableKeyRotation: false,
      removalPolicy: RemovalPolicy.RETAIN,
      alias: digestKeyAlias(scope, id),
    });

  const role = new iam.Role(scope, "DigestPublicKeyRole", {
    assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
    description: "Atlas audit archiver: reads the digest key's public half at deploy time (kms:GetPublicKey)",
  });
  const logGroup = new logs.LogGroup(scope, "DigestPublicKeyLogGroup", {
    retention: settings.logRetention,
    // It logs deploy-time calls only (a failure's cause): nothing to keep after the stack.
    removalPolicy: RemovalPolicy.DESTROY,
  });
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: "WriteLogs",
      actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
      resources: [logGroup.logGroupArn],
    }),
  );
  role.addToPolicy(
    new iam.PolicyStatement({
      sid: "ReadDigestPublicKey",
      actions: ["kms:GetPublicKey"],
      resources: [key.keyArn],
    }),
  );
  const fn = new lambda.Function(scope, "DigestPublicKeyFunction", {
    description:
      "Reads the public key of the Atlas audit archiver's digest key at deploy time (custom resource)",
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    handler: "index.onEvent",
    code: lambda.Code.fromInline(PUBLIC_KEY_HANDLER),
    memorySize: 256,
    timeout: Duration.minutes(1),
    role,
    logGroup,
    loggingFormat: lambda.LoggingFormat.JSON,
  });
  const resource = new CustomResource(scope, "DigestPublicKey", {
    serviceToken: fn.functionArn,
    resourceType: "Custom::DigestPublicKey",
    // A new key (its ARN) is a new physical resource: its public key is read again.
    properties: { KeyId: key.keyArn },
  });
  // The function must be able to read the key and log before CloudFormation calls it.
  resource.node.addDependency(role);
  return { key, publicKey: resource.getAttString("PublicKey"), publicKeyFunction: fn };
}

/**
 * `alias/<stack name>/<construct ID>/digest-signing`: the stack named, and two archivers of one stack
 * apart. Characters an alias may not hold become `-`.
 */
function digestKeyAlias(scope: Construct, id: string): string {
  // A token (a nested stack's name) is left as it is: CloudFormation resolves it.
  const safe = (text: string) => (Token.isUnresolved(text) ? text : text.replace(/[^A-Za-z0-9/_-]/g, "-"));
  return `alias/${safe(Stack.of(scope).stackName)}/${safe(id)}/digest-signing`;
}
