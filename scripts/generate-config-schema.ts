/**
 * Writes config/workspaces.schema.json from the zod schema in lambda/config/schema.ts.
 *
 * Usage: `npx tsx scripts/generate-config-schema.ts` (writes the file), or with `--check` (exits 1
 * when the committed file differs from what the schema generates; writes nothing).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderConfigJsonSchema } from "../lambda/config/schema";

const target = fileURLToPath(new URL("../config/workspaces.schema.json", import.meta.url));
const generated = renderConfigJsonSchema();

if (process.argv.includes("--check")) {
  let committed = "";
  try {
    committed = readFileSync(target, "utf8");
  } catch {
    // missing: reported below as out of date
  }
  if (committed !== generated) {
    console.error(`${target} is out of date: run npx tsx scripts/generate-config-schema.ts`);
    process.exit(1);
  }
  console.log(`${target} is up to date`);
} else {
  writeFileSync(target, generated);
  console.log(`wrote ${target}`);
}
