/**
 * Cold start: the size of the handler bundle `cdk synth` stages, and the time to load it in a
 * fresh Node process, against an empty handler loaded the same way.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { median, round } from "./stats";

/** What {@link measureColdStart} reports. */
export interface ColdStartResult {
  /** How the bundle was made. */
  readonly source: "cdk synth";
  /** `index.js` of the staged asset (minified, source map excluded). */
  readonly bundleBytes: number;
  readonly sourceMapBytes: number;
  readonly repetitions: number;
  /**
   * Median milliseconds from spawning a fresh `node` to the handler loaded and the process gone:
   * what a cold start adds before the first line of the handler runs. The target compares these.
   */
  readonly handlerProcessMs: number;
  /** The same for a one-line empty handler: Node's own start-up. */
  readonly emptyProcessMs: number;
  readonly processRatio: number;
  /** Median milliseconds of the `require()` call alone, inside the fresh process. */
  readonly handlerRequireMs: number;
  readonly emptyRequireMs: number;
  /**
   * The handler's `require()` without `--enable-source-maps`: the stack sets that flag in
   * `NODE_OPTIONS` (so the figures above use it), and Node then reads the source map at load.
   */
  readonly handlerRequireWithoutSourceMapsMs: number;
}

/** Synthesizes the stack in a child process and returns the staged asset directory. */
function synthesize(outdir: string): Promise<string> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "synth-bundle.ts"), outdir],
    {
      cwd: join(import.meta.dirname, ".."),
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d));
  child.stderr?.on("data", (d: Buffer) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => {
      const line = stdout.split("\n").find((l) => l.startsWith("{"));
      if (code !== 0 || !line) reject(new Error(`cdk synth of the bundle failed (exit ${code}): ${stderr}`));
      else resolve((JSON.parse(line) as { assetDir: string }).assetDir);
    });
  });
}

/**
 * Loads `file` with `require()` in a fresh Node process (as Lambda's runtime loads a CJS handler,
 * with the stack's `NODE_OPTIONS=--enable-source-maps` unless `sourceMaps` is false):
 * the process's wall time and the `require()` call's own, in milliseconds.
 */
function importMs(file: string, sourceMaps = true): { processMs: number; requireMs: number } {
  const script =
    "const t=process.hrtime.bigint();require(process.argv[1]);" +
    "process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))";
  const started = performance.now();
  const flags = sourceMaps ? ["--enable-source-maps"] : [];
  const result = spawnSync(process.execPath, [...flags, "--input-type=commonjs", "-e", script, file], {
    encoding: "utf8",
    env: { PATH: process.env.PATH, AWS_REGION: "us-east-1" },
  });
  const processMs = performance.now() - started;
  const requireMs = Number(result.stdout);
  if (result.status !== 0 || !Number.isFinite(requireMs)) {
    throw new Error(`Loading ${file} failed (exit ${result.status}): ${result.stderr}`);
  }
  return { processMs, requireMs };
}

/** Builds the bundle and measures its size and load time, `repetitions` loads of each handler, interleaved. */
export async function measureColdStart(repetitions: number): Promise<ColdStartResult> {
  const dir = mkdtempSync(join(tmpdir(), "bench-cold-start-"));
  try {
    const assetDir = await synthesize(join(dir, "cdk.out"));
    const bundle = join(assetDir, "index.js");
    const emptyDir = join(dir, "empty");
    const empty = join(emptyDir, "index.js");
    spawnSync("mkdir", [emptyDir]);
    writeFileSync(join(emptyDir, "package.json"), '{"type":"commonjs"}\n');
    writeFileSync(empty, "exports.handler = async () => ({});\n");
    const handler: Array<{ processMs: number; requireMs: number }> = [];
    const none: Array<{ processMs: number; requireMs: number }> = [];
    const withoutMaps: number[] = [];
    // One warm-up each (file cache), then alternate so that drift hits both alike.
    importMs(bundle);
    importMs(empty);
    for (let i = 0; i < repetitions; i++) {
      handler.push(importMs(bundle));
      none.push(importMs(empty));
      withoutMaps.push(importMs(bundle, false).requireMs);
    }
    const handlerProcessMs = median(handler.map((m) => m.processMs));
    const emptyProcessMs = median(none.map((m) => m.processMs));
    return {
      source: "cdk synth",
      bundleBytes: statSync(bundle).size,
      sourceMapBytes: statSync(`${bundle}.map`).size,
      repetitions,
      handlerProcessMs: round(handlerProcessMs, 1),
      emptyProcessMs: round(emptyProcessMs, 1),
      processRatio: round(handlerProcessMs / emptyProcessMs, 2),
      handlerRequireMs: round(median(handler.map((m) => m.requireMs)), 1),
      emptyRequireMs: round(median(none.map((m) => m.requireMs)), 2),
      handlerRequireWithoutSourceMapsMs: round(median(withoutMaps), 1),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
