#!/usr/bin/env node
// The `atlas-audit-archiver` executable. Installed from the package it runs the compiled command
// line (dist/bin/cli.mjs, made by `npm run build`), with no TypeScript loader. In a clone, where
// bin/cli.ts sits beside this file, it runs the sources through tsx's loader (a devDependency),
// so a clone never runs a stale build.
import { existsSync } from "node:fs";

const sources = new URL("./cli.ts", import.meta.url);
let cli;
if (existsSync(sources)) {
  const { register } = await import("tsx/esm/api");
  register();
  cli = await import(sources.href);
} else {
  cli = await import("../dist/bin/cli.mjs");
}
process.exitCode = await cli.main(process.argv.slice(2));
