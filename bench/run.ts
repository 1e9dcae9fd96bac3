/**
 * `npm run bench [-- --quick] [-- --json]`: throughput of one large log against its baselines,
 * peak memory, many workspaces at several concurrencies, and cold start, all on loopback servers.
 * Prints a table (or, with `--json`, one JSON object) on stdout; progress goes to stderr.
 */
import { cpus, totalmem } from "node:os";
import { measureColdStart } from "./cold-start";
import { type FanInPlan, measureFanIn } from "./fan-in";
import { measureSetting, type NetworkSetting, type SettingResult } from "./large-log";
import { type BenchResult, checkTargets, formatReport } from "./report";
import { runChild, startS3Host } from "./servers";
import { median, mib, round } from "./stats";
import type { TaskResult } from "./tasks";

/** What a mode measures. */
interface Plan {
  readonly sizesMB: readonly number[];
  readonly repetitions: (setting: NetworkSetting, sizeMB: number) => number;
  readonly fanIn: FanInPlan;
  readonly coldStartRepetitions: number;
  /** Idle processes measured (the RSS floor). */
  readonly idleRepetitions: number;
}

const SETTINGS: readonly NetworkSetting[] = [
  { name: "unthrottled", slug: "unthrottled" },
  { name: "WAN 25 MB/s", slug: "wan-25", bytesPerSecond: 25_000_000 },
];

/**
 * Rate limit of the fan-in: bursts of 5 per project, refilled at 40/s. Atlas does not publish its
 * numbers. Measured here: at 15/s, concurrency 16 spends most of its time in `Retry-After` waits
 * (228 refusals, 4.3 × concurrency 1), which measures the limit rather than the archiver.
 */
const RATE_LIMIT = { capacity: 5, refillPerSecond: 40, retryAfterSeconds: 1 } as const;

const FULL: Plan = {
  sizesMB: [64, 256, 1024],
  // Three repetitions where a repetition is cheap; one at 1 GB (and at 256 MB behind the slow
  // link), to stay within 10 minutes on a 2-core machine.
  repetitions: (setting, sizeMB) => (sizeMB >= 1024 || (sizeMB >= 256 && setting.bytesPerSecond) ? 1 : 3),
  fanIn: {
    workspaces: 200,
    groups: 10,
    windowsPerWorkspace: 24,
    concurrencies: [1, 4, 16],
    workspacesAtConcurrency1: 10,
    latencyMs: 50,
    rateLimit: RATE_LIMIT,
  },
  coldStartRepetitions: 9,
  idleRepetitions: 3,
};

/** Every measurement once, small: for CI, so that the harness cannot rot (about 30 s). */
const QUICK: Plan = {
  // Both above the 8 MiB part size, so the multipart path is the one measured.
  sizesMB: [10, 20],
  repetitions: () => 1,
  fanIn: {
    workspaces: 16,
    groups: 4,
    windowsPerWorkspace: 3,
    concurrencies: [1, 4, 16],
    workspacesAtConcurrency1: 4,
    latencyMs: 50,
    rateLimit: RATE_LIMIT,
  },
  coldStartRepetitions: 3,
  idleRepetitions: 1,
};

/** Runs every measurement of `plan`. */
export async function runBench(quick: boolean, progress: (line: string) => void): Promise<BenchResult> {
  const plan = quick ? QUICK : FULL;
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const s3 = await startS3Host();
  try {
    progress("idle process");
    const idle: TaskResult[] = [];
    for (let i = 0; i < plan.idleRepetitions; i++) idle.push(await runChild({ kind: "idle" }));
    const largeLog: SettingResult[] = [];
    const uploads = new Map<number, TaskResult[]>();
    for (const setting of SETTINGS) {
      progress(`one large log, ${setting.name}`);
      largeLog.push(
        await measureSetting(
          setting,
          plan.sizesMB,
          (size) => plan.repetitions(setting, size),
          s3,
          uploads,
          progress,
        ),
      );
    }
    progress("many workspaces");
    const fanIn = await measureFanIn(plan.fanIn, s3);
    progress("cold start");
    const coldStart = await measureColdStart(plan.coldStartRepetitions);
    const unthrottled = largeLog[0]?.sizes ?? [];
    const first = unthrottled[0]?.pipelinePeakRssMiB ?? Number.NaN;
    const last = unthrottled.at(-1)?.pipelinePeakRssMiB ?? Number.NaN;
    const cpu = cpus();
    const partial = {
      mode: quick ? ("quick" as const) : ("full" as const),
      machine: {
        node: process.versions.node,
        platform: process.platform,
        arch: process.arch,
        cpus: cpu.length,
        cpuModel: cpu[0]?.model.trim() ?? "unknown",
        memoryGiB: round(totalmem() / 1024 ** 3, 1),
      },
      startedAt,
      largeLog,
      memory: {
        idlePeakRssMiB: round(median(idle.map((r) => mib(r.peakRssBytes))), 1),
        sizes: unthrottled.map((s) => ({ sizeMB: s.sizeMB, pipelinePeakRssMiB: s.pipelinePeakRssMiB })),
        largestOverSmallest: round(last / first, 2),
      },
      fanIn,
      coldStart,
    };
    return {
      ...partial,
      durationSeconds: round((performance.now() - started) / 1000, 1),
      targets: checkTargets(partial),
    };
  } finally {
    await s3.close();
  }
}

const args = new Set(process.argv.slice(2));
const unknown = [...args].filter((a) => a !== "--quick" && a !== "--json");
if (unknown.length > 0) {
  process.stderr.write(`Unknown option ${unknown.join(" ")}. Usage: npm run bench -- [--quick] [--json]\n`);
  process.exit(2);
}
const result = await runBench(args.has("--quick"), (line) => process.stderr.write(`${line}\n`));
process.stdout.write(args.has("--json") ? `${JSON.stringify(result)}\n` : formatReport(result));
