/** `atlas-audit-archiver plan`: what a run would do now (or for a range), per workspace, without doing it. */
import { DEFAULT_CONFIG_PATH, loadConfig } from "../../../lambda/config";
import {
  EMPTY_GZIP_BYTES,
  EXPIRING_INTERVALS,
  type PlanReport,
  previewRun,
} from "../../../lambda/plan/preview";
import { s3ClientFor } from "../../../lambda/runtime";
import { formatWindow } from "../../../lambda/windows";
import {
  JSON_OPTION,
  MAX_RUN_RANGE_DAYS,
  type OptionValues,
  parseNow,
  parseRunRange,
  runBucket,
  stringOptions,
} from "../command";
import { AWS_ROWS, exitStatus, formatHelp, jsonRow, NOW_ROW, RANGE_TEXT } from "../help";
import type { CliIo } from "../io";

export const summary = "Show what a run would do now (or for a range), per workspace, without doing it.";

export const options = {
  ...stringOptions("config", "now", "from", "to"),
  ...JSON_OPTION,
};

/** Missing windows listed per workspace in the text; `--json` has them all (as runs). */
export const LISTED_WINDOWS = 10;

export const help = formatHelp({
  usage: "plan [--config FILE] [--now INSTANT] [--from DATE --to DATE] [--json]",
  summary: [
    summary,
    "",
    "Per workspace: the due windows; those present, archived or recorded empty (an object of at most",
    `${EMPTY_GZIP_BYTES} bytes, Atlas's empty gzip); those missing, which a run would download; and the missing ones`,
    `expiring soon: inside the lookback now, but not inside that of the run ${EXPIRING_INTERVALS} schedule intervals`,
    `from now (they start before now + ${EXPIRING_INTERVALS} × the schedule's interval - lookbackHours; a cron(...)`,
    "schedule is judged when it fires at one interval all day every day, e.g. cron(5 * * * ? *), and",
    "otherwise not). Only the listings a run makes, one per workspace: nothing is downloaded from",
    "Atlas, nothing written to S3, no Atlas credentials needed.",
  ].join("\n"),
  options: [
    ["--config FILE", `Parameter file (default ${DEFAULT_CONFIG_PATH})`],
    NOW_ROW,
    [
      "--from, --to",
      `Plan the due windows overlapping the range instead of the lookback, as run --from/--to would (both together, at most ${MAX_RUN_RANGE_DAYS} days): ${RANGE_TEXT}`,
    ],
    jsonRow("the plan (per workspace: counts, the missing windows as runs, those expiring soon)"),
  ],
  environment: [["ARCHIVE_BUCKET", "overrides archive.bucket of the parameter file"], ...AWS_ROWS],
  exitStatus: exitStatus(
    "0 when no due window is missing, 1 when one is (a run would download it), or when, on a rate(...) " +
      "schedule, a window left the lookback since the previous scheduled run with no object (as run reports it)",
  ),
});

export async function run(values: OptionValues<typeof options>, io: CliIo): Promise<number> {
  const nowMs = parseNow(values.now, io);
  const range = parseRunRange(values);
  const config = await loadConfig(values.config ?? DEFAULT_CONFIG_PATH);
  const bucket = runBucket(io.env, config);
  const s3 = s3ClientFor(io.env);
  try {
    const report = await previewRun({ config, bucket, s3, nowMs, ...(range ? { range } : {}) });
    io.stdout.write(`${values.json ? JSON.stringify(report) : formatPlan(report)}\n`);
    return report.ok ? 0 : 1;
  } finally {
    s3.destroy();
  }
}

/** The plan for people: one line per workspace, its first missing windows, then the totals. */
export function formatPlan(report: PlanReport): string {
  const lengthMs = report.window.minutes * 60_000;
  const lines = [
    `s3://${report.bucket}/${report.prefix}  ${report.mode === "lookback" ? "the lookback" : "the range"} ` +
      `${report.range.from} to ${report.range.to}  (${report.window.minutes}-minute windows, due as of ${report.now})`,
  ];
  for (const w of report.workspaces) {
    lines.push(`${w.workspace}: ${describeCounts(w)}`);
    const soon = new Set(w.expiringSoonWindows);
    let listed = 0;
    for (const run of w.missingRuns) {
      for (let start = Date.parse(run.from); start < Date.parse(run.to) && listed < LISTED_WINDOWS; ) {
        const window = formatWindow({ startMs: start, endMs: start + lengthMs });
        lines.push(`  MISSING ${window}${soon.has(window) ? "  expiring soon" : ""}`);
        listed++;
        start += lengthMs;
      }
    }
    if (w.missing > listed) lines.push(`  … ${w.missing - listed} more missing (--json lists them all)`);
    for (const window of w.expiredWindows) lines.push(`  EXPIRED ${window}`);
  }
  const t = report.totals;
  lines.push(`TOTAL ${report.workspaces.length} workspace(s): ${describeCounts(t)}`);
  lines.push(
    report.expiringSoonBefore === null
      ? `Expiring soon: not judged (${report.schedule} does not fire at one fixed interval).`
      : `Expiring soon: missing windows starting before ${report.expiringSoonBefore}, which the run ` +
          `${EXPIRING_INTERVALS} × ${report.runIntervalMinutes} minutes from now no longer looks at.`,
  );
  const which = report.mode === "lookback" ? "now" : "of this range";
  if (t.missing === 0) lines.push(`OK: nothing missing; a run ${which} would download nothing.`);
  else {
    lines.push(
      `MISSING: a run ${which} would download ${t.missing} window(s)` +
        (t.expiringSoon > 0 ? `, ${t.expiringSoon} of them expiring soon.` : ".") +
        (t.outsideLookback > 0
          ? ` ${t.outsideLookback} are outside the lookback: only run --from … --to … archives them.`
          : ""),
    );
  }
  if (t.expired > 0) {
    lines.push(
      `EXPIRED: ${t.expired} window(s) left the lookback since the previous scheduled run with no object; ` +
        "a run reports them, and only run --from … --to … archives them now.",
    );
  }
  return lines.join("\n");
}

/** `5 due, 4 present (3 archived, 1 empty), 1 missing (1 expiring soon)`, with what else applies. */
function describeCounts(c: PlanReport["totals"]): string {
  return [
    `${c.due} due`,
    `${c.present} present (${c.archived} archived, ${c.empty} empty)`,
    ...(c.toCheck > 0
      ? [`${c.toCheck} to check (listed without a full-object CRC32; a run HEADs them)`]
      : []),
    `${c.missing} missing${c.expiringSoon > 0 ? ` (${c.expiringSoon} expiring soon)` : ""}`,
    ...(c.outsideLookback > 0 ? [`${c.outsideLookback} outside the lookback`] : []),
    ...(c.expired > 0 ? [`${c.expired} expired since the previous scheduled run`] : []),
  ].join(", ");
}
