/** The report's section 5 (the scale scenario, issue 12): its targets, its tables, and the `--only scale` report. */
import { formatTargets, type Machine, type TargetCheck, table } from "./report-parts";
import type { ScaleResult } from "./scale";

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
    {
      name: `scale: planner alone, ${scale.yearPlanner.workspaces} workspaces × ${scale.yearPlanner.days} days`,
      target: "every window enqueued, peak RSS < 1,024 MiB (the planner's memory)",
      measured:
        `${scale.yearPlanner.messages} of ${scale.yearPlanner.due} windows in ${scale.yearPlanner.slices} slices, ` +
        `${scale.yearPlanner.seconds} s, ${scale.yearPlanner.peakRssMiB} MiB`,
      met: scale.yearPlanner.messages === scale.yearPlanner.due && scale.yearPlanner.peakRssMiB < 1024,
    },
  ];
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

/** `50 workers` for a drain with each project's workspaces together, `50 workers, interleaved` otherwise. */
function drainName(d: ScaleResult["drains"][number]): string {
  return d.layout === "together" ? `${d.workers} workers` : `${d.workers} workers, ${d.layout}`;
}

/** Section 5: the scale scenario. */
export function formatScale(scale: ScaleResult): string[] {
  const { plan, planner, drains, backfill, yearPlanner: yp } = scale;
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
    `   Planner alone over ${yp.days} days of ${yp.workspaces} workspaces, nothing archived (slices of at most ` +
      "100,000 windows, SQS stand-in answering at once; in AWS each invocation stops between slices before its " +
      "deadline and invokes itself with the rest)",
    table(
      [
        "windows",
        "slices",
        "seconds",
        "LISTs",
        "LISTs/workspace",
        "messages",
        "SendMessageBatch",
        "peak RSS",
      ],
      [
        [
          yp.due,
          yp.slices,
          yp.seconds,
          yp.listRequests,
          yp.listsPerWorkspace,
          yp.messages,
          yp.sendBatches,
          `${yp.peakRssMiB} MiB`,
        ],
      ],
    ),
    `   Extrapolated, not measured: ${x.workspaces} workspaces × ${x.days} days = ${x.windows} windows at ` +
      `${b.windowsPerSecond} windows/s ≈ ${x.hours} h (${x.messages} messages, ${x.sendBatches} SendMessageBatch calls). ` +
      `Assumes: linear in windows, ${b.workers} lanes busy throughout (as many projects as workers or more), ` +
      "empty logs, no Lambda cold starts or SQS latency, one process, loopback S3.",
  ];
}
