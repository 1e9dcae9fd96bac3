/**
 * `npm run bench [-- --quick] [-- --json] [-- --only scale|digests]`: throughput of one large log
 * against its baselines, peak memory, many workspaces at several concurrencies, cold start, the
 * queue design at scale, and what the digests cost (`--only` runs one of the last two alone), all
 * on loopback servers.
 * Prints a table (or, with `--json`, one JSON object) on stdout; progress goes to stderr.
 */
import { cpus, totalmem } from "node:os";
import { measureColdStart } from "./cold-start";
import { type DigestsPlan, measureDigests } from "./digests";
import { type FanInPlan, measureFanIn } from "./fan-in";
import { measureSetting, type NetworkSetting, type SettingResult } from "./large-log";
import { type BenchResult, checkTargets, formatReport } from "./report";
import { type DigestsOnlyResult, formatDigestsOnly } from "./report-digests";
import { checkScaleTargets, formatScaleOnly, type ScaleOnlyResult } from "./report-scale";
import { measureScale, type ScalePlan } from "./scale";
import { runChild, startS3Host } from "./servers";
import { median, mib, round } from "./stats";
import type { TaskResult } from "./tasks";

/** What a mode measures. */
interface Plan {
  readonly sizesMB: readonly number[];
  readonly repetitions: (setting: NetworkSetting, sizeMB: number) => number;
  readonly fanIn: FanInPlan;
  readonly coldStartRepetitions: number;
  readonly scale: ScalePlan;
  readonly digests: DigestsPlan;
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

/**
 * The scale scenario (issue 12): 5,000 workspaces, 500 projects of 10, 100 ms of latency and the
 * fan-in's rate limit. With one lane per project a project has one download in flight, at most
 * 1 / 100 ms = 10 requests/s, under the 40/s refill: the limit is there to catch a design that
 * lets one project's workspaces run side by side, not to slow this one down.
 */
const SCALE: ScalePlan = {
  projects: 500,
  perProject: 10,
  latencyMs: 100,
  rateLimit: RATE_LIMIT,
  plannerConcurrency: 50,
  workers: [10, 50, 100],
  // The same at 50 workers with the projects interleaved in the parameter file: the order a
  // project-fair tie-break among windows of the same start would give (see the report).
  interleavedWorkers: [50],
  yearPlanner: { projects: 50, perProject: 10, days: 366 },
  // One workspace per project, so that 50 lanes are busy as they would be for 500 workspaces in
  // 50 or more projects: the rate per lane does not depend on how many workspaces share it.
  backfill: {
    projects: 50,
    perProject: 1,
    days: 7,
    workers: 50,
    extrapolateTo: { workspaces: 500, days: 366 },
  },
};

/**
 * The digests section: 20 hourly workspaces for 3 days of hourly runs (60 days sealed), and an
 * archive of 2 workspaces × 24 logs of two gzip members (~6.4 MB each, ~310 MB) for `verify`.
 */
const DIGESTS: DigestsPlan = {
  steady: { projects: 4, perProject: 5, days: 3, backfillDays: 4 },
  large: { workspaces: 2, windowMinutes: 60, bytesPerWindow: 6_000_000 },
  verifyRepetitions: 3,
  pricedWorkspaces: 500,
};

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
  scale: SCALE,
  digests: DIGESTS,
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
  scale: {
    ...SCALE,
    projects: 20,
    workers: [10, 50],
    interleavedWorkers: [],
    yearPlanner: { projects: 5, perProject: 2, days: 30 },
    backfill: { ...SCALE.backfill, projects: 10, days: 0.5, workers: 10 },
  },
  // One workspace for a day of hourly runs; one workspace's day of two 12-hour windows of one
  // gzip member (~3.2 MB) each for verify.
  digests: {
    ...DIGESTS,
    steady: { projects: 1, perProject: 1, days: 1, backfillDays: 4 },
    large: { workspaces: 1, windowMinutes: 720, bytesPerWindow: 1 },
    verifyRepetitions: 1,
  },
  idleRepetitions: 1,
};

function machine() {
  const cpu = cpus();
  return {
    node: process.versions.node,
    platform: process.platform,
    arch: process.arch,
    cpus: cpu.length,
    cpuModel: cpu[0]?.model.trim() ?? "unknown",
    memoryGiB: round(totalmem() / 1024 ** 3, 1),
  };
}

/** The scale scenario alone (`--only scale`). */
export async function runScaleOnly(
  quick: boolean,
  progress: (line: string) => void,
): Promise<ScaleOnlyResult> {
  const plan = quick ? QUICK : FULL;
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const s3 = await startS3Host();
  try {
    const scale = await measureScale(plan.scale, s3, progress);
    return {
      mode: quick ? "quick" : "full",
      only: "scale",
      machine: machine(),
      startedAt,
      durationSeconds: round((performance.now() - started) / 1000, 1),
      scale,
      targets: checkScaleTargets(scale),
    };
  } finally {
    await s3.close();
  }
}

/** The digests section alone (`--only digests`). */
export async function runDigestsOnly(
  quick: boolean,
  progress: (line: string) => void,
): Promise<DigestsOnlyResult> {
  const plan = quick ? QUICK : FULL;
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const s3 = await startS3Host();
  try {
    const digests = await measureDigests(plan.digests, s3, progress);
    return {
      mode: quick ? "quick" : "full",
      only: "digests",
      machine: machine(),
      startedAt,
      durationSeconds: round((performance.now() - started) / 1000, 1),
      digests,
    };
  } finally {
    await s3.close();
  }
}

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
    const scale = await measureScale(plan.scale, s3, progress);
    const digests = await measureDigests(plan.digests, s3, progress);
    const unthrottled = largeLog[0]?.sizes ?? [];
    const first = unthrottled[0]?.pipelinePeakRssMiB ?? Number.NaN;
    const last = unthrottled.at(-1)?.pipelinePeakRssMiB ?? Number.NaN;
    const partial = {
      mode: quick ? ("quick" as const) : ("full" as const),
      machine: machine(),
      startedAt,
      largeLog,
      memory: {
        idlePeakRssMiB: round(median(idle.map((r) => mib(r.peakRssBytes))), 1),
        sizes: unthrottled.map((s) => ({ sizeMB: s.sizeMB, pipelinePeakRssMiB: s.pipelinePeakRssMiB })),
        largestOverSmallest: round(last / first, 2),
      },
      fanIn,
      coldStart,
      scale,
      digests,
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

const USAGE = "Usage: npm run bench -- [--quick] [--json] [--only scale|digests]";
const SECTIONS = ["scale", "digests"];
const argv = process.argv.slice(2);
const flags = new Set<string>();
let only: string | undefined;
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i] as string;
  if (arg === "--only") only = argv[++i];
  else if (arg.startsWith("--only=")) only = arg.slice("--only=".length);
  else flags.add(arg);
}
const unknown = [...flags].filter((a) => a !== "--quick" && a !== "--json");
if (unknown.length > 0 || (only !== undefined && !SECTIONS.includes(only))) {
  process.stderr.write(
    `${unknown.length > 0 ? `Unknown option ${unknown.join(" ")}` : `Unknown section ${only ?? "(none)"} for --only`}. ${USAGE}\n`,
  );
  process.exit(2);
}
const progress = (line: string) => process.stderr.write(`${line}\n`);
const quick = flags.has("--quick");
const json = flags.has("--json");
if (only === "scale") {
  const result = await runScaleOnly(quick, progress);
  process.stdout.write(json ? `${JSON.stringify(result)}\n` : formatScaleOnly(result));
} else if (only === "digests") {
  const result = await runDigestsOnly(quick, progress);
  process.stdout.write(json ? `${JSON.stringify(result)}\n` : formatDigestsOnly(result));
} else {
  const result = await runBench(quick, progress);
  process.stdout.write(json ? `${JSON.stringify(result)}\n` : formatReport(result));
}
