/**
 * What the deploy check reads of CloudFormation (a stack's status, its resources, its deployed
 * template), through CloudFormation's query API in a few lines: the project has no CloudFormation
 * SDK client (the CDK CLI carries its own). Requests are signed (Signature Version 4) with the
 * credentials given: moto does not check the signature, but reads the service from its scope.
 * Every request is bounded by {@link REQUEST_TIMEOUT_MS}.
 */
import { createHash, createHmac } from "node:crypto";

/** Where CloudFormation is and who asks: an emulator's endpoint and its fake credentials. */
export interface CloudFormationTarget {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/** How long one request may take. */
export const REQUEST_TIMEOUT_MS = 15_000;

/** CloudFormation answered an error; the message names the action, the stack and CloudFormation's words. */
export class CloudFormationError extends Error {
  override readonly name = "CloudFormationError";

  constructor(
    readonly action: string,
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`CloudFormation ${action} answered HTTP ${status} ${code}: ${message}`);
  }
}

/** One resource of a stack as CloudFormation lists it. */
export interface StackResource {
  readonly logicalId: string;
  readonly physicalId: string | undefined;
  readonly type: string;
  readonly status: string;
}

/** A stack's status, or `undefined` for a stack that does not exist. */
export async function stackStatus(
  target: CloudFormationTarget,
  stackName: string,
): Promise<string | undefined> {
  try {
    const xml = await query(target, "DescribeStacks", { StackName: stackName });
    return field(xml, "StackStatus");
  } catch (error) {
    if (error instanceof CloudFormationError && /does not exist/.test(error.message)) return undefined;
    throw error;
  }
}

/**
 * The stack's resources with a logical ID, and how many entries had none (moto lists a resource it
 * does not implement as an entry without IDs).
 */
export async function stackResources(
  target: CloudFormationTarget,
  stackName: string,
): Promise<{ readonly resources: StackResource[]; readonly unnamed: number }> {
  const xml = await query(target, "DescribeStackResources", { StackName: stackName });
  const resources: StackResource[] = [];
  let unnamed = 0;
  for (const [, member = ""] of xml.matchAll(/<member>([\s\S]*?)<\/member>/g)) {
    const logicalId = field(member, "LogicalResourceId");
    if (logicalId === undefined) {
      unnamed++;
      continue;
    }
    resources.push({
      logicalId,
      physicalId: field(member, "PhysicalResourceId"),
      type: field(member, "ResourceType") ?? "",
      status: field(member, "ResourceStatus") ?? "",
    });
  }
  return { resources, unnamed };
}

/** A CloudFormation template as JSON (the parts the check reads). */
export interface Template {
  readonly Resources: Record<string, TemplateResource>;
}

/** One resource of a {@link Template}. */
export interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DeletionPolicy?: string;
}

/** The template the stack was deployed with (`GetTemplate`). */
export async function deployedTemplate(target: CloudFormationTarget, stackName: string): Promise<Template> {
  const xml = await query(target, "GetTemplate", { StackName: stackName });
  const body = field(xml, "TemplateBody");
  if (body === undefined) throw new Error(`GetTemplate of ${stackName} answered no TemplateBody`);
  return JSON.parse(body) as Template;
}

async function query(
  target: CloudFormationTarget,
  action: string,
  params: Record<string, string>,
): Promise<string> {
  const body = new URLSearchParams({ Action: action, Version: "2010-05-15", ...params }).toString();
  const response = await fetch(target.endpoint, {
    method: "POST",
    headers: signedHeaders(target, body, new Date()),
    body,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  if (!response.ok) {
    throw new CloudFormationError(
      action,
      response.status,
      field(text, "Code") ?? "(no code)",
      field(text, "Message") ?? text.slice(0, 300),
    );
  }
  return text;
}

/** The headers of a Signature Version 4 signed POST of `body` to the target's root path. */
export function signedHeaders(target: CloudFormationTarget, body: string, now: Date): Record<string, string> {
  const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
  const hmac = (key: string | Buffer, text: string) => createHmac("sha256", key).update(text).digest();
  const amzDate = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
  const day = amzDate.slice(0, 8);
  const host = new URL(target.endpoint).host;
  const contentType = "application/x-www-form-urlencoded; charset=utf-8";
  const signed = "content-type;host;x-amz-date";
  const canonical = [
    "POST",
    "/",
    "",
    `content-type:${contentType}`,
    `host:${host}`,
    `x-amz-date:${amzDate}`,
    "",
    signed,
    sha256(body),
  ].join("\n");
  const scope = `${day}/${target.region}/cloudformation/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonical)].join("\n");
  let key = hmac(`AWS4${target.credentials.secretAccessKey}`, day);
  for (const part of [target.region, "cloudformation", "aws4_request"]) key = hmac(key, part);
  const signature = createHmac("sha256", key).update(toSign).digest("hex");
  return {
    "content-type": contentType,
    "x-amz-date": amzDate,
    authorization: `AWS4-HMAC-SHA256 Credential=${target.credentials.accessKeyId}/${scope}, SignedHeaders=${signed}, Signature=${signature}`,
  };
}

/** The text of the first `<name>` element in `xml`, entities decoded. */
function field(xml: string, name: string): string | undefined {
  const match = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml);
  return match ? decodeEntities(match[1] as string) : undefined;
}

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|quot|amp|lt|gt|apos);/g, (_, entity: string) => {
    if (entity.startsWith("#x")) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
    if (entity.startsWith("#")) return String.fromCodePoint(Number(entity.slice(1)));
    return { quot: '"', amp: "&", lt: "<", gt: ">", apos: "'" }[entity] as string;
  });
}
