/** The report's section 6 (what the digests cost, issue 13), and the `--only digests` report. */
import type { DigestsResult } from "./digests";
import { type Machine, table } from "./report-parts";

/** `npm run bench -- --only digests`: the digests section alone. */
export interface DigestsOnlyResult {
  readonly mode: "quick" | "full";
  readonly only: "digests";
  readonly machine: Machine;
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly digests: DigestsResult;
}

/** The report of `--only digests`. */
export function formatDigestsOnly(result: DigestsOnlyResult): string {
  const m = result.machine;
  return `${[
    `atlas-audit-archiver benchmark (${result.mode}, digests only), ${result.startedAt}, ${result.durationSeconds.toFixed(0)} s`,
    `machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform} ${m.arch}, Node ${m.node}`,
    "",
    ...formatDigests(result.digests),
  ].join("\n")}\n`;
}

/** Operations in a stable order: S3's, then KMS's. */
function operations(...counts: ReadonlyArray<Readonly<Record<string, number>>>): string[] {
  const all = new Set(counts.flatMap((c) => Object.keys(c)));
  return [...all].sort(
    (a, b) => (a.startsWith("KMS") ? 1 : 0) - (b.startsWith("KMS") ? 1 : 0) || (a < b ? -1 : 1),
  );
}

function total(counts: Readonly<Record<string, number>>): number {
  return Math.round(Object.values(counts).reduce((a, b) => a + b, 0) * 1000) / 1000;
}

/** Section 6: what the digests cost. */
export function formatDigests(d: DigestsResult): string[] {
  const { off, on, archiveOnlyPerWindow, extraPerWindow, extraPerSealedDay } = d.steady;
  const p = d.plan.steady;
  const ops = operations(archiveOnlyPerWindow, off.perWindow, on.perWindow);
  const signing =
    d.signing === "kms"
      ? "KMS on moto (ECC_NIST_P256), Sign requests counted on the wire"
      : "a local P-256 key (moto_server not found), its signatures counted";
  const out = [
    `6. Digests (issue 13): ${off.workspaces} hourly workspaces (${p.projects} projects of ${p.perProject}), ` +
      `${p.days} day(s) of hourly runs as deployed (planner, its sealing pass, worker), after a warm-up ` +
      `(a ${p.backfillDays}-day backfill and two runs); ${signing}`,
    `   S3 requests per window archived (every attempt; ${on.windows} windows, ${on.runs} runs, ` +
      `${on.sealedDays} days sealed with digests on; digests off: ${off.windows} windows, ${off.sealedDays} sealed)`,
    table(
      ["operation", "archive only", "digests off (receipts still written)", "digests on", "extra per window"],
      [
        ...ops.map((op) => [
          op,
          archiveOnlyPerWindow[op] ?? 0,
          off.perWindow[op] ?? 0,
          on.perWindow[op] ?? 0,
          extraPerWindow[op] ?? 0,
        ]),
        [
          "total",
          total(archiveOnlyPerWindow),
          total(off.perWindow),
          total(on.perWindow),
          total(extraPerWindow),
        ],
      ],
    ),
    "   The extra requests per sealed day of one workspace (24 windows), by phase and area",
    table(
      ["phase", "area", "operation", "requests"],
      extraPerSealedDay.map((r) => [r.phase, r.area, r.operation, r.requests]),
    ),
    `   Per month at ${d.cost.workspaces} hourly workspaces (${d.cost.hoursPerMonth} runs), ` +
      `${d.cost.region} list prices, from the extra requests per window measured above`,
    table(
      ["operation", "requests/month", "price", "$/month"],
      [
        ...d.cost.lines.map((l) => [l.operation, l.requestsPerMonth, l.price, l.dollars.toFixed(2)]),
        ["KMS key", "", `$${d.cost.keyDollarsPerMonth} per month`, d.cost.keyDollarsPerMonth.toFixed(2)],
        ["total", "", "", d.cost.totalDollars.toFixed(2)],
      ],
    ),
    "   verify (a fresh process; median of the repetitions): CRC-only (no digests in the archive, no key) " +
      "against the digests (--public-key: every sealed object's SHA-256 and size, every digest's signature and chain)",
    table(
      [
        "archive",
        "mode",
        "objects",
        "MB",
        "digests",
        "reps",
        "seconds",
        "MB/s",
        "objects/s",
        "CPU s",
        "peak RSS",
        "GET / LIST / HEAD",
        "ok",
      ],
      d.verify.map((v) => [
        v.archive,
        v.mode,
        v.objects,
        (v.bytes / 1e6).toFixed(1),
        v.digests,
        v.repetitions,
        v.seconds,
        v.MBps,
        v.objectsPerSecond,
        v.cpuSeconds,
        `${v.peakRssMiB} MiB`,
        `${v.requests.GetObject ?? 0} / ${v.requests.ListObjectsV2 ?? 0} / ${v.requests.HeadObject ?? 0}`,
        v.ok ? "yes" : "NO",
      ]),
    ),
    `   digests / CRC-only speed (the same bytes: CRC-only seconds / digests seconds): steady ${d.verifySpeedRatio.steady}, large ${d.verifySpeedRatio.large}`,
  ];
  for (const v of d.verify) {
    if (!v.ok) out.push(`   ${v.archive} ${v.mode}: ${v.problems.join("; ")}`);
  }
  return out;
}
