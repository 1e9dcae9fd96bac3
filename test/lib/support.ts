/** Shared helpers of the infrastructure tests: apps with cdk.json's flags, configs, bundled assets. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Stack } from "aws-cdk-lib";
import type { Template } from "aws-cdk-lib/assertions";
import { type ArchiverConfig, parseConfig } from "../../lambda/config";

/** The repository root. */
export const ROOT = join(import.meta.dirname, "..", "..");

export const GROUP = "32b6e34b3d91647abb20e7b8";

/** The feature flags and settings of cdk.json, so tests synthesize what `cdk deploy` would. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(ROOT, "cdk.json"), "utf8")) as {
    context: Record<string, unknown>;
  };
  return cdkJson.context;
}

/** Skips esbuild (the asset becomes a placeholder): for tests that only look at the template. */
export const NO_BUNDLING = { "aws:cdk:bundling-stacks": [] } as const;

/** A validated configuration: one workspace and the defaults, with `overrides` on top. */
export function testConfig(overrides: Record<string, unknown> = {}): ArchiverConfig {
  return parseConfig(
    JSON.stringify({ workspaces: [{ groupId: GROUP, tenantName: "prod-workspace" }], ...overrides }),
    "test-config.json",
  );
}

/** A configuration listing `count` distinct workspaces. */
export function manyWorkspaces(count: number): ArchiverConfig {
  const workspaces = Array.from({ length: count }, (_, i) => ({
    groupId: (i % 7).toString(16).padStart(24, "a"),
    tenantName: `workspace-${i}`,
    ...(i % 3 === 0 ? { spName: `processor-${i}` } : {}),
  }));
  return testConfig({ workspaces });
}

/** Creates apps in temporary cloud assembly directories and removes them afterwards. */
export class TestApps {
  private readonly dirs: string[] = [];

  /** An app with cdk.json's context (plus `context`), synthesizing into a fresh directory. */
  app(context: Record<string, unknown> = {}): App {
    const outdir = mkdtempSync(join(tmpdir(), "archiver-cdk-"));
    this.dirs.push(outdir);
    return new App({ outdir, context: { ...cdkJsonContext(), ...context } });
  }

  /** An environment-agnostic stack in a new app. */
  stack(context: Record<string, unknown> = {}): Stack {
    return new Stack(this.app(context), "TestStack");
  }

  cleanup(): void {
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A resource of a synthesized template. Tests navigate its properties freely and let the
 * assertions judge their shape.
 */
export interface TemplateResource {
  // biome-ignore lint/suspicious/noExplicitAny: template JSON is navigated freely; the assertions check its shape
  readonly Properties: Record<string, any>;
  readonly [key: string]: unknown;
}

/** The resources of `type` in the template, by logical ID. */
export function resources(
  template: Template,
  type: string,
  props: Record<string, unknown> = {},
): Record<string, TemplateResource> {
  return template.findResources(type, props) as Record<string, TemplateResource>;
}

/** The only resource of `type` in the template: its logical ID and definition. */
export function onlyResource(
  template: Template,
  type: string,
  props: Record<string, unknown> = {},
): { readonly id: string; readonly resource: TemplateResource } {
  const found = Object.entries(resources(template, type, props));
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  const [id, resource] = found[0] as [string, TemplateResource];
  return { id, resource };
}

/**
 * The logical ID prefixes of the archiver's planner and worker (their function, role and log group)
 * when the construct's ID is `Archiver`, as in these tests and in the stack.
 */
export const PLANNER = {
  function: "ArchiverPlannerFunction",
  role: "ArchiverPlannerRole",
  logGroup: "ArchiverPlannerLogGroup",
} as const;
export const WORKER = {
  function: "ArchiverWorkerFunction",
  role: "ArchiverWorkerRole",
  logGroup: "ArchiverWorkerLogGroup",
} as const;

/**
 * The only resource of `type` whose logical ID is `id` or starts with it (CDK appends a hash), e.g.
 * `resourceById(template, "AWS::Lambda::Function", WORKER.function)`.
 */
export function resourceById(
  template: Template,
  type: string,
  id: string,
): { readonly id: string; readonly resource: TemplateResource } {
  const found = Object.entries(resources(template, type)).filter(([logicalId]) => logicalId.startsWith(id));
  if (found.length !== 1) {
    throw new Error(`expected one ${type} whose logical ID starts with ${id}, found ${found.length}`);
  }
  const [logicalId, resource] = found[0] as [string, TemplateResource];
  return { id: logicalId, resource };
}

/**
 * A bundled Lambda function of the template (Handler `index.handler`, as the construct's functions
 * have and CDK's own custom-resource functions do not): the one whose logical ID starts with
 * `which` (e.g. {@link WORKER}`.function`), or, without `which`, the only one (it throws when the
 * template has several, as the archiver's has: the planner and the worker).
 */
export function bundledFunction(
  template: Template,
  which?: string,
): { readonly id: string; readonly resource: TemplateResource } {
  if (which !== undefined) return resourceById(template, "AWS::Lambda::Function", which);
  return onlyResource(template, "AWS::Lambda::Function", { Properties: { Handler: "index.handler" } });
}

/** The code asset hash of a bundled function of the template (see {@link bundledFunction} for `which`). */
export function functionAssetHash(template: Template, which?: string): string {
  const key = bundledFunction(template, which).resource.Properties.Code?.S3Key as string;
  return key.replace(/\.zip$/, "");
}

/**
 * A file of a function's bundle (see {@link bundledFunction} for `which`), as staged in the cloud
 * assembly of `app`.
 */
export function bundledFile(app: App, template: Template, file: string, which?: string): string {
  return readFileSync(join(app.outdir, `asset.${functionAssetHash(template, which)}`, file), "utf8");
}

/**
 * The statements of every policy attached to a role, each with sorted actions, in a stable order:
 * the role whose logical ID starts with `role` (e.g. {@link PLANNER}`.role`), or, without `role`,
 * the statements of the template's only policy.
 */
export function policyStatements(template: Template, role?: string): Record<string, unknown>[] {
  const roleRef =
    role === undefined
      ? undefined
      : JSON.stringify({ Ref: resourceById(template, "AWS::IAM::Role", role).id });
  const policies =
    roleRef === undefined
      ? [onlyResource(template, "AWS::IAM::Policy").resource]
      : Object.values(resources(template, "AWS::IAM::Policy")).filter((policy) =>
          (policy.Properties.Roles as unknown[]).some((ref) => JSON.stringify(ref) === roleRef),
        );
  if (policies.length === 0) throw new Error(`no policy is attached to the role ${role}`);
  const statements = policies.flatMap(
    (policy) => policy.Properties.PolicyDocument.Statement as Record<string, unknown>[],
  );
  return statements.map(normalizeStatement).sort(byStatement);
}

/** A statement with its `Action` as a sorted array. */
export function normalizeStatement(statement: Record<string, unknown>): Record<string, unknown> {
  const action = statement.Action;
  return { ...statement, Action: (Array.isArray(action) ? [...action] : [action]).sort() };
}

/** Orders statements by Sid, then actions (independent of key order). */
export function byStatement(a: Record<string, unknown>, b: Record<string, unknown>): number {
  const key = (s: Record<string, unknown>) => `${String(s.Sid ?? "")}|${JSON.stringify(s.Action)}`;
  return key(a).localeCompare(key(b));
}
