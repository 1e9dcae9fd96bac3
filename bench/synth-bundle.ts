/**
 * Synthesizes the stack with the real construct (`node --import tsx bench/synth-bundle.ts <outdir>`)
 * so that `cdk synth`'s esbuild bundling stages the functions' assets exactly as deployed, then
 * prints as one JSON line the worker's asset directory and `NODE_OPTIONS` (the handler the cold
 * start measures: the one that downloads, with undici and the S3 upload path) and the planner's
 * asset directory.
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
type FunctionResource = {
  Properties: { Code?: { S3Key?: string }; Environment?: { Variables?: Record<string, unknown> } };
};
const functions = Object.entries(Template.fromStack(stack).findResources("AWS::Lambda::Function")) as Array<
  [string, FunctionResource]
>;
/** The function whose logical ID starts with `id` (CDK appends a hash), and its staged asset directory. */
function bundled(id: string): { fn: FunctionResource; assetDir: string } {
  const found = functions.filter(([logicalId]) => logicalId.startsWith(id));
  const key = found[0]?.[1].Properties.Code?.S3Key;
  if (found.length !== 1 || !key?.endsWith(".zip")) {
    throw new Error(
      `No bundled function ${id} in the template (functions: ${functions.map(([i]) => i).join(", ")})`,
    );
  }
  return {
    fn: found[0]?.[1] as FunctionResource,
    assetDir: join(outdir as string, `asset.${key.replace(/\.zip$/, "")}`),
  };
}
const worker = bundled("ArchiverWorkerFunction");
const planner = bundled("ArchiverPlannerFunction");
const nodeOptions = worker.fn.Properties.Environment?.Variables?.NODE_OPTIONS;
process.stdout.write(
  `${JSON.stringify({
    assetDir: worker.assetDir,
    nodeOptions: typeof nodeOptions === "string" ? nodeOptions : "",
    plannerAssetDir: planner.assetDir,
  })}\n`,
);
