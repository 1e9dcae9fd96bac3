/** `ls`'s report for people. */
import type { ListReport } from "../../../lambda/reader/ls";
import { formatBytes } from "./bytes";

/** The report as a table for people: one line per window, then the gaps. */
export function formatListReport(report: ListReport): string {
  const lines = [
    `s3://${report.bucket}/${report.prefix}  ${report.range.from} to ${report.range.to}  ` +
      `(${report.windowMinutes}-minute windows, due as of ${report.now})`,
  ];
  if (report.workspaces.length === 0) {
    lines.push(
      "No workspace of this group has objects in this range, and none is configured for it: check --group, " +
        "--tenant and --config.",
    );
  }
  for (const w of report.workspaces) {
    lines.push(
      "",
      `${w.workspace}: ${w.windows.length} window(s), ${formatBytes(w.bytes)}, ${w.missing} missing`,
    );
    // Windows and gaps in time order (ISO instants of one format sort as strings).
    const rows = [
      ...w.windows.map((o) => [o.window, `  ${o.window}  ${formatBytes(o.bytes).padStart(10)}`] as const),
      ...w.gaps.map((g) => [g.from, `  GAP ${g.from}/${g.to}  (${g.windows} window(s) missing)`] as const),
    ].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [, row] of rows) lines.push(row);
  }
  for (const u of report.unparsed) lines.push(`  ? ${u.key}: ${u.reason}`);
  lines.push(
    "",
    report.ok
      ? `OK: ${report.totals.objects} window(s), ${formatBytes(report.totals.bytes)}, no gap.`
      : report.workspaces.length === 0
        ? "NOTHING FOUND."
        : `GAPS: ${report.totals.missing} due window(s) missing; \`atlas-audit-archiver run --from … --to …\` archives them.`,
  );
  return lines.join("\n");
}
