/**
 * Synthesizes the stack with the real construct (`node --import tsx bench/synth-bundle.ts <outdir>`)
 * so that `cdk synth`'s esbuild bundling stages the handler asset exactly as deployed, then
 * prints the asset directory and the function's `NODE_OPTIONS` as one JSON line.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { parseConfig } from "../lambda/config";
import { AtlasAuditArchiver } from "../lib";

const outdir = process.argv[2];
if (!outdir) throw new Error("usage: synth-bundle.ts <outdir>");
const root = join(import.meta.dirname, "..");
const { context } = JSON.parse(readFileSync(join(root, "cdk.json"), "utf8")) as {
  context: Record<string, unknown>;
};
const app = new App({ outdir, context });
const stack = new Stack(app, "BenchColdStart");
new AtlasAuditArchiver(stack, "Archiver", {
  config: parseConfig(
    JSON.stringify({ workspaces: [{ groupId: "32b6e34b3d91647abb20e7b8", tenantName: "prod-workspace" }] }),
    "bench config",
  ),
});
const functions = Object.values(Template.fromStack(stack).findResources("AWS::Lambda::Function")) as Array<{
  Properties: { Code?: { S3Key?: string }; Environment?: { Variables?: Record<string, unknown> } };
}>;
const handler = functions.find((f) => f.Properties.Code?.S3Key?.endsWith(".zip"));
const handlerKey = handler?.Properties.Code?.S3Key;
if (!handler || !handlerKey) {
  const keys = functions.map((f) => f.Properties.Code?.S3Key ?? "");
  throw new Error(`No bundled function asset in the template (keys: ${keys.join(", ")})`);
}
const nodeOptions = handler.Properties.Environment?.Variables?.NODE_OPTIONS;
process.stdout.write(
  `${JSON.stringify({
    assetDir: join(outdir, `asset.${handlerKey.replace(/\.zip$/, "")}`),
    nodeOptions: typeof nodeOptions === "string" ? nodeOptions : "",
  })}\n`,
);
