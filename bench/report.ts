/** The benchmark's result: its shape, the issue's targets checked against it, and the table. */
import type { ColdStartResult } from "./cold-start";
import type { FanInResult } from "./fan-in";
import type { SettingResult } from "./large-log";
import type { ScaleResult } from "./scale";

/** Where the figures came from. */
export interface Machine {
  readonly node: string;
  readonly platform: string;
  readonly arch: string;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
}

/** One target of the issue, measured. */
export interface TargetCheck {
  readonly name: string;
  readonly target: string;
  readonly measured: string;
  readonly met: boolean;
}

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
  readonly targets: readonly TargetCheck[];
}

/** `npm run bench -- --only scale`: the scale scenario alone. */
export interface ScaleOnlyResult {
  readonly mode: "quick" | "full";
  readonly only: "scale";
  readonly machine: Machine;
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly scale: ScaleResult;
  readonly targets: readonly TargetCheck[];
}

/** The issue's targets, checked. */
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
    target: "<= 1 MB",
    measured: `${(cold.bundleBytes / 1e6).toFixed(2)} MB`,
    met: cold.bundleBytes <= 1e6,
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

/** The scale scenario's targets (issue 12). */
export function checkScaleTargets(scale: ScaleResult): TargetCheck[] {
  const { planner, drains, backfill } = scale;
  const workspaces = scale.plan.projects * scale.plan.perProject;
  const violations = [...drains.map((d) => d.retryAfterViolations), backfill.retryAfterViolations];
  const fifty = drains.find((d) => d.workers === 50 && d.layout === "together");
  const nothingMissing = planner.find((p) => p.label === "nothing missing");
  const everything = [...drains, backfill].every((d) => d.failed === 0 && d.archived === d.windows);
  return [
    {
      name: "scale: requests while a Retry-After was pending",
      target: "0",
      measured: [
        ...drains.map((d) => `${drainName(d)}: ${d.retryAfterViolations}`),
        `backfill: ${backfill.retryAfterViolations}`,
      ].join(", "),
      met: violations.every((v) => v === 0),
    },
    {
      name: `scale: planner wall time, ${workspaces} workspaces`,
      target: "< 60 s",
      measured: planner.map((p) => `${p.label}: ${p.seconds} s`).join(", "),
      met: planner.length > 0 && planner.every((p) => p.seconds < 60),
    },
    {
      name: "scale: LISTs per workspace, nothing missing",
      target: "<= 1",
      measured: `${nothingMissing?.listsPerWorkspace} (${nothingMissing?.listRequests} LISTs)`,
      met: nothingMissing !== undefined && nothingMissing.listsPerWorkspace <= 1,
    },
    {
      name: "scale: drain with 50 workers",
      target: "< 600 s",
      measured: fifty ? `${fifty.seconds} s (${fifty.windowsPerSecond} windows/s)` : "not measured",
      met: fifty !== undefined && fifty.seconds < 600 && fifty.archived === fifty.windows,
    },
    {
      name: "scale: fewest per project / mean, every 10 % of an hourly drain",
      target: ">= 0.9",
      measured: `${drains
        .map((d) => `${drainName(d)}: ${d.minProjectShare} (lag ${d.maxProjectLag})`)
        .join(", ")}; one window per workspace, ${scale.plan.perProject} per project`,
      met: drains.every((d) => d.minProjectShare >= 0.9),
    },
    {
      name: "scale: fewest per workspace / mean, every 10 % of the backfill",
      target: ">= 0.9",
      measured: `${backfill.minWorkspaceShare} (${backfill.windows / backfill.workspaces} windows per workspace)`,
      met: backfill.minWorkspaceShare >= 0.9,
    },
    {
      name: `scale: backfill of ${backfill.extrapolation.workspaces} workspaces × ${backfill.extrapolation.days} days`,
      target: "completes",
      measured:
        `${backfill.archived} of ${backfill.windows} windows archived; ~${backfill.extrapolation.hours} h ` +
        `extrapolated at ${backfill.windowsPerSecond} windows/s`,
      met: everything,
    },
  ];
}

/** A plain-text table: columns padded to their widest cell. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...cells.slice(1).map(line)].join("\n");
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
          "handler",
          `${c.bundleBytes} B (+ ${c.sourceMapBytes} B map)`,
          `${c.handlerProcessMs} ms`,
          `${c.handlerRequireMs} ms`,
        ],
        ["empty handler", "", `${c.emptyProcessMs} ms`, `${c.emptyRequireMs} ms`],
      ],
    ),
    "",
    ...formatScale(result.scale),
    "",
    ...formatTargets(result.targets),
  );
  return `${out.join("\n")}\n`;
}

/** The report of `--only scale`. */
export function formatScaleOnly(result: ScaleOnlyResult): string {
  const m = result.machine;
  return `${[
    `atlas-audit-archiver benchmark (${result.mode}, scale only), ${result.startedAt}, ${result.durationSeconds.toFixed(0)} s`,
    `machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform} ${m.arch}, Node ${m.node}`,
    "",
    ...formatScale(result.scale),
    "",
    ...formatTargets(result.targets),
  ].join("\n")}\n`;
}

function formatTargets(targets: readonly TargetCheck[]): string[] {
  return [
    "Targets",
    table(
      ["", "target", "measured", "met"],
      targets.map((t) => [t.name, t.target, t.measured, t.met ? "yes" : "NO"]),
    ),
  ];
}

/** `50 workers` for a drain with each project's workspaces together, `50 workers, interleaved` otherwise. */
function drainName(d: ScaleResult["drains"][number]): string {
  return d.layout === "together" ? `${d.workers} workers` : `${d.workers} workers, ${d.layout}`;
}

/** Section 5: the scale scenario. */
function formatScale(scale: ScaleResult): string[] {
  const { plan, planner, drains, backfill } = scale;
  const workspaces = plan.projects * plan.perProject;
  const b = backfill;
  const x = b.extrapolation;
  const perWindow = (d: (typeof drains)[number]) =>
    Object.entries(d.s3RequestsPerWindow)
      .map(([command, n]) => `${command} ${n}`)
      .join(", ");
  return [
    `5. Scale (queue design): ${workspaces} workspaces (${plan.projects} projects of ${plan.perProject}, listed ` +
      `together), one hourly window due each, ${plan.latencyMs} ms latency, rate limit ` +
      `${plan.rateLimit.capacity} burst + ${plan.rateLimit.refillPerSecond}/s per project`,
    `   Planner (planAndEnqueue, ${plan.plannerConcurrency} workspaces listed at once, SQS stand-in answering at once)`,
    table(
      [
        "run",
        "due",
        "seconds",
        "LISTs",
        "LISTs/workspace",
        "other S3",
        "messages",
        "SendMessageBatch",
        "peak RSS",
      ],
      planner.map((p) => [
        p.label,
        p.due,
        p.seconds,
        p.listRequests,
        p.listsPerWorkspace,
        p.otherS3Requests,
        p.messages,
        p.sendBatches,
        `${p.peakRssMiB} MiB`,
      ]),
    ),
    "   Drain (archiveRun: one lane per project, the FIFO message groups played in process; seconds exclude its own listing)",
    table(
      [
        "workers",
        "windows",
        "archived",
        "seconds",
        "windows/s",
        "listing s",
        "429s",
        "Retry-After violations",
        "fewest/mean per project",
        "peak RSS",
        "CPU s",
      ],
      drains.map((d) => [
        drainName(d),
        d.windows,
        d.archived,
        d.seconds,
        d.windowsPerSecond,
        d.planSeconds,
        d.rateLimited,
        d.retryAfterViolations,
        d.minProjectShare,
        `${d.peakRssMiB} MiB`,
        d.cpuSeconds,
      ]),
    ),
    "   Fewest windows archived for a project / mean (mean − fewest, in windows), at each tenth of the drain",
    table(
      ["workers", ...(drains[0]?.projectShares ?? []).map((f) => `${Math.round(f.at * 100)} %`)],
      drains.map((d) => [drainName(d), ...d.projectShares.map((f) => `${f.minOverMean} (${f.lag})`)]),
    ),
    `   S3 requests per window archived (the run's own LIST included): ${drains.map((d) => `${drainName(d)}: ${perWindow(d)}`).join("; ")}`,
    `   Backfill: ${b.workspaces} workspaces (one per project) × ${b.days} days = ${b.windows} windows of empty ` +
      `logs, ${b.workers} workers, one lane per project`,
    table(
      [
        "windows",
        "archived",
        "seconds",
        "windows/s",
        "429s",
        "Retry-After violations",
        "fewest/mean per workspace",
        "planner s",
        "messages",
        "peak RSS",
      ],
      [
        [
          b.windows,
          b.archived,
          b.seconds,
          b.windowsPerSecond,
          b.rateLimited,
          b.retryAfterViolations,
          b.minWorkspaceShare,
          b.plannerSeconds,
          b.plannerMessages,
          `${b.peakRssMiB} MiB`,
        ],
      ],
    ),
    `   Extrapolated, not measured: ${x.workspaces} workspaces × ${x.days} days = ${x.windows} windows at ` +
      `${b.windowsPerSecond} windows/s ≈ ${x.hours} h (${x.messages} messages, ${x.sendBatches} SendMessageBatch calls). ` +
      `Assumes: linear in windows, ${b.workers} lanes busy throughout (as many projects as workers or more), ` +
      "empty logs, no Lambda cold starts or SQS latency, one process, loopback S3.",
  ];
}
