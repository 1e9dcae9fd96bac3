/** The benchmark's result: its shape, the targets checked against it, and the table. */
import type { ColdStartResult } from "./cold-start";
import type { DigestsResult } from "./digests";
import type { FanInResult } from "./fan-in";
import type { SettingResult } from "./large-log";
import { formatDigests } from "./report-digests";
import { formatTargets, type Machine, type TargetCheck, table } from "./report-parts";
import { checkScaleTargets, formatScale } from "./report-scale";
import type { ScaleResult } from "./scale";

/** Everything one `npm run bench` measured (printed whole with `--json`). */
export interface BenchResult {
  readonly mode: "quick" | "full";
  readonly machine: Machine;
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly largeLog: readonly SettingResult[];
  readonly memory: {
    /** Peak RSS of a measurement process that loads everything and does nothing, MiB. */
    readonly idlePeakRssMiB: number;
    readonly sizes: ReadonlyArray<{ readonly sizeMB: number; readonly pipelinePeakRssMiB: number }>;
    /** Peak RSS at the largest size over that at the smallest (unthrottled). */
    readonly largestOverSmallest: number;
  };
  readonly fanIn: FanInResult;
  readonly coldStart: ColdStartResult;
  readonly scale: ScaleResult;
  readonly digests: DigestsResult;
  readonly targets: readonly TargetCheck[];
}

/** The targets, checked. */
export function checkTargets(result: Omit<BenchResult, "targets" | "durationSeconds">): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const { setting, sizes } of result.largeLog) {
    const worst = Math.min(...sizes.map((s) => s.pipelineOverCeiling));
    checks.push({
      name: `pipeline / ceiling (${setting.name})`,
      target: ">= 0.9 at every size",
      measured: sizes.map((s) => `${s.sizeMB} MB: ${s.pipelineOverCeiling}`).join(", "),
      met: worst >= 0.9,
    });
    if (setting.bytesPerSecond !== undefined) {
      const worstB = Math.min(...sizes.map((s) => s.pipelineOverDownloadThenUpload));
      checks.push({
        name: `pipeline / download-then-upload (${setting.name})`,
        target: ">= 1.25 at every size",
        measured: sizes.map((s) => `${s.sizeMB} MB: ${s.pipelineOverDownloadThenUpload}`).join(", "),
        met: worstB >= 1.25,
      });
    }
  }
  const mem = result.memory;
  const largest = mem.sizes.at(-1);
  checks.push({
    name: "peak RSS, largest / smallest size",
    target: "<= 1.1",
    measured: String(mem.largestOverSmallest),
    met: mem.largestOverSmallest <= 1.1,
  });
  const largestMB = ((largest?.pipelinePeakRssMiB ?? Number.NaN) * 1024 * 1024) / 1e6;
  checks.push({
    name: `peak RSS at ${largest?.sizeMB} MB`,
    target: "< 200 MB",
    measured: `${largestMB.toFixed(0)} MB (of which ${((mem.idlePeakRssMiB * 1024 * 1024) / 1e6).toFixed(0)} MB is the idle process)`,
    met: largestMB < 200,
  });
  const runs = result.fanIn.runs;
  checks.push({
    name: `windows/s, concurrency ${runs.at(-1)?.concurrency} / concurrency 1`,
    target: ">= 8",
    measured: String(result.fanIn.speedup),
    met: result.fanIn.speedup >= 8,
  });
  const violations = runs.reduce((n, r) => n + r.retryAfterViolations, 0);
  checks.push({
    name: "requests while a Retry-After was pending",
    target: "0",
    measured: runs.map((r) => `c${r.concurrency}: ${r.retryAfterViolations}`).join(", "),
    met: violations === 0,
  });
  const cold = result.coldStart;
  checks.push({
    name: "bundled handler size",
    target: "<= 1 MB each",
    measured:
      `worker ${(cold.bundleBytes / 1e6).toFixed(2)} MB, ` +
      `planner ${(cold.plannerBundleBytes / 1e6).toFixed(2)} MB`,
    met: Math.max(cold.bundleBytes, cold.plannerBundleBytes) <= 1e6,
  });
  checks.push({
    name: "cold load / empty handler (fresh process)",
    target: "<= 3",
    measured: `${cold.processRatio} (${cold.handlerProcessMs} ms vs ${cold.emptyProcessMs} ms)`,
    met: cold.processRatio <= 3,
  });
  checks.push(...checkScaleTargets(result.scale));
  return checks;
}

/** The human-readable report. */
export function formatReport(result: BenchResult): string {
  const m = result.machine;
  const out: string[] = [
    `atlas-audit-archiver benchmark (${result.mode}), ${result.startedAt}, ${result.durationSeconds.toFixed(0)} s`,
    `machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform} ${m.arch}, Node ${m.node}`,
    "",
    "1. One large log (medians; MB = 10^6 bytes)",
  ];
  for (const { setting, sizes } of result.largeLog) {
    out.push(`   ${setting.name}`);
    out.push(
      table(
        [
          "size MB",
          "reps",
          "download",
          "upload",
          "dl→ul (b)",
          "pipeline",
          "pipe/ceiling",
          "pipe/(b)",
          "download ends s",
          "upload ends s",
          "complete s",
          "CPU busy ul/pipe",
          "client CPU s/GB",
        ],
        sizes.map((s) => [
          s.sizeMB,
          s.repetitions,
          `${s.downloadMBps} MB/s`,
          `${s.uploadMBps} MB/s`,
          `${s.downloadThenUploadMBps} MB/s`,
          `${s.pipelineMBps} MB/s`,
          s.pipelineOverCeiling,
          s.pipelineOverDownloadThenUpload,
          s.pipelineLegs.downloaded ?? "",
          s.pipelineLegs.streamed ?? "",
          s.pipelineLegs.complete ?? "",
          `${Math.round(s.machineBusy.upload * 100)}% / ${Math.round(s.machineBusy.pipeline * 100)}%`,
          s.pipelineCpuSecondsPerGB,
        ]),
      ),
    );
  }
  out.push("", `2. Peak RSS of the pipeline's process (idle process: ${result.memory.idlePeakRssMiB} MiB)`);
  out.push(
    table(
      ["size MB", ...result.largeLog.map((s) => s.setting.name)],
      result.memory.sizes.map((s) => [
        s.sizeMB,
        ...result.largeLog.map(
          (l) => `${l.sizes.find((x) => x.sizeMB === s.sizeMB)?.pipelinePeakRssMiB ?? ""} MiB`,
        ),
      ]),
    ),
  );
  const plan = result.fanIn.plan;
  out.push(
    "",
    `3. Many workspaces: ${plan.windowsPerWorkspace} windows each, ${plan.groups} projects, ` +
      `${plan.latencyMs} ms latency, rate limit ${plan.rateLimit.capacity} burst + ${plan.rateLimit.refillPerSecond}/s per project`,
  );
  out.push(
    table(
      [
        "concurrency",
        "workspaces",
        "windows",
        "seconds",
        "windows/s",
        "429s",
        "Retry-After violations",
        "failed",
      ],
      result.fanIn.runs.map((r) => [
        r.concurrency,
        r.workspaces,
        r.windows,
        r.seconds,
        r.windowsPerSecond,
        r.rateLimited,
        r.retryAfterViolations,
        r.failed,
      ]),
    ),
  );
  const c = result.coldStart;
  out.push(
    "",
    `4. Cold start (${c.source}, median of ${c.repetitions}, NODE_OPTIONS as deployed: ` +
      `${c.nodeOptions || "none"}; require() with --enable-source-maps: ${c.handlerRequireWithSourceMapsMs} ms, ` +
      `without: ${c.handlerRequireWithoutSourceMapsMs} ms)`,
    table(
      ["", "bundle", "fresh process", "require() alone"],
      [
        [
          "worker handler",
          `${c.bundleBytes} B (+ ${c.sourceMapBytes} B map)`,
          `${c.handlerProcessMs} ms`,
          `${c.handlerRequireMs} ms`,
        ],
        ["planner handler", `${c.plannerBundleBytes} B`, "", ""],
        ["empty handler", "", `${c.emptyProcessMs} ms`, `${c.emptyRequireMs} ms`],
      ],
    ),
    "",
    ...formatScale(result.scale),
    "",
    ...formatDigests(result.digests),
    "",
    ...formatTargets(result.targets),
  );
  return `${out.join("\n")}\n`;
}
