#!/usr/bin/env node
// The `atlas-audit-archiver` executable: runs bin/cli.ts through tsx's loader.
import { register } from "tsx/esm/api";

register();
const { main } = await import("./cli.ts");
process.exitCode = await main(process.argv.slice(2));
