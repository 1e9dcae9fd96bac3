/**
 * The parent's side of the harness: the Atlas simulator (in this process, so its request records
 * and rate-limit ledger can be read), the S3 server in a child process, and the runner of
 * measurement children.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import {
  type AtlasSimulator,
  type SimulatorOptions,
  startAtlasSimulator,
} from "../test/support/atlas-simulator";
import { auditLikeGzip } from "./audit-gzip";
import { RESULT_MARKER, type Task, type TaskResult } from "./tasks";

const BENCH_DIR = import.meta.dirname;

/** `node --import tsx <script>`: TypeScript without a build step, in a fresh process. */
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

/** Runs one task in a fresh process and returns what it measured. */
export function runChild(task: Task): Promise<TaskResult> {
  const child = spawnTsx("child.ts", [JSON.stringify(task)]);
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
  const sim = await startAtlasSimulator(simOptions);
  return {
    sim,
    setLogBytes: (bytes) => {
      logBytes = bytes;
    },
    close: () => sim.close(),
  };
}
