import { type App, Validations } from "aws-cdk-lib";
import * as s3 from "aws-cdk-lib/aws-s3";
import { AwsSolutionsChecks } from "cdk-nag";
import type { IConstruct } from "constructs";
import { afterAll, describe, expect, it } from "vitest";
import {
  AtlasAuditArchiverStack,
  type AtlasAuditArchiverStackProps,
} from "../../lib/atlas-audit-archiver-stack";
import { NO_BUNDLING, TestApps, testConfig } from "./support";

const apps = new TestApps();
afterAll(() => apps.cleanup());

/** Synthesizes the stack with the AwsSolutions pack registered as cdk-nag 3 expects. */
function checkedApp(props: Partial<AtlasAuditArchiverStackProps>): App {
  const app = apps.app(NO_BUNDLING);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  new AtlasAuditArchiverStack(app, "AtlasAuditArchiver", { config: testConfig(), ...props });
  // An unacknowledged error fails the synth (CDK throws the validation report).
  app.synth();
  return app;
}

/** Every finding of the pack, errors and warnings, that is not acknowledged. */
function findings(app: App): string[] {
  const report = new AwsSolutionsChecks().validateScope(app);
  return report.violations.flatMap((v) =>
    v.violatingResources.map((r) => `${v.severity} ${v.ruleName} at ${r.constructPath}`),
  );
}

/** The findings there would be without any acknowledgement. */
function rawFindings(app: App): string[] {
  const pack = new AwsSolutionsChecks();
  // Test-only: make the pack ignore acknowledgements, to show each one answers a real finding.
  Object.defineProperty(pack, "isAcknowledged", { value: () => false });
  return pack.validateScope(app).violations.map((v) => v.ruleName);
}

/** The cdk-nag rule IDs acknowledged anywhere in the tree, with their reasons (CDK's own aside). */
function acknowledgements(app: App): Map<string, string> {
  const found = new Map<string, string>();
  const visit = (node: IConstruct) => {
    for (const entry of node.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [qualified, reason] of Object.entries(entry.data as Record<string, string>)) {
        const id = qualified.replace(/^annotation::/i, "");
        if (id.startsWith("AwsSolutions-")) found.set(id, reason);
      }
    }
    for (const child of node.node.children) visit(child);
  };
  visit(app);
  return found;
}

const VARIANTS: Record<string, Partial<AtlasAuditArchiverStackProps>> = {
  defaults: {},
  "KMS, Object Lock, email, no access logs": {
    archiver: {
      encryption: "KMS",
      objectLock: { mode: "COMPLIANCE", retentionDays: 2555 },
      transition: { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, afterDays: 30 },
      serverAccessLogs: false,
      alarmEmail: "ops@example.com",
    },
  },
  "VPC with a fixed egress IP": { egressEipAllocationId: "eipalloc-0123456789abcdef0" },
  "KMS in a VPC, queue settings": {
    egressEipAllocationId: "eipalloc-0123456789abcdef0",
    archiver: {
      encryption: "KMS",
      workerConcurrency: 100,
      lanesPerProject: 4,
      batchSize: 1,
      maxReceiveCount: 3,
    },
  },
  "no digests": { archiver: { digests: false } },
  "existing bucket and secret": {
    config: testConfig({ archive: { bucket: "central-audit-archive", prefix: "" } }),
    secretName: "atlas/audit-archiver",
    bucketKmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/bucket-key",
  },
};

describe("cdk-nag AwsSolutions checks", () => {
  it.each(Object.entries(VARIANTS))(
    "leave no unacknowledged error or warning, and no needless acknowledgement (%s)",
    (_name, props) => {
      const app = checkedApp(props);
      expect(findings(app)).toEqual([]);
      const acknowledged = acknowledgements(app);
      expect([...acknowledged.keys()].sort()).toEqual([...new Set(rawFindings(app))].sort());
    },
  );

  it("acknowledges each role's wildcards on its own policy: the objects below the prefix, and * in a VPC", () => {
    const app = checkedApp(VARIANTS["VPC with a fixed egress IP"] ?? {});
    const onPolicy = (role: string) => {
      const policy = app.node
        .findAll()
        .find((c) => c.node.path === `AtlasAuditArchiver/Archiver/${role}/DefaultPolicy`);
      return (policy?.node.metadata ?? [])
        .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((m) => Object.keys(m.data as Record<string, string>))
        .map((id) => id.replace(/^annotation::/i, ""))
        .sort();
    };
    expect(onPolicy("PlannerRole")).toEqual([
      "AwsSolutions-IAM5[Resource::*]",
      "AwsSolutions-IAM5[Resource::<ArchiverBucketFEA15B54.Arn>/atlas/stream-audit/*]",
      "AwsSolutions-IAM5[Resource::<ArchiverBucketFEA15B54.Arn>/atlas/stream-audit/_digests/*]",
    ]);
    expect(onPolicy("WorkerRole")).toEqual([
      "AwsSolutions-IAM5[Resource::*]",
      "AwsSolutions-IAM5[Resource::<ArchiverBucketFEA15B54.Arn>/atlas/stream-audit/*]",
    ]);
    // The deploy-time reader of the digest key's public key has nothing to acknowledge: its own
    // role (no managed policy), its own log group, kms:GetPublicKey on the one key, the latest runtime.
    expect(onPolicy("DigestPublicKeyRole")).toEqual([]);
  });

  it("states a reason for every acknowledgement", () => {
    const app = checkedApp(VARIANTS["VPC with a fixed egress IP"] ?? {});
    const acknowledged = acknowledgements(app);
    expect(acknowledged.size).toBeGreaterThan(0);
    for (const [id, reason] of acknowledged) {
      expect(id).toMatch(/^AwsSolutions-[A-Z]+\d+/);
      expect(reason.length, `reason of ${id}`).toBeGreaterThan(60);
    }
  });
});
