/** `run`'s progress lines and closing summary for people (on stderr). */
import type { RunEvent, RunSummary } from "../../../lambda/archive/summary";
import type { RetryEvent } from "../../../lambda/atlas/retry";
import { formatBytes } from "./bytes";

/** One human-readable progress line per event. */
export function describeEvent(event: RunEvent): string {
  switch (event.type) {
    case "planned":
      return `${event.workspace}: ${event.due} due window(s), ${event.missing} missing`;
    case "archived":
      return `  + ${event.window} ${formatBytes(event.bytes)}, ${event.lines} line(s) -> ${event.key}`;
    case "already-present":
      return `  = ${event.window} already archived by another run`;
    case "failed":
      return `  ! ${event.window} FAILED ${event.code}: ${event.message}`;
    case "expired":
      return `  ✗ ${event.window} EXPIRED: it left the lookback with no object at ${event.key}`;
    case "deferred":
      return `  … ${event.windows} window(s) left for the next run (${event.reason}${event.detail ? `: ${event.detail}` : ""})`;
  }
}

/** One line per retry of an Atlas request. */
export function describeRetry(event: RetryEvent & { readonly what: string }): string {
  return `  ~ ${event.what}: ${event.reason}, retrying in ${(event.delayMs / 1000).toFixed(1)} s`;
}

/** The closing summary for people. */
export function describeSummary(summary: RunSummary): string {
  const t = summary.totals;
  const lines = [
    `Run ${summary.runId} at ${summary.now} into s3://${summary.bucket}/${summary.prefix}`,
    `  archived ${t.archived} (${formatBytes(t.bytes)}), already present ${t.alreadyPresent}, failed ${t.failed}, ` +
      `deferred ${t.deferred}, of ${t.due} due, in ${(summary.durationMs / 1000).toFixed(1)} s`,
  ];
  for (const w of summary.workspaces.filter((w) => w.failed.length > 0)) {
    lines.push(`  ${w.workspace}: ${w.failed.length} failed`);
    for (const f of w.failed.slice(0, 5)) lines.push(`    ${f.window} ${f.code}`);
    if (w.failed.length > 5) lines.push(`    … and ${w.failed.length - 5} more`);
  }
  if (t.expired > 0) {
    lines.push(
      `EXPIRED: ${t.expired} window(s) left the lookback unarchived; no scheduled run asks for them again: ` +
        "archive them with run --from … --to ….",
    );
  }
  lines.push(
    !summary.ok
      ? "FAILED: the next run retries the failed windows."
      : t.deferred > 0
        ? `INCOMPLETE: ${t.deferred} window(s) deferred; run again to archive them.`
        : t.expired > 0
          ? "INCOMPLETE: windows expired."
          : "OK",
  );
  return lines.join("\n");
}
