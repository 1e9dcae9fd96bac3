/**
 * Errors of the deployment side (construct props, CDK context values): `ArchiverError`s like the
 * runtime's, with a stable `code` and a message that names the value and says what to do.
 */
import { ArchiverError } from "../lambda/config";

/**
 * `DEPLOY_PROPS_INVALID`: a construct or stack prop; `DEPLOY_CONTEXT_INVALID`: a `-c key=value` of the
 * CDK app; `DEPLOY_SETTINGS_INVALID`: the deploy settings file (`config/deploy.json`) or a value in it;
 * `DEPLOY_INCOMPLETE`: the app's deploy guards (placeholder workspaces, no secret, no alarm destination).
 */
export type DeploymentErrorCode =
  | "DEPLOY_PROPS_INVALID"
  | "DEPLOY_CONTEXT_INVALID"
  | "DEPLOY_SETTINGS_INVALID"
  | "DEPLOY_INCOMPLETE";

/**
 * The deployment cannot be synthesized as asked; the message names the setting and what is allowed.
 *
 * @example
 * ```ts
 * try { new AtlasAuditArchiver(stack, "Archiver", props); } catch (e) {
 *   if (e instanceof DeploymentError) console.error(`${e.code}: ${e.message}`);
 * }
 * ```
 */
export class DeploymentError extends ArchiverError {
  declare readonly code: DeploymentErrorCode;
  /** The prop or context key at fault, e.g. `objectLock.retentionDays`. */
  readonly setting: string;

  constructor(code: DeploymentErrorCode, setting: string, message: string) {
    super(code, message, { kind: "usage" });
    this.setting = setting;
  }
}

/**
 * `DEPLOY_PROPS_INVALID` with the value and the rule apart from the message, so that the app can
 * name the `-c` key that gave the prop instead (`namingContextKeys` in `context.ts`).
 */
export class InvalidPropError extends DeploymentError {
  /** The value at fault, as the prop held it. */
  readonly value: unknown;
  /** What is allowed, e.g. `must be a whole number from 128 to 10240`. */
  readonly rule: string;

  constructor(setting: string, value: unknown, rule: string) {
    super("DEPLOY_PROPS_INVALID", setting, `${setting} = ${show(value)}: ${rule}`);
    this.value = value;
    this.rule = rule;
  }
}

/** A construct prop is invalid. */
export function invalidProp(setting: string, value: unknown, rule: string): DeploymentError {
  return new InvalidPropError(setting, value, rule);
}

/** How a value appears in messages: JSON, shortened; a construct by its path. */
export function show(value: unknown): string {
  let text: string;
  if (value === undefined) text = "undefined";
  else if (isConstruct(value)) text = `<${value.node.path}>`;
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function isConstruct(value: unknown): value is { readonly node: { readonly path: string } } {
  const node = (value as { node?: { path?: unknown } } | null)?.node;
  return typeof value === "object" && value !== null && typeof node?.path === "string";
}
