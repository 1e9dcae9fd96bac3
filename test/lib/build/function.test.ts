import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUNDLED_CONFIG_FILE, parseBundledConfig, renderBundledConfig } from "../../../lambda/config";
import { AtlasAuditArchiver } from "../../../lib";
import { copyCommand, HANDLERS, prebundledCode } from "../../../lib/build/function";
import { bundleHandlers } from "../../../scripts/build";
import {
  bundledFile,
  functionAssetHash,
  NO_BUNDLING,
  PLANNER,
  TestApps,
  testConfig,
  WORKER,
} from "../support";

const apps = new TestApps();
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "archiver-prebundled-"));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  apps.cleanup();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("copyCommand", () => {
  it("quotes the copy command for POSIX shells and cmd.exe", () => {
    expect(copyCommand("/tmp/it's here.json", "/out/archiver-config.json", "linux")).toBe(
      `cp '/tmp/it'\\''s here.json' '/out/archiver-config.json'`,
    );
    expect(copyCommand("C:\\a b\\c.json", "D:\\out\\archiver-config.json", "win32")).toBe(
      'copy /Y "C:\\a b\\c.json" "D:\\out\\archiver-config.json"',
    );
  });
});

describe("the prebundled handlers of the package", () => {
  let prebundled: string;
  beforeAll(async () => {
    prebundled = tempDir();
    await bundleHandlers(prebundled);
  });

  it("are byte for byte what NodejsFunction bundles at synth from the sources", () => {
    const app = apps.app();
    const stack = new Stack(app, "TestStack");
    new AtlasAuditArchiver(stack, "Archiver", { config: testConfig() });
    const template = Template.fromStack(stack);
    const pairs = [
      [PLANNER.function, HANDLERS.planner.bundle],
      [WORKER.function, HANDLERS.worker.bundle],
    ] as const;
    for (const [which, bundle] of pairs) {
      const atSynth = bundledFile(app, template, "index.js", which);
      expect(readFileSync(join(prebundled, bundle, "index.js"), "utf8")).toBe(atSynth);
    }
    // The two handlers differ, so the comparison above tells them apart.
    expect(readFileSync(join(prebundled, "planner", "index.js"), "utf8")).not.toBe(
      readFileSync(join(prebundled, "worker", "index.js"), "utf8"),
    );
  });

  /** A function of a prebundled handler in a fresh stack, staged with `config` as its parameter file. */
  function stage(config: ReturnType<typeof testConfig>, context: Record<string, unknown> = {}) {
    const app = apps.app(context);
    const stack = new Stack(app, "TestStack");
    const files = tempDir();
    writeFileSync(join(files, "config.json"), renderBundledConfig(config));
    writeFileSync(join(files, "package.json"), `${JSON.stringify({ type: "commonjs" })}\n`);
    new lambda.Function(stack, "Fn", {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: "index.handler",
      code: prebundledCode(join(prebundled, HANDLERS.worker.bundle), {
        [BUNDLED_CONFIG_FILE]: join(files, "config.json"),
        "package.json": join(files, "package.json"),
      }),
    });
    return { app, template: Template.fromStack(stack) };
  }

  it("are staged with the parameter file and package.json beside index.js, as CommonJS exporting handler", () => {
    const config = testConfig({ workspaces: [{ groupId: "a".repeat(24), tenantName: "staged" }] });
    const { app, template } = stage(config);
    expect(parseBundledConfig(bundledFile(app, template, BUNDLED_CONFIG_FILE), "bundle")).toEqual(config);
    expect(bundledFile(app, template, "index.js")).toBe(
      readFileSync(join(prebundled, HANDLERS.worker.bundle, "index.js"), "utf8"),
    );
    expect(bundledFile(app, template, "index.js.map")).toContain('"mappings"');
    expect(JSON.parse(bundledFile(app, template, "package.json"))).toEqual({ type: "commonjs" });
    const asset = join(app.outdir, `asset.${functionAssetHash(template)}`);
    const loaded = createRequire(import.meta.url)(join(asset, "index.js")) as Record<string, unknown>;
    expect(typeof loaded.handler).toBe("function");
  });

  it("change their code asset exactly when the parameter file changes", () => {
    const hash = (config: ReturnType<typeof testConfig>) => functionAssetHash(stage(config).template);
    const base = hash(testConfig());
    expect(hash(testConfig())).toBe(base);
    expect(hash(testConfig({ workspaces: [{ groupId: "b".repeat(24), tenantName: "other" }] }))).not.toBe(
      base,
    );
  });

  it("are not staged when the synth skips bundling, as NodejsFunction's are not", () => {
    const { app, template } = stage(testConfig(), NO_BUNDLING);
    expect(() => bundledFile(app, template, BUNDLED_CONFIG_FILE)).toThrow(/ENOENT/);
  });
});
