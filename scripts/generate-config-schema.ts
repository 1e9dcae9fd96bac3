/**
 * Writes the JSON Schemas of the two files in config/: workspaces.schema.json (the parameter file,
 * from the zod schema in lambda/config/schema.ts) and deploy.schema.json (the deploy settings file,
 * from the settings table in lib/context.ts).
 *
 * Usage: `npx tsx scripts/generate-config-schema.ts` (writes the files), or with `--check` (exits 1
 * when a committed file differs from what is generated; writes nothing).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderConfigJsonSchema } from "../lambda/config/schema";
import { renderDeploySettingsJsonSchema } from "../lib/context";

const targets: [string, string][] = [
  [fileURLToPath(new URL("../config/workspaces.schema.json", import.meta.url)), renderConfigJsonSchema()],
  [fileURLToPath(new URL("../config/deploy.schema.json", import.meta.url)), renderDeploySettingsJsonSchema()],
];

if (process.argv.includes("--check")) {
  let stale = false;
  for (const [target, generated] of targets) {
    let committed = "";
    try {
      committed = readFileSync(target, "utf8");
    } catch {
      // missing: reported below as out of date
    }
    if (committed !== generated) {
      console.error(`${target} is out of date: run npx tsx scripts/generate-config-schema.ts`);
      stale = true;
    } else {
      console.log(`${target} is up to date`);
    }
  }
  if (stale) process.exit(1);
} else {
  for (const [target, generated] of targets) {
    writeFileSync(target, generated);
    console.log(`wrote ${target}`);
  }
}
