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

/** The code asset hash of the template's (only) Lambda function. */
export function functionAssetHash(template: Template): string {
  const { resource } = onlyResource(template, "AWS::Lambda::Function");
  const key = resource.Properties.Code?.S3Key as string;
  return key.replace(/\.zip$/, "");
}

/** A file of the function's bundle, as staged in the cloud assembly of `app`. */
export function bundledFile(app: App, template: Template, file: string): string {
  return readFileSync(join(app.outdir, `asset.${functionAssetHash(template)}`, file), "utf8");
}

/** The statements of the role's default policy, each with sorted actions, in a stable order. */
export function policyStatements(template: Template): Record<string, unknown>[] {
  const { resource } = onlyResource(template, "AWS::IAM::Policy");
  const statements = resource.Properties.PolicyDocument.Statement as Record<string, unknown>[];
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
