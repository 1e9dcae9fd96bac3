/**
 * Part 1 of the deploy check: every template the project can synthesize, linted with cfn-lint.
 *
 * - The app's stack, synthesized by the CDK CLI (`cdk synth`, cdk.json's app and feature flags, the
 *   functions bundled) with the settings a real deploy passes.
 * - The app in the configurations that change the template's shape ({@link VARIANTS}), synthesized
 *   in this process without bundling (the code assets are placeholders; the templates are the same).
 * - The construct alone in a bare stack, as a library user adds it (no cdk-nag, no stack outputs).
 *
 * cfn-lint reads the checks to ignore from `.cfnlintrc` at the repository root, each with its reason.
 * Any other finding, error or warning, fails the part.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { App, Stack } from "aws-cdk-lib";
import { createApp } from "../../bin/app";
import { parseConfig } from "../../lambda/config";
import { AtlasAuditArchiver } from "../../lib";
import { CommandFailedError, mustRun, runCommand } from "./process";

/** The repository root (cdk.json, .cfnlintrc). */
export const ROOT = join(import.meta.dirname, "..", "..");

/** A workspace list that looks like a real one (the example's are placeholders a deploy refuses). */
export const WORKSPACES = [
  { groupId: "5f1d7c0e9a3b4c2d1e0f9a8b", tenantName: "payments-audit" },
  { groupId: "5f1d7c0e9a3b4c2d1e0f9a8b", tenantName: "ledger", spName: "ledger-sync" },
];

/** Settings every synthesized variant passes, as a real deploy must. */
export const DEPLOY_CONTEXT: Readonly<Record<string, string>> = {
  secretName: "atlas/audit-archiver",
  alarmEmail: "audit-alarms@acme-audit-archiver.dev",
};

/** A VPC as `cdk synth` would have cached it in cdk.context.json after looking it up. */
const LOOKED_UP_VPC = {
  vpcId: "vpc-0a1b2c3d4e5f60718",
  vpcCidrBlock: "10.20.0.0/16",
  ownerAccountId: "123456789012",
  availabilityZones: [],
  subnetGroups: [
    {
      name: "Private",
      type: "Private",
      subnets: [
        {
          subnetId: "subnet-0a1b2c3d4e5f60001",
          cidr: "10.20.1.0/24",
          availabilityZone: "eu-west-1a",
          routeTableId: "rtb-0a1b2c3d4e5f60001",
        },
        {
          subnetId: "subnet-0a1b2c3d4e5f60002",
          cidr: "10.20.2.0/24",
          availabilityZone: "eu-west-1b",
          routeTableId: "rtb-0a1b2c3d4e5f60002",
        },
      ],
    },
    {
      name: "Public",
      type: "Public",
      subnets: [
        {
          subnetId: "subnet-0a1b2c3d4e5f60101",
          cidr: "10.20.101.0/24",
          availabilityZone: "eu-west-1a",
          routeTableId: "rtb-0a1b2c3d4e5f60101",
        },
        {
          subnetId: "subnet-0a1b2c3d4e5f60102",
          cidr: "10.20.102.0/24",
          availabilityZone: "eu-west-1b",
          routeTableId: "rtb-0a1b2c3d4e5f60102",
        },
      ],
    },
  ],
};

/** One configuration of the app: its context values and parameter file additions. */
export interface Variant {
  readonly name: string;
  /** `-c` values on top of {@link DEPLOY_CONTEXT}. */
  readonly context: Readonly<Record<string, string>>;
  /** Merged into the parameter file's `archive` section. */
  readonly archive?: Readonly<Record<string, string>>;
}

/** The configurations whose templates differ in shape, not only in values. */
export const VARIANTS: readonly Variant[] = [
  { name: "defaults", context: {} },
  { name: "no-digests-no-athena", context: { digests: "false", athena: "false" } },
  {
    name: "existing-bucket-and-secret-arn",
    context: {
      secretName: "",
      secretArn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:atlas/audit-archiver-AbCdEf",
      secretKmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9",
      bucketKmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/1a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9",
    },
    archive: { bucket: "acme-atlas-audit-archive" },
  },
  {
    name: "kms-object-lock-no-transition",
    context: {
      bucketEncryption: "KMS",
      objectLockMode: "COMPLIANCE",
      objectLockDays: "365",
      transitionDays: "off",
      expireAfterDays: "2555",
      serverAccessLogs: "false",
    },
  },
  { name: "egress-vpc", context: { egressEipAllocationId: "eipalloc-0123456789abcdef0" } },
  {
    name: "existing-vpc",
    context: { vpcId: LOOKED_UP_VPC.vpcId, account: "123456789012", region: "eu-west-1" },
  },
  { name: "explicit-queue-names", context: { explicitQueueNames: "true" } },
];

/** cdk.json's context (feature flags), which only the CDK CLI passes to the app on its own. */
export function cdkJsonContext(): Record<string, unknown> {
  return (JSON.parse(readFileSync(join(ROOT, "cdk.json"), "utf8")) as { context: Record<string, unknown> })
    .context;
}

/** Writes a parameter file with {@link WORKSPACES} (and `archive` additions) and returns its path. */
export function writeParameterFile(path: string, archive: Readonly<Record<string, string>> = {}): string {
  const config = {
    atlas: { baseUrl: "https://cloud.mongodb.com", apiVersion: "2023-02-01" },
    archive: { prefix: "atlas/stream-audit/", ...archive },
    window: { minutes: 60, lagMinutes: 15, lookbackHours: 72 },
    schedule: "rate(1 hour)",
    workspaces: WORKSPACES,
  };
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`);
  return path;
}

/** `-c key=value` arguments; an empty value leaves the key out. */
export function contextArgs(context: Readonly<Record<string, string>>): string[] {
  return Object.entries(context).flatMap(([key, value]) => (value === "" ? [] : ["-c", `${key}=${value}`]));
}

/** A synthesized template and where it came from. */
export interface SynthesizedTemplate {
  readonly name: string;
  readonly path: string;
}

/** The app's stack as `cdk synth` writes it for a deploy (functions bundled). */
export async function synthesizeWithCli(workDir: string): Promise<SynthesizedTemplate> {
  mkdirSync(workDir, { recursive: true });
  const outdir = join(workDir, "cli.out");
  const config = writeParameterFile(join(workDir, "cli-workspaces.json"));
  await mustRun(
    join(ROOT, "node_modules", ".bin", "cdk"),
    [
      "synth",
      "--quiet",
      "--no-notices",
      "-o",
      outdir,
      "-c",
      `config=${config}`,
      ...contextArgs(DEPLOY_CONTEXT),
    ],
    { cwd: ROOT, env: cdkCliEnvironment(process.env), timeoutMs: 300_000 },
  );
  return { name: "app (cdk synth)", path: join(outdir, onlyTemplate(outdir)) };
}

/** The CDK CLI offline: no version check, no telemetry. */
export function cdkCliEnvironment(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...base, CDK_DISABLE_VERSION_CHECK: "1", CDK_DISABLE_CLI_TELEMETRY: "true" };
}

function onlyTemplate(outdir: string): string {
  const templates = readdirSync(outdir).filter((file) => file.endsWith(".template.json"));
  if (templates.length !== 1) throw new Error(`${outdir} holds ${templates.length} templates, expected one`);
  return templates[0] as string;
}

/** Each of {@link VARIANTS} through the app, in this process, without bundling. */
export async function synthesizeVariants(workDir: string): Promise<SynthesizedTemplate[]> {
  const out: SynthesizedTemplate[] = [];
  for (const variant of VARIANTS) {
    const outdir = join(workDir, `variant-${variant.name}`);
    mkdirSync(outdir, { recursive: true });
    const config = writeParameterFile(join(outdir, "workspaces.json"), variant.archive);
    const given = Object.fromEntries(
      Object.entries({ ...DEPLOY_CONTEXT, ...variant.context }).filter(([, value]) => value !== ""),
    );
    const context: Record<string, unknown> = {
      ...cdkJsonContext(),
      ...given,
      config,
      "aws:cdk:bundling-stacks": [],
      ...(variant.context.vpcId ? vpcLookupContext(variant.context) : {}),
    };
    const { app } = await createApp({ outdir, context });
    const assembly = app.synth();
    if (assembly.manifest.missing?.length) {
      throw new Error(
        `${variant.name}: the synth needs context it does not have: ${assembly.manifest.missing.map((m) => m.key).join(", ")}`,
      );
    }
    out.push({ name: `app, ${variant.name}`, path: join(outdir, onlyTemplate(outdir)) });
  }
  return out;
}

/** cdk.context.json's entry for `-c vpcId=...` (the key is the one ec2.Vpc.fromLookup asks for). */
function vpcLookupContext(context: Readonly<Record<string, string>>): Record<string, unknown> {
  const key =
    `vpc-provider:account=${context.account}:filter.vpc-id=${context.vpcId}:region=${context.region}` +
    ":returnAsymmetricSubnets=true";
  return { [key]: LOOKED_UP_VPC };
}

/** The construct alone in a bare stack (a library user's app), without bundling. */
export function synthesizeConstruct(workDir: string): SynthesizedTemplate {
  const outdir = join(workDir, "construct");
  const app = new App({ outdir, context: { ...cdkJsonContext(), "aws:cdk:bundling-stacks": [] } });
  const stack = new Stack(app, "ConstructOnly");
  const config = parseConfig(
    JSON.stringify({ archive: { prefix: "audit/" }, workspaces: WORKSPACES }),
    "construct-workspaces.json",
  );
  new AtlasAuditArchiver(stack, "Archiver", { config, alarmEmail: DEPLOY_CONTEXT.alarmEmail });
  app.synth();
  return { name: "construct in a bare stack", path: join(outdir, onlyTemplate(outdir)) };
}

/** One cfn-lint finding (its JSON output, the fields used here). */
export interface LintFinding {
  readonly Level: string;
  readonly Message: string;
  readonly Filename: string;
  readonly Rule: { readonly Id: string };
  readonly Location: {
    readonly Path?: readonly (string | number)[];
    readonly Start: { readonly LineNumber: number };
  };
}

/** The findings that fail the part: every error and warning (`.cfnlintrc` already left out the ignored). */
export function failingFindings(findings: readonly LintFinding[]): LintFinding[] {
  return findings.filter((f) => f.Level === "Error" || f.Level === "Warning");
}

/** A finding on one line: level, rule, template, resource path and message. */
export function describeFinding(finding: LintFinding, names: ReadonlyMap<string, string>): string {
  const where = finding.Location.Path?.join("/") ?? `line ${finding.Location.Start.LineNumber}`;
  const template = names.get(finding.Filename) ?? finding.Filename;
  return `${finding.Level} ${finding.Rule.Id} in ${template} at ${where}: ${finding.Message}`;
}

/** Regions the templates are checked against (resource types and properties differ by region). */
export const LINT_REGIONS = ["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2"] as const;

/** The outcome of linting: how many templates, and the findings that fail the part. */
export interface LintOutcome {
  readonly templates: number;
  readonly failures: readonly string[];
  readonly ms: number;
}

/** Runs cfn-lint (with `.cfnlintrc`) over the templates and returns the failing findings. */
export async function lintTemplates(templates: readonly SynthesizedTemplate[]): Promise<LintOutcome> {
  const result = await runCommand(
    "cfn-lint",
    ["--format", "json", "--regions", ...LINT_REGIONS, "--", ...templates.map((t) => t.path)],
    { cwd: ROOT, timeoutMs: 300_000 },
  );
  // Exit status: a bit mask of 2 (errors), 4 (warnings), 8 (informational); 1 is cfn-lint itself failing.
  if (result.status === null || result.status % 2 === 1) {
    throw new CommandFailedError("cfn-lint", result);
  }
  let findings: LintFinding[];
  try {
    findings = JSON.parse(result.stdout || "[]") as LintFinding[];
  } catch {
    throw new CommandFailedError("cfn-lint (its output is not JSON)", result);
  }
  const names = new Map(templates.map((t) => [t.path, t.name]));
  return {
    templates: templates.length,
    failures: failingFindings(findings).map((f) => describeFinding(f, names)),
    ms: result.ms,
  };
}
