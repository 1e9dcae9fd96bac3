/**
 * Cold start: the size of the worker's bundle `cdk synth` stages (the handler that downloads, with
 * undici and the S3 upload path), and the time to load it in a fresh Node process, against an
 * empty handler loaded the same way; and the size of the planner's bundle (its SQS, S3 and Lambda
 * clients make it about as large).
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
  /** `index.js` of the worker's staged asset (minified, source map excluded). */
  readonly bundleBytes: number;
  readonly sourceMapBytes: number;
  /** `index.js` of the planner's staged asset (minified, source map excluded). */
  readonly plannerBundleBytes: number;
  /** `NODE_OPTIONS` of the synthesized function; the handler and the empty handler run with it. */
  readonly nodeOptions: string;
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
  /** The handler's `require()` without `--enable-source-maps` (Node then never reads the map). */
  readonly handlerRequireWithoutSourceMapsMs: number;
  /** The handler's `require()` with `--enable-source-maps`: Node reads and parses the map at load. */
  readonly handlerRequireWithSourceMapsMs: number;
}

/** What `synth-bundle.ts` prints: the worker's asset and `NODE_OPTIONS`, the planner's asset. */
interface Synthesized {
  readonly assetDir: string;
  readonly nodeOptions: string;
  readonly plannerAssetDir: string;
}

const SOURCE_MAPS = "--enable-source-maps";

/** Synthesizes the stack in a child process: the staged asset directories and the worker's `NODE_OPTIONS`. */
function synthesize(outdir: string): Promise<Synthesized> {
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
      else resolve(JSON.parse(line) as Synthesized);
    });
  });
}

/**
 * Loads `file` with `require()` in a fresh Node process started with `flags` (as Lambda's runtime
 * loads a CJS handler, with the function's `NODE_OPTIONS`): the process's wall time and the
 * `require()` call's own, in milliseconds.
 */
function importMs(file: string, flags: readonly string[]): { processMs: number; requireMs: number } {
  const script =
    "const t=process.hrtime.bigint();require(process.argv[1]);" +
    "process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))";
  const started = performance.now();
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
    const { assetDir, nodeOptions, plannerAssetDir } = await synthesize(join(dir, "cdk.out"));
    const deployed = nodeOptions.split(/\s+/).filter(Boolean);
    const withMaps = deployed.includes(SOURCE_MAPS);
    // The other setting of --enable-source-maps, to show what the flag costs or saves.
    const other = withMaps ? deployed.filter((f) => f !== SOURCE_MAPS) : [...deployed, SOURCE_MAPS];
    const bundle = join(assetDir, "index.js");
    const emptyDir = join(dir, "empty");
    const empty = join(emptyDir, "index.js");
    spawnSync("mkdir", [emptyDir]);
    writeFileSync(join(emptyDir, "package.json"), '{"type":"commonjs"}\n');
    writeFileSync(empty, "exports.handler = async () => ({});\n");
    const handler: Array<{ processMs: number; requireMs: number }> = [];
    const none: Array<{ processMs: number; requireMs: number }> = [];
    const otherRequireMs: number[] = [];
    // One warm-up each (file cache), then alternate so that drift hits both alike.
    importMs(bundle, deployed);
    importMs(empty, deployed);
    for (let i = 0; i < repetitions; i++) {
      handler.push(importMs(bundle, deployed));
      none.push(importMs(empty, deployed));
      otherRequireMs.push(importMs(bundle, other).requireMs);
    }
    const handlerRequireMs = round(median(handler.map((m) => m.requireMs)), 1);
    const otherMs = round(median(otherRequireMs), 1);
    const handlerProcessMs = median(handler.map((m) => m.processMs));
    const emptyProcessMs = median(none.map((m) => m.processMs));
    return {
      source: "cdk synth",
      bundleBytes: statSync(bundle).size,
      sourceMapBytes: statSync(`${bundle}.map`).size,
      plannerBundleBytes: statSync(join(plannerAssetDir, "index.js")).size,
      nodeOptions,
      repetitions,
      handlerProcessMs: round(handlerProcessMs, 1),
      emptyProcessMs: round(emptyProcessMs, 1),
      processRatio: round(handlerProcessMs / emptyProcessMs, 2),
      handlerRequireMs,
      emptyRequireMs: round(median(none.map((m) => m.requireMs)), 2),
      handlerRequireWithoutSourceMapsMs: withMaps ? otherMs : handlerRequireMs,
      handlerRequireWithSourceMapsMs: withMaps ? handlerRequireMs : otherMs,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
