/**
 * Builds the installable package into `dist/` (`npm run build`; `npm pack` runs it through
 * `prepack`). `dist/` is CommonJS (its own `package.json` says so) except the command line:
 *
 * - `dist/lib/index.js`: the constructs (`lib/index.ts` and what it imports, `lambda/config`
 *   among it) in one CommonJS file, its packages left to `node_modules` (aws-cdk-lib and
 *   constructs are peers, zod a dependency). CommonJS works from `require` and from `import` on
 *   every Node.js the package supports, like aws-cdk-lib itself, and one file means one copy of
 *   each class. `dist/lib/athena.js` re-exports the Athena table construct from it.
 * - `dist/lib/**.d.ts`, `dist/lambda/config/**.d.ts`: the declarations, by `tsc -p tsconfig.build.json`.
 * - `dist/bin/cli.mjs`: the command line in one ES module (`bin/atlas-audit-archiver.js` runs it
 *   when it is installed), its packages left to `node_modules`.
 * - `dist/lambda/planner/`, `dist/lambda/worker/`: the two handlers bundled ahead of time with
 *   the very options NodejsFunction uses in a clone (`HANDLER_BUNDLING`), so that a CDK app that
 *   installed the package synthesizes without esbuild, Docker or these sources.
 *
 * Plain `tsc` output would not run: the sources use extension-less relative imports
 * (`moduleResolution: Bundler`), which Node.js refuses in ES modules; esbuild resolves them.
 *
 * Usage: `npx tsx scripts/build.ts` (or `npm run build`); it prints what it wrote and its sizes.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import {
  HANDLER_BUNDLING,
  HANDLERS,
  PREBUNDLED_HANDLERS_DEFINE,
  PREBUNDLED_HANDLERS_DIR,
} from "../lib/build/function";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The Node.js the library and the command line are compiled for: the package's `engines`. */
const NODE_TARGET = "node20";

/** The names `atlas-audit-archiver/athena` exports, values and types, from the main entry. */
export const ATHENA_EXPORTS = {
  values: ["ArchiveAthenaTable", "ATHENA_DEFAULTS"],
  types: ["ArchiveAthenaOptions", "ArchiveAthenaTableProps", "ResolvedAthenaTableSettings"],
} as const;

/**
 * Bundles both handlers into `<outdir>/<bundle>/index.js` (and `index.js.map`) exactly as
 * NodejsFunction bundles them at synth in a clone: the same entry, working directory and options.
 */
export async function bundleHandlers(outdir: string): Promise<void> {
  for (const { entry, bundle } of Object.values(HANDLERS)) {
    await build({
      absWorkingDir: ROOT,
      entryPoints: [join(ROOT, "lambda", entry)],
      bundle: true,
      platform: "node",
      format: "cjs",
      outfile: join(outdir, bundle, "index.js"),
      target: HANDLER_BUNDLING.target,
      minify: HANDLER_BUNDLING.minify,
      keepNames: HANDLER_BUNDLING.keepNames,
      sourcemap: HANDLER_BUNDLING.sourceMap,
      sourcesContent: HANDLER_BUNDLING.sourcesContent,
      mainFields: [...HANDLER_BUNDLING.mainFields],
      logLevel: "warning",
    });
  }
}

/** The library: one CommonJS file that finds the prebundled handlers beside it. */
async function bundleLibrary(dist: string): Promise<void> {
  await build({
    absWorkingDir: ROOT,
    entryPoints: [join(ROOT, "lib", "index.ts")],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: NODE_TARGET,
    packages: "external",
    outfile: join(dist, "lib", "index.js"),
    // `import.meta.url` has no meaning in CommonJS: the module's own URL stands in for it.
    banner: {
      js: '"use strict";\nconst importMetaUrl = require("node:url").pathToFileURL(__filename).href;',
    },
    define: {
      "import.meta.url": "importMetaUrl",
      [PREBUNDLED_HANDLERS_DEFINE]: JSON.stringify(relative(join(dist, "lib"), join(dist, "lambda"))),
    },
    logLevel: "warning",
  });
  const names = [...ATHENA_EXPORTS.values];
  writeFileSync(
    join(dist, "lib", "athena.js"),
    `"use strict";\n// The Athena table construct alone: atlas-audit-archiver/athena.\nconst archiver = require("./index.js");\n${names
      .map((name) => `exports.${name} = archiver.${name};`)
      .join("\n")}\n`,
  );
  writeFileSync(
    join(dist, "lib", "athena.d.ts"),
    `export { ${[...names, ...ATHENA_EXPORTS.types.map((name) => `type ${name}`)].join(", ")} } from "./index";\n`,
  );
}

/** The command line: one ES module (it reads its version from the package's `package.json`). */
async function bundleCli(dist: string): Promise<void> {
  await build({
    absWorkingDir: ROOT,
    entryPoints: [join(ROOT, "bin", "cli.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: NODE_TARGET,
    packages: "external",
    outfile: join(dist, "bin", "cli.mjs"),
    logLevel: "warning",
  });
}

/** The declarations of the library's entry and of everything it imports, by the project's tsc. */
function emitDeclarations(): void {
  const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
  const result = spawnSync(process.execPath, [tsc, "-p", join(ROOT, "tsconfig.build.json")], {
    cwd: ROOT,
    stdio: "inherit",
    // tsc checks the whole program first: a minute is ten times what it takes here.
    timeout: 60_000,
  });
  if (result.status !== 0) {
    throw new Error(
      `tsc -p tsconfig.build.json failed (status ${result.status}, ${result.error ?? "no error"})`,
    );
  }
}

/** Every file under `dir`, relative to it, with its size. */
function listing(dir: string, base = dir): [string, number][] {
  return readdirSync(dir).flatMap((name): [string, number][] => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listing(path, base) : [[relative(base, path), statSync(path).size]];
  });
}

/** Builds `dist/` from nothing. */
export async function buildPackage(dist: string = join(ROOT, "dist")): Promise<void> {
  rmSync(dist, { recursive: true, force: true });
  mkdirSync(dist, { recursive: true });
  writeFileSync(join(dist, "package.json"), `${JSON.stringify({ type: "commonjs" })}\n`);
  await bundleHandlers(join(dist, PREBUNDLED_HANDLERS_DIR));
  await bundleLibrary(dist);
  await bundleCli(dist);
  emitDeclarations();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = performance.now();
  const dist = join(ROOT, "dist");
  await buildPackage(dist);
  const files = listing(dist).filter(([file]) => !file.endsWith(".d.ts"));
  for (const [file, size] of files) console.log(`dist/${file}  ${(size / 1024).toFixed(1)} KiB`);
  const declarations = listing(dist).length - files.length;
  console.log(
    `and ${declarations} declaration files; built in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
}
