/**
 * The installable package (issue 14, point 1), as a user gets it: `npm pack` (which builds `dist/`
 * through `prepack`) into a temporary directory; the tarball installed into two fresh CDK apps, one
 * TypeScript (compiled by tsc, CommonJS: `require` at run time) and one plain JavaScript (an ES
 * module: `import`), each synthesizing a stack with `new AtlasAuditArchiver(...)` and the Athena
 * table construct from `atlas-audit-archiver/athena`; and the installed command line.
 *
 * The apps install offline, from the npm cache that `npm ci` filled: each app's lockfile is made
 * from the project's `package-lock.json` (the tarball, then aws-cdk-lib, constructs, typescript and
 * @types/node at the project's pins, with everything they need), so they get exactly the
 * project's pinned versions and no registry is asked. 30 to 75 s here (2 shared cores, quiet to
 * busy); each step's bound and time are below, and the test prints each step's time.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUNDLED_CONFIG_FILE, parseBundledConfig, parseConfig } from "../../lambda/config";

const ROOT = join(import.meta.dirname, "..", "..");
const PACKAGE = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  name: string;
  version: string;
  license: string;
  bin: Record<string, string>;
  engines: Record<string, string>;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
};

/** Bounds of the child processes: each is several times what it takes here (measured in brackets). */
const PACK_TIMEOUT_MS = 180_000; // npm pack with the build [9 to 12 s]
const INSTALL_TIMEOUT_MS = 180_000; // npm ci --offline of one app [8 to 16 s]
const COMPILE_TIMEOUT_MS = 120_000; // tsc of the TypeScript app [6 s]
const SYNTH_TIMEOUT_MS = 120_000; // one app's synth [4 to 14 s]
const CLI_TIMEOUT_MS = 30_000; // --version, --help [0.3 to 0.8 s]

/** The parameter file both apps synthesize with. */
const WORKSPACES = {
  workspaces: [
    { groupId: "32b6e34b3d91647abb20e7b8", tenantName: "prod-workspace" },
    { groupId: "32b6e34b3d91647abb20e7b8", tenantName: "billing", spName: "payments" },
  ],
};

/** Runs a program to its end (within `timeout`), or throws with what it printed. */
function run(command: string, args: readonly string[], cwd: string, timeout: number): string {
  const result = spawnSync(command, args, {
    cwd,
    encoding: "utf8",
    timeout,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, npm_config_update_notifier: "false" },
  });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} in ${cwd} ended with ${result.status ?? result.signal} ` +
        `(${result.error?.message ?? "no error"}):\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result.stdout;
}

interface LockEntry {
  readonly version?: string;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly [field: string]: unknown;
}

/**
 * The lockfile of an app that depends on the tarball and on `extra` (packages of the project's
 * lockfile, at its versions): the project's entries of everything they need, found as Node.js
 * finds a module (the nearest `node_modules` up the path), without their dev flags.
 */
function appLock(tarball: string, integrity: string, extra: readonly string[]) {
  const project = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
    packages: Record<string, LockEntry>;
  };
  const known = project.packages;
  const dependencies: Record<string, string> = { [PACKAGE.name]: `file:${tarball}` };
  for (const name of extra) {
    const entry = known[`node_modules/${name}`];
    if (!entry?.version) throw new Error(`${name} is not in package-lock.json`);
    dependencies[name] = entry.version;
  }
  const archiver: LockEntry = {
    version: PACKAGE.version,
    resolved: `file:${tarball}`,
    integrity,
    license: PACKAGE.license,
    dependencies: PACKAGE.dependencies,
    peerDependencies: PACKAGE.peerDependencies,
    bin: PACKAGE.bin,
    engines: PACKAGE.engines,
  };
  const packages: Record<string, LockEntry> = { "": { name: "app", dependencies } };
  const find = (from: string, name: string): string | undefined => {
    for (let dir = from; ; ) {
      const path = `${dir ? `${dir}/` : ""}node_modules/${name}`;
      if (known[path]) return path;
      if (!dir) return undefined;
      const parent = dir.lastIndexOf("/node_modules/");
      dir = parent < 0 ? "" : dir.slice(0, parent);
    }
  };
  const queue: [string, LockEntry][] = [
    [`node_modules/${PACKAGE.name}`, archiver],
    ...extra.map((name): [string, LockEntry] => [
      `node_modules/${name}`,
      known[`node_modules/${name}`] ?? {},
    ]),
  ];
  for (let next = queue.shift(); next; next = queue.shift()) {
    const [path, entry] = next;
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...kept } = entry;
    packages[path] = kept;
    const needed = Object.keys(entry.dependencies ?? {}).map((name) => [name, true] as const);
    const optional = [
      ...Object.keys(entry.optionalDependencies ?? {}),
      ...Object.keys(entry.peerDependencies ?? {}),
    ];
    for (const [name, required] of [...needed, ...optional.map((name) => [name, false] as const)]) {
      const found = find(path, name);
      if (!found) {
        if (required) throw new Error(`${name}, needed by ${path}, is not in package-lock.json`);
        continue;
      }
      if (!packages[found] && !queue.some(([queued]) => queued === found)) {
        queue.push([found, known[found] as LockEntry]);
      }
    }
  }
  return {
    packageJson: { name: "app", private: true, dependencies },
    lock: { name: "app", lockfileVersion: 3, requires: true, packages },
  };
}

/** A fresh app directory holding `files`, with the tarball and `extra` installed offline. */
function makeApp(
  dir: string,
  tarball: { file: string; integrity: string },
  extra: readonly string[],
  files: Record<string, string>,
): void {
  mkdirSync(dir, { recursive: true });
  const { packageJson, lock } = appLock(`../${tarball.file}`, tarball.integrity, extra);
  writeFileSync(join(dir, "package.json"), `${JSON.stringify(packageJson, null, 2)}\n`);
  writeFileSync(join(dir, "package-lock.json"), `${JSON.stringify(lock, null, 2)}\n`);
  writeFileSync(join(dir, "workspaces.json"), JSON.stringify(WORKSPACES));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  try {
    run("npm", ["ci", "--offline", "--no-audit", "--no-fund"], dir, INSTALL_TIMEOUT_MS);
  } catch (error) {
    if (!String(error).includes("ENOTCACHED")) throw error;
    throw new Error(
      `The npm cache lacks a package of package-lock.json (it installs offline): run npm ci in ${ROOT} first.\n${error}`,
    );
  }
}

/** The TypeScript app, as `cdk init app --language typescript` lays it out (bin/, lib/ aside). */
const TS_APP = {
  "tsconfig.json": JSON.stringify({
    compilerOptions: {
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      lib: ["es2022"],
      strict: true,
      skipLibCheck: true,
      types: ["node"],
      rootDir: ".",
      outDir: "build",
    },
    include: ["bin"],
  }),
  "bin/app.ts": `import { readFileSync } from "node:fs";
import { App, Stack } from "aws-cdk-lib";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { ARCHIVER_DEFAULTS, AtlasAuditArchiver, type AtlasAuditArchiverProps, parseConfig } from "atlas-audit-archiver";
import { ArchiveAthenaTable, type ArchiveAthenaTableProps } from "atlas-audit-archiver/athena";

const app = new App({ outdir: "cdk.out" });
const stack = new Stack(app, "ArchiverApp");
const props: AtlasAuditArchiverProps = {
  config: parseConfig(readFileSync("workspaces.json", "utf8"), "workspaces.json"),
  secret: secretsmanager.Secret.fromSecretNameV2(stack, "AtlasSecret", "atlas/audit-archiver"),
  alarmEmail: "ops@example.com",
};
const archiver = new AtlasAuditArchiver(stack, "Archiver", props);
const bucket: s3.IBucket = archiver.bucket;
const shared = new Stack(app, "SharedAthena");
const table: ArchiveAthenaTableProps = {
  bucket: s3.Bucket.fromBucketName(shared, "Existing", "existing-archive"),
  prefix: "atlas/",
};
new ArchiveAthenaTable(shared, "Table", table);
app.synth();
console.log(JSON.stringify({ bucket: bucket.node.path, memorySize: ARCHIVER_DEFAULTS.memorySize }));
`,
};

/** The JavaScript app: an ES module importing both entries. */
const JS_APP = {
  "app.mjs": `import { readFileSync } from "node:fs";
import { App, Stack } from "aws-cdk-lib";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { AtlasAuditArchiver, ConfigError, parseConfig } from "atlas-audit-archiver";
import { ArchiveAthenaTable } from "atlas-audit-archiver/athena";

const app = new App({ outdir: "cdk.out" });
const stack = new Stack(app, "ArchiverApp");
new AtlasAuditArchiver(stack, "Archiver", {
  config: parseConfig(readFileSync("workspaces.json", "utf8"), "workspaces.json"),
  secret: secretsmanager.Secret.fromSecretNameV2(stack, "AtlasSecret", "atlas/audit-archiver"),
  alarmEmail: "ops@example.com",
});
const shared = new Stack(app, "SharedAthena");
new ArchiveAthenaTable(shared, "Table", {
  bucket: s3.Bucket.fromBucketName(shared, "Existing", "existing-archive"),
  prefix: "atlas/",
});
app.synth();
let refused = "";
try {
  parseConfig("{}", "empty.json");
} catch (error) {
  refused = error instanceof ConfigError ? error.code : String(error);
}
console.log(JSON.stringify({ refused }));
`,
};

interface TemplateResource {
  readonly Type: string;
  // biome-ignore lint/suspicious/noExplicitAny: template JSON is navigated freely; the assertions check its shape
  readonly Properties: Record<string, any>;
}

/** The resources of a synthesized stack of an app, by logical ID. */
function templateOf(appDir: string, stack: string): Record<string, TemplateResource> {
  const template = JSON.parse(readFileSync(join(appDir, "cdk.out", `${stack}.template.json`), "utf8")) as {
    Resources: Record<string, TemplateResource>;
  };
  return template.Resources;
}

/** Checks an app's synthesized archiver: both functions, each from its own asset dir holding the bundle. */
function expectArchiver(appDir: string): void {
  const resources = templateOf(appDir, "ArchiverApp");
  const functions = Object.entries(resources).filter(
    ([, r]) => r.Type === "AWS::Lambda::Function" && r.Properties.Handler === "index.handler",
  );
  expect(functions.map(([id]) => id.replace(/[0-9A-F]{8}$/, "")).sort()).toEqual([
    "ArchiverPlannerFunction",
    "ArchiverWorkerFunction",
  ]);
  const assets = new Set<string>();
  for (const [, fn] of functions) {
    expect(fn.Properties.Runtime).toBe("nodejs24.x");
    const asset = join(appDir, "cdk.out", `asset.${String(fn.Properties.Code.S3Key).replace(/\.zip$/, "")}`);
    assets.add(asset);
    expect(readFileSync(join(asset, "index.js"), "utf8")).toMatch(/module\.exports/);
    const config = parseBundledConfig(readFileSync(join(asset, BUNDLED_CONFIG_FILE), "utf8"), "bundle");
    expect(config).toEqual(parseConfig(JSON.stringify(WORKSPACES), "workspaces.json"));
    expect(JSON.parse(readFileSync(join(asset, "package.json"), "utf8"))).toEqual({ type: "commonjs" });
    const loaded = createRequire(import.meta.url)(join(asset, "index.js")) as Record<string, unknown>;
    expect(typeof loaded.handler).toBe("function");
  }
  expect(assets.size).toBe(2);
  const tables = Object.entries(templateOf(appDir, "SharedAthena")).filter(
    ([, r]) => r.Type === "AWS::Glue::Table",
  );
  expect(tables.map(([id]) => id.replace(/[0-9A-F]{8}$/, ""))).toEqual(["Table"]);
}

describe("the packed package", () => {
  let work: string;
  let packed: { filename: string; integrity: string; files: { path: string }[] };
  let tsApp: string;
  let jsApp: string;
  const started = performance.now();
  const timings: string[] = [];
  const timed = <T>(what: string, step: () => T): T => {
    const at = performance.now();
    const result = step();
    timings.push(`${what} ${((performance.now() - at) / 1000).toFixed(1)} s`);
    return result;
  };

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "archiver-package-"));
    const out = timed("pack", () =>
      run("npm", ["pack", "--json", "--pack-destination", work], ROOT, PACK_TIMEOUT_MS),
    );
    // The build's own lines come first; npm's JSON starts at a line that is just "[".
    const lines = out.split("\n");
    const [first] = JSON.parse(lines.slice(lines.lastIndexOf("[")).join("\n")) as (typeof packed)[];
    if (!first) throw new Error(`npm pack printed no package:\n${out}`);
    packed = first;
    const tarball = { file: packed.filename, integrity: packed.integrity };
    tsApp = join(work, "ts-app");
    jsApp = join(work, "js-app");
    timed("install ts", () =>
      makeApp(tsApp, tarball, ["aws-cdk-lib", "constructs", "typescript", "@types/node"], TS_APP),
    );
    timed("install js", () => makeApp(jsApp, tarball, ["aws-cdk-lib", "constructs"], JS_APP));
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
    console.log(
      `package test: ${timings.join(", ")}; ${((performance.now() - started) / 1000).toFixed(1)} s in all`,
    );
  });

  it("holds the compiled library, its declarations, the handlers and the command line, and no tests or sources", () => {
    const paths = packed.files.map((file) => file.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        "package.json",
        "README.md",
        "LICENSE",
        "CHANGELOG.md",
        "bin/atlas-audit-archiver.js",
        "dist/bin/cli.mjs",
        "dist/lib/index.js",
        "dist/lib/index.d.ts",
        "dist/lib/athena.js",
        "dist/lib/athena.d.ts",
        "dist/lambda/planner/index.js",
        "dist/lambda/worker/index.js",
        "config/workspaces.schema.json",
      ]),
    );
    expect(paths.filter((path) => /^(test|bench|scripts|lib|lambda)\//.test(path))).toEqual([]);
    expect(paths.filter((path) => /\.(c|m)?tsx?$/.test(path) && !path.endsWith(".d.ts"))).toEqual([]);
    expect(
      paths.filter((path) => /(^|\/)(tsconfig|vitest|biome|cdk)[^/]*\.json$|\.test\./.test(path)),
    ).toEqual([]);
  });

  it("synthesizes the archiver and the Athena table in a TypeScript CDK app, with no TypeScript loader installed", () => {
    timed("tsc", () =>
      run(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "."], tsApp, COMPILE_TIMEOUT_MS),
    );
    const printed = timed("synth ts", () =>
      run(process.execPath, ["build/bin/app.js"], tsApp, SYNTH_TIMEOUT_MS),
    );
    expect(JSON.parse(printed.trim().split("\n").at(-1) ?? "")).toEqual({
      bucket: "ArchiverApp/Archiver/Bucket",
      memorySize: 1024,
    });
    expectArchiver(tsApp);
    expect(existsSync(join(tsApp, "node_modules", "tsx"))).toBe(false);
    expect(existsSync(join(tsApp, "node_modules", "esbuild"))).toBe(false);
  });

  it("synthesizes the archiver and the Athena table in a JavaScript CDK app (an ES module)", () => {
    const printed = timed("synth js", () => run(process.execPath, ["app.mjs"], jsApp, SYNTH_TIMEOUT_MS));
    expect(JSON.parse(printed.trim().split("\n").at(-1) ?? "")).toEqual({ refused: "CONFIG_INVALID" });
    expectArchiver(jsApp);
  });

  it("installs the command line, which answers --version and --help from compiled JavaScript", () => {
    const bin = join(jsApp, "node_modules", ".bin", "atlas-audit-archiver");
    expect(run(bin, ["--version"], jsApp, CLI_TIMEOUT_MS)).toBe(`${PACKAGE.version}\n`);
    const help = run(bin, ["--help"], jsApp, CLI_TIMEOUT_MS);
    expect(help).toMatch(/^Usage: atlas-audit-archiver <command> \[options\]/);
    expect(help).toContain("-V, --version");
    expect(run(bin, ["ls", "--help"], jsApp, CLI_TIMEOUT_MS)).toMatch(/^Usage: atlas-audit-archiver ls /);
    expect(existsSync(join(jsApp, "node_modules", "tsx"))).toBe(false);
  });
});
