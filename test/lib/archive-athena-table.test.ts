import { Lazy, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as s3 from "aws-cdk-lib/aws-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { archiveKey, objectFileName, utcDate, type Workspace } from "../../lambda/config";
import {
  ArchiveAthenaTable,
  type ArchiveAthenaTableProps,
  AtlasAuditArchiver,
  AtlasAuditArchiverStack,
  DeploymentError,
} from "../../lib";
import { defaultAthenaDatabaseName } from "../../lib/athena-settings";
import { propsFromContext } from "../../lib/context";
import { resolveArchiverSettings } from "../../lib/settings";
import {
  GROUP,
  NO_BUNDLING,
  onlyResource,
  policyStatements,
  type TemplateResource,
  TestApps,
  testConfig,
} from "./support";

const apps = new TestApps();
afterAll(() => apps.cleanup());

/** The error `fn` throws. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected an error");
}

/** What Athena sees of a template value: `Ref`s to the bucket become `bucketName`, joins are joined. */
function render(value: unknown, bucketName: string): string {
  if (typeof value === "string") return value;
  const v = value as Record<string, unknown>;
  if (typeof v.Ref === "string") return bucketName;
  const join = v["Fn::Join"] as [string, unknown[]] | undefined;
  if (join) return join[1].map((part) => render(part, bucketName)).join(join[0]);
  throw new Error(`cannot render ${JSON.stringify(value)}`);
}

/** A policy value as text: `{Ref: X}` becomes `<X>`, `Fn::GetAtt` `<Id.Attr>`, joins are joined. */
function text(value: unknown): unknown {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) return value.map(text);
  const v = value as Record<string, unknown>;
  if (typeof v.Ref === "string") return `<${v.Ref}>`;
  const getAtt = v["Fn::GetAtt"] as string[] | undefined;
  if (getAtt) return `<${getAtt.join(".")}>`;
  const join = v["Fn::Join"] as [string, unknown[]] | undefined;
  if (join) return join[1].map(text).join(join[0]);
  return Object.fromEntries(Object.entries(v).map(([key, inner]) => [key, text(inner)]));
}

/** Athena's substitution of partition values into `storage.location.template`. */
function project(template: string, values: { group: string; tenant: string; date: string }): string {
  return template
    .replaceAll(`\${group}`, values.group)
    .replaceAll(`\${tenant}`, values.tenant)
    .replaceAll(`\${date}`, values.date);
}

interface Table {
  readonly template: Template;
  readonly table: TemplateResource;
  /** `storage.location.template` with the bucket's name filled in. */
  readonly locationTemplate: string;
  /** `StorageDescriptor.Location` with the bucket's name filled in. */
  readonly location: string;
}

function table(template: Template, bucketName = "archive-bucket"): Table {
  const { resource } = onlyResource(template, "AWS::Glue::Table");
  const input = resource.Properties.TableInput;
  return {
    template,
    table: resource,
    locationTemplate: render(input.Parameters["storage.location.template"], bucketName),
    location: render(input.StorageDescriptor.Location, bucketName),
  };
}

/** A table alone in a stack, over an imported bucket. */
function standalone(
  props: Partial<ArchiveAthenaTableProps> & { prefix: string },
  stackName = "Reports",
): Table {
  const stack = new Stack(apps.app(NO_BUNDLING), stackName);
  new ArchiveAthenaTable(stack, "Athena", {
    bucket: s3.Bucket.fromBucketName(stack, "Bucket", "archive-bucket"),
    ...props,
  });
  return table(Template.fromStack(stack));
}

const WORKSPACES: readonly Workspace[] = [
  { groupId: GROUP, tenantName: "prod-workspace" },
  { groupId: "5f0c2d4e6a8b1c3d5e7f9a0b", tenantName: "billing", spName: "payments" },
];
const WINDOWS = [
  // The last hour of a day: its object lives in that day's partition, not the next one's.
  { startMs: Date.parse("2026-11-28T23:00:00Z"), endMs: Date.parse("2026-11-29T00:00:00Z") },
  { startMs: Date.parse("2026-02-28T00:05:00Z"), endMs: Date.parse("2026-02-28T00:10:00Z") },
];

/** The table's locations hold exactly the archiver's objects, under `prefix`. */
function expectLayoutOf(t: Table, prefix: string, bucketName = "archive-bucket"): void {
  const root = `s3://${bucketName}/${prefix}`;
  expect(t.location).toBe(root);
  expect(t.locationTemplate).toBe(`${root}group=\${group}/tenant=\${tenant}/date=\${date}/`);
  for (const workspace of WORKSPACES) {
    for (const window of WINDOWS) {
      const partition = project(t.locationTemplate, {
        group: workspace.groupId,
        tenant: workspace.tenantName,
        date: utcDate(window.startMs),
      });
      // The object the archiver writes is a file directly in the projected folder.
      expect(`s3://${bucketName}/${archiveKey(prefix, workspace, window)}`).toBe(
        partition + objectFileName(workspace, window),
      );
    }
  }
  expect(t.locationTemplate.startsWith(`${root}group=`)).toBe(true);
}

describe("the Athena table of the archiver, with the defaults", () => {
  let stack: Stack;
  let archiver: AtlasAuditArchiver;
  let t: Table;
  let bucketId: string;
  beforeAll(() => {
    stack = new Stack(apps.app(NO_BUNDLING), "AtlasAuditArchiver");
    archiver = new AtlasAuditArchiver(stack, "Archiver", { config: testConfig() });
    t = table(Template.fromStack(stack));
    bucketId = stack.getLogicalId(archiver.bucket.node.defaultChild as s3.CfnBucket);
  });

  it("creates a database named after the stack, and the audit_logs table in it", () => {
    const database = onlyResource(t.template, "AWS::Glue::Database");
    expect(database.resource.Properties).toEqual({
      CatalogId: { Ref: "AWS::AccountId" },
      DatabaseInput: {
        Name: "atlas_audit_archiver",
        Description: expect.stringContaining("audit logs"),
      },
    });
    expect(t.table.Properties.CatalogId).toEqual({ Ref: "AWS::AccountId" });
    expect(t.table.Properties.DatabaseName).toEqual({ Ref: database.id });
    expect(t.table.Properties.TableInput.Name).toBe("audit_logs");
    expect(t.table.Properties.TableInput.TableType).toBe("EXTERNAL_TABLE");
    expect(archiver.athenaTable?.databaseName).toBe("atlas_audit_archiver");
    expect(archiver.athenaTable?.tableName).toBe("audit_logs");
  });

  it("projects group and tenant (injected) and date (daily, 2024-01-01 to now) into the key layout", () => {
    expect(t.table.Properties.TableInput.Parameters).toEqual({
      EXTERNAL: "TRUE",
      "projection.enabled": "true",
      "projection.group.type": "injected",
      "projection.tenant.type": "injected",
      "projection.date.type": "date",
      "projection.date.format": "yyyy-MM-dd",
      "projection.date.range": "2024-01-01,NOW",
      "projection.date.interval": "1",
      "projection.date.interval.unit": "DAYS",
      "storage.location.template": {
        "Fn::Join": [
          "",
          [
            "s3://",
            { Ref: bucketId },
            `/atlas/stream-audit/group=\${group}/tenant=\${tenant}/date=\${date}/`,
          ],
        ],
      },
    });
    expect(t.table.Properties.TableInput.PartitionKeys.map((k: { Name: string; Type: string }) => k)).toEqual(
      [
        { Name: "group", Type: "string", Comment: expect.any(String) },
        { Name: "tenant", Type: "string", Comment: expect.any(String) },
        { Name: "date", Type: "string", Comment: expect.any(String) },
      ],
    );
  });

  it("locates every partition exactly where the archiver writes its objects", () => {
    expectLayoutOf(t, "atlas/stream-audit/");
  });

  it("reads each gzip text line whole into the one line column", () => {
    const storage = t.table.Properties.TableInput.StorageDescriptor;
    expect(storage).toEqual({
      Columns: [{ Name: "line", Type: "string", Comment: expect.any(String) }],
      Location: { "Fn::Join": ["", ["s3://", { Ref: bucketId }, "/atlas/stream-audit/"]] },
      InputFormat: "org.apache.hadoop.mapred.TextInputFormat",
      OutputFormat: "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
      Compressed: true,
      SerdeInfo: {
        SerializationLibrary: "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
        Parameters: { "field.delim": "\u0001", "serialization.format": "\u0001" },
      },
    });
  });

  it("creates a workgroup named like the database that enforces encrypted results in its own bucket", () => {
    const resultsId = stack.getLogicalId(
      archiver.athenaTable?.resultsBucket?.node.defaultChild as s3.CfnBucket,
    );
    const workGroup = onlyResource(t.template, "AWS::Athena::WorkGroup").resource;
    expect(workGroup.Properties).toEqual({
      Name: "atlas_audit_archiver",
      Description: expect.stringContaining("atlas_audit_archiver.audit_logs"),
      RecursiveDeleteOption: true,
      WorkGroupConfiguration: {
        EnforceWorkGroupConfiguration: true,
        PublishCloudWatchMetricsEnabled: true,
        EngineVersion: { SelectedEngineVersion: "Athena engine version 3" },
        ResultConfiguration: {
          OutputLocation: { "Fn::Join": ["", ["s3://", { Ref: resultsId }, "/"]] },
          EncryptionConfiguration: { EncryptionOption: "SSE_S3" },
        },
      },
    });
    const results = t.template.toJSON().Resources[resultsId];
    expect(results.DeletionPolicy).toBe("Retain");
    expect(results.Properties).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LifecycleConfiguration: {
        Rules: [
          {
            ExpirationInDays: 30,
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
            Status: "Enabled",
          },
        ],
      },
      LoggingConfiguration: {
        DestinationBucketName: {
          Ref: stack.getLogicalId(archiver.accessLogsBucket?.node.defaultChild as s3.CfnBucket),
        },
        LogFilePrefix: "athena-query-results/",
      },
    });
    // TLS only.
    t.template.hasResourceProperties("AWS::S3::BucketPolicy", {
      Bucket: { Ref: resultsId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
  });

  it("adds no IAM permission of its own", () => {
    // The functions' policies are unchanged: reading is for whoever queries.
    const policies = t.template.findResources("AWS::IAM::Policy");
    expect(Object.keys(policies).length).toBeGreaterThan(0);
    expect(JSON.stringify(policies)).not.toMatch(/glue:|athena:/);
  });
});

describe("the table's locations under other prefixes", () => {
  it("reads the bucket root when the prefix is empty (a bucket named in the parameter file)", () => {
    const stack = new Stack(apps.app(NO_BUNDLING), "Archive");
    new AtlasAuditArchiver(stack, "Archiver", {
      config: testConfig({ archive: { bucket: "central-audit-archive", prefix: "" } }),
    });
    const t = table(Template.fromStack(stack), "unused");
    // A named bucket leaves no token: the template is a plain string.
    expect(t.table.Properties.TableInput.Parameters["storage.location.template"]).toBe(
      `s3://central-audit-archive/group=\${group}/tenant=\${tenant}/date=\${date}/`,
    );
    expectLayoutOf(t, "", "central-audit-archive");
  });

  it("follows a nested prefix with = and . in its segments", () => {
    const prefix = "audit/env=prod/atlas.streams/";
    expectLayoutOf(standalone({ prefix }), prefix);
  });
});

describe("ArchiveAthenaTable options", () => {
  it("encrypts query results with the archive's KMS key, and makes no workgroup with workGroup false", () => {
    const stack = new Stack(apps.app(NO_BUNDLING), "Reports");
    const keyArn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    new ArchiveAthenaTable(stack, "Athena", {
      bucket: s3.Bucket.fromBucketName(stack, "Bucket", "archive-bucket"),
      prefix: "",
      encryptionKey: kms.Key.fromKeyArn(stack, "Key", keyArn),
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties("AWS::Athena::WorkGroup", {
      Name: "reports",
      WorkGroupConfiguration: {
        ResultConfiguration: { EncryptionConfiguration: { EncryptionOption: "SSE_KMS", KmsKey: keyArn } },
      },
    });
    const results = onlyResource(template, "AWS::S3::Bucket").resource;
    expect(results.Properties.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
      { ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } },
    ]);
    // No access logs bucket given: none configured.
    expect(results.Properties.LoggingConfiguration).toBeUndefined();

    const without = standalone({ prefix: "", workGroup: false });
    without.template.resourceCountIs("AWS::Athena::WorkGroup", 0);
    without.template.resourceCountIs("AWS::S3::Bucket", 0);
    without.template.resourceCountIs("AWS::Glue::Table", 1);
  });

  it("grants a principal exactly what querying takes, and never a write to the archive", () => {
    const stack = new Stack(apps.app(NO_BUNDLING), "Reports");
    const keyArn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const athena = new ArchiveAthenaTable(stack, "Athena", {
      bucket: s3.Bucket.fromBucketName(stack, "Bucket", "archive-bucket"),
      prefix: "atlas/stream-audit/",
      encryptionKey: kms.Key.fromKeyArn(stack, "Key", keyArn),
    });
    athena.grantQuery(new iam.Role(stack, "Auditors", { assumedBy: new iam.AccountRootPrincipal() }));
    const template = Template.fromStack(stack);
    const results = `<${stack.getLogicalId(athena.resultsBucket?.node.defaultChild as s3.CfnBucket)}.Arn>`;
    const arn = (service: string, resource: string) =>
      `arn:<AWS::Partition>:${service}:<AWS::Region>:<AWS::AccountId>:${resource}`;
    const granted = policyStatements(template).map((statement) => text(statement));
    const expected = [
      {
        Effect: "Allow",
        Action: [
          "athena:GetQueryExecution",
          "athena:GetQueryResults",
          "athena:GetWorkGroup",
          "athena:StartQueryExecution",
          "athena:StopQueryExecution",
        ],
        Resource: arn("athena", "workgroup/reports"),
      },
      {
        Effect: "Allow",
        Action: ["glue:GetDatabase", "glue:GetTable"],
        Resource: [
          arn("glue", "catalog"),
          arn("glue", "database/reports"),
          arn("glue", "table/reports/audit_logs"),
        ],
      },
      {
        Effect: "Allow",
        Action: ["kms:Decrypt", "kms:GenerateDataKey"],
        Resource: keyArn,
        Condition: { StringEquals: { "kms:ViaService": "s3.<AWS::Region>.amazonaws.com" } },
      },
      {
        Effect: "Allow",
        Action: ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
        Resource: `${results}/*`,
      },
      {
        Effect: "Allow",
        Action: ["s3:GetBucketLocation"],
        Resource: "arn:<AWS::Partition>:s3:::archive-bucket",
      },
      { Effect: "Allow", Action: ["s3:GetBucketLocation", "s3:ListBucket"], Resource: results },
      {
        Effect: "Allow",
        Action: ["s3:GetObject"],
        Resource: "arn:<AWS::Partition>:s3:::archive-bucket/atlas/stream-audit/*",
      },
      {
        Effect: "Allow",
        Action: ["s3:ListBucket"],
        Resource: "arn:<AWS::Partition>:s3:::archive-bucket",
        Condition: { StringLike: { "s3:prefix": ["atlas/stream-audit/*"] } },
      },
    ];
    expect(granted).toEqual(expect.arrayContaining(expected));
    expect(granted).toHaveLength(expected.length);
    // On the archive itself: reads only.
    const onArchive = granted.filter((statement) => JSON.stringify(statement).includes("archive-bucket"));
    expect(new Set(onArchive.flatMap((statement) => (statement as { Action: string[] }).Action))).toEqual(
      new Set(["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"]),
    );
  });

  it("takes the database, table and first day from its props", () => {
    const t = standalone({
      prefix: "logs/",
      databaseName: "security_archive",
      tableName: "atlas_stream_audit",
      dateRangeStart: "2025-06-01",
    });
    expect(onlyResource(t.template, "AWS::Glue::Database").resource.Properties.DatabaseInput.Name).toBe(
      "security_archive",
    );
    expect(t.table.Properties.TableInput.Name).toBe("atlas_stream_audit");
    expect(t.table.Properties.TableInput.Parameters["projection.date.range"]).toBe("2025-06-01,NOW");
  });

  it("derives the default database name from the stack's name", () => {
    expect(defaultAthenaDatabaseName("AtlasAuditArchiver")).toBe("atlas_audit_archiver");
    expect(defaultAthenaDatabaseName("audit-archiver-prod")).toBe("audit_archiver_prod");
    expect(defaultAthenaDatabaseName("SOCArchive2")).toBe("soc_archive2");
    // Nothing usable: the fixed fallback.
    expect(defaultAthenaDatabaseName("2026-archive")).toBe("atlas_audit_archive");
    // A stack name that is a token (a nested stack's): the fixed fallback too.
    expect(defaultAthenaDatabaseName(Lazy.string({ produce: () => "Nested" }))).toBe("atlas_audit_archive");
  });

  it("is created by the archiver unless athena is false, and passes the archiver's options on", () => {
    const config = testConfig();
    const defaults = { tableName: "audit_logs", dateRangeStart: "2024-01-01", workGroup: true };
    expect(resolveArchiverSettings({ config }).athena).toEqual(defaults);
    expect(resolveArchiverSettings({ config, athena: true }).athena).toEqual(defaults);
    expect(resolveArchiverSettings({ config, athena: false }).athena).toBeUndefined();
    expect(
      resolveArchiverSettings({ config, athena: { databaseName: "audit", dateRangeStart: "2025-01-01" } })
        .athena,
    ).toEqual({
      databaseName: "audit",
      tableName: "audit_logs",
      dateRangeStart: "2025-01-01",
      workGroup: true,
    });
  });

  it.each([
    [{ databaseName: "Audit-DB" }, "athena.databaseName", /lowercase letters, digits and _/],
    [{ tableName: "_logs" }, "athena.tableName", /starting with a letter/],
    [{ dateRangeStart: "2025-02-29" }, "athena.dateRangeStart", /calendar date written YYYY-MM-DD/],
    [{ dateRangeStart: "NOW-30DAYS" }, "athena.dateRangeStart", /YYYY-MM-DD/],
    [{ database: "audit" }, "athena.database", /is not an option; use databaseName, tableName/],
    [{ workGroup: "off" }, "athena.workGroup", /must be true or false/],
    ["yes", "athena", /must be true, false, or/],
  ])("refuses the archiver option %j, naming %s", (athena, setting, message) => {
    const error = thrown(() => resolveArchiverSettings({ config: testConfig(), athena: athena as never }));
    expect(error).toBeInstanceOf(DeploymentError);
    expect((error as DeploymentError).setting).toBe(setting);
    expect((error as DeploymentError).code).toBe("DEPLOY_PROPS_INVALID");
    expect((error as DeploymentError).message).toMatch(message);
  });

  it("refuses a bad prop of the construct used alone, naming it", () => {
    const error = thrown(() => standalone({ prefix: "", tableName: "Audit Logs" }));
    expect(error).toBeInstanceOf(DeploymentError);
    expect((error as DeploymentError).setting).toBe("tableName");
    expect((error as DeploymentError).message).toBe(
      'tableName = "Audit Logs": must be 1 to 255 lowercase letters, digits and _, starting with a letter ' +
        '(Athena folds names to lowercase and needs quotes for anything else), e.g. "atlas_audit_archive"',
    );
  });

  it("refuses a prefix that would break the table location", () => {
    for (const prefix of ["atlas", "/atlas/", "a b/", `x/\${y}/`]) {
      const error = thrown(() => standalone({ prefix }));
      expect(error).toBeInstanceOf(DeploymentError);
      expect((error as DeploymentError).setting).toBe("prefix");
      expect((error as DeploymentError).message).toContain("ending in");
    }
  });
});

describe("the stack and the app", () => {
  it("names the database and table in the stack outputs, and creates neither with athena=false", () => {
    const on = Template.fromStack(
      new AtlasAuditArchiverStack(apps.app(NO_BUNDLING), "AtlasAuditArchiver", { config: testConfig() }),
    );
    expect(on.findOutputs("AthenaDatabaseName").AthenaDatabaseName?.Value).toBe("atlas_audit_archiver");
    expect(on.findOutputs("AthenaTableName").AthenaTableName?.Value).toBe("audit_logs");
    expect(on.findOutputs("AthenaWorkGroupName").AthenaWorkGroupName?.Value).toBe("atlas_audit_archiver");

    const stack = new AtlasAuditArchiverStack(apps.app(NO_BUNDLING), "AtlasAuditArchiver", {
      config: testConfig(),
      archiver: { athena: false },
    });
    const off = Template.fromStack(stack);
    off.resourceCountIs("AWS::Glue::Database", 0);
    off.resourceCountIs("AWS::Glue::Table", 0);
    off.resourceCountIs("AWS::Athena::WorkGroup", 0);
    expect(Object.keys(off.findOutputs("*")).filter((name) => name.startsWith("Athena"))).toEqual([]);
    expect(stack.archiver.athenaTable).toBeUndefined();
  });

  it("reads -c athena=false and the -c athena* names", () => {
    const archiverProps = (context: Record<string, unknown>) =>
      propsFromContext((key) => context[key]).stack.archiver;
    expect(archiverProps({})?.athena).toBeUndefined();
    expect(archiverProps({ athena: "false" })?.athena).toBe(false);
    expect(archiverProps({ athena: "true" })?.athena).toBeUndefined();
    expect(
      archiverProps({
        athenaDatabaseName: "audit",
        athenaTableName: "logs",
        athenaDateRangeStart: "2025-01-01",
      })?.athena,
    ).toEqual({ databaseName: "audit", tableName: "logs", dateRangeStart: "2025-01-01" });
    expect(archiverProps({ athenaWorkGroup: "false" })?.athena).toEqual({ workGroup: false });
    expect(() => archiverProps({ athena: "no" })).toThrow("-c athena=no: must be true or false");
    expect(() => archiverProps({ athena: "false", athenaTableName: "logs" })).toThrow(
      "-c athenaTableName=logs: contradicts athena=false; remove one",
    );
  });
});

describe("the README's filters on $path", () => {
  // The README selects one stream processor's objects (same tenant partition) by file name.
  const onlyPayments = /\/billing_payments_\d{8}T\d{6}Z_/;
  const wholeWorkspace = /\/billing_\d{8}T\d{6}Z_/;
  const window = WINDOWS[0] ?? { startMs: 0, endMs: 0 };
  const path = (spName?: string) =>
    `s3://b/${archiveKey("atlas/stream-audit/", { groupId: GROUP, tenantName: "billing", ...(spName ? { spName } : {}) }, window)}`;

  it("select exactly one processor's objects, or the whole workspace's", () => {
    expect(path("payments")).toMatch(onlyPayments);
    expect(path()).not.toMatch(onlyPayments);
    expect(path("payments_v2")).not.toMatch(onlyPayments);
    expect(path()).toMatch(wholeWorkspace);
    expect(path("payments")).not.toMatch(wholeWorkspace);
  });
});
