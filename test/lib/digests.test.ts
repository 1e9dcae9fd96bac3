import { createPublicKey, verify } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { CreateKeyCommand, GetPublicKeyCommand, KMSClient, SignCommand } from "@aws-sdk/client-kms";
import { Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as kms from "aws-cdk-lib/aws-kms";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ArchiverConfig } from "../../lambda/config";
import { AtlasAuditArchiver, type AtlasAuditArchiverProps } from "../../lib";
import { PUBLIC_KEY_HANDLER } from "../../lib/build/digests";
import { describeWithMoto, type MotoServer, startMoto } from "../support/moto";
import {
  NO_BUNDLING,
  onlyResource,
  PLANNER,
  policyStatements,
  resourceById,
  resources,
  TestApps,
  testConfig,
  WORKER,
} from "./support";

const apps = new TestApps();
afterAll(() => apps.cleanup());

function synth(
  props: Partial<AtlasAuditArchiverProps> & { config: ArchiverConfig },
  extra?: (s: Stack) => Partial<AtlasAuditArchiverProps>,
) {
  const stack = new Stack(apps.app(NO_BUNDLING), "TestStack");
  const archiver = new AtlasAuditArchiver(stack, "Archiver", { ...props, ...extra?.(stack) });
  return { stack, archiver, template: Template.fromStack(stack) };
}

const getAtt = (id: string, attribute = "Arn") => ({ "Fn::GetAtt": [id, attribute] });
const join_ = (...parts: unknown[]) => ({ "Fn::Join": ["", parts] });

/** Every statement of every role that names `arn` (its JSON) anywhere. */
function statementsNaming(template: Template, arn: unknown): Record<string, unknown>[] {
  const text = JSON.stringify(arn);
  return Object.values(resources(template, "AWS::IAM::Policy"))
    .flatMap((policy) =>
      (policy.Properties.PolicyDocument.Statement as Record<string, unknown>[])
        .filter((st) => JSON.stringify(st).includes(text))
        .map((st): Record<string, unknown> => ({ roles: policy.Properties.Roles, ...st })),
    )
    .sort((a, b) => String(a.Sid).localeCompare(String(b.Sid)));
}

describe("AtlasAuditArchiver digests", () => {
  describe("with the defaults", () => {
    const s = synth({ config: testConfig() });
    const keyId = resourceById(s.template, "AWS::KMS::Key", "ArchiverDigestKey").id;
    const role = (prefix: string) => ({ Ref: resourceById(s.template, "AWS::IAM::Role", prefix).id });

    it("creates an ECC_NIST_P256 SIGN_VERIFY key, retained, unrotated, described, with an alias naming the stack", () => {
      const { resource } = resourceById(s.template, "AWS::KMS::Key", "ArchiverDigestKey");
      expect(resource.Properties).toMatchObject({
        KeySpec: "ECC_NIST_P256",
        KeyUsage: "SIGN_VERIFY",
        EnableKeyRotation: false,
        Description: expect.stringMatching(/digests.*kms:Sign/),
      });
      expect(resource.DeletionPolicy).toBe("Retain");
      expect(resource.UpdateReplacePolicy).toBe("Retain");
      s.template.hasResourceProperties("AWS::KMS::Alias", {
        AliasName: "alias/TestStack/Archiver/digest-signing",
        TargetKeyId: getAtt(keyId),
      });
      expect(s.archiver.digestKey?.node.defaultChild).toBeInstanceOf(kms.CfnKey);
    });

    it("lets the planner only kms:Sign with the key, and nobody else but the public key reader touch it", () => {
      expect(statementsNaming(s.template, getAtt(keyId))).toEqual([
        {
          roles: [role("ArchiverDigestPublicKeyRole")],
          Sid: "ReadDigestPublicKey",
          Effect: "Allow",
          Action: "kms:GetPublicKey",
          Resource: getAtt(keyId),
        },
        {
          roles: [role(PLANNER.role)],
          Sid: "SignDigests",
          Effect: "Allow",
          Action: "kms:Sign",
          Resource: getAtt(keyId),
        },
      ]);
    });

    it("lets the planner write only below the digests folder, and gives the worker no digest permission", () => {
      const bucketArn = getAtt(
        onlyResource(s.template, "AWS::S3::Bucket", {
          Properties: { VersioningConfiguration: Match.anyValue() },
        }).id,
      );
      const writes = (prefix: string) =>
        policyStatements(s.template, prefix).filter((st) =>
          (st.Action as string[]).some((a) => /^s3:Put/.test(a)),
        );
      expect(writes(PLANNER.role)).toEqual([
        {
          Sid: "WriteDigests",
          Effect: "Allow",
          Action: ["s3:PutObject"],
          Resource: join_(bucketArn, "/atlas/stream-audit/_digests/*"),
        },
      ]);
      // The worker keeps its write below the prefix (receipts land in {prefix}_receipts/), no key,
      // and is denied the digests' folder (a file there first would leave a day unsealed).
      expect(writes(WORKER.role)).toEqual([
        expect.objectContaining({
          Sid: "NoDigestWrites",
          Effect: "Deny",
          Resource: join_(bucketArn, "/atlas/stream-audit/_digests/*"),
        }),
        expect.objectContaining({
          Sid: "WriteArchivePrefix",
          Resource: join_(bucketArn, "/atlas/stream-audit/*"),
        }),
      ]);
      expect(JSON.stringify(policyStatements(s.template, WORKER.role))).not.toMatch(/kms:|DigestKey/);
    });

    it("gives the planner the key's ARN in DIGEST_KEY_ARN, and the worker nothing of it", () => {
      const planner = resourceById(s.template, "AWS::Lambda::Function", PLANNER.function).resource;
      expect(planner.Properties.Environment.Variables.DIGEST_KEY_ARN).toEqual(getAtt(keyId));
      const worker = resourceById(s.template, "AWS::Lambda::Function", WORKER.function).resource;
      expect(JSON.stringify(worker.Properties.Environment)).not.toContain(keyId);
    });

    it("reads the public key at deploy time with a custom resource whose function may only GetPublicKey on the key", () => {
      const fn = resourceById(s.template, "AWS::Lambda::Function", "ArchiverDigestPublicKeyFunction");
      expect(fn.resource.Properties).toMatchObject({
        Runtime: "nodejs24.x",
        Handler: "index.onEvent",
        Code: { ZipFile: PUBLIC_KEY_HANDLER },
        Role: getAtt(resourceById(s.template, "AWS::IAM::Role", "ArchiverDigestPublicKeyRole").id),
      });
      expect(policyStatements(s.template, "ArchiverDigestPublicKeyRole")).toEqual([
        {
          Sid: "ReadDigestPublicKey",
          Effect: "Allow",
          Action: ["kms:GetPublicKey"],
          Resource: getAtt(keyId),
        },
        {
          Sid: "WriteLogs",
          Effect: "Allow",
          Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
          Resource: getAtt(
            resourceById(s.template, "AWS::Logs::LogGroup", "ArchiverDigestPublicKeyLogGroup").id,
          ),
        },
      ]);
      const role = resourceById(s.template, "AWS::IAM::Role", "ArchiverDigestPublicKeyRole").resource;
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      const custom = onlyResource(s.template, "Custom::DigestPublicKey");
      expect(custom.resource.Properties).toEqual({ ServiceToken: getAtt(fn.id), KeyId: getAtt(keyId) });
      // CloudFormation calls the function only once its permissions are attached.
      expect(custom.resource.DependsOn).toEqual(
        expect.arrayContaining([
          resourceById(s.template, "AWS::IAM::Policy", "ArchiverDigestPublicKeyRoleDefaultPolicy").id,
        ]),
      );
      expect(Stack.of(s.stack).resolve(s.archiver.digestPublicKey)).toEqual(getAtt(custom.id, "PublicKey"));
    });
  });

  it("signs with a key given (and creates none), the planner encrypting its digests with the archive's key", () => {
    const arn = "arn:aws:kms:eu-west-1:123456789012:key/digest-key";
    const { template } = synth({ config: testConfig(), encryption: "KMS" }, (stack) => ({
      digestKey: kms.Key.fromKeyArn(stack, "DigestKey", arn),
    }));
    // The keys created are the archive's and the alarm topic's (both symmetric).
    const keys = resources(template, "AWS::KMS::Key");
    expect(Object.values(keys).map((k) => k.Properties.KeySpec)).toEqual([undefined, undefined]);
    const archiveKey = resourceById(template, "AWS::KMS::Key", "ArchiverArchiveKey");
    expect(statementsNaming(template, arn).map((st) => [st.Sid, st.Action])).toEqual([
      ["ReadDigestPublicKey", "kms:GetPublicKey"],
      ["SignDigests", "kms:Sign"],
    ]);
    expect(onlyResource(template, "Custom::DigestPublicKey").resource.Properties.KeyId).toBe(arn);
    expect(policyStatements(template, PLANNER.role).find((st) => st.Sid === "EncryptDigests")).toEqual({
      Sid: "EncryptDigests",
      Effect: "Allow",
      Action: ["kms:GenerateDataKey"],
      Resource: getAtt(archiveKey.id),
      Condition: {
        StringEquals: { "kms:ViaService": join_("s3.", { Ref: "AWS::Region" }, ".amazonaws.com") },
      },
    });
  });

  it("creates no key, no custom resource and no digest permission with digests: false", () => {
    const { template, archiver } = synth({ config: testConfig(), encryption: "KMS" });
    expect(archiver.digestKey).toBeDefined();
    const off = synth({ config: testConfig(), encryption: "KMS", digests: false });
    // Only the archive's and the alarm topic's keys remain.
    expect(Object.keys(resources(off.template, "AWS::KMS::Key")).sort()).toEqual([
      expect.stringMatching(/^ArchiverAlarmTopicKey/),
      expect.stringMatching(/^ArchiverArchiveKey/),
    ]);
    off.template.resourceCountIs("Custom::DigestPublicKey", 0);
    off.template.resourceCountIs("AWS::KMS::Alias", 0);
    expect(off.archiver.digestKey).toBeUndefined();
    expect(off.archiver.digestPublicKey).toBeUndefined();
    const sids = policyStatements(off.template, PLANNER.role).map((st) => st.Sid);
    expect(sids).not.toContain("WriteDigests");
    expect(sids).not.toContain("SignDigests");
    expect(sids).not.toContain("EncryptDigests");
    const planner = resourceById(off.template, "AWS::Lambda::Function", PLANNER.function).resource;
    expect(planner.Properties.Environment.Variables.DIGEST_KEY_ARN).toBeUndefined();
    expect(Object.keys(resources(template, "AWS::Lambda::Function"))).toHaveLength(3);
    expect(Object.keys(resources(off.template, "AWS::Lambda::Function"))).toHaveLength(2);
  });

  it("covers the digests with Object Lock by the bucket's default retention (no per-object retention needed)", () => {
    const { template } = synth({
      config: testConfig(),
      objectLock: { mode: "COMPLIANCE", retentionDays: 2555 },
    });
    const bucket = onlyResource(template, "AWS::S3::Bucket", {
      Properties: { VersioningConfiguration: Match.anyValue() },
    }).resource;
    // A bucket-level default applies to every new object version, the planner's digests included.
    expect(bucket.Properties.ObjectLockConfiguration).toEqual({
      ObjectLockEnabled: "Enabled",
      Rule: { DefaultRetention: { Mode: "COMPLIANCE", Days: 2555 } },
    });
    const planner = JSON.stringify(policyStatements(template, PLANNER.role));
    expect(planner).toContain("WriteDigests");
    expect(planner).not.toMatch(/PutObjectRetention|PutObjectLegalHold|BypassGovernanceRetention/);
  });
});

/** The inline handler as Lambda would load it, its KMS client pointed at `moto`. */
function loadHandler(moto: MotoServer): (event: Record<string, unknown>) => Promise<void> {
  class MotoKms extends KMSClient {
    constructor() {
      super({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials, maxAttempts: 1 });
    }
  }
  const requireFn = (name: string) => {
    if (name !== "@aws-sdk/client-kms") throw new Error(`unexpected require(${name})`);
    return { KMSClient: MotoKms, GetPublicKeyCommand };
  };
  const exports: { onEvent?: (event: Record<string, unknown>) => Promise<void> } = {};
  new Function("require", "exports", PUBLIC_KEY_HANDLER)(requireFn, exports);
  if (!exports.onEvent) throw new Error("the handler exports no onEvent");
  return exports.onEvent;
}

describeWithMoto("the public key custom resource's handler (moto's KMS)", () => {
  let moto: MotoServer;
  let client: KMSClient;
  let server: Server;
  let responseUrl: string;
  const replies: { body: Record<string, unknown>; contentType: string | undefined }[] = [];

  beforeAll(async () => {
    moto = await startMoto();
    client = new KMSClient({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials });
    // Plays CloudFormation's pre-signed response URL.
    server = createServer((req, res) => {
      let text = "";
      req.on("data", (chunk) => {
        text += chunk;
      });
      req.on("end", () => {
        replies.push({ body: JSON.parse(text), contentType: req.headers["content-type"] });
        res.writeHead(req.method === "PUT" ? 200 : 405).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    responseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/response?X-Amz-Signature=x`;
  }, 30_000);
  afterAll(async () => {
    client?.destroy();
    await new Promise((resolve) => server?.close(resolve));
    await moto?.close();
  });

  const event = (requestType: string, keyId: string) => ({
    RequestType: requestType,
    ResponseURL: responseUrl,
    StackId: "arn:aws:cloudformation:us-east-1:123456789012:stack/TestStack/guid",
    RequestId: `request-${replies.length}`,
    LogicalResourceId: "ArchiverDigestPublicKey",
    ResourceType: "Custom::DigestPublicKey",
    ResourceProperties: { ServiceToken: "arn", KeyId: keyId },
  });

  it("answers with the public key as base64 DER, which verifies a KMS signature offline", async () => {
    const key = await client.send(
      new CreateKeyCommand({ KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY" }),
    );
    const keyId = key.KeyMetadata?.Arn as string;
    await loadHandler(moto)(event("Create", keyId));
    const reply = replies.at(-1);
    expect(reply?.contentType).toBe("");
    expect(reply?.body).toMatchObject({
      Status: "SUCCESS",
      PhysicalResourceId: keyId,
      LogicalResourceId: "ArchiverDigestPublicKey",
      Data: { PublicKey: expect.stringMatching(/^[A-Za-z0-9+/]+=*$/), KeySpec: "ECC_NIST_P256" },
    });
    const data = reply?.body.Data as { PublicKey: string };
    const der = Buffer.from(data.PublicKey, "base64");
    const publicKey = createPublicKey({ key: der, format: "der", type: "spki" });
    expect(publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    const message = Buffer.from("a digest's bytes");
    const signed = await client.send(
      new SignCommand({
        KeyId: keyId,
        Message: message,
        MessageType: "RAW",
        SigningAlgorithm: "ECDSA_SHA_256",
      }),
    );
    expect(
      verify("sha256", message, { key: publicKey, dsaEncoding: "der" }, signed.Signature as Uint8Array),
    ).toBe(true);
  });

  it("fails the deploy, naming the key, for a key that is not ECC_NIST_P256 SIGN_VERIFY, and deletes without a call", async () => {
    const rsa = await client.send(new CreateKeyCommand({ KeySpec: "RSA_2048", KeyUsage: "SIGN_VERIFY" }));
    const rsaId = rsa.KeyMetadata?.Arn as string;
    const onEvent = loadHandler(moto);
    await onEvent(event("Update", rsaId));
    expect(replies.at(-1)?.body).toMatchObject({
      Status: "FAILED",
      PhysicalResourceId: rsaId,
      Reason: expect.stringMatching(
        /must be an ECC_NIST_P256 SIGN_VERIFY key, but .* is RSA_2048 SIGN_VERIFY/,
      ),
    });
    await onEvent(event("Create", "arn:aws:kms:us-east-1:123456789012:key/missing"));
    expect(replies.at(-1)?.body).toMatchObject({
      Status: "FAILED",
      Reason: expect.stringMatching(/key\/missing failed: NotFoundException/),
    });
    await onEvent(event("Delete", "arn:aws:kms:us-east-1:123456789012:key/missing"));
    expect(replies.at(-1)?.body).toMatchObject({ Status: "SUCCESS" });
    expect(replies.at(-1)?.body.Data).toBeUndefined();
  });
});
