/**
 * The parent's side of the harness: the Atlas simulator (in this process, so its request records
 * and rate-limit ledger can be read), the S3 server in a child process, and the runner of
 * measurement children.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import {
  type AtlasSimulator,
  type SimulatorOptions,
  startAtlasSimulator,
} from "../test/support/atlas-simulator";
import { auditCompressionRatio, auditLikeGzip } from "./audit-gzip";
import { RESULT_MARKER, type Task, type TaskResult } from "./tasks";

const BENCH_DIR = import.meta.dirname;

/** `node --import tsx <script>`: TypeScript without a build step, in a fresh process (the servers). */
function spawnTsx(script: string, args: readonly string[]): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", join(BENCH_DIR, script), ...args], {
    cwd: join(BENCH_DIR, ".."),
    stdio: ["pipe", "pipe", "pipe"],
  });
}

/** A running S3 server in its own process. */
export interface S3Host {
  readonly endpoint: string;
  readonly bucket: string;
  close(): Promise<void>;
}

/** Starts `s3-host.ts` and waits for its endpoint. */
export function startS3Host(): Promise<S3Host> {
  const child = spawnTsx("s3-host.ts", []);
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return new Promise((resolve, reject) => {
    let stdout = "";
    const onData = (d: Buffer) => {
      stdout += d;
      const line = stdout.split("\n")[0];
      if (!stdout.includes("\n") || line === undefined) return;
      child.stdout?.off("data", onData);
      const { endpoint, bucket } = JSON.parse(line) as { endpoint: string; bucket: string };
      resolve({
        endpoint,
        bucket,
        close: async () => {
          child.stdin?.end();
          const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
          await exited;
          clearTimeout(timer);
        },
      });
    };
    child.stdout?.on("data", onData);
    child.once("exit", (code) =>
      reject(new Error(`The S3 host exited (${code}) before it was ready: ${stderr}`)),
    );
  });
}

let childBundle: Promise<string> | undefined;

/**
 * `child.ts` bundled once per benchmark run, as esbuild bundles the handler: measurements run
 * compiled JavaScript like Lambda does, not TypeScript through tsx's loader (which adds ~35 MiB of
 * RSS and its own CPU time to every measurement).
 */
function bundledChild(): Promise<string> {
  childBundle ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "atlas-audit-bench-"));
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    const outfile = join(dir, "child.mjs");
    await build({
      entryPoints: [join(BENCH_DIR, "child.ts")],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      mainFields: ["module", "main"],
      outfile,
      logLevel: "warning",
      // Bundled CommonJS dependencies call require(); an ES module has none of its own.
      banner: {
        js: 'import { createRequire as bundleRequire } from "node:module"; const require = bundleRequire(import.meta.url);',
      },
    });
    return outfile;
  })();
  return childBundle;
}

/** Runs one task in a fresh process and returns what it measured. */
export async function runChild(task: Task): Promise<TaskResult> {
  const child = spawn(process.execPath, [await bundledChild(), JSON.stringify(task)], {
    cwd: join(BENCH_DIR, ".."),
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.stdin?.end();
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d));
  child.stderr?.on("data", (d: Buffer) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => {
      const line = stdout.split("\n").find((l) => l.startsWith(RESULT_MARKER));
      if (code !== 0 || line === undefined) {
        reject(
          new Error(`The ${task.kind} measurement failed (exit ${code}): ${stderr.trim() || stdout.trim()}`),
        );
        return;
      }
      resolve(JSON.parse(line.slice(RESULT_MARKER.length)) as TaskResult);
    });
  });
}

/** A simulator whose downloads all return one large log of a settable size. */
export interface LogSimulator {
  readonly sim: AtlasSimulator;
  /** The size of the gzip every download returns from now on. */
  setLogBytes(bytes: number): void;
  close(): Promise<void>;
}

/** Starts a simulator serving a generated gzip log of the current size, optionally throttled. */
export async function startLogSimulator(options: { bytesPerSecond?: number }): Promise<LogSimulator> {
  let logBytes = 0;
  const simOptions: SimulatorOptions = {
    // Audit-like JSON lines that gzip ten to one, in 1 MiB writes (16 KiB writes cost the
    // simulator ~15% of its throughput, measured).
    body: () => auditLikeGzip(logBytes),
    ...(options.bytesPerSecond === undefined ? {} : { bytesPerSecond: options.bytesPerSecond }),
  };
  // Made now, not on the first download: that one is timed.
  auditCompressionRatio();
  const sim = await startAtlasSimulator(simOptions);
  return {
    sim,
    setLogBytes: (bytes) => {
      logBytes = bytes;
    },
    close: () => sim.close(),
  };
}
